#!/usr/bin/env bash
# bench/pods: the controller's RSS with 10,000 Pods on kwok nodes and workload scanning on (see
# bench/pods.ts); prints Markdown for docs/benchmarks.md.
# The set-up (Node, compile, plane) is bench/plane.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/plane.sh" pods "$@"
