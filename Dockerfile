# Vacancy's production image: a static binary on distroless, as a non-root
# user, with no shell or package manager. Build it where a registry is
# reachable:
#
#   docker build -t vacancy/api:dev .
#   docker run --rm -e DATABASE_URL=... vacancy/api:dev migrate up
#   docker run -p 8080:8080 -e DATABASE_URL=... vacancy/api:dev
#
# Where no registry is reachable, `make image` builds the same image, under the
# same tag (the Makefile's IMAGE), from a locally built binary (Dockerfile.local).
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/api ./cmd/api

# static-debian12 holds CA certificates, tzdata and /etc/passwd with the
# nonroot user (65532), nothing else. The binary also embeds the IANA zones.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/api /api
ENV VACANCY_ADDR=:8080
EXPOSE 8080
USER 65532:65532
# SIGTERM starts a graceful shutdown (docker stop's default signal).
ENTRYPOINT ["/api"]
CMD ["serve"]
