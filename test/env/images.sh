#!/usr/bin/env bash
# Builds the fixture images for the image-scanning tests without Docker and pushes them to the two
# loopback registries started by start.sh; writes <run>/images.json ({reference: digest}).
#
#   <registry>/fixtures/debian-app:1        OCI manifest, linux/amd64: Debian 12 os-release and a
#                                           dpkg status with openssl, libssl3 (3.0.11-1~deb12u1)
#                                           and zlib1g (1:1.2.13.dfsg-1)
#   <registry>/fixtures/debian-app:1-arm64  the same for linux/arm64
#   <registry>/fixtures/multiarch:1         OCI image index of the two above
#   <registry>/fixtures/alpine-app:1        Docker v2 manifest, linux/amd64: Alpine 3.19.0 with an apk
#                                           installed db holding busybox 1.36.1-r2 and musl 1.2.4-r1
#   <registry>/fixtures/node-app:1          OCI manifest, linux/amd64: /app/package-lock.json (v3) and
#                                           /app/node_modules/{lodash 4.17.20,minimist 1.2.5}
#   <auth-registry>/private/debian-app:1    debian-app:1 behind basic auth
#
# Layers are tarred with fixed owners, modes and mtimes and the configs carry no timestamps, so
# the digests are the same on every run and machine (same crane version).
# Idempotent: if the registries already hold exactly what images.json records (and this script
# has not changed since), nothing is pushed.
#
# Environment: SECURESTACK_RUN_DIR (as start.sh), SECURESTACK_CRANE (crane binary; default: the
# one build.sh built, else crane on PATH).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
run="${SECURESTACK_RUN_DIR:-$root/.testenv/run}"
log() { echo "images.sh: $*" >&2; }

# crane: SECURESTACK_CRANE, else next to the prebuilt binaries (SECURESTACK_BIN_DIR) or on PATH,
# else the one build.sh builds.
crane="${SECURESTACK_CRANE:-}"
if [ -z "$crane" ] && [ -n "${SECURESTACK_BIN_DIR:-}" ]; then
  if [ -x "$SECURESTACK_BIN_DIR/crane" ]; then crane="$SECURESTACK_BIN_DIR/crane"; else crane="$(command -v crane || true)"; fi
fi
[ -n "$crane" ] || crane="$(bash "$here/build.sh" | tail -n 1)/crane"
[ -x "$crane" ] || { log "ERROR: crane not found at $crane (bash test/env/build.sh builds it)"; exit 1; }

[ -s "$run/registry-url" ] && [ -s "$run/auth-registry-url" ] && [ -s "$run/auth-registry-dockerconfig.json" ] ||
  { log "ERROR: the registries are not running ($run/registry-url missing); run bash test/env/start.sh"; exit 1; }
reg="$(cat "$run/registry-url")"; reg="${reg#http://}"
auth_reg="$(cat "$run/auth-registry-url")"; auth_reg="${auth_reg#http://}"

# crane reads credentials from $DOCKER_CONFIG/config.json: the auth registry's test user.
work="$run/images"
mkdir -p "$work"
export DOCKER_CONFIG="$work/docker-config"
mkdir -p "$DOCKER_CONFIG"
cp "$run/auth-registry-dockerconfig.json" "$DOCKER_CONFIG/config.json"
# crane logs every blob to stderr: kept in a log, shown only when a call fails.
cr() {
  "$crane" --insecure "$@" 2>>"$work/crane.log" || {
    log "ERROR: crane $* failed; last lines of $work/crane.log:"; tail -n 15 "$work/crane.log" >&2; return 1
  }
}

out="$run/images.json"
stamp="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1) $("$crane" version 2>/dev/null)"

# --- idempotence check -------------------------------------------------------------------------
up_to_date() {
  [ -s "$out" ] && [ -s "$work/stamp" ] && [ "$(cat "$work/stamp")" = "$stamp" ] || return 1
  local ref digest
  while IFS=$'\t' read -r ref digest; do
    [ "$(cr digest "$ref" 2>/dev/null)" = "$digest" ] || return 1
  done < <(node -e 'for (const [r, d] of Object.entries(require(process.argv[1]))) console.log(`${r}\t${d}`)' "$out")
}
if up_to_date; then
  log "fixture images already pushed ($out)"
  exit 0
fi

