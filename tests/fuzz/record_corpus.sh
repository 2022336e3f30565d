#!/usr/bin/env bash
# Records the fuzz targets' seed corpora (tests/fuzz/corpus/) from throwaway servers:
#   binlog/        a MariaDB's binlog files (scripts/mariadb-server.sh), cut into one file per
#                  transaction (the format description first), with and without checksums
#   pgoutput/      pgoutput messages of a PostgreSQL logical slot (scripts/pg-server.sh), protocol
#                  v1 and v2 with streaming, read with pg_logical_slot_peek_binary_changes()
#   copy_binary/   `COPY (SELECT ...) TO STDOUT (FORMAT binary)` of one column type per file
#   array_literal/ array columns' text output
#   config/, url/  the configs of the README, docs/ and unit tests, and the URLs of the tests
# Usage: tests/fuzz/record_corpus.sh [OUT_DIR]   (default: tests/fuzz/corpus, replaced)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=${1:-$root/tests/fuzz/corpus}
work=$(mktemp -d /tmp/cdc-fuzz-record.XXXXXX)
chmod 755 "$work"
cleanup() {
  bash scripts/mariadb-server.sh stop "$work/maria" >/dev/null 2>&1 || true
  bash scripts/pg-server.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$out"
mkdir -p "$out"/{binlog,pgoutput,copy_binary,array_literal,config,url}

# ---- MariaDB binlog ------------------------------------------------------------------------------
bash scripts/mariadb-server.sh start "$work/maria" >/dev/null
my() { mariadb --no-defaults --default-character-set=utf8mb4 --socket="$work/maria/mysqld.sock" -uroot cdc_test "$@"; }
binlog_workload() {
  my <<'SQL'
SET SESSION sql_mode = '';  -- zero dates and the empty ENUM value, as old applications write them
CREATE TABLE every_type (
  id INT PRIMARY KEY AUTO_INCREMENT,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, mu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED, f FLOAT, d DOUBLE,
  dec1 DECIMAL(10,2), dec2 DECIMAL(30,10), dec3 DECIMAL(5,0), b BIT(10), y YEAR,
  dt DATE, tm TIME(3), tm0 TIME, dtm DATETIME(6), dtm0 DATETIME, ts TIMESTAMP(6) NULL,
  c CHAR(10), cl CHAR(3) CHARACTER SET latin1, vc VARCHAR(300), bin BINARY(4), vb VARBINARY(10),
  tt TINYTEXT, tx TEXT, mb MEDIUMBLOB, lb LONGBLOB,
  e ENUM('red','green','blue'), s SET('a','b','c','d'), j JSON, g POINT, geo GEOMETRY
);
INSERT INTO every_type VALUES (NULL, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
  -9223372036854775808, 18446744073709551615, 1.5, -2.25e100, -12345678.91, 12345678901234567890.0123456789, -99999,
  b'1010101010', 2024, '2024-02-29', '-838:59:59.999', '12:34:56', '2024-02-29 23:59:59.999999', '1000-01-01 00:00:00',
  '2038-01-19 03:14:07.123456', 'char', 'ñé', REPEAT('v', 300), 'ab', 0x00ff10, 'tiny', 'text 😀', 0xdeadbeef, REPEAT('L', 1000),
  'green', 'a,c', '{"k": [1, 2.5, "x", null, true]}', POINT(1.5, -2), ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'));
INSERT INTO every_type (id) VALUES (NULL);
INSERT INTO every_type (ti, vc, dt, tm, e, s) VALUES (1, '', '0000-00-00', '00:00:00', '', ''), (2, 'two', '1970-01-01', '-00:00:01.5', 'blue', 'a,b,c,d');
UPDATE every_type SET vc = 'changed', d = 0, j = '[]' WHERE id = 1;
UPDATE every_type SET ti = ti + 1 WHERE id > 1;
DELETE FROM every_type WHERE id = 2;
CREATE TABLE narrow (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(10)) CHARACTER SET latin1;
INSERT INTO narrow VALUES (1, 'a'), (2, 'é');
ALTER TABLE narrow ADD COLUMN n INT NOT NULL DEFAULT 7;
UPDATE narrow SET n = 8;
TRUNCATE narrow;
DROP TABLE narrow;
SQL
}
binlog_workload
my -e "SET GLOBAL binlog_checksum = NONE; FLUSH BINARY LOGS; DROP TABLE every_type"
binlog_workload
my -e "SET GLOBAL binlog_row_metadata = MINIMAL; FLUSH BINARY LOGS; INSERT INTO every_type (id, vc, e) VALUES (100, 'minimal', 'red'); FLUSH BINARY LOGS"
my -e "SET GLOBAL binlog_checksum = CRC32; FLUSH BINARY LOGS; UPDATE every_type SET vc = 'crc' WHERE id = 100; FLUSH BINARY LOGS"
python3 - "$work/maria/data" "$out/binlog" <<'PY'
import glob, os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
n = 0
for path in sorted(glob.glob(os.path.join(src, "binlog.[0-9]*"))):
    data = open(path, "rb").read()
    assert data[:4] == b"\xfebin", path
    pos, events = 4, []
    while pos + 19 <= len(data):
        size = struct.unpack_from("<I", data, pos + 9)[0]
        events.append(data[pos:pos + size])
        pos += size
    fde = events[0]
    checksums = fde[-5] == 1
    # One file per transaction (GTID .. XID or a standalone statement), after the format
    # description; the events outside transactions (lists, checkpoints, rotate, stop) go together.
    groups, cur, loose = [], [], []
    for ev in events[1:]:
        t = ev[4]
        if t == 162:  # GTID starts a group
            if cur: groups.append(cur)
            cur = [ev]
        elif cur:
            cur.append(ev)
            if t == 16 or (t == 2 and b"BEGIN" not in ev[19:60]):
                groups.append(cur); cur = []
        else:
            loose.append(ev)
    if cur: groups.append(cur)
    if loose: groups.append(loose)
    for g in groups:
        body = bytearray([1 if checksums else 0])
        for ev in [fde] + g:
            if len(ev) > 0xFFFF: break
            body += struct.pack("<H", len(ev)) + ev
        n += 1
        open(os.path.join(dst, "%s-%03d" % (os.path.basename(path), n)), "wb").write(body)
PY
bash scripts/mariadb-server.sh stop "$work/maria" >/dev/null

# ---- PostgreSQL ----------------------------------------------------------------------------------
bash scripts/pg-server.sh start "$work/pg" >/dev/null
pgurl=$(cat "$work/pg/url")
pg() { psql "$pgurl" -X -q -v ON_ERROR_STOP=1 "$@"; }
pg >/dev/null <<'SQL'
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE every_type (
  id serial PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
  n numeric, n2 numeric(12,3), t text, vc varchar(20), c char(4), nm name, ba bytea, d date,
  tm time, ts timestamp, tz timestamptz, u uuid, j json, jb jsonb, iv interval, ip inet,
  ttz timetz, m money, bt bit(8), vb varbit, ai int4[], at text[], ab boolean[], ad date[],
  an numeric[], pt point, r int4range, md mood);
CREATE TABLE full_identity (id int, v text);
ALTER TABLE full_identity REPLICA IDENTITY FULL;
CREATE PUBLICATION fuzz_pub FOR ALL TABLES;
SELECT pg_create_logical_replication_slot('fuzz_v1', 'pgoutput');
SELECT pg_create_logical_replication_slot('fuzz_v2', 'pgoutput');
INSERT INTO every_type (b, i2, i4, i8, f4, f8, n, n2, t, vc, c, nm, ba, d, tm, ts, tz, u, j, jb, iv, ip, ttz, m, bt, vb,
                        ai, at, ab, ad, an, pt, r, md) VALUES
  (true, -32768, 2147483647, -9223372036854775808, 1.5, 'NaN', 'NaN', 123456789.123, 'text ''q'' "d" \ é 😀',
   'varchar', 'ab', 'name', '\x00ff10', '2024-02-29', '23:59:59.999999', '2024-02-29 12:00:00.5',
   '1999-12-31 23:59:59+05:30', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": null}',
   '1 year 2 mons -3 days 04:05:06.5', '192.168.0.1/24', '12:00:00+02', 12.34, B'10101010', B'101',
   '{1,NULL,3}', '{"a b","c\"d",NULL,""}', '{t,f}', '{2024-01-01,infinity}', '{1.5,NaN,-0.001}', '(1.5,-2)', '[1,10)', 'happy'),
  (false, 0, 0, 0, '-Infinity', 'Infinity', '-0.000001', -0.5, '', '', '', '', '', '-infinity', '00:00', 'infinity',
   '0001-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', 'null', '[]', '0', '::1', '00:00:00-12', -0.01,
   B'00000000', B'', '{}', '{}', '{}', '{}', '{}', '(0,0)', 'empty', 'sad');
INSERT INTO every_type (id) VALUES (DEFAULT);
UPDATE every_type SET t = 'updated', jb = '{"x": 1}' WHERE id = 1;
UPDATE every_type SET id = 100 WHERE id = 2;
DELETE FROM every_type WHERE id = 3;
INSERT INTO full_identity VALUES (1, 'one'), (2, NULL);
UPDATE full_identity SET v = 'uno' WHERE id = 1;
DELETE FROM full_identity WHERE id = 2;
SELECT pg_logical_emit_message(true, 'cdc', 'transactional message');
SELECT pg_logical_emit_message(false, 'cdc', 'not transactional');
TRUNCATE full_identity RESTART IDENTITY CASCADE;
ALTER TABLE full_identity ADD COLUMN extra int DEFAULT 5;
INSERT INTO full_identity VALUES (3, 'three', 6);
-- Larger than logical_decoding_work_mem (64kB): streamed in v2, committed and aborted.
BEGIN;
INSERT INTO full_identity SELECT g, repeat('s', 40), g FROM generate_series(1, 3000) g;
SAVEPOINT sp;
INSERT INTO full_identity SELECT g, 'sub', g FROM generate_series(1, 100) g;
ROLLBACK TO sp;
COMMIT;
BEGIN;
INSERT INTO full_identity SELECT g, repeat('a', 40), g FROM generate_series(1, 3000) g;
ROLLBACK;
SQL
peek() {  # slot, options...: one line per message, hex
  pg -At -c "SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('$1', NULL, NULL, $2)"
}
peek fuzz_v1 "'proto_version', '1', 'publication_names', 'fuzz_pub', 'messages', 'true'" > "$work/v1.hex"
peek fuzz_v2 "'proto_version', '2', 'publication_names', 'fuzz_pub', 'messages', 'true', 'streaming', 'on'" > "$work/v2.hex"
python3 - "$work" "$out/pgoutput" <<'PY'
import os, struct, sys
work, dst = sys.argv[1], sys.argv[2]
for proto in ("v1", "v2"):
    msgs = [bytes.fromhex(l.strip()) for l in open(os.path.join(work, proto + ".hex")) if l.strip()]
    # One file per transaction (B .. C) or streamed block (S .. E, c or A); a long block keeps its
    # first and last messages so that a file stays small.
    groups, cur = [], []
    for m in msgs:
        cur.append(m)
        if m[:1] in (b"C", b"E", b"c", b"A") or (m[:1] == b"M" and not cur[0][:1] in (b"B", b"S")):
            groups.append(cur); cur = []
    if cur: groups.append(cur)
    for i, g in enumerate(groups):
        if len(g) > 40: g = g[:30] + g[-5:]
        body = bytearray([0])
        for m in g: body += struct.pack("<H", len(m)) + m
        open(os.path.join(dst, "%s-%03d" % (proto, i)), "wb").write(body)
PY
# COPY binary, one type per file: the column-type byte of fuzz_copy_binary (pg_fuzz_types.h order)
# and what the server sent for that column (its text output where cdc reads it as text).
types=(b i2 i4 i8 f4 f8 n n2 t vc c nm ba d tm ts tz u j jb iv ip ttz m bt vb ai at ab ad an pt r)
native=(b i2 i4 i8 f4 f8 n n2 t vc c nm ba d tm ts tz u j jb)
for idx in "${!types[@]}"; do
  col=${types[$idx]}
  expr="format('%s', $col)"
  for nat in "${native[@]}"; do [ "$nat" = "$col" ] && expr=$col; done
  { printf "\\x00\\x$(printf %02x "$idx")"; pg -c "COPY (SELECT $expr FROM every_type ORDER BY id) TO STDOUT (FORMAT binary)"; } \
    > "$out/copy_binary/$idx-$col"
done
pg -At -c "SELECT ai::text, at::text, ab::text, ad::text, an::text FROM every_type" | tr '|' '\n' | sort -u | grep -v '^$' |
  while IFS= read -r lit; do printf '\x00%s' "$lit" > "$out/array_literal/$(printf '%s' "$lit" | md5sum | cut -c1-12)"; done
pg -At -c "SELECT ARRAY[ARRAY[1,2],ARRAY[3,4]]::text, '[0:1]={7,8}'::int[]::text, ARRAY['{x}','a,b',' ','NULL','\\']::text, '{\"(1,2),(3,4)\";\"(0,0),(1,1)\"}'::box[]::text" |
  tr '|' '\n' | while IFS= read -r lit; do
    d='\x00'; case "$lit" in *';'*) d='\x01' ;; esac
    printf "$d%s" "$lit" > "$out/array_literal/$(printf '%s' "$lit" | md5sum | cut -c1-12)"
  done
bash scripts/pg-server.sh stop "$work/pg" >/dev/null

# ---- configs and URLs ----------------------------------------------------------------------------
python3 - "$root" "$out" <<'PY'
import glob, hashlib, os, re, sys
root, out = sys.argv[1], sys.argv[2]
def put(d, data):
    open(os.path.join(out, d, hashlib.md5(data).hexdigest()[:12]), "wb").write(data)
# The YAML and JSON blocks of the README and docs/.
for path in [root + "/README.md"] + sorted(glob.glob(root + "/docs/*.md")):
    md = open(path, encoding="utf-8").read()
    for m in re.finditer(r"```(yaml|json)\n(.*?)```", md, re.S):
        doc = m.group(2).encode()
        json = m.group(1) == "json"
        if not json and b"source:" not in doc and b"pipelines:" not in doc: continue
        put("config", bytes([(1 if json else 0) | (2 if b"pipelines" in doc else 0)]) + doc)
# Config documents the unit tests load (raw string literals in tests/unit/*config*_test.cpp).
for path in sorted(glob.glob(root + "/tests/unit/*config*_test.cpp")):
    src = open(path, encoding="utf-8").read()
    for m in re.finditer(r'R"\((.*?)\)"', src, re.S):
        doc = m.group(1).encode()
        if len(doc) < 20: continue
        json = doc.lstrip()[:1] == b"{"
        put("config", bytes([(1 if json else 0) | (2 if b"pipelines" in doc else 0)]) + doc)
# The broken configs of the table-driven error test (kBase + "...").
base = b"source: sqlite:///a.db\ndestination: sqlite:///b.db\n"
src = open(root + "/tests/unit/config_errors_test.cpp", encoding="utf-8").read()
for m in re.finditer(r'\{kBase \+ "((?:[^"\\]|\\.)*)"', src):
    put("config", b"\x00" + base + m.group(1).encode().decode("unicode_escape").encode("latin-1", "replace"))
# URLs from the tests, scripts and docs.
urls = set()
pat = re.compile(r'\b(?:postgres(?:ql)?|mysql|mariadb|sqlite|kafka|redis|harper|harpers|jsonl|file)://[^\s"\'`<>)]*')
for path in glob.glob(root + "/tests/**/*.cpp", recursive=True) + glob.glob(root + "/docs/**/*.md", recursive=True) + [root + "/README.md"]:
    for u in pat.findall(open(path, encoding="utf-8", errors="replace").read()):
        urls.add(u.rstrip(".,;"))
for u in sorted(urls)[:200]:
    put("url", u.encode())
PY
du -sb "$out"/* | sed "s|$root/||"
