#!/usr/bin/env bash
# Builds the Trivy vulnerability DB fixture (trivy.db + metadata.json) with trivy-db's own code
# (test/env/trivydb, its own Go module) into a git-ignored, content-addressed cache folder and
# prints that folder on stdout; progress goes to stderr. A change to the generator or to
# test/fixtures/scan/expected.json builds a new folder; otherwise it returns at once.
# Fails if expected.json does not list exactly the findings the DB produces
# (regenerate: cd test/env/trivydb && go run . -print-expected > ../../fixtures/scan/expected.json).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
src="$here/trivydb"
expected="$root/test/fixtures/scan/expected.json"
cache="${SECURESTACK_TOOLS_DIR:-$root/.testenv/tools}/trivydb"

command -v go >/dev/null || { echo "build-trivydb.sh: the Go toolchain is required" >&2; exit 1; }
key="$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" "$expected" | sha256sum | cut -c1-16)"
out="$cache/$key"
if [ -s "$out/trivy.db" ] && [ -s "$out/metadata.json" ]; then echo "$out"; exit 0; fi

echo "build-trivydb.sh: building the vulnerability DB fixture into $out" >&2
rm -rf "$out.partial"
( cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go run . -out "$out.partial" -expected "$expected" ) >&2
rm -rf "$out" && mv "$out.partial" "$out"
# Older fixtures are never used again (start.sh copies the DB into the run dir).
find "$cache" -mindepth 1 -maxdepth 1 ! -name "$key" ! -name "*.partial" -exec rm -rf {} +
echo "$out"
