#!/usr/bin/env bash
# Build Sightline's installers (what `make package` runs) and check them.
#
#   scripts/package.sh [all|console|console-archives|device|check|check-device]   (default: all)
#   scripts/package.sh device-constraints [3.10]
#
#   console           dist/sightline-console/ (PyInstaller one-folder bundle)
#   console-archives  dist/sightline-console-<ver>-linux-<machine>.tar.gz and
#                     dist/sightline-console_<ver>_<arch>.deb from that bundle
#   all               everything below, the device .deb for $ARCH and for arm64 (Python 3.10), then check
#   device            dist/sightline-device_<ver>_<arch>.deb: the sightline wheel and its
#                     pinned `device` dependencies as wheels; postinst builds the venv offline
#   check             run the frozen console's --self-test offscreen (exit 0 and a PNG), then
#                     check-device for $ARCH and for arm64
#   check-device      unpack the $ARCH device .deb into a scratch root; check that every wheel
#                     fits its architecture and Pythons and that pip resolves the install from
#                     them offline for each Python; on this machine's architecture also build
#                     its venv exactly as postinst does and run `sightline-device --version`
#   device-constraints  regenerate requirements/constraints-device-pyXY.txt with pip's resolver
#
# Environment:
#   PYTHON          the build Python with the console extra and PyInstaller (default .venv/bin/python)
#   ARCH            Debian architecture of the device .deb: amd64 (default) or arm64
#   DEVICE_PYTHONS  Python versions the device .deb carries wheels for (default: the build
#                   Python's, e.g. "3.11"; JetPack 6 needs "3.10"); the .deb depends on them
#   DEVICE_GLIBC    oldest glibc of the target systems, for manylinux wheels (default 2.35:
#                   Ubuntu 22.04 / JetPack 6)
#   EXTRA_WHEELS    a folder of wheels PyPI does not have (arm64: NVIDIA's onnxruntime-gpu
#                   wheel for JetPack 6); a wheel there that fits replaces its package's pin.
#                   arm64 without one carries onnxruntime (CPU) from PyPI instead
#   CONSTRAINTS     pins to build against, for every Python (default: per Python,
#                   requirements/constraints-device-pyXY.txt where there is one, e.g. py310,
#                   else requirements/constraints.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
ARCH=${ARCH:-amd64}
DEVICE_GLIBC=${DEVICE_GLIBC:-2.35}
DEVICE_PYTHONS=${DEVICE_PYTHONS:-$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
VERSION=$("$PYTHON" installer/version.py)
DIST=$ROOT/dist
BUILD=$ROOT/build/package
BUNDLE=$DIST/sightline-console
MAINTAINER="Sightline maintainers <sightline@localhost>"

case "$ARCH" in
  amd64) MACHINE=x86_64 ;;
  arm64) MACHINE=aarch64 ;;
  *) echo "package.sh: ARCH must be amd64 or arm64, not $ARCH" >&2; exit 2 ;;
esac

log() { printf '== %s\n' "$*"; }
seconds() { date +%s; }

build_console() {
  log "console bundle $VERSION -> $BUNDLE"
  if ! "$PYTHON" -c 'import PyInstaller' 2>/dev/null; then
    echo "package.sh: PyInstaller is missing; run: $PYTHON -m pip install -c requirements/constraints.txt -e '.[console,package]'" >&2
    exit 1
  fi
  "$PYTHON" -m PyInstaller --noconfirm --log-level WARN --distpath "$DIST" \
    --workpath "$ROOT/build/pyinstaller" installer/console/sightline-console.spec
  [[ -x "$BUNDLE/sightline-console" ]] || { echo "package.sh: no $BUNDLE/sightline-console" >&2; exit 1; }
  log "bundle: $(du -sh "$BUNDLE" | cut -f1)"
}

