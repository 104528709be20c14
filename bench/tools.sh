#!/usr/bin/env bash
# bench/tools: builds the other tools that bench/cli-audit compares with `securestack audit`, once,
# from their Go modules (through the Go module proxy), into git-ignored cache folders
# .testenv/tools/bench-<tool>-<version>/ (reused when the binary is there). Not part of .ci/run:
# CI never builds them, so its cold time does not change.
# Prints each build's exact command and how long it took. Versions are pinned: a benchmark against
# "latest" would not be repeatable.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The cache lives beside the node toolchain (.testenv/tools may be a symlink shared by worktrees).
tools="${SECURESTACK_BENCH_TOOLS:-$root/.testenv/tools}"
mkdir -p "$tools"

KUBE_SCORE_VERSION=v1.20.0
GATOR_VERSION=v3.23.1

# -trimpath: no build paths in the binaries; -buildvcs=false: `go install pkg@version` has no VCS.
export GOFLAGS="-trimpath -buildvcs=false"
export CGO_ENABLED=0

# build NAME VERSION PACKAGE: go install PACKAGE@VERSION with GOBIN in the tool's cache folder.
build() {
  local name="$1" version="$2" pkg="$3"
  local dir="$tools/bench-$name-$version"
  local bin="$dir/$(basename "$pkg")"
  if [ -x "$bin" ]; then
    echo "bench/tools: $name $version: reusing $bin" >&2
    return 0
  fi
  mkdir -p "$dir.partial"
  echo "bench/tools: GOFLAGS='$GOFLAGS' CGO_ENABLED=0 GOBIN=$dir.partial go install $pkg@$version" >&2
  local start end
  start=$(date +%s.%N)
  GOBIN="$dir.partial" go install "$pkg@$version"
  end=$(date +%s.%N)
  # Renamed only once complete, so an interrupted build is never mistaken for a cached one.
  rm -rf "$dir" && mv "$dir.partial" "$dir"
  printf 'bench/tools: %s %s built in %.1f s\n' "$name" "$version" "$(echo "$end - $start" | bc)" >&2
}

build kube-score "$KUBE_SCORE_VERSION" github.com/zegl/kube-score/cmd/kube-score
build gator "$GATOR_VERSION" github.com/open-policy-agent/gatekeeper/v3/cmd/gator

# What bench/cli-audit sources: the binaries' paths and versions.
cat <<VARS
KUBE_SCORE=$tools/bench-kube-score-$KUBE_SCORE_VERSION/kube-score
KUBE_SCORE_VERSION=$KUBE_SCORE_VERSION
GATOR=$tools/bench-gator-$GATOR_VERSION/gator
GATOR_VERSION=$GATOR_VERSION
VARS
