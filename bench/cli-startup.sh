#!/usr/bin/env bash
# bench/cli-startup: start-up of `securestack audit` on one small file (issue 13 target <= 300 ms),
# each run a whole process timed by GNU time (wall seconds, peak RSS), in turns with `node -e 0`
# (the floor: Node's own start-up) so a machine that slows down mid-run slows both. Prints the
# median, min and max of each. Compiles first; needs no plane.
#
#   bash bench/cli-startup.sh       # SECURESTACK_BENCH_RUNS (default 20)
set -euo pipefail
# shellcheck source=whole-process.sh
source "$(dirname "${BASH_SOURCE[0]}")/whole-process.sh"
runs="${SECURESTACK_BENCH_RUNS:-20}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: team-a}
spec:
  containers:
  - name: web
    image: nginx:1.27
    securityContext: {privileged: true}
YAML
audit=(node dist/operator/cli/main.js audit -p examples/scanpolicy-enforce-restricted.yaml "$work/pod.yaml")
floor=(node -e 0)
"${audit[@]}" >/dev/null || true   # one untimed run: the page cache
for i in $(seq 1 "$runs"); do
  /usr/bin/time -f '%e %M' -o "$work/audit.$i" "${audit[@]}" >/dev/null || true
  /usr/bin/time -f '%e %M' -o "$work/floor.$i" "${floor[@]}" >/dev/null
done
echo "$runs runs each, in turns, $(nproc) cores"
for what in audit floor; do
  read -r wall wmin wmax <<<"$(whole_process_stat 1 "$work/$what".*)"
  read -r rss rmin rmax <<<"$(whole_process_stat 2 "$work/$what".*)"
  label="securestack audit (one small file)"; [ "$what" = floor ] && label="node -e 0"
  awk -v l="$label" -v w="$wall" -v a="$wmin" -v b="$wmax" -v r="$rss" -v m="$rmax" \
    'BEGIN {printf "%-36s wall s median %s (min %s, max %s)   peak RSS MiB median %.1f (max %.1f)\n", l, w, a, b, r/1024, m/1024}'
done
echo "target: securestack audit median <= 0.300 s"
