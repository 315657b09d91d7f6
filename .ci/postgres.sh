#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the store tests (Debian's `postgresql`).
#   .ci/postgres.sh start DIR PORT   install if needed, initdb DIR (once), start; prints the SQLAlchemy URL
#   .ci/postgres.sh stop DIR         (start again with the same DIR and PORT: the data is kept)
# initdb refuses to run as root, so as root the server runs as the `postgres` user.
set -euo pipefail
command_name=${1:?start|stop}; dir=${2:?data dir}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] && [ "$command_name" = start ]; then
  echo "postgres: installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get install -y -qq postgresql >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null)) >&2
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$command_name" in
  start)
    port=${3:?port}
    mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
    [ -f "$dir/data/PG_VERSION" ] || as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true
    ;;
esac