console_archives() {
  [[ -x "$BUNDLE/sightline-console" ]] || build_console
  local machine; machine=$(uname -m)
  local tarball="$DIST/sightline-console-$VERSION-linux-$machine.tar.gz"
  log "$tarball"
  tar -C "$DIST" -czf "$tarball" sightline-console

  local arch; arch=$(dpkg --print-architecture)
  local root="$BUILD/console-deb"
  rm -rf "$root"
  mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
    "$root/usr/share/icons/hicolor/scalable/apps"
  cp -a "$BUNDLE" "$root/opt/sightline-console"
  # The bundle finds its files from /proc/self/exe, so a symlink on PATH works.
  ln -s /opt/sightline-console/sightline-console "$root/usr/bin/sightline-console"
  install -m 0644 installer/console/sightline-console.desktop "$root/usr/share/applications/"
  # The in-app icons draw in the theme's text colour; a menu icon needs a fixed one.
  sed 's/currentColor/#2a6fdb/g' resources/icons/sightline.svg \
    > "$root/usr/share/icons/hicolor/scalable/apps/sightline.svg"
  # getconf, not 'ldd --version | head -1': under pipefail head's early exit can kill ldd (SIGPIPE).
  local glibc; glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
  cat > "$root/DEBIAN/control" <<EOF
Package: sightline-console
Version: $VERSION
Architecture: $arch
Maintainer: $MAINTAINER
Section: video
Priority: optional
Installed-Size: $(du -sk "$root" | cut -f1)
Depends: libc6 (>= $glibc), libgl1, libegl1, libdrm2, libxcb1, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxkbcommon-x11-0, libwayland-client0, libwayland-cursor0, libwayland-egl1
Homepage: https://github.com/sightline
Description: Sightline desktop console
 Finds IP cameras (ONVIF) and Sightline devices on the LAN, registers and
 previews cameras, builds and deploys detector apps, and shows them live.
 Self-contained: Python and Qt are bundled in /opt/sightline-console.
EOF
  log "$DIST/sightline-console_${VERSION}_$arch.deb"
  dpkg-deb --root-owner-group -Zgzip --build "$root" "$DIST/sightline-console_${VERSION}_$arch.deb" >/dev/null
}

wheels_py() { "$PYTHON" "$ROOT/installer/device/wheels.py" "$@"; }

# The pins for one target Python: CONSTRAINTS when set, else
# requirements/constraints-device-pyXY.txt where there is one (3.10: JetPack 6,
# Ubuntu 22.04), else requirements/constraints.txt (the build Python's).
constraints_for() {
  local specific="$ROOT/requirements/constraints-device-py${1/./}.txt"
  if [[ -n "${CONSTRAINTS:-}" ]]; then echo "$CONSTRAINTS"
  elif [[ -f "$specific" ]]; then echo "$specific"
  else echo "$ROOT/requirements/constraints.txt"; fi
}

