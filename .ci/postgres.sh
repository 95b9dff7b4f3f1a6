#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server on loopback for the store tests and prints its URL.
# The data directory is written to .ci/.pg-data so that .ci/run can stop the server afterwards.
# Installs Debian's postgresql when missing. Prints nothing (and exits 0) when it cannot:
# the store tests then run on SQLite only.
set -uo pipefail
log() { echo "[postgres] $*" >&2; }
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then log "not root and no PostgreSQL installed"; exit 0; fi
  log "installing Debian's postgresql"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2 \
    || { log "install failed"; exit 0; }
fi
BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
# A free loopback port unless one is given: a leftover server must not make this fail.
PORT=${PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
DATA=$(mktemp -d /tmp/lb-pg.XXXXXX)
echo "$DATA" > "$(dirname "$0")/.pg-data"
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd -r -M postgres
  chown postgres "$DATA"
  RUNAS=(runuser -u postgres --)
fi
"${RUNAS[@]}" "$BIN/initdb" -D "$DATA" -U lb --auth=trust -E UTF8 >/dev/null || { log "initdb failed"; exit 0; }
"${RUNAS[@]}" "$BIN/pg_ctl" -D "$DATA" -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1" \
  -l "$DATA/server.log" -w start >/dev/null || { log "start failed"; exit 0; }
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U lb lbtest || { log "createdb failed"; exit 0; }
echo "postgresql+psycopg://lb@127.0.0.1:$PORT/lbtest"
