#!/usr/bin/env bash
# bench/watch-replay: watch events replayed with 10,000 ImageScans and no changes (see
# bench/watch-replay.ts); prints Markdown for docs/benchmarks.md.
# The set-up (Node, compile, plane) is bench/plane.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/plane.sh" watch-replay "$@"
