#!/usr/bin/env bash
# Builds the Pod Security oracle (main.go: upstream's evaluator as a command) and copies upstream's
# test fixtures (the module's test/testdata: pods per level and version) next to it, into a
# git-ignored cache folder keyed by the sources, and reuses them. test/run.sh calls it; the
# conformance test (test/pod-security-conformance.test.ts) reads SECURESTACK_PSS_ORACLE.
# Prints the folder holding `pss-oracle` and `fixtures/` on stdout; progress goes to stderr.
#
#   bash test/pss-oracle/build.sh
#
# About 30 s the first time with empty Go caches (the module download and ~150 packages), a few
# seconds with warm ones, nothing once built.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${SECURESTACK_TOOLS_DIR:-$root/.testenv/tools}"
log() { echo "pss-oracle/build.sh: $*" >&2; }

command -v go >/dev/null || { log "the Go toolchain is required (bash test/env/prereqs.sh says how to get it)"; exit 1; }
module=k8s.io/pod-security-admission
version="$(awk -v m="$module" '$1 == m { print $2 }' "$here/go.mod" | head -n 1)"
[ -n "$version" ] || { log "no $module requirement in $here/go.mod"; exit 1; }
# A change to the program or its module graph builds into a fresh folder.
key="$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-12)"
out="$cache/pss-oracle-$version-$key"
if [ -x "$out/pss-oracle" ] && [ -d "$out/fixtures" ]; then echo "$out"; exit 0; fi

mkdir -p "$cache"
exec 8>"$cache/.pss-oracle.lock"
flock 8
if [ -x "$out/pss-oracle" ] && [ -d "$out/fixtures" ]; then echo "$out"; exit 0; fi

started=$SECONDS
rm -rf "$out.partial" && mkdir -p "$out.partial"
log "building the Pod Security oracle ($module $version) into $out"
CGO_ENABLED=0 GOFLAGS=-mod=mod go -C "$here" build -trimpath -ldflags "-s -w" -o "$out.partial/pss-oracle" .
dir="$(GOFLAGS=-mod=mod go -C "$here" list -m -f '{{.Dir}}' "$module")"
[ -d "$dir/test/testdata" ] || { log "no test/testdata in $dir"; exit 1; }
cp -R "$dir/test/testdata" "$out.partial/fixtures"
chmod -R u+w "$out.partial/fixtures"   # the module cache is read-only
rm -rf "$out" && mv "$out.partial" "$out"
log "built in $((SECONDS - started)) s"
echo "$out"
