#!/usr/bin/env bash
# bench/cli-audit: `securestack audit` of 10,000 manifests (issue 13 target: wall time <= half of the
# fastest other tool on comparable rules, peak RSS reported), side by side with kube-score and
# gator on the same file, in one run: the tools take turns round by round, so a machine that slows
# down mid-run slows them all. Each run is a whole process (start-up, reading, judging, printing)
# timed by GNU time (`apt-get install time` if /usr/bin/time is missing): wall seconds and the
# largest resident set. Medians are printed; min and max show the spread.
#
#   bash bench/cli-audit.sh     # knobs: SECURESTACK_BENCH_{MANIFESTS,SEED,ROUNDS,TOOLS_ONLY}
#
# The other tools are built once by bench/tools.sh (Go module proxy) into .testenv/tools; their
# rules are bench/cli-audit/gator/ (gator) and kube-score's defaults; securestack's are
# bench/cli-audit/scanpolicy.yaml. docs/benchmarks.md says which rules match which.
set -euo pipefail
# shellcheck source=whole-process.sh
source "$(dirname "${BASH_SOURCE[0]}")/whole-process.sh"

count="${SECURESTACK_BENCH_MANIFESTS:-10000}"
seed="${SECURESTACK_BENCH_SEED:-13}"
rounds="${SECURESTACK_BENCH_ROUNDS:-3}"
eval "$(bash bench/tools.sh)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
node dist/bench/manifests.js --count "$count" --seed "$seed" --out "$work/manifests.yaml"

tools=(securestack kube-score kube-score-pss gator)
# kube-score's default checks include cross-object ones (a NetworkPolicy, a PodDisruptionBudget, a
# Service's pods) that securestack's rules do not have and that grow with the number of objects;
# kube-score-pss runs only the checks that overlap securestack's (docs/benchmarks.md), plus the
# optional seccomp one, so the comparison holds on comparable rules too.
kube_score_pss_flags=(--enable-optional-test container-seccomp-profile)
for check in deployment-strategy deployment-replicas ingress-targets-service cronjob-has-deadline cronjob-restartpolicy \
  container-ephemeral-storage-request-and-limit environment-variable-key-duplication statefulset-has-poddisruptionbudget \
  deployment-has-poddisruptionbudget poddisruptionbudget-has-policy pod-networkpolicy networkpolicy-targets-pod \
  pod-probes-identical service-targets-pod service-type stable-version deployment-has-host-podantiaffinity \
  statefulset-has-host-podantiaffinity deployment-targeted-by-hpa-does-not-have-replicas-configured \
  statefulset-has-servicename deployment-pod-selector-labels-match-template-metadata-labels \
  statefulset-pod-selector-labels-match-template-metadata-labels label-values horizontalpodautoscaler-has-target \
  horizontalpodautoscaler-replicas pod-topology-spread-constraints; do
  kube_score_pss_flags+=(--ignore-test "$check")
done
# Each tool with its own way of reading the one file (sets cmd). Output goes to a file (the same
# cost for all) and is counted below, so a tool that failed fast is seen, not timed as fast.
command_of() {
  case "$1" in
    securestack) cmd=(node dist/operator/cli/main.js audit -p bench/cli-audit/scanpolicy.yaml "$work/manifests.yaml") ;;
    kube-score) cmd=("$KUBE_SCORE" score -o ci "$work/manifests.yaml") ;;
    kube-score-pss) cmd=("$KUBE_SCORE" score -o ci "${kube_score_pss_flags[@]}" "$work/manifests.yaml") ;;
    gator) cmd=("$GATOR" test -f "$work/manifests.yaml" -f bench/cli-audit/gator/) ;;
  esac
}
# Findings in a run's output: securestack's summary line; kube-score's failed checks (CRITICAL and
# WARNING lines of its ci format); gator's violations (one line each, naming the constraint).
findings() {
  case "$1" in
    securestack) sed -n 's/.* object(s) checked: \([0-9]*\) violation(s).*/\1/p' "$2" ;;
    kube-score*) grep -cE '^\[(CRITICAL|WARNING)\] ' "$2" || true ;;
    gator) grep -cE '^[^ ]+ [^ ]+: \["[^"]+"\] Message: ' "$2" || true ;;
  esac
}
# What each tool exits with when it ran and found something: securestack's policy is in Audit mode
# (0); kube-score and gator exit 1 on findings.
expected_exit() { case "$1" in securestack) echo 0 ;; *) echo 1 ;; esac; }

for tool in "${tools[@]}"; do
  # One untimed run first: fills the page cache and shows the findings.
  command_of "$tool"
  set +e
  "${cmd[@]}" >"$work/out.$tool" 2>"$work/err.$tool"
  code=$?
  set -e
  n="$(findings "$tool" "$work/out.$tool")"
  echo "bench/cli-audit: $tool: exit $code, ${n:-0} findings" >&2
  if [ "$code" != "$(expected_exit "$tool")" ] || [ "${n:-0}" -eq 0 ]; then
    echo "bench/cli-audit: $tool did not run as expected; its stderr:" >&2
    tail -20 "$work/err.$tool" >&2
    exit 1
  fi
  echo "$n" >"$work/findings.$tool"
done

for round in $(seq 1 "$rounds"); do
  for tool in "${tools[@]}"; do
    command_of "$tool"
    /usr/bin/time -f '%e %M' -o "$work/time.$tool.$round" "${cmd[@]}" >"$work/out" 2>/dev/null || true
    echo "bench/cli-audit: round $round: $tool $(tail -1 "$work/time.$tool.$round") (wall s, peak KiB)" >&2
  done
done

# Median (and min, max) of column $2 over the rounds of tool $1.
stat() { whole_process_stat "$2" "$work/time.$1".*; }

echo
echo "securestack audit of $count manifests (seed $seed), $rounds rounds, $(nproc) cores"
printf '| %-14s | %-22s | %-26s | %-8s |\n' tool 'wall s (median, min-max)' 'peak RSS MiB (median, max)' findings
printf '|%s|%s|%s|%s|\n' ---------------- ------------------------ ---------------------------- ----------
fastest=""
for tool in "${tools[@]}"; do
  read -r wall wmin wmax <<<"$(stat "$tool" 1)"
  read -r rss _ rmax <<<"$(stat "$tool" 2)"
  printf '| %-14s | %-22s | %-26s | %-8s |\n' "$tool" "$wall ($wmin-$wmax)" "$(awk -v a="$rss" -v b="$rmax" 'BEGIN {printf "%.1f (%.1f)", a/1024, b/1024}')" "$(cat "$work/findings.$tool")"
  echo "$wall" >"$work/wall.$tool"
  if [ "$tool" != securestack ] && { [ -z "$fastest" ] || awk -v a="$wall" -v b="$(cat "$work/wall.$fastest")" 'BEGIN {exit !(a < b)}'; }; then fastest="$tool"; fi
done
awk -v s="$(cat "$work/wall.securestack")" -v f="$(cat "$work/wall.$fastest")" -v name="$fastest" \
  'BEGIN {printf "\nsecurestack / fastest other (%s): %.2f (target <= 0.50)\n", name, s / f}'
