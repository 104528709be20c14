#!/usr/bin/env bash
# bench/compliance: a cluster-wide ComplianceReport over 20,000 objects in 500 namespaces (see
# bench/compliance.ts); prints Markdown for docs/benchmarks.md.
# The set-up (Node, compile, plane) is bench/plane.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/plane.sh" compliance "$@"
