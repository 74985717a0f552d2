#!/usr/bin/env bash
# Make a minimal Node base image with no registry: a node binary, the shared libraries
# it links, /etc/passwd with an unprivileged user, /tmp. No shell: the lab image starts
# node directly and checks health with node.
# Usage: docker/make-base-image.sh IMAGE:TAG [NODE_BINARY]
#   NODE_BINARY defaults to the Node of docker/versions.env (Node 24, from the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."
. docker/lib.sh
image=${1:?usage: make-base-image.sh IMAGE:TAG [NODE_BINARY]}
node_bin=${2:-$(node_binary)}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/app" "$root/data"
chmod 1777 "$root/tmp"
cp "$(readlink -f "$node_bin")" "$root/usr/local/bin/node"
# Every shared library node needs, at the path the loader looks for it.
ldd "$node_bin" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
# Name lookups go to the lab DNS that Docker sets up; files first for localhost.
echo 'hosts: files dns' > "$root/etc/nsswitch.conf"

version=$("$node_bin" -p process.versions.node)
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change "ENV NODE_VERSION=$version" \
  - "$image" >/dev/null
echo "made $image: Node $version and its libraries, $(du -sh "$root" | cut -f1)"
