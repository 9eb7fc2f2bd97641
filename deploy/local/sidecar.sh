#!/usr/bin/env bash
# make sidecar: builds daprd v1.16.2 from the Go module proxy (deploy/local/sidecar) and prints the
# binary's path. The binary is cached outside the repo under a hash of everything it is built from,
# so it is rebuilt only when the sidecar module or the Go version changes.
set -euo pipefail
script=$(realpath "$0")
cd "$(dirname "$script")/sidecar"
CACHE=${ACME_CACHE:-$HOME/.cache/acme-platform}
key=$( (cat go.mod go.sum $(find . -name '*.go' | sort) "$script"; go version) | sha256sum | cut -c1-16)
out=$CACHE/daprd-$key
if [ ! -x "$out" ]; then
  mkdir -p "$CACHE"
  echo "sidecar: building daprd into $out (several minutes on a cold cache)" >&2
  start=$(date +%s)
  version=$(go list -m -f '{{.Version}}' github.com/dapr/dapr)
  go build -tags stablecomponents -trimpath -ldflags "-X github.com/dapr/dapr/pkg/buildinfo.version=${version#v}" -o "$out.tmp" .
  mv "$out.tmp" "$out"
  echo "sidecar: built in $(( $(date +%s) - start ))s" >&2
fi
echo "$out"