build_device() {
  local root="$BUILD/device-deb-$ARCH"
  local prefix="$root/opt/sightline-device"
  local cache="$BUILD/device-wheels-$ARCH"  # kept between builds: a rebuild downloads nothing
  local work="$BUILD/device-resolve-$ARCH"
  log "device .deb $VERSION ($ARCH, Python $DEVICE_PYTHONS)"
  rm -rf "$root" "$work" "$cache"/sightline-*.whl
  mkdir -p "$cache" "$work" "$prefix/wheels" "$prefix/pins" "$root/DEBIAN" "$root/lib/systemd/system" \
    "$root/etc/sightline" "$root/usr/share/doc/sightline-device"
  "$PYTHON" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$cache" "$ROOT"
  local links=(--find-links "$cache")
  [[ -n "${EXTRA_WHEELS:-}" ]] && links+=(--find-links "$EXTRA_WHEELS")
  # make-venv.sh's fallback where no onnxruntime-gpu wheel fits (PyPI has none for aarch64).
  wheels_py cpu-requirements --pyproject "$ROOT/pyproject.toml" --version "$VERSION" > "$prefix/requirements-cpu.txt"
  local pyver target constraints requirements
  for pyver in $DEVICE_PYTHONS; do
    read -ra target <<<"$(wheels_py pip-args --arch "$ARCH" --python "$pyver" --glibc "$DEVICE_GLIBC")"
    constraints="$work/constraints-$pyver.txt"
    wheels_py constraints --arch "$ARCH" --python "$pyver" --glibc "$DEVICE_GLIBC" \
      --base "$(constraints_for "$pyver")" ${EXTRA_WHEELS:+--extra-wheels "$EXTRA_WHEELS"} > "$constraints"
    requirements=("sightline[device]==$VERSION")
    if [[ "$ARCH" == arm64 ]] && ! "$PYTHON" -m pip download --quiet --no-deps --dest "$cache" "${target[@]}" \
        -c "$constraints" "${links[@]}" onnxruntime-gpu 2>/dev/null; then
      echo "   cp${pyver/./}: no onnxruntime-gpu wheel for aarch64 (PyPI has none): carrying onnxruntime (CPU);" \
        "for the GPU put NVIDIA's JetPack wheel in EXTRA_WHEELS (installer/README.md)" >&2
      requirements=(-r "$prefix/requirements-cpu.txt")
    fi
    "$PYTHON" -m pip download --quiet --dest "$cache" "${target[@]}" -c "$constraints" "${links[@]}" \
      "${requirements[@]}"
    # Exactly what pip resolves from them for this target (the cache may hold older pins).
    "$PYTHON" -m pip install --quiet --dry-run --ignore-installed --no-index "${links[@]}" \
      --target "$work/target" "${target[@]}" -c "$constraints" --report "$work/report-$pyver.json" \
      "${requirements[@]}"
    wheels_py files "$work/report-$pyver.json" | while read -r wheel; do cp -p "$wheel" "$prefix/wheels/"; done
    wheels_py lock "$work/report-$pyver.json" > "$prefix/pins/py$pyver.txt"
  done
  tr ' ' '\n' <<<"$DEVICE_PYTHONS" | grep . > "$prefix/PYTHONS"
  wheels_py verify --arch "$ARCH" --pythons "$DEVICE_PYTHONS" --glibc "$DEVICE_GLIBC" "$prefix/wheels"
  echo "$VERSION" > "$prefix/VERSION"
  install -m 0755 installer/device/make-venv.sh "$prefix/make-venv.sh"
  install -m 0644 installer/device/sightline-device.service "$root/lib/systemd/system/"
  install -m 0644 "installer/device/sightline-provision@.service" installer/device/sightline-update.path \
    installer/device/sightline-update.service "$root/lib/systemd/system/"
  install -D -m 0644 installer/device/70-sightline-provision.rules "$root/lib/udev/rules.d/70-sightline-provision.rules"
  install -m 0640 installer/device/device.json "$root/etc/sightline/device.json"
  install -m 0644 installer/README.md "$root/usr/share/doc/sightline-device/README.md"
  install -m 0755 installer/device/debian/postinst installer/device/debian/prerm \
    installer/device/debian/postrm "$root/DEBIAN/"
  install -m 0644 installer/device/debian/conffiles "$root/DEBIAN/"
  "$PYTHON" installer/device/control.py "$VERSION" "$ARCH" "$DEVICE_PYTHONS" "$(du -sk "$root" | cut -f1)" \
    > "$root/DEBIAN/control"
  log "$DIST/sightline-device_${VERSION}_$ARCH.deb"
  mkdir -p "$DIST"
  # Wheels are already compressed: compressing again costs minutes and saves nothing.
  dpkg-deb --root-owner-group -Znone --build "$root" "$DIST/sightline-device_${VERSION}_$ARCH.deb" >/dev/null
  log "$(du -h "$DIST/sightline-device_${VERSION}_$ARCH.deb" | cut -f1) $(ls "$prefix/wheels" | wc -l) wheels"
}

