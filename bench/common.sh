# Shared by the bench scenarios (source it after setting CDC_CLI; WORK and ROWS are read when a
# function runs).

# bench_require NAME TOOL...: stops the scenario NAME (exit status 2) when $CDC_CLI, or
# $CDC_CLI_BASELINE when given, is not an executable, or a TOOL is not installed.
bench_require() {
  local name=$1 t
  shift
  for t in "$CDC_CLI" ${CDC_CLI_BASELINE:+"$CDC_CLI_BASELINE"}; do
    [ -x "$t" ] || { echo "$name: no cdc-cli at $t (run scripts/build.sh or set CDC_CLI)"; exit 2; }
  done
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "$name: $t missing (bash scripts/install-deps.sh)"; exit 2; }
  done
}

# measure NAME COMMAND...: runs COMMAND under /usr/bin/time -v; sets `secs` (wall seconds) and
# `rss_mb` (peak resident set of COMMAND, in MB).
measure() {
  local out=$WORK/time-$1.txt
  shift
  /usr/bin/time -v -o "$out" "$@"
  local wall
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$out")
  secs=$(awk -v t="$wall" 'BEGIN { n = split(t, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }')
  rss_mb=$(awk '/Maximum resident set size/ { printf "%.1f", $NF / 1024 }' "$out")
}

# rate SECONDS: ROWS per second.
rate() { awk -v r="$ROWS" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", r / s; else print "-" }'; }

# cdc-cli runs with its defaults: no tuning flags (parallel_chunks and chunk_rows are auto), so the
# figures are what a user gets. CDC_FLAGS adds flags to every cdc-cli copy (e.g.
# CDC_FLAGS="--parallel-chunks 1" for the old defaults); CDC_CLI_BASELINE names a second cdc-cli
# (say, an older build) that each scenario also runs, the same way and in the same run.
read -r -a cdc_flags <<< "${CDC_FLAGS:-}"

# now: the time of day in seconds, with nanoseconds.
now() { date +%s.%N; }

# best_of CURRENT NEW: the smaller of two wall times (CURRENT may be empty).
best_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b + 0 < a + 0) print b; else print a }'; }

# Lag as cdc reports it: start_lag_sampler URL FILE samples the largest
# cdc_replication_lag_seconds of URL's /metrics every 0.5 s into FILE (one number per line) until
# stop_lag_sampler; lag_percentiles FILE prints "p50 p99 max n" in seconds.
start_lag_sampler() {
  (while :; do
     curl -s "$1/metrics" | awk '/^cdc_replication_lag_seconds\{/ { if ($2 > m) m = $2; seen = 1 } END { if (seen) print m + 0 }' >> "$2"
     sleep 0.5
   done) &
  lag_sampler_pid=$!
}
stop_lag_sampler() { kill "$lag_sampler_pid" 2>/dev/null || true; wait "$lag_sampler_pid" 2>/dev/null || true; lag_sampler_pid=; }
lag_percentiles() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- - - 0"; exit }
    p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
    printf "%.2f %.2f %.2f %d\n", p50, p99, v[NR], NR }'
}

# ratio A B: A / B to two decimals ("-" when either is missing or B is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
# print_ratio LABEL A B [TARGET]: a summary line "LABEL  A/B  (target >= TARGET: met|not met)". A
# ratio is a measurement, not a check: a scenario does not fail on it.
print_ratio() {
  local r verdict=
  r=$(ratio "$2" "$3")
  [ -z "${4:-}" ] || verdict=$(awk -v r="$r" -v t="$4" 'BEGIN { if (r == "-") print "?"; else print (r + 0 >= t + 0 ? "met" : "not met") }')
  printf '%-60s %6s%s\n' "$1" "$r" "${4:+   (target >= $4: $verdict)}"
}

# free_port: a free TCP port on 127.0.0.1 (for --http).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Where a copy's time goes, seen from the target server: start_activity_sampler FILE QUERY CLIENT...
# feeds QUERY to CLIENT (a database client that reads statements on stdin: one connection for the
# whole run, so a sample costs a query, not a process) every 0.25 s until stop_activity_sampler.
# QUERY returns one row "EPOCH_SECONDS LOADING INDEXING": the server's clock and how many of the
# target's statements load rows and build indexes; the rows go into FILE. activity_split FILE
# prints "LOAD INDEX BOTH OTHER": seconds during which rows were loading and no index was building,
# indexes building and no rows loading, both, and neither (connecting, planning, creating tables,
# commits), each interval between two samples counted by the first one.
start_activity_sampler() {
  local file=$1 query=$2
  shift 2
  rm -f "$file" "$file.stop"
  (while [ ! -e "$file.stop" ]; do echo "$query"; sleep 0.25; done | "$@" > "$file" 2>/dev/null) &
  activity_sampler_pid=$!
  activity_sampler_file=$file
}
stop_activity_sampler() {
  [ -n "${activity_sampler_pid:-}" ] || return 0
  touch "$activity_sampler_file.stop"
  wait "$activity_sampler_pid" 2>/dev/null || true
  activity_sampler_pid=
}
activity_split() {
  awk 'NF >= 3 { if (n++) { d = $1 - t; if (l > 0 && i > 0) both += d; else if (l > 0) load += d; else if (i > 0) idx += d; else other += d }
                  t = $1; l = $2 + 0; i = $3 + 0 }
       END { printf "%.1f %.1f %.1f %.1f\n", load, idx, both, other }' "$1"
}
