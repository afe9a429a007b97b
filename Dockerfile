# syntax=docker/dockerfile:1
#
# Gatehouse container image: a static binary on distroless, running as the
# unprivileged "nonroot" user (uid 65532). There is no HEALTHCHECK on purpose:
# orchestrators probe GET /ping (liveness) and GET /ready (readiness).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t gatehouse .
#   docker run -p 4180:4180 -v $PWD/gatehouse.yaml:/etc/gatehouse/gatehouse.yaml:ro gatehouse
#
# The mounted config must listen on all interfaces inside the container
# (server.listen: ":4180"); the default 127.0.0.1:4180 is unreachable from outside.
# It must then also set server.public_url (the address users reach it at).
# For a quick look without a config:
#   docker run -p 4180:4180 gatehouse demo --listen :4180   (then http://localhost:4180)
# For reproducible builds, pin both base images by digest (image@sha256:...).

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# deploy/deploy_test.go builds the binary with exactly these settings and
# checks that the result is statically linked: keep the two in step.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -mod=readonly -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/gatehouse ./cmd/gatehouse

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /gatehouse
USER nonroot:nonroot
EXPOSE 4180
ENTRYPOINT ["/gatehouse"]
CMD ["serve", "--config", "/etc/gatehouse/gatehouse.yaml"]
