#!/usr/bin/env bash
# Scenario: what serving /metrics costs a running `cdc-cli replicate --http` (SQLite -> SQLite,
# idle stream): the process's own CPU seconds and RSS (read from its /metrics) over SECONDS
# without scrapes, over SECONDS at one scrape per second, and over N back-to-back scrapes.
#   CDC_CLI=path/to/cdc-cli SECONDS_EACH=10 N=300 bash bench/http_metrics.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CDC_CLI=${CDC_CLI:-$PWD/out/install/bin/cdc-cli}
SECONDS_EACH=${SECONDS_EACH:-10}
N=${N:-300}
PORT=${PORT:-18769}
command -v curl >/dev/null || { echo "http_metrics: curl missing"; exit 2; }
WORK=$(mktemp -d /tmp/cdc-bench.XXXXXX)
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$WORK"' EXIT
sqlite3 "$WORK/src.db" "CREATE TABLE orders(id INTEGER PRIMARY KEY, v TEXT);
  WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r WHERE i<20000) INSERT INTO orders SELECT i, 'v'||i FROM r;"
printf 'source: sqlite://%s/src.db\ndestination: sqlite://%s/dst.db\npoll_interval_ms: 100\n' "$WORK" "$WORK" > "$WORK/cdc.yaml"
"$CDC_CLI" replicate -c "$WORK/cdc.yaml" --http "127.0.0.1:$PORT" >/dev/null 2>"$WORK/log" &
pid=$!
sleep 3
sample() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^process_cpu_seconds_total /{c=$2} /^process_resident_memory_bytes /{r=$2} END{print c, r}'; }
report() {  # label, before, after
  read -r c0 r0 <<<"$2"; read -r c1 r1 <<<"$3"
  awk -v l="$1" -v c0="$c0" -v c1="$c1" -v r1="$r1" 'BEGIN{printf "%-34s cpu %6.2f s   rss %6.1f MB\n", l, c1-c0, r1/1048576}'
}
a=$(sample); sleep "$SECONDS_EACH"; b=$(sample)
report "${SECONDS_EACH} s idle, no scrapes" "$a" "$b"
for _ in $(seq "$SECONDS_EACH"); do curl -s -o /dev/null "http://127.0.0.1:$PORT/metrics"; sleep 1; done; c=$(sample)
report "${SECONDS_EACH} s at one scrape/s" "$b" "$c"
for _ in $(seq "$N"); do curl -s -o /dev/null "http://127.0.0.1:$PORT/metrics"; done; d=$(sample)
report "$N scrapes back to back" "$c" "$d"