# requirements/constraints-device-pyXY.txt, made by pip's resolver: the device
# extra resolved for cpXY on x86_64 (onnxruntime-gpu) and aarch64 (onnxruntime,
# CPU), each pin of constraints.txt kept where that Python has it, else the
# newest older version that does; then re-resolved with the result on both.
device_constraints() {
  local pyver=${1:-3.10}
  local out="$ROOT/requirements/constraints-device-py${pyver/./}.txt"
  local work="$BUILD/device-constraints"
  rm -rf "$work"; mkdir -p "$work"
  "$PYTHON" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$work" "$ROOT"
  wheels_py caps --base "$ROOT/requirements/constraints.txt" > "$work/pass-1.txt"
  wheels_py cpu-requirements --pyproject "$ROOT/pyproject.toml" --version "$VERSION" > "$work/cpu.txt"
  local pass arch target requirements
  for pass in 1 2; do
    for arch in amd64 arm64; do
      read -ra target <<<"$(wheels_py pip-args --arch "$arch" --python "$pyver" --glibc "$DEVICE_GLIBC")"
      requirements=("sightline[device]==$VERSION")
      [[ "$arch" == arm64 ]] && requirements=(-r "$work/cpu.txt")
      "$PYTHON" -m pip install --quiet --dry-run --ignore-installed --find-links "$work" \
        --target "$work/target" "${target[@]}" -c "$work/pass-$pass.txt" \
        --report "$work/report-$pass-$arch.json" "${requirements[@]}"
    done
    if [[ $pass == 1 ]]; then
      wheels_py lock --lowest "$work"/report-1-*.json > "$work/pass-2.txt"
    fi
  done
  {
    echo "# The device extra on Python $pyver (JetPack 6, Ubuntu 22.04): versions with cp${pyver/./} wheels"
    echo "# for both x86_64 and aarch64 (glibc $DEVICE_GLIBC). Generated by pip's resolver, not by hand:"
    echo "#   scripts/package.sh device-constraints $pyver"
    echo "# onnxruntime (CPU) is for aarch64, where PyPI has no onnxruntime-gpu; a JetPack"
    echo "# onnxruntime-gpu wheel given in EXTRA_WHEELS replaces the onnxruntime-gpu pin."
    wheels_py lock "$work"/report-2-*.json
  } > "$out"
  log "$out: $(grep -vc '^#' "$out") pins"
}

check_console() {
  local scratch; scratch=$(mktemp -d "${TMPDIR:-/tmp}/sightline-package-check.XXXXXX")
  trap 'rm -rf "$scratch"; trap - RETURN' RETURN  # once: a RETURN trap outlives its function
  log "check: frozen console --self-test (offscreen)"
  local started; started=$(seconds)
  # A clean environment: the bundle must not lean on the checkout or .venv.
  (cd "$scratch" && env -i PATH=/usr/bin:/bin HOME="$scratch" QT_QPA_PLATFORM=offscreen \
    "$BUNDLE/sightline-console" --self-test "$scratch/self-test.png")
  if ! head -c 8 "$scratch/self-test.png" | od -An -c | grep -q 'P   N   G'; then
    echo "package.sh: the self-test wrote no PNG screenshot" >&2
    exit 1
  fi
  log "check: self-test passed in $(($(seconds) - started)) s"
}

