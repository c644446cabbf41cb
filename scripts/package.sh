#!/usr/bin/env bash
# Build Sightline's installers (what `make package` runs) and check them.
#
#   scripts/package.sh [all|console|console-archives|device|check]   (default: all, then check)
#
#   console           dist/sightline-console/ (PyInstaller one-folder bundle)
#   console-archives  dist/sightline-console-<ver>-linux-<machine>.tar.gz and
#                     dist/sightline-console_<ver>_<arch>.deb from that bundle
#   device            dist/sightline-device_<ver>_<arch>.deb: the sightline wheel and its
#                     pinned `device` dependencies as wheels; postinst builds the venv offline
#   check             run the frozen console's --self-test offscreen (exit 0 and a PNG), and
#                     unpack the device .deb into a scratch root, build its venv from the
#                     bundled wheels exactly as postinst does, run `sightline-device --version`
#
# Environment:
#   PYTHON          the build Python with the console extra and PyInstaller (default .venv/bin/python)
#   ARCH            Debian architecture of the device .deb: amd64 (default) or arm64
#   DEVICE_PYTHONS  Python versions the device .deb carries wheels for (default: the build
#                   Python's, e.g. "3.11"; JetPack 6 needs "3.10"); the .deb depends on them
#   DEVICE_GLIBC    oldest glibc of the target systems, for manylinux wheels (default 2.35:
#                   Ubuntu 22.04 / JetPack 6)
#   EXTRA_WHEELS    a folder of wheels PyPI does not have (arm64: NVIDIA's onnxruntime-gpu
#                   wheel for JetPack 6); searched before the index
#   CONSTRAINTS     pins to build against (default requirements/constraints.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
ARCH=${ARCH:-amd64}
CONSTRAINTS=${CONSTRAINTS:-$ROOT/requirements/constraints.txt}
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
  local glibc; glibc=$(ldd --version | head -1 | grep -oE '[0-9]+\.[0-9]+$')
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

