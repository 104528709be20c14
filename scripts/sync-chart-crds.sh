#!/usr/bin/env bash
# Copies the repository's CRDs (crds/*.yaml, the source of truth) into the Helm chart, whose
# crds/ folder Helm installs before the templates. test/chart.test.ts fails when they drift.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/crds"
dst="$root/charts/securestack/crds"
mkdir -p "$dst"
# Remove copies whose source is gone, then copy every source byte for byte.
for f in "$dst"/*.yaml; do
  [ -e "$f" ] || continue
  [ -e "$src/$(basename "$f")" ] || rm -f "$f"
done
cp "$src"/*.yaml "$dst"/
echo "synced $(ls "$src"/*.yaml | wc -l) CRD file(s) into charts/securestack/crds"
