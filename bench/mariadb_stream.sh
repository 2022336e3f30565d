#!/usr/bin/env bash
# Scenario: apply throughput and lag under sysbench. `cdc-cli replicate` copies a sysbench
# database (TABLES x SIZE rows) to another database of the same throwaway server, then follows
# the binlog while `sysbench oltp_write_only` writes for DURATION seconds with THREADS threads. Reports
# sysbench's transactions/s, the changes cdc applied, and how long after sysbench stopped the
# replica took to equal the source (CHECKSUM TABLE on every table): the lag at the end of load;
# and the lag cdc reports while sysbench runs (cdc_replication_lag_seconds from its /metrics, every
# 0.5 s): p50, p99, max.
#   CDC_CLI=path/to/cdc-cli TABLES=4 SIZE=100000 DURATION=30 THREADS=2 bash bench/mariadb_stream.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TABLES=${TABLES:-4}
SIZE=${SIZE:-100000}
SECONDS_RUN=${DURATION:-30}  # (not $SECONDS: bash counts seconds in it)
THREADS=${THREADS:-2}
CDC_CLI=${CDC_CLI:-$PWD/out/install/bin/cdc-cli}
WORK=${WORK:-$(mktemp -d /tmp/cdc-bench-stream.XXXXXX)}
[ -x "$CDC_CLI" ] || { echo "mariadb_stream: no cdc-cli at $CDC_CLI"; exit 2; }
command -v sysbench >/dev/null || { echo "mariadb_stream: sysbench missing (bash scripts/install-deps.sh)"; exit 2; }
server=$WORK/server
cdc_pid=
cleanup() {
  if [ -n "$cdc_pid" ]; then kill $(pgrep -P "$cdc_pid") "$cdc_pid" 2>/dev/null || true; fi
  bash scripts/mariadb-server.sh stop "$server" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
source bench/common.sh
bash scripts/mariadb-server.sh start "$server" >/dev/null
port=$(cat "$server/port")
sock=$(cat "$server/socket")
sql() { mariadb --no-defaults --socket="$sock" -uroot "$@"; }
sql -e "CREATE DATABASE sb; CREATE DATABASE sb_copy"
sb=(sysbench oltp_write_only --db-driver=mysql --mysql-socket="$sock" --mysql-user=root --mysql-db=sb
    --tables="$TABLES" --table-size="$SIZE" --threads="$THREADS")
echo "mariadb_stream: sysbench prepare ($TABLES x $SIZE rows)"
"${sb[@]}" prepare >/dev/null

cat > "$WORK/cdc.yaml" <<YAML
name: bench
source: mysql://root@127.0.0.1:$port/sb
destination: mysql://root@127.0.0.1:$port/sb_copy
poll_interval_ms: 100
parallel_tables: $THREADS
YAML
HTTP_PORT=${HTTP_PORT:-18772}
/usr/bin/time -v -o "$WORK/time.txt" "$CDC_CLI" --log-level warn replicate -c "$WORK/cdc.yaml" --http "127.0.0.1:$HTTP_PORT" > "$WORK/cdc.out" 2> "$WORK/cdc.err" &
cdc_pid=$!
checksums() { sql -N -e "CHECKSUM TABLE $(for i in $(seq 1 "$TABLES"); do printf '%s.sbtest%s,' "$1" "$i"; done | sed 's/,$//')" | awk '{print $2}' | tr '\n' ' '; }
# Wait for the snapshot: every table present with all rows.
for _ in $(seq 1 600); do
  n=$(sql -N -e "SELECT COALESCE(SUM(TABLE_ROWS),0) FROM information_schema.TABLES WHERE TABLE_SCHEMA='sb_copy' AND TABLE_NAME LIKE 'sbtest%'" 2>/dev/null || echo 0)
  [ "$(checksums sb)" = "$(checksums sb_copy)" ] && break
  sleep 0.5
done
echo "mariadb_stream: snapshot done; sysbench oltp_write_only for $SECONDS_RUN s, $THREADS threads"
start_lag_sampler "http://127.0.0.1:$HTTP_PORT" "$WORK/lag.txt"
"${sb[@]}" --time="$SECONDS_RUN" --report-interval=0 run > "$WORK/sysbench.out"
stop=$(date +%s.%N)
stop_lag_sampler
read -r lag_p50 lag_p99 lag_max lag_n <<<"$(lag_percentiles "$WORK/lag.txt")"
caught=""
for _ in $(seq 1 1200); do
  if [ "$(checksums sb)" = "$(checksums sb_copy)" ]; then caught=$(date +%s.%N); break; fi
  sleep 0.25
done
# SIGINT goes to cdc-cli itself: /usr/bin/time ignores it while its child runs.
kill -INT $(pgrep -P "$cdc_pid") 2>/dev/null || true
wait "$cdc_pid" || true
cdc_pid=
[ -n "$caught" ] || { echo "mariadb_stream: replica did not converge within 300 s"; cat "$WORK/cdc.err"; exit 1; }
tps=$(sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.).*/\1/p' "$WORK/sysbench.out")
queries=$(sed -n 's/.*queries: *[0-9]* *(\([0-9.]*\) per sec.).*/\1/p' "$WORK/sysbench.out")
changes=$(awk '/tables.*finished/ { gsub(",", "", $(NF-2)); print $(NF-2) }' "$WORK/cdc.out")
lag=$(awk -v a="$stop" -v b="$caught" 'BEGIN { printf "%.2f", b - a }')
rss=$(awk '/Maximum resident set size/ { printf "%.1f", $NF / 1024 }' "$WORK/time.txt")
rate=$(awk -v c="${changes:-0}" -v s="$SECONDS_RUN" -v l="$lag" 'BEGIN { printf "%.0f", c / (s + l) }')
printf '\nmariadb_stream: sysbench oltp_write_only, %s tables x %s rows, %s threads, %s s\n' "$TABLES" "$SIZE" "$THREADS" "$SECONDS_RUN"
printf '%-26s %s\n' "sysbench transactions/s" "$tps" "sysbench queries/s" "$queries" "changes applied by cdc" "${changes:-?}" \
  "apply rate (changes/s)" "$rate" "caught up after load (s)" "$lag" "cdc-cli peak RSS MB" "$rss" \
  "lag p50/p99/max (s)" "$lag_p50 / $lag_p99 / $lag_max ($lag_n samples of cdc_replication_lag_seconds)"
