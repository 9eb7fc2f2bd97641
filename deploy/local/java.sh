#!/usr/bin/env bash
# java.sh NAME: resolves deploy/local/java/NAME/pom.xml (a Java server's artifacts from Maven Central)
# into a classpath file in the cache and prints the file's path. Maven's repository is the cache's
# too, so a second run resolves nothing; the classpath is keyed by a hash of the pom.
set -euo pipefail
script=$(realpath "$0")
dir=$(dirname "$script")/java/$1
[ -f "$dir/pom.xml" ] || { echo "java.sh: no $dir/pom.xml" >&2; exit 1; }
CACHE=${ACME_CACHE:-$HOME/.cache/acme-platform}
out=$CACHE/classpath/$1-$( (cat "$dir/pom.xml" "$script") | sha256sum | cut -c1-16).txt
if [ ! -s "$out" ]; then
  mkdir -p "$CACHE/classpath"
  echo "java: resolving $1 from Maven Central into $CACHE/m2" >&2
  if ! mvn -B -q -Dstyle.color=never -f "$dir/pom.xml" -Dmaven.repo.local="$CACHE/m2" dependency:build-classpath \
    -Dmdep.outputFile="$out.tmp" >"$out.log" 2>&1; then
    cat "$out.log" >&2
    exit 1
  fi
  mv "$out.tmp" "$out"
fi
echo "$out"
