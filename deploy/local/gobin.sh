#!/usr/bin/env bash
# gobin.sh PKG: builds a Go command (./path of this repo, or module/path@version) into the cache once
# and prints the binary's path. Local commands are keyed by a hash of their sources.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${ACME_CACHE:-$HOME/.cache/acme-platform}
mkdir -p "$CACHE/bin"
pkg=$1
name=$(basename "${pkg%@*}")
if [[ $pkg == ./* ]]; then
  out=$CACHE/bin/$name-$( (cat go.sum; find "$pkg" deploy/local/kafkabroker -name '*.go' | sort | xargs cat) | sha256sum | cut -c1-12)
  [ -x "$out" ] || go build -o "$out" "$pkg"
else
  out=$CACHE/bin/$name-${pkg#*@}
  if [ ! -x "$out" ]; then
    echo "building $pkg (once; minutes on a cold cache)" >&2
    GOBIN=$CACHE/gobin go install "$pkg"
    cp "$CACHE/gobin/$name" "$out"
  fi
fi
echo "$out"
