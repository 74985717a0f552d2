#!/usr/bin/env bash
# `npm run images`: build the lab image with no container registry.
#  1. the base image: made from this machine's Node (docker/make-base-image.sh) if missing;
#  2. the app: compiled here (npm run build) with production dependencies from npm;
#  3. the image: the same Dockerfile, told to take the app from .image/.
# Env: WIRELAB_IMAGE (default wirelab/lab:latest), WIRELAB_BASE_IMAGE (default wirelab/node:<host node version>).
set -euo pipefail
cd "$(dirname "$0")/.."
image=${WIRELAB_IMAGE:-wirelab/lab:latest}
base=${WIRELAB_BASE_IMAGE:-wirelab/node:$(node -p process.versions.node)}

# A docker client that can build with BuildKit: a newer one needs the buildx plugin,
# Debian's docker.io (20.10) has BuildKit built in.
docker_cli=docker
if ! docker buildx version >/dev/null 2>&1 && [ -x /usr/bin/docker ]; then docker_cli=/usr/bin/docker; fi

if ! docker image inspect "$base" >/dev/null 2>&1; then
  docker/make-base-image.sh "$base"
fi

npm run --silent build
rm -rf .image && mkdir -p .image
cp package.json package-lock.json .image/
(cd .image && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
cp -r dist .image/dist
rm -f .image/dist/.tsbuildinfo

DOCKER_BUILDKIT=1 "$docker_cli" build --quiet --build-arg NODE_IMAGE="$base" --build-arg APP=host -t "$image" . >/dev/null
echo "built $image on $base"