# --- root file systems ---------------------------------------------------------------------------
build="$work/build"
rm -rf "$build" "$work/crane.log" && mkdir -p "$build"
umask 022

debian_os_release() {
  cat <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
EOF
}

# dpkg status in the format dpkg itself writes (stanzas separated by blank lines).
dpkg_status() { # arch
  cat <<EOF
Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6352
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: $1
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u1
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL and
 TLS cryptographic protocols for secure communication over the Internet.
 .
 It provides the libssl and libcrypto shared libraries.
Homepage: https://www.openssl.org/

Package: openssl
Status: install ok installed
Priority: optional
Section: utils
Installed-Size: 2258
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: $1
Version: 3.0.11-1~deb12u1
Depends: libc6 (>= 2.34), libssl3 (>= 3.0.9)
Suggests: ca-certificates
Conffiles:
 /etc/ssl/openssl.cnf 5f3d1ee3bd4b1a5bb1cd7ba0a8b2b8b2
Description: Secure Sockets Layer toolkit - cryptographic utility
 This package is part of the OpenSSL project's implementation of the SSL and
 TLS cryptographic protocols for secure communication over the Internet.
 .
 It contains the general-purpose command line binary /usr/bin/openssl,
 useful for cryptographic operations.
Homepage: https://www.openssl.org/

Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 168
Maintainer: Mark Brown <broonie@debian.org>
Architecture: $1
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Provides: libz1
Depends: libc6 (>= 2.14)
Breaks: libxml2 (<< 2.7.6.dfsg-2), texlive-binaries (<< 2009-12)
Conflicts: zlib1 (<= 1:1.0.4-7)
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.  This package includes the shared library.
Homepage: http://zlib.net/

EOF
}

make_debian_rootfs() { # dir arch
  mkdir -p "$1/etc" "$1/var/lib/dpkg"
  debian_os_release >"$1/etc/os-release"
  echo "12.2" >"$1/etc/debian_version"
  dpkg_status "$2" >"$1/var/lib/dpkg/status"
}

# "Q1" + base64(sha1): the checksum form apk writes into C: lines.
apk_checksum() { printf 'Q1%s' "$(printf '%s' "$1" | openssl dgst -sha1 -binary | base64 -w0)"; }

make_alpine_rootfs() { # dir
  mkdir -p "$1/etc" "$1/lib/apk/db"
  echo "3.19.0" >"$1/etc/alpine-release"
  cat >"$1/etc/os-release" <<'EOF'
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.0
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
EOF
  # apk's installed database: one stanza per package, blank-line separated, one-letter keys.
  cat >"$1/lib/apk/db/installed" <<EOF
C:$(apk_checksum musl-1.2.4-r1)
P:musl
V:1.2.4-r1
A:x86_64
S:407574
I:651264
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1694440394
c:5b7b0bd6a7e2b5ea94e0aec55e8bd4e2d2a3d5a1
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:$(apk_checksum ld-musl-x86_64.so.1)
R:libc.musl-x86_64.so.1
a:0:0:777
Z:$(apk_checksum libc.musl-x86_64.so.1)

C:$(apk_checksum busybox-1.36.1-r2)
P:busybox
V:1.36.1-r2
A:x86_64
S:509126
I:946176
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1696942814
c:26d7f9d3a6cf5df3db17c2d4d1c1ba1fbe4a4c0c
D:so:libc.musl-x86_64.so.1
p:/bin/sh cmd:busybox=1.36.1-r2 cmd:sh=1.36.1-r2
r:busybox-initscripts
F:bin
R:busybox
a:0:0:755
Z:$(apk_checksum busybox)
R:sh
a:0:0:777
Z:$(apk_checksum sh)
F:etc
R:securetty
Z:$(apk_checksum securetty)

EOF
}