# Every manylinux tag a target with glibc $DEVICE_GLIBC accepts (pip does not
# widen a --platform by itself).
platform_args() {
  local minor; minor=${DEVICE_GLIBC#2.}
  local args=(--platform "manylinux2014_$MACHINE" --platform "linux_$MACHINE")
  for ((i = 17; i <= minor; i++)); do args+=(--platform "manylinux_2_${i}_$MACHINE"); done
  echo "${args[@]}"
}

build_device() {
  local root="$BUILD/device-deb"
  local prefix="$root/opt/sightline-device"
  local wheels="$BUILD/device-wheels-$ARCH"  # kept between builds: a rebuild downloads nothing
  log "device .deb $VERSION ($ARCH, Python $DEVICE_PYTHONS)"
  rm -rf "$root" "$wheels"/sightline-*.whl
  mkdir -p "$wheels" "$prefix/wheels" "$root/DEBIAN" "$root/lib/systemd/system" "$root/etc/sightline" \
    "$root/usr/share/doc/sightline-device"
  "$PYTHON" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$wheels" "$ROOT"
  local links=(--find-links "$wheels")
  [[ -n "${EXTRA_WHEELS:-}" ]] && links+=(--find-links "$EXTRA_WHEELS")
  local pyver
  for pyver in $DEVICE_PYTHONS; do
    # shellcheck disable=SC2046
    "$PYTHON" -m pip download --quiet --dest "$wheels" --only-binary=:all: $(platform_args) \
      --python-version "$pyver" --implementation cp -c "$CONSTRAINTS" "${links[@]}" \
      "sightline[device]==$VERSION"
  done
  # Only what this version needs (the cache may hold older pins).
  "$PYTHON" - "$wheels" "$prefix/wheels" "$VERSION" "$DEVICE_PYTHONS" "$CONSTRAINTS" <<'PY'
import re, shutil, sys
from pathlib import Path
src, dst, version, pythons, constraints = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4].split(), sys.argv[5]
pins = {}
for line in Path(constraints).read_text().splitlines():
    if "==" in line and not line.lstrip().startswith("#"):
        name, pin = line.split("==", 1)
        pins[re.sub(r"[-_.]+", "_", name.strip()).lower()] = pin.split(";")[0].strip()
pins["sightline"] = version
copied = 0
for wheel in sorted(src.glob("*.whl")):
    name, wheel_version = wheel.name.split("-")[:2]
    if pins.get(name.lower()) in (None, wheel_version):
        shutil.copy2(wheel, dst / wheel.name)
        copied += 1
print(f"   {copied} wheels")
PY
  echo "$VERSION" > "$prefix/VERSION"
  install -m 0755 installer/device/make-venv.sh "$prefix/make-venv.sh"
  install -m 0644 installer/device/sightline-device.service "$root/lib/systemd/system/"
  install -m 0640 installer/device/device.json "$root/etc/sightline/device.json"
  install -m 0644 installer/README.md "$root/usr/share/doc/sightline-device/README.md"
  install -m 0755 installer/device/debian/postinst installer/device/debian/prerm \
    installer/device/debian/postrm "$root/DEBIAN/"
  install -m 0644 installer/device/debian/conffiles "$root/DEBIAN/"
  local lowest highest
  lowest=$(tr ' ' '\n' <<<"$DEVICE_PYTHONS" | sort -V | head -1)
  highest=$(tr ' ' '\n' <<<"$DEVICE_PYTHONS" | sort -V | tail -1)
  cat > "$root/DEBIAN/control" <<EOF
Package: sightline-device
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Section: video
Priority: optional
Installed-Size: $(du -sk "$root" | cut -f1)
Depends: python3 (>= $lowest), python3 (<< ${highest%.*}.$((${highest#*.} + 1))), python3-venv, passwd, systemd
Homepage: https://github.com/sightline
Description: Sightline device runtime (systemd service)
 Reads IP cameras, runs ONNX detector apps (onnxruntime-gpu) and serves the
 Sightline TLS gRPC API to consoles. Installs offline: its Python dependencies
 travel as wheels and postinst builds /opt/sightline-device/venv from them.
 Runs as the sightline user; data in /var/lib/sightline, config in
 /etc/sightline/device.json.
EOF
  log "$DIST/sightline-device_${VERSION}_$ARCH.deb"
  mkdir -p "$DIST"
  # Wheels are already compressed: compressing again costs minutes and saves nothing.
  dpkg-deb --root-owner-group -Znone --build "$root" "$DIST/sightline-device_${VERSION}_$ARCH.deb" >/dev/null
}

check() {
  local scratch; scratch=$(mktemp -d "${TMPDIR:-/tmp}/sightline-package-check.XXXXXX")
  trap 'rm -rf "$scratch"' RETURN
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

  log "check: device .deb unpacked into a scratch root, venv built offline as postinst does"
  local deb="$DIST/sightline-device_${VERSION}_$ARCH.deb"
  dpkg-deb -x "$deb" "$scratch/root"
  dpkg-deb -e "$deb" "$scratch/root/DEBIAN"
  local python=python3
  [[ "$ARCH" == "$(dpkg --print-architecture)" ]] || { echo "package.sh: cannot run an $ARCH package here; unpacked only" >&2; return 0; }
  # The wheels target $DEVICE_PYTHONS; use the build Python when the system one is another version.
  if ! "$python" -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] not in '$DEVICE_PYTHONS'.split())" 2>/dev/null; then
    python=$PYTHON
  fi
  env -i PATH=/usr/bin:/bin HOME="$scratch" "$scratch/root/opt/sightline-device/make-venv.sh" \
    "$scratch/root/opt/sightline-device" "$python"
  local reported
  reported=$("$scratch/root/opt/sightline-device/venv/bin/sightline-device" --version)
  [[ "$reported" == "sightline-device $VERSION" ]] || {
    echo "package.sh: the unpacked device runtime reports '$reported', expected 'sightline-device $VERSION'" >&2
    exit 1
  }
  log "check: $reported from the unpacked .deb"
}

target=${1:-all}
started=$(seconds)
case "$target" in
  all) build_console; console_archives; build_device; check ;;
  console) build_console ;;
  console-archives) console_archives ;;
  device) build_device ;;
  check) check ;;
  *) echo "usage: $0 [all|console|console-archives|device|check]" >&2; exit 2 ;;
esac
log "package.sh $target: done in $(($(seconds) - started)) s"
ls -la "$DIST" | grep -E 'sightline-(console|device)' || true
