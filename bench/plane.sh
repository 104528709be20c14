#!/usr/bin/env bash
# The set-up every plane benchmark shares: bash bench/plane.sh NAME [ARGS...] puts the Node the image
# ships first on PATH (test/env/node.sh; SecureStack needs Node >= 22.19), installs dependencies if
# needed, compiles, starts the test plane (test/env/start.sh; its ports and run dir follow the
# SECURESTACK_* variables listed there) and runs dist/bench/NAME.js. The plane is stopped on exit
# unless SECURESTACK_KEEP_PLANE=1 or it was already running before (it is left as it was found).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
name="${1:?usage: bash bench/plane.sh NAME [ARGS...] (runs dist/bench/NAME.js)}"
shift
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
node "dist/bench/$name.js" "$@"