make_node_rootfs() { # dir
  mkdir -p "$1/app/node_modules/lodash" "$1/app/node_modules/minimist"
  cat >"$1/app/package.json" <<'EOF'
{
  "name": "node-app",
  "version": "1.0.0",
  "private": true,
  "dependencies": {
    "lodash": "4.17.20",
    "minimist": "1.2.5"
  }
}
EOF
  cat >"$1/app/package-lock.json" <<'EOF'
{
  "name": "node-app",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "node-app",
      "version": "1.0.0",
      "dependencies": {
        "lodash": "4.17.20",
        "minimist": "1.2.5"
      }
    },
    "node_modules/lodash": {
      "version": "4.17.20",
      "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz",
      "integrity": "sha512-PlhdFcillOINfeV7Ni6oF1TAEayyZBoZ8bcshTHqOYJYlrqzRK5hagpagky5o4HfCzzd1TRkXPMFq6cKk9rGmA==",
      "license": "MIT"
    },
    "node_modules/minimist": {
      "version": "1.2.5",
      "resolved": "https://registry.npmjs.org/minimist/-/minimist-1.2.5.tgz",
      "integrity": "sha512-FM9nNUYrRBAELZQT3xeZQ7fmMOBg6nWNmJKTcgsJeaLstP/UODVpGsr5OhXhhXg6f+qtJ8uiZ+PUxkDWcgIXLw==",
      "license": "MIT"
    }
  }
}
EOF
  # Trivy reads package-lock.json only in fs/repo scans; in image scans it reads installed
  # packages' package.json files, so the image carries both.
  cat >"$1/app/node_modules/lodash/package.json" <<'EOF'
{
  "name": "lodash",
  "version": "4.17.20",
  "description": "Lodash modular utilities.",
  "license": "MIT",
  "homepage": "https://lodash.com/",
  "repository": "lodash/lodash",
  "main": "lodash.js"
}
EOF
  cat >"$1/app/node_modules/minimist/package.json" <<'EOF'
{
  "name": "minimist",
  "version": "1.2.5",
  "description": "parse argument options",
  "license": "MIT",
  "main": "index.js",
  "repository": {
    "type": "git",
    "url": "git://github.com/substack/minimist.git"
  }
}
EOF
}

# Reproducible tar: sorted names, root owner, fixed mtime and modes.
make_tar() { # dir tarfile
  find "$1" -exec touch -h -d @0 {} +
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
    --mode=u+rwX,go+rX,go-w -C "$1" -cf "$2" $(cd "$1" && ls -A)
}

make_debian_rootfs "$build/debian-amd64" amd64
make_debian_rootfs "$build/debian-arm64" arm64
make_alpine_rootfs "$build/alpine"
make_node_rootfs "$build/node"
for d in debian-amd64 debian-arm64 alpine node; do make_tar "$build/$d" "$build/$d.tar"; done

# --- push ----------------------------------------------------------------------------------------
# crane append builds an image on an empty base from a layer tarball (config with rootfs diff_ids);
# crane mutate then sets os/architecture in the config. The unplatformed intermediate goes to a
# scratch repository.
push_image() { # ref tar platform [oci|docker]
  local tmp="$reg/scratch/build:$(basename "$2" .tar)" oci=()
  [ "${4:-oci}" = oci ] && oci=(--oci-empty-base)
  cr append "${oci[@]}" -f "$2" -t "$tmp" >/dev/null
  cr mutate --set-platform "$3" -t "$1" "$tmp" >/dev/null
}

log "pushing fixture images to $reg and $auth_reg"
push_image "$reg/fixtures/debian-app:1" "$build/debian-amd64.tar" linux/amd64
push_image "$reg/fixtures/debian-app:1-arm64" "$build/debian-arm64.tar" linux/arm64
push_image "$reg/fixtures/alpine-app:1" "$build/alpine.tar" linux/amd64 docker
push_image "$reg/fixtures/node-app:1" "$build/node.tar" linux/amd64
cr index append -m "$reg/fixtures/debian-app:1" -m "$reg/fixtures/debian-app:1-arm64" \
  -t "$reg/fixtures/multiarch:1" >/dev/null
cr copy "$reg/fixtures/debian-app:1" "$auth_reg/private/debian-app:1" >/dev/null

refs=(
  "$reg/fixtures/debian-app:1"
  "$reg/fixtures/debian-app:1-arm64"
  "$reg/fixtures/alpine-app:1"
  "$reg/fixtures/node-app:1"
  "$reg/fixtures/multiarch:1"
  "$auth_reg/private/debian-app:1"
)
json="{"
sep=""
for ref in "${refs[@]}"; do
  json+="$sep
  \"$ref\": \"$(cr digest "$ref")\""
  sep=","
done
json+="
}"
echo "$json" >"$out.tmp" && mv "$out.tmp" "$out"
echo "$stamp" >"$work/stamp"
log "fixture images pushed; digests in $out"
