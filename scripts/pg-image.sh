#!/usr/bin/env bash
# Ensure the PostgreSQL image used by the integration tests and `make run`
# exists locally, without needing a container registry.
#
#   1. $VACANCY_PG_IMAGE (default postgres:17) already present: done.
#   2. Otherwise try `docker pull` with a short timeout (skip with
#      VACANCY_PG_PULL=0 where no registry is reachable).
#   3. Otherwise build it from Debian packages: mmdebstrap a trixie root
#      filesystem with postgresql-17, `docker import` it as $VACANCY_PG_BASE
#      (default vacancy/pg-base:17), and build docker/postgres/Dockerfile on
#      top of it, tagged $VACANCY_PG_IMAGE.
#
# Environment:
#   VACANCY_PG_IMAGE    image to provide            (postgres:17)
#   VACANCY_PG_BASE     intermediate base image     (vacancy/pg-base:17)
#   VACANCY_PG_PULL     0 = do not try docker pull  (1)
#   VACANCY_PG_REBUILD  1 = rebuild even if the image exists; the base image
#                       is reused if present        (0)
#   VACANCY_PG_MIRROR   Debian mirror               (http://deb.debian.org/debian)
#   VACANCY_PG_SECURITY_MIRROR                      (http://deb.debian.org/debian-security)
#
# Needs root (or sudo) for apt-get and mmdebstrap, and access to Docker.
set -euo pipefail

IMAGE="${VACANCY_PG_IMAGE:-postgres:17}"
BASE="${VACANCY_PG_BASE:-vacancy/pg-base:17}"
PULL="${VACANCY_PG_PULL:-1}"
REBUILD="${VACANCY_PG_REBUILD:-0}"
MIRROR="${VACANCY_PG_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${VACANCY_PG_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
SUITE=trixie
PG_MAJOR=17

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONTEXT="$ROOT/docker/postgres"

log() { printf 'pg-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Run as root directly, or through sudo when available.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run: $*"
	fi
}

TMP=""
cleanup() {
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then
		as_root rm -rf "$TMP" || log "warning: could not remove $TMP"
	fi
}
trap cleanup EXIT

ensure_mmdebstrap() {
	if command -v mmdebstrap >/dev/null 2>&1; then
		return
	fi
	command -v apt-get >/dev/null 2>&1 || die "mmdebstrap is missing and apt-get is not available to install it"
	log "installing mmdebstrap with apt-get"
	as_root apt-get update
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap
}

build_base() {
	ensure_mmdebstrap
	TMP="$(mktemp -d "${TMPDIR:-/tmp}/vacancy-pg-image.XXXXXX")"
	local tarball="$TMP/rootfs.tar"

	log "building a Debian $SUITE root filesystem with postgresql-$PG_MAJOR (mmdebstrap, about a minute)"
	# The sources are given explicitly (mmdebstrap would otherwise read them
	# from stdin when stdin is not a terminal, e.g. in CI).
	# The customize hook removes the "main" cluster that the package's
	# postinst creates: the image initialises its own cluster in PGDATA.
	as_root mmdebstrap \
		--variant=apt \
		--include="postgresql-$PG_MAJOR,ca-certificates,tzdata" \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--customize-hook="rm -rf \"\$1/var/lib/postgresql/$PG_MAJOR\" \"\$1/etc/postgresql/$PG_MAJOR\"" \
		"$SUITE" "$tarball" \
		"deb $MIRROR $SUITE main" \
		"deb $MIRROR $SUITE-updates main" \
		"deb $SECURITY_MIRROR $SUITE-security main" \
		</dev/null

	log "importing the root filesystem ($(du -h "$tarball" | cut -f1)) as $BASE"
	docker import \
		--message "Debian $SUITE with postgresql-$PG_MAJOR, built by scripts/pg-image.sh" \
		"$tarball" "$BASE" >/dev/null

	as_root rm -rf "$TMP"
	TMP=""
}

main() {
	command -v docker >/dev/null 2>&1 || die "docker is not installed"
	docker info >/dev/null 2>&1 || die "cannot reach the Docker engine (is it running, and may this user use it?)"

	if [ "$REBUILD" != 1 ] && have_image "$IMAGE"; then
		log "image $IMAGE is present locally; nothing to do"
		return
	fi

	if [ "$REBUILD" != 1 ] && [ "$PULL" != 0 ]; then
		log "trying docker pull $IMAGE (60 s limit)"
		if timeout 60 docker pull --quiet "$IMAGE" >/dev/null 2>&1; then
			log "pulled $IMAGE"
			return
		fi
		log "docker pull $IMAGE failed; building it from Debian packages instead"
	fi

	local start=$SECONDS
	if have_image "$BASE"; then
		log "base image $BASE is present locally; reusing it"
	else
		build_base
	fi

	log "building $IMAGE from $CONTEXT/Dockerfile on $BASE"
	docker build --pull=false --build-arg "BASE=$BASE" --tag "$IMAGE" "$CONTEXT" >&2

	log "built $IMAGE in $((SECONDS - start)) s"
}

main "$@"
