#!/usr/bin/env bash
# Builds the test control plane from Go modules into a git-ignored cache folder and reuses it.
#   kube-apiserver, kube-controller-manager, kube-scheduler  (k8s.io/kubernetes, wrapper module)
#   etcd                                                      (go.etcd.io/etcd/server/v3)
#   kwok                                                      (sigs.k8s.io/kwok)
#   helm, for the chart tests                                 (helm.sh/helm/v3)
#   crane, for the fixture images                             (github.com/google/go-containerregistry)
#   trivy, the scanner (and its server) of the scan tests      (github.com/aquasecurity/trivy)
# Prints the bin folder on stdout; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
source "$here/versions.sh"
root="$(cd "$here/../.." && pwd)"
cache="${SECURESTACK_TOOLS_DIR:-$root/.testenv/tools}"
bin="$cache/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION/bin"

command -v go >/dev/null || { echo "build.sh: the Go toolchain is required (https://go.dev/doc/install or apt-get install golang)" >&2; exit 1; }

# One build at a time per cache: a second caller (another test run, start.sh) waits for the first
# and then finds everything built, instead of compiling the same thing twice on two cores.
mkdir -p "$cache"
exec 8>"$cache/.build.lock"
flock 8

want=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok helm)
missing=0
for b in "${want[@]}"; do [ -x "$bin/$b" ] || missing=1; done
# crane (go-containerregistry), for the fixture images of test/env/images.sh: built into $bin on its
# own with a version stamp, so adding or bumping it never rebuilds the control plane.
build_crane() {
  [ -x "$bin/crane" ] && [ "$(cat "$bin/.crane-version" 2>/dev/null)" = "$CRANE_VERSION" ] && return 0
  echo "build.sh: building crane $CRANE_VERSION" >&2
  CGO_ENABLED=0 GOBIN="$bin" go install -trimpath -ldflags "-s -w" "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
  echo "$CRANE_VERSION" >"$bin/.crane-version"
}
# trivy (github.com/aquasecurity/trivy), the scanner of the image-scanning tests (test/trivy.test.ts,
# the Trivy server of start.sh): built into $bin on its own with a version stamp like crane. Trivy
# needs GOEXPERIMENT=jsonv2 (as in its goreleaser.yml); CGO stays off. Cold (empty Go build cache):
# ~770 CPU-seconds, 7-10 min on 2 idle cores, plus ~75 s of module downloads; 168 MB binary.
build_trivy() {
  [ -x "$bin/trivy" ] && [ "$(cat "$bin/.trivy-version" 2>/dev/null)" = "$TRIVY_VERSION" ] && return 0
  echo "build.sh: building trivy $TRIVY_VERSION (first time about 10 min on 2 cores)" >&2
  local t0=$SECONDS
  rm -rf "$bin.trivy-partial"
  CGO_ENABLED=0 GOEXPERIMENT=jsonv2 GOFLAGS=-mod=mod GOBIN="$bin.trivy-partial" go install -trimpath \
    -ldflags "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" \
    "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION"
  mv -f "$bin.trivy-partial/trivy" "$bin/trivy" && rm -rf "$bin.trivy-partial"
  echo "$TRIVY_VERSION" >"$bin/.trivy-version"
  echo "build.sh: trivy done after $((SECONDS - t0))s" >&2
}
if [ "$missing" = 0 ]; then build_crane; build_trivy; echo "$bin"; exit 0; fi

mkdir -p "$bin.partial"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
kv="k8s.io/component-base/version"
minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w -X $kv.gitVersion=$KUBE_VERSION -X $kv.gitMajor=1 -X $kv.gitMinor=$minor -X $kv.gitTreeState=clean -X $kv.buildDate=1970-01-01T00:00:00Z"

start=$(date +%s)
echo "build.sh: building control plane $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION into $bin (first time only; 15-30 min on 2 cores)" >&2
( cd "$here/tools"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    [ -x "$bin.partial/$cmd" ] || go build -trimpath -ldflags "$ldflags" -o "$bin.partial/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    echo "build.sh: $cmd done after $(( $(date +%s) - start ))s" >&2
  done
  [ -x "$bin.partial/etcd" ] || go build -trimpath -ldflags "-s -w" -o "$bin.partial/etcd" go.etcd.io/etcd/server/v3
  echo "build.sh: etcd done after $(( $(date +%s) - start ))s" >&2
)
if [ ! -x "$bin.partial/kwok" ]; then
  GOBIN="$bin.partial" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
fi
echo "build.sh: kwok done after $(( $(date +%s) - start ))s" >&2
# helm renders and lints the chart in tests (test/chart.test.ts).
if [ ! -x "$bin.partial/helm" ]; then
  GOBIN="$bin.partial" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
echo "build.sh: helm done after $(( $(date +%s) - start ))s" >&2
rm -rf "$bin" && mv "$bin.partial" "$bin"
build_crane
build_trivy
echo "$bin"
