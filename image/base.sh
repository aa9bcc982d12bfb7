#!/bin/bash
# The base images `make image` builds the agent image on, made without any
# container registry: a Debian bookworm root file system from debootstrap (the
# Debian mirror), plus this machine's Node 20 copied into /usr/local where the
# official node:20-bookworm image has it (node, its headers for node-gyp, npm).
# Debian bookworm's own nodejs is 18, older than package.json's engines, so
# Node comes from the host; the check below refuses anything but Node 20.
#
# Tags both names the Dockerfile asks for with NODE_IMAGE=$IMAGE:
#   $IMAGE (build stages) and $IMAGE-slim (runtime stage): the same image; the
#   build stage installs its compilers with apt itself.
# Cached: the debootstrap tarball in $CACHE, the image in podman's store
# (labelled with the Node version; a rerun with the same Node does nothing).
set -euo pipefail

IMAGE=${IMAGE:-localhost/vrfwall-node:20-bookworm}
CACHE=${CACHE:-build/image}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
NODE_BIN=$(command -v node)
NODE_VERSION=$("$NODE_BIN" --version)
NODE_PREFIX=$(dirname "$(dirname "$(readlink -f "$NODE_BIN")")")

case "$NODE_VERSION" in
  v20.*) ;;
  *) echo "image/base.sh: the host's node is $NODE_VERSION; the image needs Node 20" >&2; exit 1 ;;
esac
[ -f "$NODE_PREFIX/include/node/node_api.h" ] || { echo "image/base.sh: no Node headers under $NODE_PREFIX/include/node" >&2; exit 1; }
[ -d "$NODE_PREFIX/lib/node_modules/npm" ] || { echo "image/base.sh: no npm under $NODE_PREFIX/lib/node_modules" >&2; exit 1; }

have=$(podman image inspect --format '{{index .Labels "dev.vrfwall.node"}}' "$IMAGE" 2>/dev/null || true)
if [ "$have" = "$NODE_VERSION" ] && podman image exists "$IMAGE-slim"; then
  echo "base image $IMAGE (Node $NODE_VERSION) is cached"
  exit 0
fi

mkdir -p "$CACHE"
rootfs_tar="$CACHE/bookworm-minbase.tar"
if [ ! -s "$rootfs_tar" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/vrfwall-debootstrap.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "debootstrap bookworm (minbase) from $MIRROR"
  # ca-certificates: npm and apt over https in the build stage.
  debootstrap --variant=minbase --include=ca-certificates bookworm "$work/root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  cat >"$work/root/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
  # This machine's extra trust anchors (e.g. of a proxy between it and the npm
  # registry): the build stage's apt and npm ci reach the network as the host does.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$work/root/usr/local/share/ca-certificates/"
    chroot "$work/root" update-ca-certificates >/dev/null
  fi
  # A container image needs no package cache or logs from the bootstrap.
  rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* "$work/root/var/log/"*
  tar -C "$work/root" --numeric-owner -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work"
fi

# Node as the official image lays it out: /usr/local/{bin,include,lib/node_modules}.
node_tar="$CACHE/node-$NODE_VERSION.tar"
stage=$(mktemp -d "${TMPDIR:-/tmp}/vrfwall-node.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/usr/local/bin" "$stage/usr/local/include" "$stage/usr/local/lib/node_modules"
cp "$(readlink -f "$NODE_BIN")" "$stage/usr/local/bin/node"
cp -r "$NODE_PREFIX/include/node" "$stage/usr/local/include/node"
cp -r "$NODE_PREFIX/lib/node_modules/npm" "$stage/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"
tar -C "$stage" --numeric-owner -cf "$node_tar" .

ctr=$(buildah from --pull=never scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$stage"' EXIT
buildah add --quiet "$ctr" "$rootfs_tar" /
buildah add --quiet "$ctr" "$node_tar" /
# Node reads the system's trust store only when told to (npm in the build stage).
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
  --label "dev.vrfwall.node=$NODE_VERSION" --cmd '["node"]' "$ctr"
buildah commit --quiet --rm "$ctr" "$IMAGE" >/dev/null
podman tag "$IMAGE" "$IMAGE-slim"
echo "base image $IMAGE (+ -slim): Debian bookworm minbase, Node $NODE_VERSION"
