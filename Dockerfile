# One image for every eufy-relay role: the command picks it (node apps/<role>/dist/main.js, or the
# launcher with ROLES). Multi-stage: a pruned workspace is built, then only production dependencies
# and compiled output are copied onto a slim runtime with Debian's ffmpeg.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
RUN npm install -g pnpm@10.34.9 turbo@2.11.11
WORKDIR /src

# Keep only the workspace packages the product (and the demo simulator) need, with a pruned lockfile.
FROM base AS prune
COPY . .
RUN turbo prune @eufy-relay/launcher @eufy-relay/eufy-sim @eufy-relay/webhook-inbox --docker

FROM base AS build
COPY --from=prune /src/out/json/ .
RUN pnpm install --frozen-lockfile
COPY --from=prune /src/out/full/ .
COPY tsconfig.base.json ./
RUN pnpm turbo run build \
  && pnpm install --frozen-lockfile --prod --offline \
  && find apps packages -type d \( -name src -o -name test \) -prune -exec rm -rf {} +

FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    RECORDINGS_DIR=/data/recordings \
    PORT=8080
WORKDIR /app
COPY --from=build --chown=node:node /src /app
COPY --chown=node:node config ./config
RUN mkdir -p /data/recordings && chown -R node:node /data
USER node
EXPOSE 8080
# The api answers /health (200 healthy, 503 with the reason); other roles are watched by their restarts.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# tini forwards SIGTERM to node and reaps ffmpeg children.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "apps/launcher/dist/main.js"]
