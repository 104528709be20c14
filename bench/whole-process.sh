# Sourced by the benchmarks that time whole processes without the plane (bench/cli-audit.sh,
# bench/cli-startup.sh): the set-up (the image's Node, dependencies, GNU time, a compile) and the
# statistics of GNU time's output files. Each run is timed by `/usr/bin/time -f '%e %M' -o FILE`
# (wall seconds, peak resident KiB).
# shellcheck shell=bash
bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$bench_root"
# shellcheck source=../test/env/node.sh
source test/env/node.sh
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
[ -x /usr/bin/time ] || { echo "$(basename "$0"): needs GNU time (/usr/bin/time): apt-get install time" >&2; exit 2; }
npx tsc -p tsconfig.json

# whole_process_stat COLUMN FILE...: "median min max" of that column (1 wall s, 2 peak KiB) over the
# last line of each file.
whole_process_stat() {
  local column="$1"
  shift
  for file in "$@"; do tail -1 "$file" | awk -v c="$column" '{print $c}'; done | sort -g |
    awk '{v[NR]=$1} END {printf "%s %s %s", v[int((NR+1)/2)], v[1], v[NR]}'
}
