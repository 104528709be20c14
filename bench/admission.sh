#!/usr/bin/env bash
# bench/admission: the rule engine's throughput on one core, then Pod create latency through the
# API server with no policy, the SecureStack webhook and an equivalent ValidatingAdmissionPolicy
# (see bench/admission.ts). Compiles, starts the test plane (test/env/start.sh; its ports and run
# dir follow the SECURESTACK_* variables listed there) and stops it on exit, unless
# SECURESTACK_KEEP_PLANE=1 or the plane was already running before this script (it is left as it
# was found). Prints Markdown for docs/benchmarks.md; the SECURESTACK_BENCH_* knobs (rate, phase
# length, rounds, review count) are listed at the top of bench/admission.ts.
# The set-up (Node, compile, plane) is bench/plane.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/plane.sh" admission "$@"
