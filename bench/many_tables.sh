#!/usr/bin/env bash
# Scenario (issue 15, target 3): many tables at once. TABLES sysbench-shaped tables (default 50) of
# ROWS rows each (default 100,000; `sysbench oltp_read_write prepare`) in a throwaway MariaDB are
# copied with default settings, in the same run, by
#   (a) cdc-cli copy MariaDB -> MariaDB, into a fresh database of the same server, no tuning flags
#       (see bench/common.sh for CDC_FLAGS and CDC_CLI_BASELINE)
#   (b) mydumper -t THREADS + myloader -t THREADS (THREADS default 2, the machine's cores here)
#   (c) mariadb-dump | mariadb
#   (d) cdc-cli copy MariaDB -> PostgreSQL (a throwaway PostgreSQL 15), no tuning flags
# Each is measured with /usr/bin/time -v (wall seconds; peak RSS of the tool, the servers are
# shared), ROUNDS times (default 2) taking turns, and each result is checked: CHECKSUM TABLE of
# every table against the source for the MariaDB targets; for PostgreSQL every table's rows in key
# order as each server's own client prints them, hashed (md5sum) on both sides.
# While (a) and (d) run, the target's running statements are sampled every 0.25 s
# (information_schema.PROCESSLIST, pg_stat_activity): cdc's wall time splits into loading rows
# (INSERT or COPY running, no index build), index builds (ALTER TABLE ... ADD INDEX or CREATE
# INDEX running, no rows loading), both at once, and neither (connecting, planning, creating the
# tables, commits). cdc's log cannot tell this: its timestamps are whole seconds and it logs an
# index when it is built, not when the build starts.
#   (e) streaming: `cdc-cli replicate` MariaDB -> MariaDB into another fresh database (--http on a
#       free port); once every table streams (cdc_table_phase), `sysbench oltp_write_only` writes
#       over all TABLES tables for BENCH_SECONDS (default 30, THREADS threads) while
#       cdc_replication_lag_seconds is sampled every 0.5 s (p50, p99, max); catch-up = from the end
#       of sysbench until cdc's applied changes (cdc_changes_applied_total) last grew (they must stay
#       unchanged for 2 s); then `cdc-cli verify` compares every table. Its time splits into the
#       snapshot (start until every table streams; rows / index builds sampled as above), the load
#       and the catch-up.
# Prints a summary table and the ratios mydumper+myloader / cdc (target >= 1.5) and
# mariadb-dump|mariadb / cdc; exits 1 when a result check fails.
#   CDC_CLI=path/to/cdc-cli TABLES=50 ROWS=100000 THREADS=2 BENCH_SECONDS=30 bash bench/many_tables.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TABLES=${TABLES:-50}
ROWS=${ROWS:-100000}
THREADS=${THREADS:-2}
BENCH_SECONDS=${BENCH_SECONDS:-30}
ROUNDS=${ROUNDS:-2}
CDC_CLI=${CDC_CLI:-$PWD/out/install/bin/cdc-cli}
WORK=${WORK:-$(mktemp -d /tmp/cdc-bench-many.XXXXXX)}
mkdir -p "$WORK"
chmod 755 "$WORK"
source bench/common.sh
bench_require many_tables /usr/bin/time sysbench mariadb-dump mydumper myloader psql curl python3
mserver=$WORK/mariadb pserver=$WORK/pg
cdc_pid=
cleanup() {
  [ -z "${lag_sampler_pid:-}" ] || kill "$lag_sampler_pid" 2>/dev/null || true
  stop_activity_sampler
  if [ -n "$cdc_pid" ]; then kill $(pgrep -P "$cdc_pid") "$cdc_pid" 2>/dev/null || true; fi
  bash scripts/mariadb-server.sh stop "$mserver" >/dev/null 2>&1 || true
  bash scripts/pg-server.sh stop "$pserver" >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
total=$((TABLES * ROWS))

bash scripts/mariadb-server.sh start "$mserver" >/dev/null
pg_url=$(bash scripts/pg-server.sh start "$pserver")
pg_base=${pg_url%/*}
port=$(cat "$mserver/port")
sock=$(cat "$mserver/socket")
sql() { mariadb --no-defaults --socket="$sock" -uroot "$@"; }
url() { echo "mysql://root@127.0.0.1:$port/$1"; }
mdbs=(d_cdc d_mydumper d_dump ${CDC_CLI_BASELINE:+d_base})
pdbs=(p_cdc ${CDC_CLI_BASELINE:+p_base})
sql -e "CREATE DATABASE src; CREATE DATABASE d_repl"
for db in "${mdbs[@]}"; do sql -e "CREATE DATABASE $db"; done
for db in "${pdbs[@]}"; do psql -q "$pg_url" -c "CREATE DATABASE $db"; done

echo "many_tables: sysbench prepare ($TABLES x $ROWS rows)"
sb=(sysbench --db-driver=mysql --mysql-socket="$sock" --mysql-user=root --mysql-db=src
    --tables="$TABLES" --table-size="$ROWS" --threads="$THREADS")
"${sb[@]}" oltp_read_write prepare > "$WORK/prepare.out"

tables=()
for i in $(seq 1 "$TABLES"); do tables+=("sbtest$i"); done
# checksums DB: the CHECKSUM TABLE values of every table, in table order.
checksums() { sql -N -e "CHECKSUM TABLE $(printf "$1.%s," "${tables[@]}" | sed 's/,$//')" | awk '{ print $2 }' | tr '\n' ' '; }
want=$(checksums src)
check_mariadb() {
  [ "$(checksums "$1")" = "$want" ] || { echo "many_tables: $1 differs from src (CHECKSUM TABLE); $2"; exit 1; }
}
# Every source table's rows in key order, hashed; the PostgreSQL copies must hash the same.
declare -A src_md5
echo "many_tables: source checksums"
for t in "${tables[@]}"; do src_md5[$t]=$(sql -N -B -e "SELECT id, k, c, pad FROM src.$t ORDER BY id" | md5sum | cut -d' ' -f1); done
check_pg() {
  local t got
  for t in "${tables[@]}"; do
    got=$(psql -tA -F $'\t' "$pg_base/$1" -c "SELECT id, k, c::text, pad::text FROM public.$t ORDER BY id" | md5sum | cut -d' ' -f1)
    [ "$got" = "${src_md5[$t]}" ] || { echo "many_tables: $1.$t differs from src.$t (rows in key order, md5)"; exit 1; }
  done
}
# What the target DB is running, for start_activity_sampler: "EPOCH LOADING INDEXING".
mariadb_activity() {
  start_activity_sampler "$WORK/activity-$1.txt" "SELECT UNIX_TIMESTAMP(NOW(6)),
      COALESCE(SUM(INFO LIKE 'INSERT%' OR INFO LIKE 'LOAD DATA%' OR INFO LIKE 'REPLACE%'), 0),
      COALESCE(SUM(INFO LIKE 'ALTER TABLE%' OR INFO LIKE 'CREATE%INDEX%'), 0)
    FROM information_schema.PROCESSLIST WHERE DB = '$2' AND COMMAND = 'Query';" sql -N -B
}
pg_activity() {
  start_activity_sampler "$WORK/activity-$1.txt" "SELECT extract(epoch FROM clock_timestamp()),
      count(*) FILTER (WHERE query ILIKE 'COPY%' OR query ILIKE 'INSERT%'),
      count(*) FILTER (WHERE query ILIKE 'CREATE%INDEX%' OR query ILIKE 'ALTER TABLE%')
    FROM pg_stat_activity WHERE datname = '$2' AND state = 'active' AND pid <> pg_backend_pid();" psql -tA -F ' ' -q "$pg_base/$2"
}
# cdc_copy NAME CLI SOURCE DEST ACTIVITY DB: one measured cdc-cli copy, its target DB sampled by ACTIVITY.
cdc_copy() {
  "$5" "$1" "$6"
  measure "$1" "$2" --log-level warn copy "$3" "$4" "${cdc_flags[@]}" > "$WORK/$1.out" 2>&1 || { stop_activity_sampler; cat "$WORK/$1.out"; exit 1; }
  stop_activity_sampler
}

cdc_secs= base_secs= my_secs= dump_secs= pg_secs= pgbase_secs= rounds_line=
for round in $(seq 1 "$ROUNDS"); do
  if [ "$round" -gt 1 ]; then
    for db in "${mdbs[@]}"; do sql -e "DROP DATABASE $db; CREATE DATABASE $db"; done
    for db in "${pdbs[@]}"; do psql -q "$pg_url" -c "DROP DATABASE $db" -c "CREATE DATABASE $db"; done
  fi
  echo "many_tables: round $round (a) cdc-cli copy MariaDB -> MariaDB ${CDC_FLAGS:-}"
  cdc_copy cdc "$CDC_CLI" "$(url src)" "$(url d_cdc)" mariadb_activity d_cdc
  cdc_secs=$(best_of "$cdc_secs" "$secs") cdc_rss=$rss_mb
  rounds_line+=" round $round: cdc $secs s"
  check_mariadb d_cdc "$(tail -5 "$WORK/cdc.out")"
  if [ -n "${CDC_CLI_BASELINE:-}" ]; then
    echo "many_tables: round $round (a') baseline cdc-cli copy MariaDB -> MariaDB ($CDC_CLI_BASELINE)"
    cdc_copy base "$CDC_CLI_BASELINE" "$(url src)" "$(url d_base)" mariadb_activity d_base
    base_secs=$(best_of "$base_secs" "$secs") base_rss=$rss_mb
    rounds_line+=", baseline $secs s"
    check_mariadb d_base "$(tail -5 "$WORK/base.out")"
  fi
  echo "many_tables: round $round (b) mydumper -t $THREADS + myloader -t $THREADS"
  measure mydumper sh -c "mydumper --socket='$sock' -u root -B src -t $THREADS -o '$WORK/dumpdir' >'$WORK/mydumper.out' 2>&1 && \
    myloader --socket='$sock' -u root -B d_mydumper -s src -t $THREADS -d '$WORK/dumpdir' -o >>'$WORK/mydumper.out' 2>&1" ||
    { tail -20 "$WORK/mydumper.out"; exit 1; }
  rm -rf "$WORK/dumpdir"
  my_secs=$(best_of "$my_secs" "$secs") my_rss=$rss_mb
  rounds_line+=", mydumper $secs s"
  check_mariadb d_mydumper "mydumper | myloader"
  echo "many_tables: round $round (c) mariadb-dump | mariadb"
  measure dump bash -o pipefail -c "mariadb-dump --no-defaults --socket='$sock' -uroot --single-transaction src | mariadb --no-defaults --socket='$sock' -uroot d_dump" > "$WORK/dump.out" 2>&1 ||
    { tail -20 "$WORK/dump.out"; exit 1; }
  dump_secs=$(best_of "$dump_secs" "$secs") dump_rss=$rss_mb
  rounds_line+=", dump $secs s"
  check_mariadb d_dump "mariadb-dump | mariadb"
  echo "many_tables: round $round (d) cdc-cli copy MariaDB -> PostgreSQL ${CDC_FLAGS:-}"
  cdc_copy pg "$CDC_CLI" "$(url src)" "$pg_base/p_cdc" pg_activity p_cdc
  pg_secs=$(best_of "$pg_secs" "$secs") pg_rss=$rss_mb
  rounds_line+=", cdc to PostgreSQL $secs s"
  check_pg p_cdc
  if [ -n "${CDC_CLI_BASELINE:-}" ]; then
    echo "many_tables: round $round (d') baseline cdc-cli copy MariaDB -> PostgreSQL"
    cdc_copy pgbase "$CDC_CLI_BASELINE" "$(url src)" "$pg_base/p_base" pg_activity p_base
    pgbase_secs=$(best_of "$pgbase_secs" "$secs") pgbase_rss=$rss_mb
    rounds_line+=", baseline to PostgreSQL $secs s"
    check_pg p_base
  fi
  rounds_line+=";"
done

echo "many_tables: (e) cdc-cli replicate MariaDB -> MariaDB, then sysbench oltp_write_only for $BENCH_SECONDS s, $THREADS threads"
http_port=$(free_port)
cat > "$WORK/repl.yaml" <<YAML
name: bench_many
source: "$(url src)"
destination: "$(url d_repl)"
YAML
metrics() { curl -s --max-time 4 "http://127.0.0.1:$http_port/metrics"; }
streaming() { metrics | awk '/^cdc_table_phase\{.*phase="streaming"\} 1/ { n++ } END { print n + 0 }'; }
applied() { metrics | awk '/^cdc_changes_applied_total\{/ { s += $2 } END { printf "%d\n", s }'; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mariadb_activity repl d_repl
r0=$(now)
/usr/bin/time -v -o "$WORK/time-repl.txt" "$CDC_CLI" --log-level warn replicate -c "$WORK/repl.yaml" --http "127.0.0.1:$http_port" \
  > "$WORK/repl.out" 2>&1 &
cdc_pid=$!
until [ "$(streaming)" = "$TABLES" ]; do
  kill -0 "$cdc_pid" 2>/dev/null || { stop_activity_sampler; echo "many_tables: cdc-cli replicate exited:"; tail -20 "$WORK/repl.out"; exit 1; }
  sleep 0.25
done
r1=$(now)
stop_activity_sampler
start_lag_sampler "http://127.0.0.1:$http_port" "$WORK/lag.txt"
"${sb[@]}" oltp_write_only --time="$BENCH_SECONDS" --report-interval=0 run > "$WORK/sysbench.out"
r2=$(now)
stop_lag_sampler
# Caught up when the applied count has not moved for 2 s (or 600 s gone).
last=$(applied) caught=$(now) r3=""
while :; do
  sleep 0.2
  n=$(applied) t=$(now)
  if [ "$n" != "$last" ]; then last=$n caught=$t; fi
  if awk -v a="$caught" -v b="$t" 'BEGIN { exit !(b - a >= 2) }'; then r3=$caught; break; fi
  awk -v a="$r2" -v b="$t" 'BEGIN { exit !(b - a > 600) }' && break
done
repl_changes=$last
# SIGINT goes to cdc-cli itself: /usr/bin/time ignores it while its child runs.
kill -INT $(pgrep -P "$cdc_pid") 2>/dev/null || true
wait "$cdc_pid" || true
cdc_pid=
[ -n "$r3" ] || { echo "many_tables: replicate did not catch up within 600 s"; tail -20 "$WORK/repl.out"; exit 1; }
"$CDC_CLI" --log-level warn verify -c "$WORK/repl.yaml" > "$WORK/verify.out" 2>&1 ||
  { echo "many_tables: verify found differences after streaming"; cat "$WORK/verify.out"; exit 1; }
repl_rss=$(awk '/Maximum resident set size/ { printf "%.1f", $NF / 1024 }' "$WORK/time-repl.txt")
read -r lag_p50 lag_p99 lag_max lag_n <<<"$(lag_percentiles "$WORK/lag.txt")"
tps=$(sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.).*/\1/p' "$WORK/sysbench.out")
catchup=$(since "$r2" "$r3")
catchup=$(awk -v c="$catchup" 'BEGIN { printf "%.2f", c < 0 ? 0 : c }')

printf '\nmany_tables: %s tables x %s rows (%s rows), sysbench-shaped, %s threads, MariaDB %s -> same server / PostgreSQL %s\n' \
  "$TABLES" "$ROWS" "$total" "$THREADS" "$(sql -N -e 'SELECT VERSION()')" "$(psql -tA "$pg_url" -c 'SHOW server_version')"
row() { printf '%-38s %10s %12s %14s\n' "$@"; }
row tool seconds rows/s "peak RSS MB"
row "cdc-cli copy MariaDB -> MariaDB" "$cdc_secs" "$(ROWS=$total rate "$cdc_secs")" "$cdc_rss"
[ -z "${CDC_CLI_BASELINE:-}" ] || row "  (baseline)" "$base_secs" "$(ROWS=$total rate "$base_secs")" "$base_rss"
row "mydumper -t $THREADS + myloader -t $THREADS" "$my_secs" "$(ROWS=$total rate "$my_secs")" "$my_rss"
row "mariadb-dump | mariadb" "$dump_secs" "$(ROWS=$total rate "$dump_secs")" "$dump_rss"
row "cdc-cli copy MariaDB -> PostgreSQL" "$pg_secs" "$(ROWS=$total rate "$pg_secs")" "$pg_rss"
[ -z "${CDC_CLI_BASELINE:-}" ] || row "  (baseline)" "$pgbase_secs" "$(ROWS=$total rate "$pgbase_secs")" "$pgbase_rss"
printf 'best of %s rounds;%s\n' "$ROUNDS" "$rounds_line"
echo "checks: CHECKSUM TABLE equal for every MariaDB copy; rows in key order equal (md5) for PostgreSQL; verify equal after streaming"
print_ratio "mydumper+myloader / cdc-cli copy (MariaDB -> MariaDB)" "$my_secs" "$cdc_secs" 1.5
print_ratio "mariadb-dump|mariadb / cdc-cli copy (MariaDB -> MariaDB)" "$dump_secs" "$cdc_secs"
split() {
  local load idx both other
  read -r load idx both other <<<"$(activity_split "$2")"
  printf '%-38s rows %s s, index builds %s s, both %s s, neither %s s\n' "$1" "$load" "$idx" "$both" "$other"
}
echo "where cdc's time went (last round; the target's statements sampled every 0.25 s):"
split "  copy MariaDB -> MariaDB" "$WORK/activity-cdc.txt"
split "  copy MariaDB -> PostgreSQL" "$WORK/activity-pg.txt"
printf '\nstreaming: cdc-cli replicate MariaDB -> MariaDB, sysbench oltp_write_only over %s tables, %s threads, %s s\n' \
  "$TABLES" "$THREADS" "$BENCH_SECONDS"
printf '%-38s %s s\n' "replicate: snapshot (until all stream)" "$(since "$r0" "$r1")"
split "  of which" "$WORK/activity-repl.txt"
printf '%-38s %s s, %s transactions/s\n' "replicate: sysbench load" "$(since "$r1" "$r2")" "$tps"
printf '%-38s %s s\n' "replicate: catch-up after the load" "$catchup"
printf '%-38s %s\n' "changes applied" "$repl_changes"
printf '%-38s %s / %s / %s s (%s samples)\n' "lag p50 / p99 / max" "$lag_p50" "$lag_p99" "$lag_max" "$lag_n"
printf '%-38s %s MB\n' "replicate peak RSS" "$repl_rss"
