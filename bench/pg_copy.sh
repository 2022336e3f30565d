#!/usr/bin/env bash
# Scenario: copy one 10-column PostgreSQL table of ROWS rows (default 1,000,000) into a fresh
# database on the same throwaway server, in the same run, with
#   (a) cdc-cli copy, without tuning flags (see bench/common.sh for CDC_FLAGS and CDC_CLI_BASELINE),
#   (b) psql -c "COPY t TO STDOUT (FORMAT binary)" | psql -c "COPY t FROM STDIN (FORMAT binary)",
#   (c) pgcopydb copy table-data (when installed; its own parallelism, --table-jobs 2).
# Each is measured with /usr/bin/time -v: wall seconds and peak RSS, ROUNDS times (default 2) taking
# turns. Prints a side-by-side table of each tool's best round, then every round, and the ratio
# binary COPY pipe time / cdc time (issue 15's target 0: >= 0.9). Every copy is checked (row
# count; cdc-cli verify compares cdc's with the source value by value).
#   CDC_CLI=path/to/cdc-cli ROWS=1000000 bash bench/pg_copy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
CDC_CLI=${CDC_CLI:-$PWD/out/install/bin/cdc-cli}
source bench/common.sh
bench_require pg_copy /usr/bin/time
WORK=$(mktemp -d /tmp/cdc-bench-pg.XXXXXX)
chmod 755 "$WORK"
server=$WORK/server
cleanup() { bash scripts/pg-server.sh stop "$server" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

url=$(bash scripts/pg-server.sh start "$server")
base=${url%/*}
for db in src cdc base pipe pgcopydb; do psql -q "$url" -c "CREATE DATABASE $db"; done
ddl="CREATE TABLE items (id bigint PRIMARY KEY, account_id int NOT NULL, sku varchar(24) NOT NULL, name text NOT NULL,
  qty int, price numeric(10,2) NOT NULL, ratio float8, created_at timestamptz NOT NULL, active boolean NOT NULL, note text)"
echo "pg_copy: generating $ROWS rows"
psql -q -v ON_ERROR_STOP=1 "$base/src" <<SQL
$ddl;
INSERT INTO items
SELECT i, i % 9973, 'SKU-' || lpad(i::text, 8, '0'), 'item ' || i || ' ' || substr('abcdefghijklmnopqrstuvwxyz', 1 + (i % 20)::int),
       CASE WHEN i % 17 = 0 THEN NULL ELSE i % 1000 END, round((i * 7919 % 1000000) / 100.0, 2),
       (i % 1000) / 7.0, to_timestamp(1600000000 + i * 37), i % 3 = 0,
       CASE WHEN i % 4 = 0 THEN NULL ELSE 'note about item ' || i END
FROM generate_series(1::bigint, $ROWS) i;
VACUUM ANALYZE items;
SQL
for db in pipe pgcopydb; do psql -q "$base/$db" -c "$ddl"; done

rows_in() { psql -tA "$base/$1" -c "SELECT count(*) FROM items"; }

# Warm the cache so that whichever runs first does not pay for reading the table from disk.
psql -q "$base/src" -c "COPY items TO '/dev/null'"
# Each tool starts with no dirty buffers left by the one before (or by the data generation): a
# checkpoint forced by that WAL would otherwise land on whichever tool runs next.
settle() { psql -q "$base/src" -c "CHECKPOINT"; }
# Each tool runs ROUNDS times (default 2), the tools taking turns; the table shows each tool's best
# round (and every round below it), so that one unlucky moment on a shared machine does not decide.
ROUNDS=${ROUNDS:-2}
cdc_secs= base_secs= pipe_secs= pgc_secs= rounds_line=
have_pgcopydb=0
command -v pgcopydb >/dev/null && have_pgcopydb=1
for round in $(seq 1 "$ROUNDS"); do
  if [ "$round" -gt 1 ]; then
    for db in cdc base pipe pgcopydb; do psql -q "$base/src" -c "DROP DATABASE $db" -c "CREATE DATABASE $db"; done
    for db in pipe pgcopydb; do psql -q "$base/$db" -c "$ddl"; done
  fi
  settle
  echo "pg_copy: round $round (a) cdc-cli copy ${CDC_FLAGS:-}"
  measure cdc "$CDC_CLI" --log-level warn copy "$base/src" "$base/cdc" "${cdc_flags[@]}" > "$WORK/cdc.out" 2>&1 || { cat "$WORK/cdc.out"; exit 1; }
  cdc_secs=$(best_of "$cdc_secs" "$secs") cdc_rss=$rss_mb
  rounds_line+=" round $round: cdc $secs s"
  if [ -n "${CDC_CLI_BASELINE:-}" ]; then
    settle
    echo "pg_copy: round $round (a') baseline cdc-cli copy ($CDC_CLI_BASELINE)"
    measure base "$CDC_CLI_BASELINE" --log-level warn copy "$base/src" "$base/base" "${cdc_flags[@]}" > "$WORK/base.out" 2>&1 ||
      { cat "$WORK/base.out"; exit 1; }
    base_secs=$(best_of "$base_secs" "$secs") base_rss=$rss_mb
    rounds_line+=", baseline $secs s"
  fi
  settle
  echo "pg_copy: round $round (b) psql binary COPY pipe"
  measure pipe sh -c "psql -q '$base/src' -c 'COPY items TO STDOUT (FORMAT binary)' | psql -q '$base/pipe' -c 'COPY items FROM STDIN (FORMAT binary)'"
  pipe_secs=$(best_of "$pipe_secs" "$secs") pipe_rss=$rss_mb
  rounds_line+=", pipe $secs s"
  if [ "$have_pgcopydb" = 1 ]; then
    settle
    echo "pg_copy: round $round (c) pgcopydb copy table-data"
    if measure pgcopydb pgcopydb copy table-data --source "$base/src" --target "$base/pgcopydb" --table-jobs 2 \
      --dir "$WORK/pgcopydb-work-$round" --not-consistent > "$WORK/pgcopydb.out" 2>&1; then
      pgc_secs=$(best_of "$pgc_secs" "$secs") pgc_rss=$rss_mb
      rounds_line+=", pgcopydb $secs s"
    else
      tail -20 "$WORK/pgcopydb.out"; have_pgcopydb=0
    fi
  fi
  rounds_line+=";"
done

for db in cdc ${CDC_CLI_BASELINE:+base} pipe $([ "$have_pgcopydb" = 0 ] || echo pgcopydb); do
  n=$(rows_in "$db")
  [ "$n" = "$ROWS" ] || { echo "pg_copy: $db has $n rows, expected $ROWS"; cat "$WORK/cdc.out"; exit 1; }
done
"$CDC_CLI" --log-level warn verify "$base/src" "$base/cdc" >/dev/null || { echo "pg_copy: verify found differences"; exit 1; }

printf '\npg_copy: %s rows, 10 columns, PostgreSQL 15 -> same server\n' "$ROWS"
printf '%-40s %10s %12s %14s\n' tool seconds rows/s "peak RSS MB"
printf '%-40s %10s %12s %14s\n' "cdc-cli copy ${CDC_FLAGS:-}" "$cdc_secs" "$(rate "$cdc_secs")" "$cdc_rss"
[ -z "${CDC_CLI_BASELINE:-}" ] || printf '%-40s %10s %12s %14s\n' "cdc-cli copy (baseline)" "$base_secs" "$(rate "$base_secs")" "$base_rss"
printf '%-40s %10s %12s %14s\n' "psql binary COPY | psql" "$pipe_secs" "$(rate "$pipe_secs")" "$pipe_rss"
if [ "$have_pgcopydb" = 1 ]; then
  printf '%-40s %10s %12s %14s\n' "pgcopydb copy table-data" "$pgc_secs" "$(rate "$pgc_secs")" "$pgc_rss"
fi
printf 'best of %s rounds;%s\n' "$ROUNDS" "$rounds_line"
echo "checks: row count of every copy; cdc-cli verify of cdc's equal"
print_ratio "binary COPY pipe / cdc-cli copy" "$pipe_secs" "$cdc_secs" 0.9
[ "$have_pgcopydb" = 0 ] || print_ratio "pgcopydb / cdc-cli copy" "$pgc_secs" "$cdc_secs"
