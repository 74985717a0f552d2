#!/usr/bin/env bash
# `npm run images`: build the lab's images with no container registry.
#  1. the Node base (wirelab/node:VERSION): the official Node 24 build from the npm
#     registry, cached (docker/make-base-image.sh), if missing;
#  2. the workstation base (wirelab/client-base:...): a Debian root with the students'
#     tools and the same Node (docker/make-client-base.sh), if missing;
#  3. the app: compiled here (npm run build) with production dependencies from npm;
#  4. the images wirelab/lab and wirelab/client: the same Dockerfile, told to take the
#     bases and the app from above.
# Env: WIRELAB_IMAGE (default wirelab/lab:latest), WIRELAB_CLIENT_IMAGE (wirelab/client:latest),
#      WIRELAB_CACHE (downloads, default ~/.cache/wirelab), WIRELAB_NODE_VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."
. docker/lib.sh
image=${WIRELAB_IMAGE:-wirelab/lab:latest}
client=${WIRELAB_CLIENT_IMAGE:-wirelab/client:latest}
base=wirelab/node:$NODE_VERSION
# A new tool list or Node makes a new workstation base; an unchanged one is reused.
client_base=wirelab/client-base:$DEBIAN_SUITE-node$NODE_VERSION-$(grep -v '^\s*#' docker/client-packages.txt | sha256sum | cut -c1-12)

# A docker client that can build with BuildKit: a newer one needs the buildx plugin,
# Debian's docker.io (20.10) has BuildKit built in.
docker_cli=docker
if ! docker buildx version >/dev/null 2>&1 && [ -x /usr/bin/docker ]; then docker_cli=/usr/bin/docker; fi

step() { local started=$SECONDS; "$@"; echo "  ($((SECONDS - started)) s)"; }
docker image inspect "$base" >/dev/null 2>&1 || step docker/make-base-image.sh "$base"
docker image inspect "$client_base" >/dev/null 2>&1 || step docker/make-client-base.sh "$client_base"

npm run --silent build
rm -rf .image && mkdir -p .image
cp package.json package-lock.json .image/
(cd .image && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
cp -r dist .image/dist
rm -f .image/dist/.tsbuildinfo

build() {
  DOCKER_BUILDKIT=1 "$docker_cli" build --quiet --build-arg NODE_IMAGE="$base" --build-arg CLIENT_IMAGE="$client_base" \
    --build-arg APP=host "$@" . >/dev/null
}
build --target runtime -t "$image"
build --target client -t "$client"
echo "built $image and $client (Node $NODE_VERSION) in $SECONDS s"
