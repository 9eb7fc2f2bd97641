#!/usr/bin/env bash
# The local trace store: Jaeger v2 (github.com/jaegertracing/jaeger/cmd/jaeger v1.76.0), built from the
# Go module proxy in deploy/local/jaeger, a wrapper module carrying Jaeger's own replace of sarama.
# Prints the binary's path, cached outside the repo under a hash of everything it is built from
# (about 6 minutes on a cold cache, like the sidecar).
set -euo pipefail
script=$(realpath "$0")
cd "$(dirname "$script")/jaeger"
CACHE=${ACME_CACHE:-$HOME/.cache/acme-platform}
key=$( (cat go.mod go.sum tools.go "$script"; go version) | sha256sum | cut -c1-16)
out=$CACHE/bin/jaeger-$key
if [ ! -x "$out" ]; then
  mkdir -p "$CACHE/bin"
  echo "jaeger: building the trace store into $out (minutes on a cold cache)" >&2
  start=$(date +%s)
  CGO_ENABLED=0 go build -trimpath -o "$out.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
  mv "$out.tmp" "$out"
  echo "jaeger: built in $(( $(date +%s) - start ))s" >&2
fi
echo "$out"
