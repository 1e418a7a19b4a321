# Portico's container image: the static binary on an empty base, with the
# CA certificates that HTTPS backends are checked against and an
# unprivileged user (65532). /data holds the embedded store and the event
# spool: mount a volume there. See docs/deploy.md.
#
#   docker build -t portico --build-arg VERSION=v1.2.3 \
#     --build-arg COMMIT="$(git rev-parse HEAD)" \
#     --build-arg DATE="$(git log -1 --format=%cI)" .
#
# The "prebuilt" target makes the same image from a binary built outside,
# with no base image to pull (CI does this; see deploy/docker/rootfs.sh):
#
#   CGO_ENABLED=0 go build -o /tmp/portico ./cmd/portico
#   deploy/docker/rootfs.sh /tmp/portico /tmp/rootfs
#   docker build --target prebuilt -t portico -f Dockerfile /tmp/rootfs
#
# The default target needs a builder that skips stages it does not use
# (BuildKit: docker buildx, Docker Desktop; or podman/buildah).

ARG GO_IMAGE=golang:1.26-bookworm

# An empty tree, copied below to make /data owned by the user whatever
# the build context holds.
FROM scratch AS empty

# What both targets share: the settings, and /data.
FROM scratch AS runtime
COPY --from=empty --chown=65532:65532 / /data/
ENV PORTICO_DATA=/data \
    PORTICO_APP_LISTEN=:8080 \
    TMPDIR=/tmp
USER 65532:65532
EXPOSE 8081 8082 8080
ENTRYPOINT ["/usr/local/bin/portico"]
CMD ["serve"]

FROM runtime AS prebuilt
COPY . /
VOLUME ["/data"]

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION="" COMMIT="" DATE=""
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X portico/internal/buildinfo.version=${VERSION} -X portico/internal/buildinfo.commit=${COMMIT} -X portico/internal/buildinfo.date=${DATE}" \
      -o /out/portico ./cmd/portico \
 && sh deploy/docker/rootfs.sh /out/portico /rootfs

FROM runtime
COPY --from=build /rootfs/ /
VOLUME ["/data"]