# Unpack the device .deb for $1 (amd64, arm64) into a scratch root; check its
# control file, that every wheel fits its targets and that pip resolves the
# install offline from them for each Python it carries, as make-venv.sh does;
# on this machine's architecture also build the venv with make-venv.sh and
# run `sightline-device --version`.
check_device() {
  local arch=$1 started; started=$(seconds)
  local deb="$DIST/sightline-device_${VERSION}_$arch.deb"
  [[ -f "$deb" ]] || { echo "package.sh: no $deb; build it: ARCH=$arch scripts/package.sh device" >&2; exit 1; }
  local scratch; scratch=$(mktemp -d "${TMPDIR:-/tmp}/sightline-package-check.XXXXXX")
  trap 'rm -rf "$scratch"; trap - RETURN' RETURN  # once: a RETURN trap outlives its function
  log "check: $(basename "$deb") unpacked into a scratch root"
  dpkg-deb -x "$deb" "$scratch/root"
  dpkg-deb -e "$deb" "$scratch/root/DEBIAN"
  local prefix="$scratch/root/opt/sightline-device"
  grep -qx "Architecture: $arch" "$scratch/root/DEBIAN/control" || {
    echo "package.sh: $deb's control does not say Architecture: $arch" >&2; exit 1; }
  echo "   $(grep '^Depends:' "$scratch/root/DEBIAN/control")"
  local pythons; pythons=$(tr '\n' ' ' < "$prefix/PYTHONS")
  wheels_py verify --arch "$arch" --pythons "$pythons" --glibc "$DEVICE_GLIBC" "$prefix/wheels"
  local pyver target
  for pyver in $pythons; do
    read -ra target <<<"$(wheels_py pip-args --arch "$arch" --python "$pyver" --glibc "$DEVICE_GLIBC")"
    local offline=(--quiet --dry-run --ignore-installed --no-index --find-links "$prefix/wheels"
      --target "$scratch/target" "${target[@]}" -c "$prefix/pins/py$pyver.txt" --report "$scratch/report.json")
    # make-venv.sh prefers onnxruntime-gpu and falls back to onnxruntime (CPU).
    if "$PYTHON" -m pip install "${offline[@]}" "sightline[device]==$VERSION" 2>"$scratch/gpu.log"; then
      echo "   cp${pyver/./}: offline install resolves with onnxruntime-gpu: $(wheels_py files "$scratch/report.json" | wc -l) wheels"
    elif "$PYTHON" -m pip install "${offline[@]}" -r "$prefix/requirements-cpu.txt"; then
      echo "   cp${pyver/./}: offline install resolves with onnxruntime (CPU; no onnxruntime-gpu wheel): $(wheels_py files "$scratch/report.json" | wc -l) wheels"
    else
      cat "$scratch/gpu.log" >&2
      echo "package.sh: $deb: pip cannot install sightline[device] offline for cp${pyver/./} $arch" >&2
      exit 1
    fi
  done
  if [[ "$arch" != "$(dpkg --print-architecture)" ]]; then
    log "check: $arch .deb: wheels and offline resolution checked in $(($(seconds) - started)) s;" \
      "not run (no $arch CPU or emulation here: run make-venv.sh on the device)"
    return 0
  fi
  # Build the venv with a Python the .deb carries wheels for: the system one, else the build Python.
  local python=python3
  if ! "$python" -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] not in '$pythons'.split())" 2>/dev/null; then
    python=$PYTHON
  fi
  env -i PATH=/usr/bin:/bin HOME="$scratch" "$prefix/make-venv.sh" "$prefix" "$python"
  local reported
  reported=$("$prefix/venv/bin/sightline-device" --version)
  [[ "$reported" == "sightline-device $VERSION" ]] || {
    echo "package.sh: the unpacked device runtime reports '$reported', expected 'sightline-device $VERSION'" >&2
    exit 1
  }
  log "check: $reported from the unpacked .deb in $(($(seconds) - started)) s"
}

check() {
  check_console
  check_device "$ARCH"
  # The Jetson package too: wheels and offline resolution (seconds; it cannot run here).
  [[ "$ARCH" == arm64 ]] || ARCH=arm64 check_device arm64
}

target=${1:-all}
started=$(seconds)
case "$target" in
  all)
    build_console; console_archives; build_device
    [[ "$ARCH" == arm64 ]] || ARCH=arm64 DEVICE_PYTHONS=3.10 "$0" device  # Jetson (JetPack 6); seconds
    check ;;
  console) build_console ;;
  console-archives) console_archives ;;
  device) build_device ;;
  device-constraints) device_constraints "${2:-3.10}" ;;
  check) check ;;
  check-device) check_device "$ARCH" ;;
  *) echo "usage: $0 [all|console|console-archives|device|check|check-device|device-constraints [3.10]]" >&2; exit 2 ;;
esac
log "package.sh $target: done in $(($(seconds) - started)) s"
ls -la "$DIST" | grep -E 'sightline-(console|device)' || true
