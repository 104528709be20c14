#!/usr/bin/env bash
# Builds the test control plane from Go modules into a git-ignored cache folder and reuses it.
#   kube-apiserver, kube-controller-manager, kube-scheduler  (k8s.io/kubernetes, wrapper module)
#   etcd                                                      (go.etcd.io/etcd/server/v3)
#   kwok                                                      (sigs.k8s.io/kwok)
#   helm, for the chart tests                                 (helm.sh/helm/v3)
#   crane, for the fixture images                             (github.com/google/go-containerregistry)
#   trivy, the scanner (and its server) of the scan tests      (github.com/aquasecurity/trivy)
# Prints the bin folder on stdout; progress goes to stderr (a line per finished piece, and every
# SECURESTACK_BUILD_PROGRESS_SECONDS [30] a line with the packages compiled so far).
#
#   bash test/env/build.sh          # build what is missing, print the bin folder
#   bash test/env/build.sh --plan   # build nothing; print what a build would compile, how long it
#                                   # takes and where it goes (nothing when all is built)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
source "$here/versions.sh"
root="$(cd "$here/../.." && pwd)"
cache="${SECURESTACK_TOOLS_DIR:-$root/.testenv/tools}"
bin="$cache/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION/bin"
log() { echo "build.sh: $*" >&2; }

# A cold build on 2 cores with empty Go caches (docs/benchmarks.md, "First run on a fresh machine"):
# seconds per piece, in build order (later pieces reuse packages the earlier ones compiled), and the
# packages `go build -v` compiled for it, for the progress lines.
declare -A seconds=([kube-apiserver]=256 [kube-controller-manager]=53 [kube-scheduler]=5 [etcd]=8
  [kwok]=68 [helm]=81 [crane]=6 [trivy]=336)
declare -A packages=([kube-apiserver]=2028 [kube-controller-manager]=388 [kube-scheduler]=6 [etcd]=105
  [kwok]=544 [helm]=684 [crane]=57 [trivy]=3079)
plane=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok helm)

# What is still to be built, in build order.
pending() {
  local b
  for b in "${plane[@]}"; do [ -x "$bin/$b" ] || echo "$b"; done
  [ -x "$bin/crane" ] && [ "$(cat "$bin/.crane-version" 2>/dev/null)" = "$CRANE_VERSION" ] || echo crane
  [ -x "$bin/trivy" ] && [ "$(cat "$bin/.trivy-version" 2>/dev/null)" = "$TRIVY_VERSION" ] || echo trivy
}

if [ "${1:-}" = --plan ]; then
  mapfile -t todo < <(pending)
  [ "${#todo[@]}" = 0 ] && exit 0
  total=0; for b in "${todo[@]}"; do total=$((total + ${seconds[$b]})); done
  echo "first run: compiling ${todo[*]} from their Go modules, once:"
  echo "  about $(((total + 59) / 60)) min on 2 idle cores with empty Go caches (less with warm ones), into $bin;"
  echo "  Go keeps its module and build caches in $(go env GOMODCACHE) and $(go env GOCACHE)."
  echo "  Later runs reuse them and start in seconds. Progress is printed every ${SECURESTACK_BUILD_PROGRESS_SECONDS:-30} s."
  exit 0
fi

command -v go >/dev/null || { log "the Go toolchain is required (bash test/env/prereqs.sh says how to get it)"; exit 1; }

# One build at a time per cache: a second caller (another test run, start.sh) waits for the first
# and then finds everything built, instead of compiling the same thing twice on two cores.
mkdir -p "$cache"
exec 8>"$cache/.build.lock"
flock 8

mapfile -t todo < <(pending)
[ "${#todo[@]}" = 0 ] && { echo "$bin"; exit 0; }
step=0
started=$SECONDS

