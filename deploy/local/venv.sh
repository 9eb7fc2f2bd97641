#!/usr/bin/env bash
# venv.sh REQUIREMENTS: a Python virtual environment in the cache with exactly the pinned packages of
# REQUIREMENTS (from PyPI), keyed by a hash of that file and the Python version; prints its python.
set -euo pipefail
req=$(realpath "$1")
CACHE=${ACME_CACHE:-$HOME/.cache/acme-platform}
py=${PYTHON:-python3}
key=$( (cat "$req"; "$py" --version) | sha256sum | cut -c1-16)
dir=$CACHE/venv/$key
if [ ! -x "$dir/bin/python" ] || [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir"
  mkdir -p "$CACHE/venv"
  echo "venv: installing $1 into $dir" >&2
  if ! "$py" -m venv "$dir" >&2; then
    # Debian's python3 keeps venv in a package of its own.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    "$py" -m venv "$dir" >&2
  fi
  "$dir/bin/pip" install -q --disable-pip-version-check --no-deps -r "$req" >&2
  "$dir/bin/pip" check >&2
  touch "$dir/.complete"
fi
echo "$dir/bin/python"
