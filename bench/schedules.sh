#!/usr/bin/env bash
# bench/schedules: 1,000 ScheduledScans due in the same minute (see bench/schedules.ts); prints
# Markdown for docs/benchmarks.md. The set-up (Node, compile, plane) is bench/plane.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/plane.sh" schedules "$@"
