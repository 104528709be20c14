#!/usr/bin/env bash
# bench/scan: 1,000 ImageScans over 50 unique digests, without and with Redis (see bench/scan.ts).
# Starts the test plane (leaves it as it found it unless SECURESTACK_KEEP_PLANE=1), compiles,
# runs the benchmark and prints a Markdown table for docs/benchmarks.md.
# The set-up (Node, compile, plane) is bench/plane.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/plane.sh" scan "$@"
