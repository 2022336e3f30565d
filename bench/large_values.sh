#!/usr/bin/env bash
# Scenario: the memory one large value costs. A MariaDB table `big (id INT PRIMARY KEY, b LONGBLOB,
# t LONGTEXT)` gets rows whose BLOB and text are MB megabytes each (default 20); each is
# replicated by `cdc-cli replicate --until-idle` (a session per destination, set up on the empty
# table first) into PostgreSQL and into another MariaDB database, and copied (snapshot) by
# `cdc-cli copy` into both. Reports peak RSS of cdc-cli and that figure divided by the row's size
# (2 x MB): how many copies of the value were alive at once. A PostgreSQL source is measured the
# same way (bytea + text, logical replication) into PostgreSQL. Every run is checked: md5 of the
# values on the target equals the source's.
#   CDC_CLI=path/to/cdc-cli MB=20 bash bench/large_values.sh
#
# Measured in one run each (2 cores shared with other engineers' compilers, load 2-11;
# RelWithDebInfo; MB=20, so the row is 40 MB; a session without large values holds 30-50 MB): peak RSS in MB
#   run                               main 10c6bd7   5bfd19e   1d7b8e9 + 6120d17
#   stream MariaDB -> PostgreSQL             218.7     177.6     177.4
#   stream MariaDB -> MariaDB                277.9     176.3     176.2
#   stream PostgreSQL -> PostgreSQL          275.0     275.1     175.2
#   copy MariaDB -> PostgreSQL               157.1     138.0     138.1
#   copy MariaDB -> MariaDB                  237.5     137.2     137.3
# 18294f5 (the MariaDB writer's LOAD DATA, a field at a time, large binary values hexed in pieces;
# same build type, one run, load 3-4): copy MariaDB -> MariaDB 115.9 MB (2.9 copies of the row);
# the other four runs 177.5, 176.2, 175.1 and 138.2, as before.
# 5bfd19e: values converted in place, rows passed by address to the writers, MariaDB statements
# escaped in pieces; 1d7b8e9: pgoutput tuples not copied, the streamed transaction's spill file
# written field by field; 6120d17: cdc-cli maps blocks over 4 MB alone (not from the heap).
# Where the rest is (heaptrack, stream MariaDB -> PostgreSQL, 126 MB of heap at the peak): libmariadb's
# packet buffers for the 40 MB binlog event (3 x 42 MB, its own), then the decoded row; for the
# PostgreSQL source, libpq's input buffer and the copy PQgetCopyData returns (60 MB each: bytea
# travels as hex in pgoutput's text format).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${MB:-20}
CDC_CLI=${CDC_CLI:-$PWD/out/install/bin/cdc-cli}
WORK=${WORK:-$(mktemp -d /tmp/cdc-bench-large.XXXXXX)}
source bench/common.sh
bench_require large_values /usr/bin/time psql mariadb python3
mserver=$WORK/mariadb
pserver=$WORK/pg
cleanup() {
  bash scripts/mariadb-server.sh stop "$mserver" >/dev/null 2>&1 || true
  bash scripts/pg-server.sh stop "$pserver" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK"
chmod 755 "$WORK"

bash scripts/mariadb-server.sh start "$mserver" >/dev/null
mport=$(cat "$mserver/port")
msock=$(cat "$mserver/socket")
my() { mariadb --socket="$msock" -uroot "$@"; }
pg_url=$(bash scripts/pg-server.sh start "$pserver")
pg_base=${pg_url%/*}
for db in m2p m2p_copy p2p_src p2p; do psql -q "$pg_url" -c "CREATE DATABASE $db"; done
my -e "CREATE DATABASE src; CREATE DATABASE m2m; CREATE DATABASE m2m_copy;
       CREATE TABLE src.big (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT)"
psql -q "$pg_base/p2p_src" -c "CREATE TABLE big (id int PRIMARY KEY, b bytea, t text)"

# The values: random bytes (so nothing compresses them away) and text of random letters.
python3 - "$WORK" "$MB" <<'EOF'
import os, random, string, sys
work, mb = sys.argv[1], int(sys.argv[2])
n = mb * 1024 * 1024
with open(os.path.join(work, "b.bin"), "wb") as f: f.write(os.urandom(n))
rnd = random.Random(7)
with open(os.path.join(work, "t.txt"), "w") as f:
    f.write("".join(rnd.choice(string.ascii_letters) for _ in range(n)))
EOF
chmod 644 "$WORK/b.bin" "$WORK/t.txt"
# MariaDB reads the values from a statement file (hex for the BLOB), PostgreSQL from the files
# themselves (pg_read_binary_file: the server runs as a superuser here).
python3 - "$WORK" <<'EOF2'
import os, sys
work = sys.argv[1]
b = open(os.path.join(work, "b.bin"), "rb").read().hex()
t = open(os.path.join(work, "t.txt")).read()
with open(os.path.join(work, "row.sql"), "w") as f:
    f.write("INSERT INTO big VALUES (@id, 0x%s, '%s');\n" % (b, t))
EOF2
insert_row() {  # insert_row ID: one row into both sources
  { echo "SET @id = $1;"; cat "$WORK/row.sql"; } | my src
  psql -q "$pg_base/p2p_src" -c "INSERT INTO big VALUES ($1, pg_read_binary_file('$WORK/b.bin'), convert_from(pg_read_binary_file('$WORK/t.txt'), 'UTF8'))"
}

checksum_maria() { my "$1" -N -e "SELECT id, md5(b), md5(t) FROM big ORDER BY id"; }
checksum_pg() { psql -At -F $'\t' "$pg_base/$1" -c "SELECT id, md5(b), md5(t) FROM big ORDER BY id"; }

declare -A src=([m2p]="mysql://root@127.0.0.1:$mport/src" [m2m]="mysql://root@127.0.0.1:$mport/src"
                [p2p]="$pg_base/p2p_src")
declare -A dst=([m2p]="$pg_base/m2p" [m2m]="mysql://root@127.0.0.1:$mport/m2m" [p2p]="$pg_base/p2p")
for s in m2p m2m p2p; do
  printf 'name: large_%s\nsource: "%s"\ndestination: "%s"\npoll_interval_ms: 50\n' "$s" "${src[$s]}" "${dst[$s]}" > "$WORK/$s.yaml"
  "$CDC_CLI" --log-level warn replicate -c "$WORK/$s.yaml" --until-idle > /dev/null 2> "$WORK/$s.setup.err" ||
    { cat "$WORK/$s.setup.err"; exit 1; }
done
insert_row 1
want_m=$(checksum_maria src)
want_p=$(checksum_pg p2p_src)

printf '\n%-36s %8s %9s %8s %s\n' "run (one row: ${MB} MB BLOB + ${MB} MB text)" seconds "RSS MB" copies check
report() {  # report NAME GOT WANT
  local ok=equal
  [ "$2" = "$3" ] || ok="DIFFERENT"
  printf '%-36s %8s %9s %8s %s\n' "$1" "$secs" "$rss_mb" "$(awk -v r="$rss_mb" -v m="$MB" 'BEGIN { printf "%.1f", r / (2 * m) }')" "$ok"
  [ "$ok" = equal ] || failed=1
}
failed=0
measure stream_m2p "$CDC_CLI" --log-level warn replicate -c "$WORK/m2p.yaml" --until-idle > /dev/null 2> "$WORK/m2p.err" || { cat "$WORK/m2p.err"; exit 1; }
report "stream MariaDB -> PostgreSQL" "$(checksum_pg m2p)" "$(echo "$want_m" | tr -s ' \t' '\t')"
measure stream_m2m "$CDC_CLI" --log-level warn replicate -c "$WORK/m2m.yaml" --until-idle > /dev/null 2> "$WORK/m2m.err" || { cat "$WORK/m2m.err"; exit 1; }
report "stream MariaDB -> MariaDB" "$(checksum_maria m2m)" "$want_m"
measure stream_p2p "$CDC_CLI" --log-level warn replicate -c "$WORK/p2p.yaml" --until-idle > /dev/null 2> "$WORK/p2p.err" || { cat "$WORK/p2p.err"; exit 1; }
report "stream PostgreSQL -> PostgreSQL" "$(checksum_pg p2p)" "$want_p"
measure copy_m2p "$CDC_CLI" --log-level warn copy "mysql://root@127.0.0.1:$mport/src" "$pg_base/m2p_copy" > /dev/null 2> "$WORK/copy_m2p.err" || { cat "$WORK/copy_m2p.err"; exit 1; }
report "copy MariaDB -> PostgreSQL" "$(checksum_pg m2p_copy)" "$(echo "$want_m" | tr -s ' \t' '\t')"
measure copy_m2m "$CDC_CLI" --log-level warn copy "mysql://root@127.0.0.1:$mport/src" "mysql://root@127.0.0.1:$mport/m2m_copy" > /dev/null 2> "$WORK/copy_m2m.err" || { cat "$WORK/copy_m2m.err"; exit 1; }
report "copy MariaDB -> MariaDB" "$(checksum_maria m2m_copy)" "$want_m"
exit $failed
