#!/usr/bin/env bash
# Soak: does `cdc-cli replicate` hold steady under sustained full-speed load? Two phases, each
# DURATION seconds (default 600) of load after an initial snapshot:
#   m2p  MariaDB -> PostgreSQL while `sysbench oltp_write_only` writes (THREADS threads, TABLES x SIZE rows)
#   p2m  PostgreSQL -> MariaDB while `pgbench` (TPC-B like) writes (CLIENTS clients, scale SCALE)
# Every INTERVAL seconds (default 5) the live replicate is sampled into WORK/soak.csv:
#   phase, t_s (since the load started), rss_mb (VmRSS), cpu_pct (of one core, over the interval),
#   lag_s (the largest cdc_replication_lag_seconds of its /metrics), applied (cdc_changes_applied_total,
#   all tables), behind_mb (p2m only: WAL between the server's current position and the slot's
#   confirmed_flush_lsn, i.e. source position vs what cdc confirmed; empty for m2p), load1 (the
#   machine's 1-minute load average: the CPU is shared).
# After the load, sampling goes on until cdc has applied everything (catch-up), then cdc-cli is
# stopped with SIGTERM (its exit status is reported: a sanitizer finding makes it non-zero) and
# `cdc-cli verify` compares source and destination value by value.
# Summary per phase: RSS first/last/max and slope (MB/min, least squares after the first minute),
# "flat" when the largest RSS of the last window is within 10% of the largest of the first window
# (window: 300 s, or half the run if shorter); lag max/last and "bounded" when the largest lag of
# the last window is at most 1.5 x the first window's largest + 2 s, and cdc caught up.
#   CDC_CLI=path/to/cdc-cli DURATION=600 bash bench/soak.sh          # both phases
#   PHASES=p2m DURATION=120 CDC_CLI=build-asan/tools/cdc-cli/cdc-cli bash bench/soak.sh
# An ASan build (cmake -DCDC_SANITIZE=address) runs as is; ASAN_OPTIONS defaults to
# detect_leaks=1 (leaks are reported when cdc-cli exits). Its RSS includes ASan's quarantine and
# shadow memory: compare its slope, not its level, with a normal build's.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-5}
PHASES=${PHASES:-m2p p2m}
THREADS=${THREADS:-2}
TABLES=${TABLES:-4}
SIZE=${SIZE:-25000}
CLIENTS=${CLIENTS:-2}
SCALE=${SCALE:-5}
CDC_CLI=${CDC_CLI:-$PWD/out/install/bin/cdc-cli}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
source bench/common.sh
bench_require soak sysbench pgbench psql mariadb curl python3
WORK=${WORK:-$(mktemp -d /tmp/cdc-soak.XXXXXX)}
mkdir -p "$WORK"
chmod 755 "$WORK"
mserver=$WORK/mariadb pserver=$WORK/pg
cdc_pid= load_pid=
cleanup() {
  [ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null || true
  [ -z "$cdc_pid" ] || kill -KILL "$cdc_pid" 2>/dev/null || true
  bash scripts/mariadb-server.sh stop "$mserver" >/dev/null 2>&1 || true
  bash scripts/pg-server.sh stop "$pserver" >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

bash scripts/mariadb-server.sh start "$mserver" >/dev/null
pg_url=$(bash scripts/pg-server.sh start "$pserver")
pg_base=${pg_url%/*}
mport=$(cat "$mserver/port")
msock=$(cat "$mserver/socket")
my_base="mysql://root@127.0.0.1:$mport"
sql() { mariadb --no-defaults --socket="$msock" -uroot "$@"; }
csv=$WORK/soak.csv
echo "phase,t_s,rss_mb,cpu_pct,lag_s,applied,behind_mb,load1" > "$csv"
clk=$(getconf CLK_TCK)

# cpu_ticks PID: user + system clock ticks of PID so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# metrics PORT: "lag applied" from cdc's /metrics.
metrics() {
  curl -s --max-time 4 "http://127.0.0.1:$1/metrics" | awk '
    /^cdc_replication_lag_seconds\{/ { if ($2 > lag) lag = $2 }
    /^cdc_changes_applied_total\{/ { applied += $2 }
    END { printf "%.2f %d\n", lag, applied }'
}
# behind PHASE: MB of source log not yet confirmed by cdc (PostgreSQL sources: the slot).
behind() {
  [ "$1" = p2m ] || return 0
  psql -tA "$pg_base/pgb" -c "SELECT round((pg_current_wal_lsn() - confirmed_flush_lsn) / 1048576.0, 1) FROM pg_replication_slots WHERE database = 'pgb' ORDER BY 1 DESC LIMIT 1" 2>/dev/null || true
}

# soak PHASE CONFIG LOAD_COMMAND...: initial snapshot (replicate --until-idle), then a live
# replicate sampled while LOAD_COMMAND runs (it must end by itself after DURATION s), catch-up,
# SIGTERM, verify. Sets the globals the summary reads.
soak() {
  local phase=$1 cfg=$2
  shift 2
  echo "soak: $phase: initial snapshot"
  "$CDC_CLI" --log-level warn replicate -c "$cfg" --until-idle > "$WORK/$phase-snapshot.out" 2>&1 ||
    { tail -30 "$WORK/$phase-snapshot.out"; exit 1; }
  local port
  port=$(free_port)
  "$CDC_CLI" --log-level warn replicate -c "$cfg" --http "127.0.0.1:$port" > "$WORK/$phase-cdc.out" 2>&1 &
  cdc_pid=$!
  for _ in $(seq 1 100); do curl -s --max-time 1 "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.2; done
  echo "soak: $phase: ${*:1:2} ... for $DURATION s, sampling every $INTERVAL s into $csv"
  "$@" > "$WORK/$phase-load.out" 2>&1 &
  load_pid=$!
  local t0 now prev_ticks ticks prev_t rss cpu m applied last_applied="" stable=0 load_end="" caught=""
  t0=$(date +%s.%N) prev_t=$t0 prev_ticks=$(cpu_ticks "$cdc_pid")
  while :; do
    sleep "$INTERVAL"
    kill -0 "$cdc_pid" 2>/dev/null || { echo "soak: $phase: cdc-cli exited during the run:"; tail -30 "$WORK/$phase-cdc.out"; exit 1; }
    now=$(date +%s.%N)
    ticks=$(cpu_ticks "$cdc_pid")
    rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$cdc_pid/status")
    cpu=$(awk -v a="$prev_ticks" -v b="$ticks" -v t0="$prev_t" -v t1="$now" -v hz="$clk" 'BEGIN { printf "%.1f", (b - a) / hz / (t1 - t0) * 100 }')
    m=$(metrics "$port")
    applied=$(echo "$m" | awk '{ print $2 }')
    echo "$phase,$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.0f", b - a }'),$rss,$cpu,$(echo "$m" | tr ' ' ','),$(behind "$phase"),$(cut -d' ' -f1 /proc/loadavg)" >> "$csv"
    prev_ticks=$ticks prev_t=$now
    if [ -z "$load_end" ]; then
      if ! kill -0 "$load_pid" 2>/dev/null; then
        wait "$load_pid" || { echo "soak: $phase: the load generator failed:"; tail -20 "$WORK/$phase-load.out"; exit 1; }
        load_pid= load_end=$now caught=$now
      fi
    else
      # Caught up: nothing more applied over two samples in a row (or 10 minutes gone).
      if [ "$applied" = "$last_applied" ]; then stable=$((stable + 1)); else stable=0 caught=$now; fi
      [ "$stable" -ge 2 ] && break
      awk -v a="$load_end" -v b="$now" 'BEGIN { exit !(b - a > 600) }' && { caught=""; break; }
    fi
    last_applied=$applied
  done
  catchup=$([ -n "$caught" ] && awk -v a="$load_end" -v b="$caught" 'BEGIN { d = b - a; printf "%.0f", d < 0 ? 0 : d }' || echo "not caught up")
  kill -TERM "$cdc_pid"
  exit_status=0
  wait "$cdc_pid" || exit_status=$?
  cdc_pid=
  sanitizer=$(grep -cE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$WORK/$phase-cdc.out" || true)
  verified=ok
  "$CDC_CLI" --log-level warn verify -c "$cfg" > "$WORK/$phase-verify.out" 2>&1 || verified="DIFFERENCES (see $phase-verify.out)"
  eval "catchup_$phase=\$catchup exit_$phase=\$exit_status sanitizer_$phase=\$sanitizer verified_$phase=\$verified"
}

for phase in $PHASES; do
  case $phase in
    m2p)
      sql -e "CREATE DATABASE sb"
      psql -q "$pg_url" -c "CREATE DATABASE sb_copy"
      sb=(sysbench oltp_write_only --db-driver=mysql --mysql-socket="$msock" --mysql-user=root --mysql-db=sb
          --tables="$TABLES" --table-size="$SIZE" --threads="$THREADS")
      echo "soak: m2p: sysbench prepare ($TABLES x $SIZE rows)"
      "${sb[@]}" prepare > /dev/null
      cat > "$WORK/m2p.yaml" <<YAML
name: soak_m2p
source: "$my_base/sb"
destination: "$pg_base/sb_copy"
YAML
      soak m2p "$WORK/m2p.yaml" "${sb[@]}" --time="$DURATION" --report-interval=0 run
      load_m2p="sysbench oltp_write_only: $(sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.).*/\1/p' "$WORK/m2p-load.out") tx/s, $THREADS threads, $TABLES x $SIZE rows"
      ;;
    p2m)
      psql -q "$pg_url" -c "CREATE DATABASE pgb"
      sql -e "CREATE DATABASE pgb_copy"
      echo "soak: p2m: pgbench -i -s $SCALE"
      pgbench -i -s "$SCALE" -q "$pg_base/pgb" > /dev/null 2>&1
      psql -q "$pg_base/pgb" -c "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"
      cat > "$WORK/p2m.yaml" <<YAML
name: soak_p2m
source: "$pg_base/pgb"
destination: "$my_base/pgb_copy"
YAML
      soak p2m "$WORK/p2m.yaml" pgbench -n -c "$CLIENTS" -T "$DURATION" "$pg_base/pgb"
      load_p2m="pgbench: $(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/p2m-load.out" | head -1) tx/s (4 row changes each), $CLIENTS clients, scale $SCALE"
      ;;
    *) echo "soak: unknown phase $phase (m2p, p2m)"; exit 2 ;;
  esac
