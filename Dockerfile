# syntax=docker/dockerfile:1
# Multi-arch image (linux/amd64, linux/arm64; linux/arm/v7 is feasible, see docs/image.md):
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/doris-dev/doris:0.1.0 --push .
# Built and pushed on a version tag by .github/workflows/image.yml.
#
# Base images are pinned by digest (the tag says what it is, the digest what is used).
# PLACEHOLDER digests (all zeros) were written where no registry could be reached: run
# scripts/pin-base-image.sh (it resolves each tag to its multi-arch digest and rewrites the
# FROM lines); `scripts/pin-base-image.sh --check` (run by the workflow) fails while one is left.
# Node 24 is an LTS line (maintained until April 2028); Node 20 reached end of life in April 2026.
# Every runtime dependency is plain JavaScript (esbuild, the build's one native tool, runs on
# the builder's platform and writes JavaScript), so the build stage runs on the builder's own
# platform and only the runtime stage is per-architecture.
FROM --platform=$BUILDPLATFORM node:24-bookworm-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
# `npm run build` bundles src/ into the one ES module dist/doris.mjs with esbuild
# (scripts/bundle.ts, docs/adr/0016-one-bundle.md); tsx and esbuild are devDependencies.
# esbuild reads tsconfig.json too (class-field semantics), so the image's bundle is the one
# `npm pack` makes.
COPY tsconfig.json ./
COPY scripts/bundle.ts ./scripts/
COPY src ./src
RUN npm run build && npm prune --omit=dev

# kustomize and sops, which the render runs (docs/adr/0012-kustomize.md, 0011-sops.md), built
# for the target platform from the same pinned Go modules as the tests use (test/tools/).
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS tools
ARG TARGETOS TARGETARCH
WORKDIR /tools
COPY test/tools ./
ENV CGO_ENABLED=0 GOFLAGS=-mod=mod
RUN cd kustomize && GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags '-s -w' -o /out/kustomize sigs.k8s.io/kustomize/kustomize/v5 \
 && cd ../sops && GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags '-s -w' -o /out/sops github.com/getsops/sops/v3/cmd/sops

FROM node:24-bookworm-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000
# git: the source is fetched with the git CLI (docs/adr/0003-git-cli.md); openssh-client for
# ssh:// repositories (docs/adr/0013-git-ssh.md). ssh refuses to run for a uid without a passwd
# entry, so the image's user has one.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && echo 'doris:x:65532:65532::/tmp:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'doris:x:65532:' >> /etc/group
WORKDIR /app
COPY --from=build /src/package.json ./
# The bundle carries every dependency but @kubernetes/client-node, which it imports only for
# kubeconfigs with exec plugins (docs/adr/0008-kubeconfig-loading.md), so that is the one
# production dependency (the bundled libraries are devDependencies): the production
# node_modules is client-node with its exact dependency tree.
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# GIT_SSH for ssh:// repositories: an argument-array wrapper in bin/, found from dist/ one level up.
COPY --chmod=0755 bin/doris-git-ssh.js ./bin/doris-git-ssh.js
COPY --from=tools /out/kustomize /out/sops /usr/local/bin/
# Non-root; the root filesystem is mounted read-only, git's HOME and caches live in /tmp.
USER 65532:65532
ENV NODE_ENV=production HOME=/tmp
# The node flags are src/install/nodeflags.ts (dorisNodeFlags), where the numbers behind them are:
# a 2 MiB young generation, an old generation capped at 128 MiB so that the process stays
# under the Deployment's 256 Mi memory limit while it retries a hostile commit, and no
# optimizing compiler (11 MiB less resident memory, no measurable cost in sync time).
ENTRYPOINT ["node", "--max-semi-space-size=1", "--incremental-marking-hard-trigger=10", "--max-old-space-size=128", "--no-opt", "--no-maglev", "/app/dist/doris.mjs"]
CMD ["run"]
