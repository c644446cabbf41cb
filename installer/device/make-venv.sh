#!/bin/sh
# Build the device runtime's virtualenv OFFLINE from the wheels the package carries.
#
#   make-venv.sh PREFIX [PYTHON]
#
# PREFIX holds wheels/ and VERSION (the .deb puts them in /opt/sightline-device);
# the virtualenv is made in PREFIX/venv with PYTHON (default: python3). Run
# by the package's postinst, and by scripts/package.sh's check on the
# unpacked .deb, so the check exercises exactly what an install does.
# Nothing is downloaded: pip runs with --no-index.
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

# Rebuilt from scratch on every install or upgrade: a half-upgraded
# environment is worse than a short rebuild.
rm -rf "$prefix/venv"
"$python" -m venv "$prefix/venv"
"$prefix/venv/bin/python" -m pip install --quiet --no-index --no-cache-dir \
  --disable-pip-version-check --find-links "$prefix/wheels" "sightline[device]==$version"
"$prefix/venv/bin/sightline-device" --version
