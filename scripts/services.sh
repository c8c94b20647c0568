#!/usr/bin/env bash
# Start PostgreSQL for the integration tests and print `export` lines for its URL.
# Order: an existing GAITLINE_TEST_PG_URL; the Debian cluster (as root); a private cluster.
set -euo pipefail
if [[ -n ${GAITLINE_TEST_PG_URL:-} ]]; then echo "export GAITLINE_TEST_PG_URL=$GAITLINE_TEST_PG_URL"; exit 0; fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n $PGBIN ]] || { echo "services: PostgreSQL is not installed" >&2; exit 1; }
if [[ $(id -u) == 0 ]]; then
  ver=$(basename "$(dirname "$PGBIN")")
  pg_lsclusters -h 2>/dev/null | grep -q "^$ver main" || pg_createcluster "$ver" main >/dev/null
  pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true
  port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $3}')
  for _ in $(seq 50); do su postgres -c "psql -p $port -qAtc 'select 1'" >/dev/null 2>&1 && break; sleep 0.2; done
  su postgres -c "psql -p $port -qAtc \"select 1 from pg_roles where rolname='gaitline'\"" | grep -q 1 ||
    su postgres -c "psql -p $port -qc \"create role gaitline login createdb password 'gaitline'\"" >/dev/null
  su postgres -c "psql -p $port -qAtc \"select 1 from pg_database where datname='gaitline_test'\"" | grep -q 1 ||
    su postgres -c "createdb -p $port -O gaitline gaitline_test" >/dev/null
  echo "export GAITLINE_TEST_PG_URL=postgresql://gaitline:gaitline@127.0.0.1:$port/gaitline_test"
else
  dir=${XDG_CACHE_HOME:-$HOME/.cache}/gaitline/pg; port=55432
  [[ -f $dir/PG_VERSION ]] || "$PGBIN/initdb" -D "$dir" -U gaitline --auth=trust >/dev/null
  "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1 ||
    "$PGBIN/pg_ctl" -D "$dir" -l "$dir/log" -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" -w start >/dev/null
  "$PGBIN/psql" -h 127.0.0.1 -p $port -U gaitline -d postgres -qAtc "select 1 from pg_database where datname='gaitline_test'" |
    grep -q 1 || "$PGBIN/createdb" -h 127.0.0.1 -p $port -U gaitline gaitline_test
  echo "export GAITLINE_TEST_PG_URL=postgresql://gaitline@127.0.0.1:$port/gaitline_test"
fi
