#!/usr/bin/env bash
# The Kubernetes API server test's servers: kube-apiserver v1.37.2, kubectl and an embedded etcd, built from
# the Go module proxy (deploy/local/apiserver, a wrapper module that replaces k8s.io/kubernetes'
# staging modules with their published versions). Prints the directory holding the binaries,
# cached outside the repo under a hash of everything they are built from.
set -euo pipefail
script=$(realpath "$0")
cd "$(dirname "$script")/apiserver"
CACHE=${ACME_CACHE:-$HOME/.cache/acme-platform}
key=$( (cat go.mod go.sum $(find . -name '*.go' | sort) "$script"; go version) | sha256sum | cut -c1-16)
out=$CACHE/apiserver-$key
if [ ! -x "$out/kube-apiserver" ] || [ ! -x "$out/kubectl" ] || [ ! -x "$out/etcd" ]; then
  mkdir -p "$out.tmp"
  echo "apiserver: building kube-apiserver, kubectl and etcd into $out (many minutes on a cold cache)" >&2
  start=$(date +%s)
  CGO_ENABLED=0 go build -trimpath -o "$out.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  CGO_ENABLED=0 go build -trimpath -o "$out.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
  CGO_ENABLED=0 go build -trimpath -o "$out.tmp/etcd" ./etcd
  rm -rf "$out" && mv "$out.tmp" "$out"
  echo "apiserver: built in $(( $(date +%s) - start ))s" >&2
fi
echo "$out"
