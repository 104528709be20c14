# syntax=docker/dockerfile:1
# SecureStack operator image: one image, two roles (leader-elected controller and admission
# webhook). Built in two stages so the runtime image holds only compiled JavaScript,
# production node_modules and the CRD schemas the operator reads at run time.
#
# Node 24 is the current LTS line. The tag is pinned; pin the digest too (FROM image:tag@sha256:…)
# in the release pipeline, where the registry can be asked for it.
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first so the layer is reused while only sources change. No package in the
# lockfile has an install script, so --ignore-scripts costs nothing and runs no registry code.
COPY package.json package-lock.json ./
# Behind a TLS-inspecting proxy, pass its CA bundle as a build secret (never a layer):
#   buildah build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt ...   (docker buildx: the same flag)
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi; \
    npm ci --ignore-scripts --no-audit --no-fund
# .dockerignore admits only tsconfig.json, operator/ and crds/ (dev tools in tools/, tests and benches stay out),
# so this copies sources without tests, local builds or node_modules.
COPY . .
RUN npx tsc -p tsconfig.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# The runtime never installs packages: remove npm, npx, corepack and yarn so they are neither
# attack surface nor findings when this image is scanned (SecureStack scans its own image).
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production \
    HOME=/tmp \
    TMPDIR=/tmp
WORKDIR /app
# Files are owned by root and not writable by the runtime user; with a read-only root file
# system the only writable path is the /tmp emptyDir the chart mounts.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/crds ./crds
# Numeric UID/GID (the distroless "nonroot" ids) so runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
EXPOSE 8080 9443
# The V8 flags are operator/platform/node-flags.ts's (a test keeps them equal).
ENTRYPOINT ["node", "--max-semi-space-size=8", "--optimize-for-size", "dist/operator/main.js"]
