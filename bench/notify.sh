#!/usr/bin/env bash
# bench/notify: webhook delivery latency from publish() to a real HTTPS receiver (in a child
# process, verifying signatures), with the notifier's durable shard written to the test plane's API
# server as a replica does (see bench/notify.ts). Prints Markdown for docs/benchmarks.md. Knobs:
# SECURESTACK_BENCH_EVENTS (default 2000), SECURESTACK_BENCH_RATE (events/s of the paced phase, 200).
# The set-up (Node, compile, plane) is bench/plane.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/plane.sh" notify "$@"
