#!/usr/bin/env bash
# Entrypoint of the Debian-built PostgreSQL image (see scripts/pg-image.sh).
#
# It mimics the parts of the official postgres image's docker-entrypoint.sh
# that testcontainers-go's postgres module relies on:
#   - POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB (+ POSTGRES_INITDB_ARGS,
#     POSTGRES_HOST_AUTH_METHOD) are honoured on an empty PGDATA;
#   - the command is `postgres [server options...]`: the leading `postgres` is
#     dropped and the rest goes to the server (e.g. `-c fsync=off`);
#   - a temporary server (no TCP) runs during initialisation, then the real
#     server starts, so "database system is ready to accept connections" is
#     logged twice on first start, once on later starts;
#   - scripts in /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz) run once;
#   - the server runs as the postgres OS user, as PID 1.
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

# `docker run IMAGE -c fsync=off` means `postgres -c fsync=off`.
if [ "$#" -eq 0 ] || [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

# Anything else (`docker run -it IMAGE bash`) runs as given.
if [ "$1" != 'postgres' ]; then
	exec "$@"
fi
shift # the server is started with an explicit path below; `postgres postgres` would fail

if [ "$(id -u)" = '0' ]; then
	# The server refuses to run as root, and fails with "could not create lock
	# file" when the socket directory is missing: create both, then re-exec
	# this script as postgres without an intermediate process (setpriv execs).
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 0700 "$PGDATA"
	chmod 3777 /var/run/postgresql
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" postgres "$@"
fi

POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
POSTGRES_HOST_AUTH_METHOD="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

psql_init() {
	psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" "$@"
}

init_database() {
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
		die "POSTGRES_PASSWORD is empty: set it, or set POSTGRES_HOST_AUTH_METHOD=trust to allow passwordless host connections"
	fi

	log "initialising a new cluster in $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
	# POSTGRES_INITDB_ARGS is word-split on purpose, like the official image.
	# shellcheck disable=SC2086
	set -- --username="$POSTGRES_USER" --encoding=UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" \
		${POSTGRES_INITDB_ARGS:-}
	if [ -n "${POSTGRES_PASSWORD:-}" ]; then
		# Process substitution keeps the password off the command line and out
		# of files; it must sit on the initdb command itself (its fd closes
		# when the command that created it ends).
		initdb "$@" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") >&2
	else
		initdb "$@" >&2
	fi

	# Host connections from anywhere (the published port), with a password.
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

	# Temporary server: Unix socket only, so nothing outside can connect
	# before initialisation is complete.
	log "starting a temporary server for initialisation"
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >&2

	if [ "$POSTGRES_DB" != 'postgres' ]; then
		local exists
		exists="$(psql_init --dbname postgres -tA --set db="$POSTGRES_DB" <<-'SQL'
			SELECT 1 FROM pg_database WHERE datname = :'db';
		SQL
		)"
		if [ -z "$exists" ]; then
			log "creating database $POSTGRES_DB"
			psql_init --dbname postgres --set db="$POSTGRES_DB" <<-'SQL'
				CREATE DATABASE :"db";
			SQL
		fi
	fi

	local f
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		case "$f" in
		*.sh)
			log "running $f"
			if [ -x "$f" ]; then "$f"; else . "$f"; fi
			;;
		*.sql)
			log "running $f"
			psql_init --dbname "$POSTGRES_DB" -f "$f" >&2
			;;
		*.sql.gz)
			log "running $f"
			gunzip -c "$f" | psql_init --dbname "$POSTGRES_DB" >&2
			;;
		*) log "ignoring $f" ;;
		esac
	done

	log "stopping the temporary server"
	pg_ctl -D "$PGDATA" -m fast -w stop >&2
	log "initialisation complete"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	init_database
else
	log "using the existing cluster in $PGDATA"
fi

exec postgres -D "$PGDATA" "$@"
