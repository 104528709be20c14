#!/usr/bin/env bash
# THE test command (`npm test`). Checks the prerequisites, installs, compiles, lints, builds and
# starts the real control plane once, runs every compiled test file against it, and always stops the plane afterwards.
#
#   bash test/run.sh                                   # everything under dist/test/**/*.test.js
#   bash test/run.sh dist/test/controlplane.test.js    # a subset (test/foo.test.ts is mapped too)
#   bash test/run.sh --test-name-pattern=Job           # extra arguments starting with -- go to node
#   bash test/run.sh --unit                            # (npm run test:unit) only the pure tests: no
#                                                      # plane; seconds (plus, once, ~30 s to build the
#                                                      # Pod Security oracle: test/pss-oracle/build.sh)
#
# Environment:
#   SECURESTACK_KEEP_PLANE=1       leave the plane running afterwards (stop: bash test/env/stop.sh)
#   SECURESTACK_SKIP_LINT=1        skip eslint (while iterating; CI never sets it)
#   SECURESTACK_TEST_TIMEOUT_MS    per-test timeout for node --test                  [300000]
#   SECURESTACK_NODE=machine       run on the machine's Node, not the image's (test/env/node.sh)
# plus the SECURESTACK_* variables of test/env/start.sh (ports, run dir, node count).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
log() { echo "run.sh: $*" >&2; }

# --unit: the pure tier. A test file is pure when it imports none of the plane's helpers and reads
# no built tool (HELM through support/helm or $HELM, TRIVY); everything else needs the plane and
# runs only in the full tier.
unit=0
for a in "$@"; do if [ "$a" = --unit ]; then unit=1; fi; done
pure_tests() {
  grep -L -E "from '\./support/(cluster|scanenv|operator|plane|nodeplayer|helm)'|process\.env\.(HELM|TRIVY)" test/*.test.ts | sed -E 's#^test/(.*)\.ts$#dist/test/\1.js#'
}

# (0) prerequisites first, so a missing tool stops the run before any long build (and what can be
#     installed is installed): test/env/prereqs.sh.
# The pure tier needs neither the plane's packages nor the plane's Go builds; only the small Pod
# Security oracle below.
[ "$unit" = 1 ] || bash test/env/prereqs.sh
# The Node the production image ships, first on PATH for everything below (test/env/node.sh).
# shellcheck source=env/node.sh
source test/env/node.sh

# (a) dependencies: npm writes node_modules/.package-lock.json on install, so a lock file newer
#     than it means someone changed dependencies since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing dependencies (npm ci)"
  npm ci
fi

# (b) compile, then drop compiled tests whose .ts source is gone, so a deleted test cannot keep
#     running from a stale .js file. (Only orphans are removed, never all of dist/: another run
#     in the same checkout may be using it.)
log "compiling (tsc)"
npx tsc -p tsconfig.json
if [ -d dist/test ]; then
  while IFS= read -r js; do
    src="${js#dist/}"; src="${src%.js}.ts"
    [ -f "$src" ] || rm -f "$js" "$js.map"
  done < <(find dist/test -type f -name '*.js')
fi

# (c) lint
if [ "${SECURESTACK_SKIP_LINT:-}" = 1 ]; then
  log "skipping eslint (SECURESTACK_SKIP_LINT=1)"
else
  log "linting (eslint)"
  npx eslint --max-warnings=0 .
fi

# The Pod Security oracle (upstream's evaluator as a command) for test/pod-security-conformance.test.ts,
# in both tiers: a no-op once built. When it cannot be built the other tests still run, and the
# conformance test fails saying how to build it.
if oracle="$(bash test/pss-oracle/build.sh)"; then
  export SECURESTACK_PSS_ORACLE="$oracle"
else
  log "could not build the Pod Security oracle (bash test/pss-oracle/build.sh); test/pod-security-conformance.test.ts will fail"
fi

# The SARIF 2.1.0 and JUnit schemas the CLI's reports are checked against (test/cli-reports.test.ts),
# in both tiers: a no-op once fetched. Without them that test fails, saying how to fetch them.
if schemas="$(bash test/env/report-schemas.sh)"; then
  export SECURESTACK_REPORT_SCHEMAS="$schemas"
else
  log "could not fetch the report schemas (bash test/env/report-schemas.sh); test/cli-reports.test.ts will fail"
fi

if [ "$unit" = 1 ]; then
  mapfile -t files < <(pure_tests)
  log "running ${#files[@]} pure test file(s), no control plane"
  exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
fi

# (d) control-plane binaries (a no-op once built)
tools_bin="$(bash test/env/build.sh | tail -n 1)"
export HELM="$tools_bin/helm"
export TRIVY="$tools_bin/trivy"

# Which tests: arguments naming files (a .ts source maps to its compiled .js), or all of them.
files=()
node_args=()
for a in "$@"; do
  case "$a" in
    --*) node_args+=("$a") ;;
    *.ts) a="${a#./}"; files+=("dist/${a%.ts}.js") ;;
    *) files+=("$a") ;;
  esac
done
if [ "${#files[@]}" = 0 ]; then
  mapfile -t files < <(find dist/test -type f -name '*.test.js' | sort)
fi
[ "${#files[@]}" -gt 0 ] || { log "no test files found under dist/test"; exit 1; }
for f in "${files[@]}"; do [ -f "$f" ] || { log "no such test file: $f"; exit 1; }; done

# (e) the plane, once for the whole run, stopped on every way out (success, failure, Ctrl-C).
stop_plane() {
  if [ "${SECURESTACK_KEEP_PLANE:-}" = 1 ]; then
    log "leaving the control plane running (SECURESTACK_KEEP_PLANE=1); stop it with bash test/env/stop.sh"
  else
    bash test/env/stop.sh || true
  fi
}
trap stop_plane EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting the control plane"
kubeconfig="$(bash test/env/start.sh | tail -n 1)"
export KUBECONFIG="$kubeconfig" SECURESTACK_KUBECONFIG="$kubeconfig"

# (f) tests, one file at a time: they share one cluster, and the operator tests start controllers
#     that would fight over the same objects if files ran in parallel.
log "running ${#files[@]} test file(s)"
set +e
node --test --test-concurrency=1 --test-reporter=spec \
  --test-timeout="${SECURESTACK_TEST_TIMEOUT_MS:-300000}" \
  "${node_args[@]}" "${files[@]}"
rc=$?
set -e
log "tests finished with exit code $rc"
exit "$rc"
