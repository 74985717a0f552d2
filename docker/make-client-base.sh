#!/usr/bin/env bash
# Make the client workstation's base image with no image registry: a minimal Debian
# root (debootstrap, from the Debian mirror apt is set up with) holding the students'
# tools (docker/client-packages.txt) and Node (docker/versions.env), imported into Docker.
# The Dockerfile's `client` stage then adds wirelab. Where registries are reachable,
# the Dockerfile's `client-apt` stage makes the same thing from node:24-bookworm-slim.
# Usage: docker/make-client-base.sh IMAGE:TAG
# Env: WIRELAB_DEBIAN_MIRROR (default: apt's own mirror for the suite), WIRELAB_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
. docker/lib.sh
image=${1:?usage: make-client-base.sh IMAGE:TAG}

if ! command -v debootstrap >/dev/null; then
  echo "make-client-base: debootstrap is not installed (Debian/Ubuntu: apt-get install debootstrap)," >&2
  echo "  or build the client from the official images where a registry is reachable:" >&2
  echo "  docker build --target client -t wirelab/client ." >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "make-client-base: debootstrap needs root (it makes device files and runs dpkg in a chroot): run it with sudo" >&2
  exit 1
fi

# The mirror apt already uses for this suite's main component: no host is written here.
mirror=${WIRELAB_DEBIAN_MIRROR:-$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 2>/dev/null |
  awk -v suite="$DEBIAN_SUITE" '$2 == suite && $3 == "main" { print $1; exit }')}
if [ -z "$mirror" ]; then
  echo "make-client-base: apt has no source for Debian $DEBIAN_SUITE main; set WIRELAB_DEBIAN_MIRROR to a Debian mirror's URL" >&2
  exit 1
fi

packages=$(grep -v '^\s*#' docker/client-packages.txt | xargs | tr ' ' ',')
node_bin=$(node_binary)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$WIRELAB_CACHE/debs"

# The .deb files stay in the cache: a second build downloads nothing.
debootstrap --variant=minbase --cache-dir="$WIRELAB_CACHE/debs" --include="$packages" \
  "$DEBIAN_SUITE" "$root" "$mirror" >"$WIRELAB_CACHE/debootstrap.log" 2>&1 ||
  { tail -20 "$WIRELAB_CACHE/debootstrap.log" >&2; exit 1; }
# debootstrap retries a package it could not configure and may still exit 0: check.
broken=$(chroot "$root" dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '$1 != "ii" { print $2 }')
if [ -n "$broken" ]; then
  echo "make-client-base: these packages did not install: $broken (see $WIRELAB_CACHE/debootstrap.log)" >&2
  exit 1
fi

cp "$node_bin" "$root/usr/local/bin/node"
chroot "$root" node --version >/dev/null # its libraries are all there
# What a workstation does not need: package lists, docs (copyright files stay), manuals.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/man/* "$root"/usr/share/info/*
find "$root/usr/share/doc" -type f ! -name copyright -delete
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'en*' -exec rm -rf {} +
# Docker writes these for each container.
rm -f "$root/etc/resolv.conf" "$root/etc/hostname" "$root/etc/hosts"

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'CMD ["bash"]' \
  - "$image" >/dev/null
echo "made $image: Debian $DEBIAN_SUITE with $(grep -vc '^\s*#' docker/client-packages.txt) tool packages and Node $NODE_VERSION, $(du -sh "$root" | cut -f1)"
