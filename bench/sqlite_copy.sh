#!/usr/bin/env bash
# Scenario: copy one ~10-column SQLite table of ROWS rows (default 1,000,000) into a fresh file,
# (a) with `cdc-cli copy` and (b) with `sqlite3 src.db .dump | sqlite3 dst.db`, in the same run.
# Each is measured with /usr/bin/time -v: wall seconds and peak RSS. Prints a side-by-side table.
# cdc-cli runs without tuning flags (see bench/common.sh for CDC_FLAGS and CDC_CLI_BASELINE).
#   CDC_CLI=path/to/cdc-cli ROWS=1000000 WORK=/tmp/x bash bench/sqlite_copy.sh   (WORK is kept; default: a temp dir, removed)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
CDC_CLI=${CDC_CLI:-$PWD/out/install/bin/cdc-cli}
if [ -z "${WORK:-}" ]; then
  WORK=$(mktemp -d /tmp/cdc-bench.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT  # a WORK given by the caller is kept
fi
source bench/common.sh
bench_require sqlite_copy /usr/bin/time
mkdir -p "$WORK"
src=$WORK/src.db

echo "sqlite_copy: generating $ROWS rows in $src"
rm -f "$src"*
sqlite3 "$src" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
CREATE TABLE items (
  id         INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL,
  sku        VARCHAR(24) NOT NULL,
  name       TEXT NOT NULL,
  qty        INTEGER,
  price      NUMERIC(10,2) NOT NULL,
  ratio      REAL,
  created_at TIMESTAMP NOT NULL,
  active     BOOLEAN NOT NULL,
  note       TEXT
);
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $ROWS)
INSERT INTO items
SELECT i, i % 9973, printf('SKU-%08d', i), 'item ' || i || ' ' || substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 20),
       CASE WHEN i % 17 = 0 THEN NULL ELSE i % 1000 END, round((i * 7919 % 1000000) / 100.0, 2),
       (i % 1000) / 7.0, datetime(1600000000 + i * 37, 'unixepoch'), i % 3 = 0,
       CASE WHEN i % 4 = 0 THEN NULL ELSE 'note about item ' || i END
FROM seq;
SQL

rows_in() { sqlite3 "$1" "SELECT count(*) FROM items"; }

# Each tool runs ROUNDS times (default 2), taking turns; the table shows each one's best round.
ROUNDS=${ROUNDS:-2}
cdc_secs= base_secs= dump_secs= rounds_line=
check() {
  local n
  n=$(rows_in "$WORK/$1.db")
  [ "$n" = "$ROWS" ] || { echo "sqlite_copy: $1.db has $n rows, expected $ROWS"; cat "$WORK/$1.out" 2>/dev/null; exit 1; }
}
for round in $(seq 1 "$ROUNDS"); do
  rm -f "$WORK"/cdc.db* "$WORK"/dump.db* "$WORK"/base.db*
  echo "sqlite_copy: round $round (a) cdc-cli copy ${CDC_FLAGS:-}"
  measure cdc "$CDC_CLI" --log-level warn copy "sqlite://$src" "sqlite://$WORK/cdc.db" "${cdc_flags[@]}" > "$WORK/cdc.out" 2>&1
  cdc_secs=$(best_of "$cdc_secs" "$secs") cdc_rss=$rss_mb
  rounds_line+=" round $round: cdc $secs s"
  check cdc
  if [ -n "${CDC_CLI_BASELINE:-}" ]; then
    echo "sqlite_copy: round $round (a') baseline cdc-cli copy ($CDC_CLI_BASELINE)"
    measure base "$CDC_CLI_BASELINE" --log-level warn copy "sqlite://$src" "sqlite://$WORK/base.db" "${cdc_flags[@]}" > "$WORK/base.out" 2>&1
    base_secs=$(best_of "$base_secs" "$secs") base_rss=$rss_mb
    rounds_line+=", baseline $secs s"
    check base
  fi
  echo "sqlite_copy: round $round (b) sqlite3 .dump | sqlite3"
  measure dump sh -c "sqlite3 '$src' .dump | sqlite3 '$WORK/dump.db'"
  dump_secs=$(best_of "$dump_secs" "$secs") dump_rss=$rss_mb
  rounds_line+=", dump $secs s;"
  check dump
done

printf '\nsqlite_copy: %s rows, 10 columns\n' "$ROWS"
printf '%-28s %10s %12s %14s\n' tool seconds rows/s "peak RSS MB"
printf '%-28s %10s %12s %14s\n' "cdc-cli copy" "$cdc_secs" "$(rate "$cdc_secs")" "$cdc_rss"
[ -z "${CDC_CLI_BASELINE:-}" ] || printf '%-28s %10s %12s %14s\n' "cdc-cli copy (baseline)" "$base_secs" "$(rate "$base_secs")" "$base_rss"
printf '%-28s %10s %12s %14s\n' "sqlite3 .dump | sqlite3" "$dump_secs" "$(rate "$dump_secs")" "$dump_rss"
printf 'best of %s rounds;%s\n' "$ROUNDS" "$rounds_line"
