# PostgreSQL 15 for meta/postgres: a throwaway cluster under $CI_TMP/pg on a
# free loopback port, trust authentication, fsync off. Exports
# ATTACH_POSTGRES_URL=postgres://attach@127.0.0.1:PORT/attach?sslmode=disable.

CI_PG_BIN=${ATTACH_PG_BIN:-/usr/lib/postgresql/15/bin}

# ci_pg_run CMD...: run a PostgreSQL program as the unprivileged cluster
# owner (initdb and postgres refuse to run as root).
ci_pg_run() {
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u "$CI_PG_USER" -- "$@")
  else
    "$@"
  fi
}

start_postgres() {
  if [ ! -x "$CI_PG_BIN/initdb" ] || [ ! -x "$CI_PG_BIN/pg_ctl" ]; then
    ci_apt postgresql-15
  fi
  CI_PG_USER=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    CI_PG_USER=postgres
    id -u "$CI_PG_USER" >/dev/null 2>&1 ||
      useradd --system --no-create-home --shell /usr/sbin/nologin "$CI_PG_USER"
    chmod o+x "$CI_TMP" # the cluster owner must reach its directories
  fi

  local data="$CI_TMP/pg" sock="$CI_TMP/pgsock" log="$CI_TMP/pg.log" port
  port=$(ci_free_port)
  mkdir -p "$data" "$sock"
  touch "$log"
  chown "$CI_PG_USER" "$data" "$sock" "$log"
  chmod 700 "$data"

  ci_pg_run "$CI_PG_BIN/initdb" -D "$data" --username=attach --auth=trust \
    --encoding=UTF8 --locale=C --no-sync >"$CI_TMP/initdb.log" 2>&1 ||
    { cat "$CI_TMP/initdb.log" >&2; return 1; }
  ci_on_cleanup "ci_pg_run '$CI_PG_BIN/pg_ctl' -D '$data' -m immediate -w -t 30 stop >/dev/null 2>&1"
  ci_pg_run "$CI_PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null ||
    { cat "$log" >&2; return 1; }
  ci_wait_port 127.0.0.1 "$port" 30 PostgreSQL
  "$CI_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U attach attach

  export ATTACH_POSTGRES_URL="postgres://attach@127.0.0.1:$port/attach?sslmode=disable"
  echo "PostgreSQL $("$CI_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}
