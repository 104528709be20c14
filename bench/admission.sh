#!/usr/bin/env bash
# bench/admission: the rule engine's throughput on one core, then Pod create latency through the
# API server with no policy, the SecureStack webhook and an equivalent ValidatingAdmissionPolicy
# (see bench/admission.ts). Compiles, starts the test plane (test/env/start.sh; its ports and run
# dir follow the SECURESTACK_* variables listed there) and stops it on exit, unless
# SECURESTACK_KEEP_PLANE=1 or the plane was already running before this script (it is left as it
# was found). Prints Markdown for docs/benchmarks.md; the SECURESTACK_BENCH_* knobs (rate, phase
# length, rounds, review count) are listed at the top of bench/admission.ts.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# The Node the image ships (test/env/node.sh): SecureStack needs Node >= 22.19.
# shellcheck source=../test/env/node.sh
source test/env/node.sh
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json
run="${SECURESTACK_RUN_DIR:-$root/.testenv/run}"
was_up=0
[ -s "$run/kubeconfig" ] && kubectl --kubeconfig "$run/kubeconfig" --request-timeout=5s get --raw /readyz >/dev/null 2>&1 && was_up=1
kubeconfig="$(bash test/env/start.sh | tail -n 1)"
export KUBECONFIG="$kubeconfig" SECURESTACK_KUBECONFIG="$kubeconfig"
if [ "${SECURESTACK_KEEP_PLANE:-}" != 1 ] && [ "$was_up" = 0 ]; then
  trap 'bash test/env/stop.sh >/dev/null 2>&1 || true' EXIT
fi
node dist/bench/admission.js
