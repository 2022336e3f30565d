# Shared by the bench scenarios (source it after setting WORK and ROWS).

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
stop_lag_sampler() { kill "$lag_sampler_pid" 2>/dev/null || true; wait "$lag_sampler_pid" 2>/dev/null || true; }
lag_percentiles() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- - - 0"; exit }
    p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
    printf "%.2f %.2f %.2f %d\n", p50, p99, v[NR], NR }'
}
