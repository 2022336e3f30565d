#!/usr/bin/env bash
# Scenario: binlog decode rate. A throwaway server logs ROWS inserts and ROWS full-row updates
# (binlog_row_image=FULL, binlog_row_metadata=FULL, CRC32) of a 12-column mixed-type table; the
# closed binlog files are then decoded by cdc's decoder (mariadb_binlog_decode, one thread):
# row events per second, MB/s and peak RSS.
#   DECODER=path/to/mariadb_binlog_decode ROWS=1000000 bash bench/mariadb_binlog.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
DECODER=${DECODER:-$PWD/build-release/tests/mysql/mariadb_binlog_decode}
WORK=${WORK:-$(mktemp -d /tmp/cdc-bench-binlog.XXXXXX)}
[ -x "$DECODER" ] || { echo "mariadb_binlog: no decoder at $DECODER (build target mariadb_binlog_decode, Release, or set DECODER)"; exit 2; }
server=$WORK/server
trap 'bash scripts/mariadb-server.sh stop "$server" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
bash scripts/mariadb-server.sh start "$server" >/dev/null
sock=$(cat "$server/socket")
sql() { mariadb --no-defaults --socket="$sock" -uroot "$@"; }

echo "mariadb_binlog: logging $ROWS inserts and $ROWS updates"
sql -e "CREATE DATABASE b"
sql b <<SQL
CREATE TABLE items (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY, account_id INT NOT NULL, sku VARCHAR(24) NOT NULL,
  name VARCHAR(100) NOT NULL, qty SMALLINT, price DECIMAL(10,2) NOT NULL, ratio DOUBLE,
  created_at DATETIME(6) NOT NULL, active TINYINT(1) NOT NULL, status ENUM('new','paid','shipped','returned') NOT NULL,
  note TEXT, payload VARBINARY(32)) ENGINE=InnoDB;
FLUSH BINARY LOGS;
INSERT INTO items
SELECT seq, seq % 9973, CONCAT('SKU-', LPAD(seq, 8, '0')), CONCAT('item ', seq), IF(seq % 17 = 0, NULL, seq % 1000),
       ROUND((seq * 7919 % 1000000) / 100.0, 2), (seq % 1000) / 7.0,
       FROM_UNIXTIME(1600000000 + seq * 37) + INTERVAL (seq % 1000000) MICROSECOND, seq % 3 = 0,
       ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'returned'), IF(seq % 4 = 0, NULL, CONCAT('note ', seq)), UNHEX(SHA1(seq))
FROM seq_1_to_$ROWS;
UPDATE items SET qty = IFNULL(qty, 0) + 1, price = price + 1;
FLUSH BINARY LOGS;
SQL
# Every closed file after the table's creation (the last one is still open and empty).
mapfile -t files < <(sql -N -e "SHOW BINARY LOGS" | awk '{print $1}')
paths=()
for ((i = 1; i < ${#files[@]} - 1; i++)); do paths+=("$server/data/${files[$i]}"); done
du -ch "${paths[@]}" | tail -1
/usr/bin/time -v -o "$WORK/time.txt" "$DECODER" "${paths[@]}" | tee "$WORK/out.txt"
rss=$(awk '/Maximum resident set size/ { printf "%.1f", $NF / 1024 }' "$WORK/time.txt")
read -r _ events _ row_events _ images _ bytes _ secs _ rate _ mbs < "$WORK/out.txt"
printf '\nmariadb_binlog: %s row events (%s row images, %s bytes) decoded in %s s on one thread\n' "$row_events" "$images" "$bytes" "$secs"
printf '%-30s %14s %10s %14s\n' decoder "row events/s" "MB/s" "peak RSS MB"
printf '%-30s %14s %10s %14s\n' "cdc binlog::Decoder" "$rate" "$mbs" "$rss"
echo "(peak RSS includes the binlog files, which the tool reads into memory whole)"
