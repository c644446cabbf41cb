#!/bin/sh
# Build the device runtime's virtualenv OFFLINE from the wheels the package carries.
#
#   make-venv.sh PREFIX [PYTHON]
#
# PREFIX holds wheels/, VERSION, PYTHONS (the Python versions the wheels are
# for), pins/pyX.Y.txt (the versions resolved at build time) and
# requirements-cpu.txt; the .deb puts them in /opt/sightline-device. The
# virtualenv is made in PREFIX/venv with PYTHON (default: python3). Run by the
# package's postinst, and by scripts/package.sh's check on the unpacked .deb,
# so the check exercises exactly what an install does. Nothing is downloaded:
# pip runs with --no-index.
#
# onnxruntime-gpu is preferred: sightline[device] needs it, and it installs
# when a wheel in wheels/ fits this system (PyPI's on x86-64; on a Jetson,
# NVIDIA's JetPack wheel, built in or dropped into wheels/ followed by
# `dpkg-reconfigure sightline-device`). Where none fits, onnxruntime (CPU) is
# installed instead, with a message saying so.
set -eu

prefix=${1:?usage: make-venv.sh PREFIX [PYTHON]}
python=${2:-python3}
version=$(cat "$prefix/VERSION")

if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "make-venv.sh: $python cannot make virtualenvs; install python3-venv" >&2
  exit 1
fi
if ! ls "$prefix"/wheels/*.whl >/dev/null 2>&1; then
  echo "make-venv.sh: no wheels in $prefix/wheels" >&2
  exit 1
fi
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -f "$prefix/PYTHONS" ] && ! grep -qx "$pyver" "$prefix/PYTHONS"; then
  echo "make-venv.sh: $python is Python $pyver, but the wheels in $prefix/wheels are for Python" \
    "$(tr '\n' ' ' < "$prefix/PYTHONS")only; use one of those, or a package built with DEVICE_PYTHONS=$pyver" >&2
  exit 1
fi

# Rebuilt from scratch on every install or upgrade: a half-upgraded
# environment is worse than a short rebuild.
rm -rf "$prefix/venv"
"$python" -m venv "$prefix/venv"
pins="$prefix/pins/py$pyver.txt"
set -- --no-index --no-cache-dir --disable-pip-version-check --find-links "$prefix/wheels"
if [ -f "$pins" ]; then set -- "$@" --constraint "$pins"; fi
errors="$prefix/venv/pip-gpu.log"
if "$prefix/venv/bin/python" -m pip install --quiet "$@" "sightline[device]==$version" 2>"$errors"; then
  rm -f "$errors"
elif grep -qi 'onnxruntime[-_]gpu' "$errors" && [ -f "$prefix/requirements-cpu.txt" ]; then
  echo "make-venv.sh: no usable onnxruntime-gpu wheel for Python $pyver on $(uname -m) in $prefix/wheels" \
    "($(grep -m1 -i 'error' "$errors" || true)); installing onnxruntime (CPU only). For the GPU, put" \
    "NVIDIA's onnxruntime-gpu wheel for this JetPack there and run: sudo dpkg-reconfigure sightline-device" >&2
  rm -f "$errors"
  "$prefix/venv/bin/python" -m pip install --quiet "$@" -r "$prefix/requirements-cpu.txt"
else
  cat "$errors" >&2
  exit 1
fi
# The GStreamer camera backend uses the system's python3-gi (see device_runtime/sources/gst_support.py).
"$prefix/venv/bin/python" -m device_runtime.sources.gst_setup || echo "make-venv.sh: GStreamer backend not set up; cameras use OpenCV" >&2
"$prefix/venv/bin/sightline-device" --version
