#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the test suite and print the line that points tests at it:
#
#   eval "$(.ci/postgres.sh)"      # sets AUTOTUNE_TEST_POSTGRES_URL
#   .ci/postgres.sh stop           # stops it and deletes its files
#   .ci/postgres.sh pause          # stops the server, keeping its files (fault tests)
#   .ci/postgres.sh resume         # starts it again on the same files and port
#
# Installs Debian's `postgresql` package when no server binaries are found (needs root), creates a
# cluster in $AUTOTUNE_PG_DIR (default: $TMPDIR/autotune-pg) owned by the `postgres` user when run
# as root, listens on 127.0.0.1 only on a free port, with password authentication, and creates the
# database `autotune_test`. Running it again while the server is up only prints the line again.
# Only the export line goes to stdout; progress goes to stderr.
set -euo pipefail

DIR="${AUTOTUNE_PG_DIR:-${TMPDIR:-/tmp}/autotune-pg}"
DB=autotune_test
USER_NAME=autotune

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -z "$bin" ]] && command -v pg_config >/dev/null; then
        bin=$(pg_config --bindir)
    fi
    echo "$bin"
}

BIN=$(find_bin)
if [[ -z "$BIN" || ! -x "$BIN/initdb" ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        log "PostgreSQL is not installed; run as root or: sudo apt-get install -y postgresql"
        exit 1
    fi
    log "installing postgresql from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2
    BIN=$(find_bin)
fi

# As root the cluster belongs to `postgres` (initdb refuses root); otherwise to the caller.
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
    as_owner() { runuser -u postgres -- "$@"; }
else
    as_owner() { "$@"; }
fi

if [[ "${1:-}" == "stop" ]]; then
    if [[ -d "$DIR/data" ]]; then
        as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >&2 || true
    fi
    rm -rf "$DIR"
    log "stopped and removed $DIR"
    exit 0
fi

server_start() {
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $(cat "$DIR/port") -k $DIR/sock -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >&2
}

case "${1:-}" in
pause)
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2
    exit 0
    ;;
resume)
    server_start
    exit 0
    ;;
esac

url() {
    echo "export AUTOTUNE_TEST_POSTGRES_URL=postgresql://$USER_NAME:$(cat "$DIR/password")@127.0.0.1:$(cat "$DIR/port")/$DB"
}

if [[ -f "$DIR/ready" ]] && as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    log "already running on port $(cat "$DIR/port")"
    url
    exit 0
fi

free_port() {
    local port
    for port in $(seq 54329 54529); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    log "no free port in 54329-54529"
    return 1
}

# A stale or half-made cluster from an earlier run: start from nothing.
if [[ -d "$DIR/data" ]]; then
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
fi
rm -rf "$DIR"
mkdir -p "$DIR/sock"
head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/password"
free_port >"$DIR/port"
chmod 700 "$DIR"
if [[ $(id -u) -eq 0 ]]; then chown -R postgres "$DIR"; fi

log "initdb in $DIR/data"
as_owner "$BIN/initdb" -D "$DIR/data" -U "$USER_NAME" --pwfile="$DIR/password" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync >/dev/null
# Throwaway data: skip fsync for speed. Localhost only.
server_start
as_owner "$BIN/createdb" -h "$DIR/sock" -p "$(cat "$DIR/port")" -U "$USER_NAME" "$DB"
touch "$DIR/ready"
log "running on 127.0.0.1:$(cat "$DIR/port"), database $DB"
url
