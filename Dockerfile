# syntax=docker/dockerfile:1
# The ha-sync image: `ha-sync` is the entrypoint (every command: reconcile, watch, apply, run, tap,
# ui, prune) and `ha-sync-ui` is on PATH. Node 24 on Debian bookworm, pinned; runs as uid 10001.
#
#   make docker-build IMAGE=192.168.2.100:5000/ha-sync:0.1.0
#
# Three stages: `deps` installs the production dependencies and builds better-sqlite3's native
# addon (with a toolchain), `build` compiles TypeScript with the dev dependencies and our fastscan
# addon, `runtime` gets only node_modules (production), dist/ and fastscan.node on the slim image
# of the same Node and Debian release, so the addons' ABI and glibc match. test/image.test.ts
# rebuilds this layout without Docker.

# ---- deps: production node_modules ----------------------------------------------------------
FROM node:24.21.0-bookworm AS deps
WORKDIR /app
# When no prebuilt binary can be fetched, node-gyp builds against this image's own headers
# instead of downloading them.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
# --ignore-scripts skips our own `prepare` (tsc is a dev dependency); the one install script we
# allow (package.json allowScripts) runs in the rebuild: a prebuilt binary, else node-gyp.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 \
 && npm cache clean --force

# ---- build: dist/ ---------------------------------------------------------------------------
FROM node:24.21.0-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build
# The fastscan addon (lists local trees with one call per directory and copies their small files in
# batches, see src/fsops/native.ts and batch.ts),
# compiled here where the toolchain is, against this image's own Node headers. Required here:
# the image never falls back to the slower listing silently.
COPY native/fastscan.c native/fastcopy.c native/binding.gyp ./native/
COPY scripts/build-native.mjs ./scripts/
RUN HA_SYNC_FASTSCAN_REQUIRED=1 npm_config_nodedir=/usr/local npm run build:native

# ---- runtime --------------------------------------------------------------------------------
FROM node:24.21.0-bookworm-slim AS runtime
# tini as PID 1: forwards SIGTERM to node (which releases the Lease and finishes or discards the
# file in flight) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 hasync \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin hasync
# UV_THREADPOOL_SIZE: NFS wants many metadata calls in flight (one round trip each); libuv's
# default of 4 threads made a no-op reconcile over a network mount 5x slower (see src/bin/ha-sync.ts).
ENV NODE_ENV=production \
    UV_THREADPOOL_SIZE=256
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/build/Release/fastscan.node ./native/build/Release/fastscan.node
COPY package.json ./
RUN chmod 0755 dist/bin/ha-sync.js dist/bin/ha-sync-ui.js \
 && ln -s /app/dist/bin/ha-sync.js /usr/local/bin/ha-sync \
 && ln -s /app/dist/bin/ha-sync-ui.js /usr/local/bin/ha-sync-ui
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/bin/ha-sync.js"]
CMD ["--help"]
