#!/usr/bin/env bash
# Scenario: draining a MariaDB change backlog into the event destinations. A sysbench database is
# copied by one `cdc-cli replicate --until-idle` per destination (each its own session), then
# `sysbench oltp_write_only` writes EVENTS transactions (4 row changes each: 2 updates, a delete,
# an insert) with no cdc running; each session then drains that backlog
# (`replicate --until-idle`, defaults but poll_interval_ms: 50), timed from start to exit (so
# connecting, planning and telling that the source is idle are in it). Destinations: JSON lines
# (a file, fsynced per transaction), Kafka (librdkafka's mock cluster, built from
# tests/kafka/mock_kafka.c, its own process), Redis Streams (redis-server), and MariaDB (a
# database of the same server) for comparison. Reports row changes/s and peak RSS.
# CDC_CLI_BASELINE=path/to/older/cdc-cli adds a session per destination drained by that build,
# from the same backlog in the same run (the two builds' sessions alternate).
#   CDC_CLI=path/to/cdc-cli TABLES=4 SIZE=10000 EVENTS=100000 bash bench/event_backlog.sh
#
# Measured in one run (2 cores shared with other engineers' compilers, so single runs vary by about
# a third; RelWithDebInfo builds; TABLES=4 SIZE=10000 EVENTS=60000: 240,000 row changes; before =
# bbbe2a2, after = 471760b):
#   destination   before: seconds  changes/s  RSS MB    after: seconds  changes/s  RSS MB
#   jsonl                    7.13     33,661    79.1             3.52     68,182    83.0
#   kafka                   10.19     23,553    82.5             5.87     40,886    88.6
#   redis                   12.40     19,355    90.0            10.43     23,011    88.0
#   mariadb                 11.88     20,202    60.3             7.58     31,662    70.2
# and in a second run, at load average 10: jsonl 18,476 -> 27,778, kafka 17,991 -> 23,301,
# redis 16,760 -> 27,027, mariadb 23,576 -> 34,783 changes/s.
# (the targets, 100,000/s into JSON lines and 50,000/s into Kafka and Redis, are not reached yet:
# see the README's Benchmarks section for where the time still goes).
# What made the difference: every binlog byte went through a byte-at-a-time CRC32 (two thirds of
# decoding); rows of tables the stream does not follow (other databases, the MariaDB
# destination's own writes) were decoded in full; each change event was built as a JSON document
# tree and then serialised (now written as text, boost::json's form kept); the read-ahead handed
# over one read per poll (now fills the batch, so transactions, and fsyncs, are fewer); idle was
# told by a heartbeat every 500 ms (now 100 ms).
set -euo pipefail
cd "$(dirname "$0")/.."
TABLES=${TABLES:-4}
SIZE=${SIZE:-10000}
EVENTS=${EVENTS:-100000}
THREADS=${THREADS:-2}
CDC_CLI=${CDC_CLI:-$PWD/out/install/bin/cdc-cli}
WORK=${WORK:-$(mktemp -d /tmp/cdc-bench-events.XXXXXX)}
[ -x "$CDC_CLI" ] || { echo "event_backlog: no cdc-cli at $CDC_CLI"; exit 2; }
[ -z "${CDC_CLI_BASELINE:-}" ] || [ -x "$CDC_CLI_BASELINE" ] || { echo "event_backlog: no cdc-cli at $CDC_CLI_BASELINE"; exit 2; }
for t in sysbench redis-server cc; do command -v $t >/dev/null || { echo "event_backlog: $t missing (bash scripts/install-deps.sh)"; exit 2; }; done
source bench/common.sh
server=$WORK/server
kafka_pid=
redis_pid=
cleanup() {
  [ -n "$kafka_pid" ] && kill "$kafka_pid" 2>/dev/null || true
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  bash scripts/mariadb-server.sh stop "$server" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
bash scripts/mariadb-server.sh start "$server" >/dev/null
port=$(cat "$server/port")
sock=$(cat "$server/socket")
sql() { mariadb --no-defaults --socket="$sock" -uroot "$@"; }
sql -e "CREATE DATABASE sb; CREATE DATABASE sb_copy"
sb=(sysbench oltp_write_only --db-driver=mysql --mysql-socket="$sock" --mysql-user=root --mysql-db=sb
    --tables="$TABLES" --table-size="$SIZE" --threads="$THREADS")
"${sb[@]}" prepare >/dev/null

cc -O2 tests/kafka/mock_kafka.c -o "$WORK/mock_kafka" $(pkg-config --cflags --libs rdkafka) -lpthread
"$WORK/mock_kafka" > "$WORK/kafka.addr" &
kafka_pid=$!
for _ in $(seq 1 100); do [ -s "$WORK/kafka.addr" ] && break; sleep 0.1; done
kafka=$(head -1 "$WORK/kafka.addr")
redis_port=$((port + 1))
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning > /dev/null &
redis_pid=$!
sleep 0.5

declare -A dest=(
  [jsonl]="jsonl://$WORK/events.jsonl"
  [kafka]="kafka://$kafka?topic_prefix=bench"
  [redis]="redis://127.0.0.1:$redis_port/0?stream_prefix=bench"
  [mariadb]="mysql://root@127.0.0.1:$port/sb_copy"
)
order=(jsonl kafka redis mariadb)
runs=()
cli_of() { if [ "${1%_base}" != "$1" ]; then echo "$CDC_CLI_BASELINE"; else echo "$CDC_CLI"; fi; }
for d in "${order[@]}"; do
  for r in ${CDC_CLI_BASELINE:+${d}_base} "$d"; do
    url=${dest[$d]}
    if [ "$r" != "$d" ]; then  # the baseline's session writes elsewhere
      case $d in
        jsonl) url="jsonl://$WORK/events_base.jsonl" ;;
        kafka) url="kafka://$kafka?topic_prefix=bench_base" ;;
        redis) url="redis://127.0.0.1:$redis_port/0?stream_prefix=bench_base" ;;
        mariadb) sql -e "CREATE DATABASE sb_copy_base"; url="mysql://root@127.0.0.1:$port/sb_copy_base" ;;
      esac
    fi
    printf 'name: bench_%s\nsource: mysql://root@127.0.0.1:%s/sb\ndestination: "%s"\npoll_interval_ms: 50\n' "$r" "$port" "$url" > "$WORK/$r.yaml"
    "$(cli_of "$r")" --log-level warn replicate -c "$WORK/$r.yaml" --until-idle > /dev/null 2> "$WORK/$r.err" || { cat "$WORK/$r.err"; exit 1; }
    runs+=("$r")
  done
done
echo "event_backlog: snapshots done; sysbench oltp_write_only, $EVENTS transactions ($((EVENTS * 4)) row changes) with no cdc running"
"${sb[@]}" --events="$EVENTS" --time=0 --report-interval=0 run > "$WORK/sysbench.out"

printf '\nevent_backlog: %s row changes in the binlog (%s tables x %s rows)\n' "$((EVENTS * 4))" "$TABLES" "$SIZE"
printf '%-14s %12s %12s %10s\n' destination seconds "changes/s" "RSS MB"
ROWS=$((EVENTS * 4))
for d in "${runs[@]}"; do
  measure "$d" "$(cli_of "$d")" --log-level warn replicate -c "$WORK/$d.yaml" --until-idle > "$WORK/$d.out" 2> "$WORK/$d.err" || { cat "$WORK/$d.err"; exit 1; }
  printf '%-14s %12s %12s %10s\n' "$d" "$secs" "$(rate "$secs")" "$rss_mb"
done