# compile NAME CMD...: runs one `go build -v` or `go install -v` with its package list in a log,
# printing every few seconds how many packages are compiled, then the time it took. The log is
# shown when the command fails.
compile() {
  local name=$1; shift
  local out="$cache/.build-$name.log" every="${SECURESTACK_BUILD_PROGRESS_SECONDS:-30}" t0=$SECONDS pid n
  step=$((step + 1))
  log "[$step/${#todo[@]}] $name (about ${seconds[$name]} s cold)"
  "$@" >"$out" 2>&1 &
  pid=$!
  while ! wait_for "$pid" "$every"; do
    n="$(grep -cvE '^(go: |#)' "$out" || true)"
    log "    $name: $n of about ${packages[$name]} packages compiled, $((SECONDS - t0)) s (all: $(((SECONDS - started) / 60)) min)"
  done
  if ! wait "$pid"; then
    log "ERROR: building $name failed; last lines of $out:"; tail -n 30 "$out" >&2; exit 1
  fi
  log "    $name done in $((SECONDS - t0)) s"
}
# wait_for PID SECONDS: true once PID has ended, false if it still runs after SECONDS.
wait_for() {
  local i
  for ((i = 0; i < $2 * 2; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.5; done
  ! kill -0 "$1" 2>/dev/null
}

want() { local b; for b in "${todo[@]}"; do [ "$b" = "$1" ] && return 0; done; return 1; }

# The control plane: built into $bin.partial and moved in place whole, so a half build is never used.
if want kube-apiserver || want kube-controller-manager || want kube-scheduler || want etcd || want kwok || want helm; then
  mkdir -p "$bin.partial"
  # What an earlier build left in $bin is kept (the folder is replaced whole below).
  if [ -d "$bin" ]; then
    for f in "$bin"/* "$bin"/.*-version; do
      if [ -e "$f" ] && ! [ -e "$bin.partial/${f##*/}" ]; then cp -p "$f" "$bin.partial/"; fi
    done
  fi
  kv="k8s.io/component-base/version"
  minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  ldflags="-s -w -X $kv.gitVersion=$KUBE_VERSION -X $kv.gitMajor=1 -X $kv.gitMinor=$minor -X $kv.gitTreeState=clean -X $kv.buildDate=1970-01-01T00:00:00Z"
  log "building control plane $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, helm $HELM_VERSION into $bin"
  # still CMD: wanted and not already in the partial folder (a build interrupted half way resumes).
  still() { want "$1" && ! [ -x "$bin.partial/$1" ]; }
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    if still "$cmd"; then
      CGO_ENABLED=0 GOFLAGS=-mod=mod compile "$cmd" go -C "$here/tools" build -v -trimpath -ldflags "$ldflags" -o "$bin.partial/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    fi
  done
  if still etcd; then
    CGO_ENABLED=0 GOFLAGS=-mod=mod compile etcd go -C "$here/tools" build -v -trimpath -ldflags "-s -w" -o "$bin.partial/etcd" go.etcd.io/etcd/server/v3
  fi
  if still kwok; then
    CGO_ENABLED=0 GOBIN="$bin.partial" compile kwok go install -v -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  fi
  # helm renders and lints the chart in tests (test/chart.test.ts).
  if still helm; then
    CGO_ENABLED=0 GOBIN="$bin.partial" compile helm go install -v -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  fi
  rm -rf "$bin" && mv "$bin.partial" "$bin"
fi

# crane (go-containerregistry), for the fixture images of test/env/images.sh: built into $bin on its
# own with a version stamp, so adding or bumping it never rebuilds the control plane.
if want crane; then
  CGO_ENABLED=0 GOBIN="$bin" compile crane go install -v -trimpath -ldflags "-s -w" "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
  echo "$CRANE_VERSION" >"$bin/.crane-version"
fi
# trivy (github.com/aquasecurity/trivy), the scanner of the image-scanning tests (test/trivy.test.ts,
# the Trivy server of start.sh): built into $bin on its own with a version stamp like crane. Trivy
# needs GOEXPERIMENT=jsonv2 (as in its goreleaser.yml); CGO stays off. 168 MB binary.
if want trivy; then
  rm -rf "$bin.trivy-partial"
  CGO_ENABLED=0 GOEXPERIMENT=jsonv2 GOFLAGS=-mod=mod GOBIN="$bin.trivy-partial" compile trivy go install -v -trimpath \
    -ldflags "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" \
    "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION"
  mv -f "$bin.trivy-partial/trivy" "$bin/trivy" && rm -rf "$bin.trivy-partial"
  echo "$TRIVY_VERSION" >"$bin/.trivy-version"
fi
log "built ${todo[*]} in $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s"
echo "$bin"
