#!/usr/bin/env bash
# Make a minimal Node base image from this machine's own Node, with no registry:
# the node binary, the shared libraries it links, /etc/passwd with an unprivileged
# user, /tmp. No shell: the lab image starts node directly and checks health with node.
# Usage: docker/make-base-image.sh IMAGE:TAG
set -euo pipefail
image=${1:?usage: make-base-image.sh IMAGE:TAG}
node_bin=$(command -v node)
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

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV NODE_VERSION='"$(node -p process.versions.node)" \
  - "$image" >/dev/null
echo "made $image from $node_bin ($(node --version)), $(du -sh "$root" | cut -f1)"
