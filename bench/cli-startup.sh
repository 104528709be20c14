#!/usr/bin/env bash
# bench/cli-startup: start-up of `securestack audit` on one small file (issue 13 target <= 300 ms),
# timed as a whole process by farm-bench (see /work/.library), beside `node -e 0` for the floor.
# Compiles first; needs no plane.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=../test/env/node.sh
source test/env/node.sh
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json
small="$(mktemp -d)/pod.yaml"
cat >"$small" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: team-a}
spec:
  containers:
  - name: web
    image: nginx:1.27
    securityContext: {privileged: true}
YAML
farm-bench -n "${SECURESTACK_BENCH_RUNS:-20}" --vs "node -e 0" -- node dist/operator/cli/main.js audit -p examples/scanpolicy-enforce-restricted.yaml "$small"