done

printf '\nsoak: %s, %s s of load per phase, samples every %s s (%s)\n' "$CDC_CLI" "$DURATION" "$INTERVAL" "$csv"
status=0
for phase in $PHASES; do
  eval "load=\$load_$phase catchup=\$catchup_$phase rc=\$exit_$phase san=\$sanitizer_$phase ver=\$verified_$phase"
  printf '\n[%s] %s\n' "$phase" "$load"
  python3 - "$csv" "$phase" "$DURATION" "$catchup" <<'PY' || status=1
import csv, sys
path, phase, duration, catchup = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
rows = [r for r in csv.DictReader(open(path)) if r['phase'] == phase]
load = [r for r in rows if float(r['t_s']) <= duration + 1e-9] or rows
t = [float(r['t_s']) for r in load]
rss = [float(r['rss_mb']) for r in load]
lag = [float(r['lag_s']) for r in load]
cpu = [float(r['cpu_pct']) for r in load]
load1 = [float(r['load1']) for r in load]
ret = [float(r['behind_mb']) for r in load if r['behind_mb']]
w = min(300.0, duration / 2)
first = [i for i, x in enumerate(t) if x <= w]
last = [i for i, x in enumerate(t) if x > t[-1] - w]
pts = [(x, y) for x, y in zip(t, rss) if x > 60] or list(zip(t, rss))
n = len(pts)
mx, my = sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
den = sum((p[0] - mx) ** 2 for p in pts)
slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / den * 60 if den else 0.0
f_rss, l_rss = max(rss[i] for i in first), max(rss[i] for i in last)
flat = l_rss <= f_rss * 1.10
f_lag, l_lag = max(lag[i] for i in first), max(lag[i] for i in last)
bounded = l_lag <= 1.5 * f_lag + 2 and catchup != 'not caught up'
applied = int(rows[-1]['applied'])
print(f'  samples {len(load)} during load ({len(rows)} with catch-up); changes applied {applied} '
      f'({applied / (float(rows[-1]["t_s"]) or 1):.0f}/s over the whole phase)')
