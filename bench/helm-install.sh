#!/usr/bin/env bash
# bench/helm-install: `helm install` to the webhook answering, and `helm uninstall` to nothing left,
# on the test plane with the operator run from its image (see bench/helm-install.ts); prints
# Markdown for docs/benchmarks.md. The set-up (Node, compile, plane) is bench/plane.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/plane.sh" helm-install "$@"
