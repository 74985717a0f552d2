# One image for every lab service and for the runner (the "client" workstation).
#
# Built the ordinary way (a registry is reachable):   docker build -t wirelab/lab .
# Built offline (`npm run images`): the base is made from the host's own Node
# (docker/make-base-image.sh) and the app comes from the host's build:
#   docker build --build-arg NODE_IMAGE=wirelab/node:20 --build-arg APP=host -t wirelab/lab .
# BuildKit builds only the stages the target needs, so the offline build never runs
# the `build` stage (the minimal base image has no npm and no shell).

ARG NODE_IMAGE=node:20-bookworm-slim
# Where dist/ and node_modules/ come from: "build" (compiled here) or "host" (.image/, made by npm run images).
ARG APP=build

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY services services
COPY lab-runner lab-runner
RUN npm run build && npm prune --omit=dev && mkdir -p /out && cp -r dist node_modules /out/

FROM scratch AS host
COPY .image/dist /out/dist
COPY .image/node_modules /out/node_modules

FROM ${APP} AS app

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
COPY --from=app /out/dist /app/dist
COPY --from=app /out/node_modules /app/node_modules
COPY package.json /app/package.json
COPY lab /app/lab
COPY scenarios /app/scenarios
# State lives in volumes mounted under /data; the folders exist here, owned by the
# unprivileged user, so a new named volume starts with that owner.
COPY --chown=65534:65534 docker/data /data
ENV NODE_ENV=production WIRELAB_LAB=/app/lab WIRELAB_DATA=/data
# Not root. Docker lets any user bind ports below 1024 inside a container.
USER 65534:65534
# `docker run wirelab/lab dns` starts the DNS service; `... wirelab run` runs the runner.
ENTRYPOINT ["node", "/app/dist/services/main.js"]
CMD ["help"]
