# The lab's images: `runtime` (the default target) serves every lab service; `client`
# is the students' workstation (client.lab.test): a shell with dig, curl, nc, swaks,
# lftp, sftp, openssl, tcpdump, and wirelab.
#
# Built the ordinary way (a registry is reachable):
#   docker build -t wirelab/lab .
#   docker build --target client -t wirelab/client .
# Built offline (`npm run images`, see docker/images.sh): the bases are made with no
# registry (docker/make-base-image.sh: the official Node 24 build from the npm registry;
# docker/make-client-base.sh: a Debian root from debootstrap) and the app comes from
# the host's build:
#   docker build --build-arg NODE_IMAGE=wirelab/node:24... --build-arg CLIENT_IMAGE=wirelab/client-base:... \
#     --build-arg APP=host [--target client] .
# BuildKit builds only the stages the target needs, so the offline build never runs
# `build` or `client-apt` (the minimal base image has no npm and no shell).

ARG NODE_IMAGE=node:24-bookworm-slim
# The workstation's base: `client-apt` (below), or an image with the same tools and Node.
ARG CLIENT_IMAGE=client-apt
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

# wirelab as both images carry it in /app: the build, the lab world, the scenarios.
FROM scratch AS wirelab
COPY --from=app /out/dist /app/dist
COPY --from=app /out/node_modules /app/node_modules
COPY package.json /app/package.json
COPY lab /app/lab
COPY scenarios /app/scenarios

# The workstation's tools from Debian's packages, on the official Node image: the same
# list docker/make-client-base.sh gives debootstrap.
FROM ${NODE_IMAGE} AS client-apt
COPY docker/client-packages.txt /tmp/
RUN apt-get update \
 && grep -v '^\s*#' /tmp/client-packages.txt | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/client-packages.txt

FROM ${CLIENT_IMAGE} AS client
COPY --from=wirelab /app /app
WORKDIR /app
COPY docker/wirelab /usr/local/bin/wirelab
# Trust the lab CA (in the tls volume), then run the command.
COPY docker/client-start /usr/local/bin/client-start
ENV NODE_ENV=production WIRELAB_LAB=/app/lab
# root: tcpdump and update-ca-certificates need it, and compose.yaml gives this container the Docker socket.
USER 0:0
ENTRYPOINT ["/usr/local/bin/client-start"]
CMD ["bash"]

FROM ${NODE_IMAGE} AS runtime
COPY --from=wirelab /app /app
WORKDIR /app
# State lives in volumes mounted under /data; the folders exist here, owned by the
# unprivileged user, so a new named volume starts with that owner.
COPY --chown=65534:65534 docker/data /data
ENV NODE_ENV=production WIRELAB_LAB=/app/lab WIRELAB_DATA=/data
# Not root. Docker lets any user bind ports below 1024 inside a container.
USER 65534:65534
# `docker run wirelab/lab dns` starts the DNS service; `... wirelab run` runs the runner.
ENTRYPOINT ["node", "/app/dist/services/main.js"]
CMD ["help"]