print(f'  RSS MB: first {rss[0]:.1f}, last {rss[-1]:.1f}, max {max(rss):.1f}; slope after the first minute {slope:+.2f} MB/min')
print(f'  RSS flat: {"yes" if flat else "NO"} (max of the last {w:.0f} s {l_rss:.1f} MB vs first {w:.0f} s {f_rss:.1f} MB, limit +10%)')
print(f'  lag s: max {max(lag):.2f}, last {lag[-1]:.2f}, mean {sum(lag) / len(lag):.2f}; catch-up after the load {catchup} s')
print(f'  lag bounded: {"yes" if bounded else "NO"} (max of the last {w:.0f} s {l_lag:.2f} s vs first {w:.0f} s {f_lag:.2f} s)')
if ret:
    print(f'  source WAL not yet confirmed by cdc, MB: max {max(ret):.1f}, last {ret[-1]:.1f}')
print(f'  cdc CPU % of one core: mean {sum(cpu) / len(cpu):.0f}, max {max(cpu):.0f}; machine load1 mean {sum(load1) / len(load1):.2f}')
sys.exit(0 if flat and bounded else 1)
PY
  printf '  cdc-cli exit status after SIGTERM: %s; sanitizer reports: %s; verify: %s\n' "$rc" "$san" "$ver"
  { [ "$rc" = 0 ] && [ "$san" = 0 ] && [ "$ver" = ok ]; } || status=1
done
[ -z "${KEEP:-}" ] || echo "soak: kept $WORK"
exit "$status"
