// MariaDB -> PostgreSQL -> MariaDB through the type mapper, against both throwaway servers:
// every type of the mapping table with edge values, by snapshot and by the binlog stream,
// checked value by value in PostgreSQL's own text and by verify (converted source = target),
// then copied back and compared with the original wherever the mapping is lossless.
#include "maria_test_util.h"
#include "pg_test_util.h"
#include "session_test_util.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <thread>

namespace {

using namespace maria_test;
using namespace hetero_test;
using pg_test::eventually;

const char* kEdgeTable = R"SQL(CREATE TABLE edge (
  id INT UNSIGNED PRIMARY KEY,
  flag TINYINT(1), u8 TINYINT UNSIGNED, u16 SMALLINT UNSIGNED, u24 MEDIUMINT UNSIGNED, u32 INT UNSIGNED,
  u64 BIGINT UNSIGNED, i64 BIGINT, dec65 DECIMAL(65,30), f FLOAT, d DOUBLE, b1 BIT(1), b10 BIT(10),
  c CHAR(5), vc VARCHAR(20), tx TEXT, bl BLOB, bin BINARY(4),
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME(6), yr YEAR,
  en ENUM('small','medium','large'), st SET('a','b','c'), js JSON))SQL";

const char* kEdgeRows = R"SQL(INSERT INTO edge VALUES
  (1, 1, 255, 65535, 16777215, 4294967295, 18446744073709551615, -9223372036854775808,
   99999999999999999999999999999999999.999999999999999999999999999999, 3.40282e38, -1.7976931348623157e308, 1, 1023,
   'abcde', 'ünïcødé 😀', 'multi\nline\ttext', x'00ff00', x'01000000',
   '1000-01-01', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.499', '-838:59:59.000000', 2155,
   'large', 'a,c', '{"a": [1, 2], "b": null}'),
  (2, 0, 0, 0, 0, 0, 0, 9223372036854775807,
   -99999999999999999999999999999999999.999999999999999999999999999999, -1.5, 0.1, 0, 0,
   'zzzzz', '', '', x'', x'00000000',
   '2024-02-29', '2024-02-29 13:01:02.000001', '1970-01-01 00:00:01.000', '-00:00:00.010000', 1901,
   'small', '', '[]'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL))SQL";

// Every row of a table (with an optional filter), read through cdc's connector for `url`.
std::vector<cdc::Row> read_all(const std::string& url, const std::string& table, const std::string& where = "") {
  auto source = cdc::ConnectorRegistry::instance().open_source(url);
  auto tables = source->discover([&](const cdc::TableId& id) { return id.name == table; });
  REQUIRE(tables.size() == 1);
  cdc::ReadRequest req;
  req.schema = tables[0];
  req.where = where;
  auto reader = source->read_chunk(req);
  std::vector<cdc::Row> rows, batch;
  while (reader->next(batch)) rows.insert(rows.end(), batch.begin(), batch.end());
  return rows;
}

using hetero_test::check_equal;

}  // namespace

TEST_CASE("MariaDB edge values reach PostgreSQL by snapshot and stream, and come back", "[hetero]") {
  MariaDb src("src"), back("back");
  pg_test::TempDb pg("hetero");
  {
    Maria m;
    m.exec("USE " + src.name);
    m.exec(kEdgeTable);
    m.exec(kEdgeRows);
    m.exec("CREATE TABLE zeros (id INT PRIMARY KEY, d DATE, dt DATETIME, keep DATE)");
    m.exec("INSERT INTO zeros VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00'), (2, '2024-01-01', NULL, '2024-01-01')");
  }
  cdc::Config config;
  config.source = mariadb_url(src.name);
  config.destination = pg.url();
  config.poll_interval_ms = 50;
  config.retry.initial_delay_ms = 50;
  config.cast.push_back({"", "zeros.keep", "text"});  // per-column alternative: keep zero dates as text

  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return session.status().state == cdc::SessionState::Streaming; }));
  {
    Maria m;
    m.exec("USE " + src.name);
    m.exec("SET sql_mode = ''");
    // Through the binlog: a new row with edge values, an update of edge values, a zero date.
    m.exec(R"SQL(INSERT INTO edge VALUES (4, 1, 200, 1, 2, 3, 18446744073709551614, -1, 0.000000000000000000000000000001,
              1.5, 2.5, 1, 512, 'qwert', 'stream', 'x', x'ff', x'ff000000', '2000-01-01', '2000-01-01 00:00:00.5',
              '2000-01-01 00:00:00.250', '838:59:59.000000', 2000, 'medium', 'b,c', '{"k": "v"}'))SQL");
    m.exec("UPDATE edge SET u64 = 12345678901234567890, tm = '-00:00:00.010000', st = 'a,b,c' WHERE id = 2");
    m.exec("INSERT INTO zeros VALUES (3, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00')");
  }
  pg_test::Conn p(pg.url());
  REQUIRE(eventually([&] { return p.count("zeros") == 3 && p.count("edge") == 4 && p.scalar("SELECT u64 FROM edge WHERE id = 2") == "12345678901234567890"; }));
  // The zero dates that became NULL (d and dt of rows 1 and 3; keep is cast to text) are counted.
  CHECK(by_table(session.status())["zeros"].values_changed == 4);
  CHECK(by_table(session.status())["edge"].values_changed == 0);
  stop_streaming(session);

  // PostgreSQL's own text of what arrived.
  CHECK(p.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'edge'::regclass AND attnum > 0 ORDER BY attnum") ==
        std::vector<std::string>{"bigint", "smallint", "smallint", "integer", "integer", "bigint", "numeric(20,0)", "bigint",
                                 "numeric(65,30)", "real", "double precision", "boolean", "bit(10)",
                                 "character(5)", "character varying(20)", "text", "bytea", "bytea", "date",
                                 "timestamp(6) without time zone", "timestamp(3) with time zone", "interval", "smallint",
                                 "edge_en", "text[]", "json"});
  p.exec("SET TimeZone = 'UTC'");
  CHECK(p.rows("SELECT flag, u8, u64, i64, b1, b10, tm, ts, dtm, yr, en, st, js FROM edge ORDER BY id") ==
        std::vector<std::string>{
            "1 | 255 | 18446744073709551615 | -9223372036854775808 | t | 1111111111 | -838:59:59 | 2038-01-19 03:14:07.499+00 | "
            "9999-12-31 23:59:59.999999 | 2155 | large | {a,c} | {\"a\": [1, 2], \"b\": null}",
            "0 | 0 | 12345678901234567890 | 9223372036854775807 | f | 0000000000 | -00:00:00.01 | 1970-01-01 00:00:01+00 | "
            "2024-02-29 13:01:02.000001 | 1901 | small | {a,b,c} | []",
            "NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL",
            "1 | 200 | 18446744073709551614 | -1 | t | 1000000000 | 838:59:59 | 2000-01-01 00:00:00.25+00 | "
            "2000-01-01 00:00:00.5 | 2000 | medium | {b,c} | {\"k\": \"v\"}"});
  CHECK(p.rows("SELECT vc, encode(bl, 'hex'), encode(bin, 'hex'), dec65 FROM edge WHERE id = 1") ==
        std::vector<std::string>{"ünïcødé 😀 | 00ff00 | 01000000 | 99999999999999999999999999999999999.999999999999999999999999999999"});
  // Zero dates: NULL by default (snapshot and stream alike), kept as text where the config says so.
  CHECK(p.rows("SELECT id, d, dt, keep FROM zeros ORDER BY id") ==
        std::vector<std::string>{"1 | NULL | NULL | 0000-00-00", "2 | 2024-01-01 | NULL | 2024-01-01", "3 | NULL | NULL | 0000-00-00"});

  // verify with the config compares each source row as the mapper converts it.
  cdc::VerifyOptions vo;
  vo.config = &config;
  check_equal(cdc::verify(config.source, config.destination, vo));

  // And back to MariaDB: equal to the original wherever the mapping is lossless (edge is).
  cdc::Config back_config;
  back_config.source = pg.url();
  back_config.destination = mariadb_url(back.name);
  back_config.include = {"*edge"};
  check_done(copy_once(back_config));
  cdc::VerifyOptions same;
  same.include = {"edge"};
  check_equal(cdc::verify(mariadb_url(src.name), mariadb_url(back.name), same));
}

TEST_CASE("TINYINT(1) keeps 2 and -1 by default, cast to boolean refuses them with the row key", "[hetero]") {
  MariaDb src("bad");
  pg_test::TempDb pg("bad");
  {
    Maria m;
    m.exec("USE " + src.name);
    m.exec("CREATE TABLE flags (id INT PRIMARY KEY, f TINYINT(1))");
    m.exec("INSERT INTO flags VALUES (1, 1), (2, 2), (3, -1), (4, 0)");
    m.exec("CREATE TABLE fine (id INT PRIMARY KEY, v VARCHAR(10))");
    m.exec("INSERT INTO fine VALUES (1, 'x')");
  }
  cdc::Config config;
  config.source = mariadb_url(src.name);
  config.destination = pg.url();
  // By default a TINYINT(1) is the small integer it is: every value arrives.
  config.name = "default";
  check_done(copy_once(config));
  {
    pg_test::Conn p(pg.url());
    CHECK(p.rows("SELECT id, f, pg_typeof(f) FROM flags ORDER BY id") ==
          std::vector<std::string>{"1 | 1 | smallint", "2 | 2 | smallint", "3 | -1 | smallint", "4 | 0 | smallint"});
    p.exec("DROP TABLE flags");
  }

  // Booleans on request; a value other than 0 or 1 then fails the table (on_conversion_error: fail)...
  config.cast.push_back({"tinyint(1)", "", "boolean"});
  config.name = "failing";
  config.on_conversion_error = cdc::Config::OnConversionError::Fail;
  auto status = copy_once(config);
  std::map<std::string, cdc::TableStatus> by;
  for (const auto& t : status.tables) by[t.source.substr(t.source.rfind('.') + 1)] = t;
  CHECK(by["fine"].phase == cdc::TablePhase::Done);
  CHECK(by["flags"].phase == cdc::TablePhase::Failed);
  CHECK_THAT(by["flags"].error, Catch::Contains("column f (id=2): 2 is not a boolean (0 or 1)"));

  // ... or, with quarantine (the default), is kept aside in cdc_metadata.quarantine, the rest copied.
  config.name = "quarantined";
  config.on_conversion_error = cdc::Config::OnConversionError::Quarantine;
  pg_test::Conn(pg.url()).exec("DROP TABLE flags");
  check_done(copy_once(config));
  pg_test::Conn p(pg.url());
  CHECK(p.rows("SELECT id, f FROM flags ORDER BY id") == std::vector<std::string>{"1 | t", "4 | f"});
  CHECK(p.rows("SELECT source_table, row_key, column_name, raw_value, error, position FROM cdc_metadata.quarantine ORDER BY row_key") ==
        std::vector<std::string>{"flags | id=2 | f | 2 | 2 is not a boolean (0 or 1) | snapshot",
                                 "flags | id=3 | f | -1 | -1 is not a boolean (0 or 1) | snapshot"});
}

TEST_CASE("PostgreSQL values MariaDB cannot hold go to its quarantine table", "[hetero][quarantine]") {
  pg_test::TempDb pg("q");
  MariaDb dst("q");
  {
    pg_test::Conn p(pg.url());
    p.exec("CREATE TABLE events (id int PRIMARY KEY, at timestamptz, amount numeric)");
    p.exec("INSERT INTO events VALUES (1, '2024-03-01 01:30:00.5+05:30', 12.5), (2, 'infinity', 1), "
           "(3, '2024-01-01 00:00:00+00', 1.0000000000000000000000000000001)");
  }
  cdc::Config config;
  config.source = pg.url();
  config.destination = mariadb_url(dst.name);
  auto status = copy_once(config);
  REQUIRE(status.tables.size() == 1);
  CHECK(status.tables[0].phase == cdc::TablePhase::Done);
  CHECK(status.tables[0].quarantined == 2);

  // What arrived, and what was kept aside with the reason, as MariaDB returns it.
  auto rows = read_all(mariadb_url(dst.name), "events");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0][0].to_display() == "1");
  CHECK(rows[0][1].text() == "2024-02-29 20:00:00.500000");  // converted to UTC
  CHECK(rows[0][2].text().rfind("12.5", 0) == 0);

  MYSQL* raw = mysql_init(nullptr);
  auto u = cdc::ConnectorUrl::parse(mariadb_url(dst.name));
  REQUIRE(mysql_real_connect(raw, u.host.c_str(), u.user.c_str(), nullptr, dst.name.c_str(), static_cast<unsigned>(u.port), nullptr, 0));
  const std::string q = "SELECT source_table, row_key, column_name, raw_value, error FROM _cdc_quarantine ORDER BY id";
  REQUIRE(mysql_real_query(raw, q.data(), q.size()) == 0);
  MYSQL_RES* res = mysql_store_result(raw);
  std::vector<std::string> got;
  while (MYSQL_ROW r = mysql_fetch_row(res)) got.push_back(std::string(r[0]) + " | " + r[1] + " | " + r[2] + " | " + r[3] + " | " + r[4]);
  mysql_free_result(res);
  mysql_close(raw);
  CHECK(got == std::vector<std::string>{
                   "public.events | id=2 | at | 'infinity' | infinity has no DATETIME equivalent",
                   "public.events | id=3 | amount | '1.0000000000000000000000000000001' | 1.0000000000000000000000000000001 has more "
                   "than 30 fractional digits (numeric(65,30)); it would be rounded"});
}

namespace {

// ENUM and SET labels with quotes, a comma (ENUM only: SET labels cannot hold one), a backslash,
// spaces, Unicode and the word NULL.
const char* kLabelsTable = R"SQL(CREATE TABLE labels (id INT PRIMARY KEY,
  en ENUM('small','it''s','a,b','ünï ✓','with "dq"','back\\slash','NULL'),
  st SET('red','green','it''s','ünï ✓','x y','"q"','back\\slash','NULL')))SQL";

const char* kLabelsRows = R"SQL(INSERT INTO labels VALUES
  (1, 'small', 'red,green'), (2, 'it''s', ''), (3, 'ünï ✓', 'red,green,it''s,ünï ✓,x y,"q",back\\slash,NULL'),
  (4, 'with "dq"', 'x y,"q"'), (5, NULL, NULL), (6, 'a,b', 'back\\slash,NULL'), (7, 'back\\slash', 'NULL'),
  (8, 'NULL', 'green'))SQL";

// What PostgreSQL prints for kLabelsRows (psql's text output of the enum and the text[]).
const std::vector<std::string> kLabelsInPg = {
    "1 | small | {red,green}",
    "2 | it's | {}",
    "3 | ünï ✓ | {red,green,it's,\"ünï ✓\",\"x y\",\"\\\"q\\\"\",\"back\\\\slash\",\"NULL\"}",
    "4 | with \"dq\" | {\"x y\",\"\\\"q\\\"\"}",
    "5 | NULL | NULL",
    "6 | a,b | {\"back\\\\slash\",\"NULL\"}",
    "7 | back\\slash | {\"NULL\"}",
    "8 | NULL | {green}"};

std::vector<std::string> with_ids(std::vector<std::string> rows, int offset) {
  for (auto& r : rows) {
    auto bar = r.find(' ');
    r = std::to_string(std::stoi(r.substr(0, bar)) + offset) + r.substr(bar);
  }
  return rows;
}

cdc::SessionStatus run_until_streaming(cdc::ReplicationSession& session) {
  session.start();
  REQUIRE(eventually([&] { return session.status().state == cdc::SessionState::Streaming; }));
  return session.status();
}

}  // namespace

TEST_CASE("MariaDB SET and ENUM reach PostgreSQL as text[] and enum types by snapshot and stream, and come back", "[hetero][enum]") {
  MariaDb src("lbl"), back("lblback");
  pg_test::TempDb pg("lbl");
  {
    Maria m;
    m.exec("USE " + src.name);
    m.exec(kLabelsTable);
    m.exec(kLabelsRows);
    // enum_as per table: a CHECK constraint, and plain text.
    m.exec("CREATE TABLE checked (id INT PRIMARY KEY, e ENUM('x','y''z') NOT NULL)");
    m.exec("CREATE TABLE plain (id INT PRIMARY KEY, e ENUM('x','y''z'))");
    m.exec("INSERT INTO checked VALUES (1, 'y''z')");
    m.exec("INSERT INTO plain VALUES (1, 'x'), (2, 'bogus')");  // sql_mode '': stored as ''
    // The empty ENUM value MariaDB stores for invalid input.
    m.exec("CREATE TABLE badenum (id INT PRIMARY KEY, en ENUM('a','b'))");
    m.exec("INSERT INTO badenum VALUES (1, 'a'), (2, 'bogus')");
  }
  cdc::Config config;
  config.name = "labels";
  config.source = mariadb_url(src.name);
  config.destination = pg.url();
  config.poll_interval_ms = 50;
  config.retry.initial_delay_ms = 50;
  config.tables["checked"].enum_as = cdc::EnumAs::Check;
  config.tables["plain"].enum_as = cdc::EnumAs::Text;
  {
    cdc::ReplicationSession session(config);
    run_until_streaming(session);
    Maria m;
    m.exec("USE " + src.name);
    m.exec("SET sql_mode = ''");
    // Through the binlog: the same values again (ids + 100), an update, another invalid ENUM.
    m.exec("INSERT INTO labels SELECT id + 100, en, st FROM labels");
    m.exec("UPDATE labels SET en = 'with \"dq\"', st = '' WHERE id = 1");
    m.exec("INSERT INTO badenum VALUES (3, 'bogus'), (4, 'b')");
    pg_test::Conn p(pg.url());
    REQUIRE(eventually([&] {
      return p.count("labels") == 16 && p.count("badenum") == 4 && p.scalar("SELECT st FROM labels WHERE id = 1") == "{}";
    }));
    session.stop();
    session.wait();
  }
  pg_test::Conn p(pg.url());
  // Types: an enum type per ENUM (labels and their order kept), text[] per SET with its labels in
  // the comment, a CHECK constraint where enum_as says check, nothing where it says text.
  CHECK(p.rows("SELECT attname, format_type(atttypid, atttypmod), coalesce(col_description(attrelid, attnum), '') FROM pg_attribute "
               "WHERE attrelid = 'labels'::regclass AND attnum > 0 ORDER BY attnum") ==
        std::vector<std::string>{"id | integer | ", "en | labels_en | ",
                                 "st | text[] | cdc: MariaDB SET {red,green,it's,\"ünï ✓\",\"x y\",\"\\\"q\\\"\",\"back\\\\slash\",\"NULL\"}"});
  CHECK(p.rows("SELECT enumlabel FROM pg_enum WHERE enumtypid = 'labels_en'::regtype ORDER BY enumsortorder") ==
        std::vector<std::string>{"", "small", "it's", "a,b", "ünï ✓", "with \"dq\"", "back\\slash", "NULL"});
  CHECK(p.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid IN ('checked'::regclass, 'plain'::regclass) "
               "AND attname = 'e' ORDER BY attrelid::regclass::text") == std::vector<std::string>{"text", "text"});
  CHECK(p.rows("SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' AND "
               "conrelid IN ('checked'::regclass, 'plain'::regclass)") ==
        std::vector<std::string>{"checked | CHECK ((e = ANY (ARRAY[''::text, 'x'::text, 'y''z'::text])))"});
  CHECK(p.rows("SELECT id, e FROM checked") == std::vector<std::string>{"1 | y'z"});
  CHECK(p.rows("SELECT id, e FROM plain ORDER BY id") == std::vector<std::string>{"1 | x", "2 | "});

  // Snapshot rows as PostgreSQL prints them, and the stream's copies identical value by value.
  auto snap = p.rows("SELECT id, en, st FROM labels WHERE id < 100 ORDER BY id");
  auto streamed = p.rows("SELECT id, en, st FROM labels WHERE id > 100 ORDER BY id");
  std::vector<std::string> expected = kLabelsInPg;
  expected[0] = "1 | with \"dq\" | {}";  // updated through the stream
  CHECK(snap == expected);
  CHECK(streamed == with_ids(kLabelsInPg, 100));

  // '' (MariaDB's value for an invalid ENUM input) is the enum type's first label: copied by
  // snapshot and stream alike, sorting before the others as in MariaDB; nothing quarantined.
  CHECK(p.rows("SELECT id, en FROM badenum ORDER BY en, id") == std::vector<std::string>{"2 | ", "3 | ", "1 | a", "4 | b"});
  CHECK(p.rows("SELECT count(*) FROM cdc_metadata.quarantine") == std::vector<std::string>{"0"});

  // A restart finds its enum types in place; a fresh session (new name, so a new snapshot into the
  // existing tables) too, and a new label in the source is added to the type.
  {
    Maria m;
    m.exec("USE " + src.name);
    m.exec("ALTER TABLE labels MODIFY en ENUM('small','it''s','a,b','ünï ✓','with \"dq\"','back\\\\slash','NULL','new')");
    m.exec("INSERT INTO labels VALUES (200, 'new', 'red')");
  }
  config.name = "labels-again";
  check_done(copy_once(config));
  CHECK(p.scalar("SELECT en || ' ' || st::text FROM labels WHERE id = 200") == "new {red}");
  CHECK(p.rows("SELECT count(*) FROM pg_type WHERE typname = 'labels_en'") == std::vector<std::string>{"1"});

  cdc::VerifyOptions vo;
  vo.config = &config;
  vo.include = {"labels", "checked", "plain"};
  check_equal(cdc::verify(config.source, config.destination, vo));

  // Back to MariaDB: the enum type becomes ENUM, the marked text[] becomes SET, values equal the original.
  cdc::Config back_config;
  back_config.source = pg.url();
  back_config.destination = mariadb_url(back.name);
  back_config.include = {"*labels"};
  check_done(copy_once(back_config));
  Maria m;
  CHECK(m.rows("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" + back.name +
               "' AND TABLE_NAME = 'labels' ORDER BY ORDINAL_POSITION") ==
        std::vector<std::string>{"id | int(11)", "en | enum('','small','it''s','a,b','ünï ✓','with \"dq\"','back\\\\slash','NULL','new')",
                                 "st | set('red','green','it''s','ünï ✓','x y','\"q\"','back\\\\slash','NULL')"});
  CHECK(m.rows("SELECT id, en, st FROM " + back.name + ".labels ORDER BY id") ==
        m.rows("SELECT id, en, st FROM " + src.name + ".labels ORDER BY id"));
  cdc::VerifyOptions same;
  same.include = {"labels"};
  check_equal(cdc::verify(mariadb_url(src.name), mariadb_url(back.name), same));
}

TEST_CASE("PostgreSQL arrays reach MariaDB as JSON by snapshot and stream", "[hetero][arrays]") {
  pg_test::TempDb pg("arr");
  MariaDb dst("arr");
  const char* row = R"SQL((1, '{1,2,NULL}', '{plain,"with \"quotes\"","back\\slash",NULL,"NULL","","ünï 😀"}', '{{1,2},{3,NULL}}',
      '{}', '[0:1]={7,8}', '{"2024-03-01 01:30:00.5+05:30",NULL}', '{"{\"a\": [1, \"x\"]}"}', '{1.50,-2}', '{t,f}'))SQL";
  {
    pg_test::Conn p(pg.url());
    p.exec("CREATE TABLE arr (id int PRIMARY KEY, ia int[], ta text[], m int[][], e int[], b int[], ts timestamptz[], js jsonb[], "
           "nb numeric[], bo boolean[])");
    p.exec(std::string("INSERT INTO arr VALUES ") + row + ", (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
  }
  cdc::Config config;
  config.source = pg.url();
  config.destination = mariadb_url(dst.name);
  config.poll_interval_ms = 50;
  config.retry.initial_delay_ms = 50;
  cdc::ReplicationSession session(config);
  run_until_streaming(session);
  {
    pg_test::Conn p(pg.url());
    p.exec("INSERT INTO arr SELECT id + 10, ia, ta, m, e, b, ts, js, nb, bo FROM arr");
    p.exec("UPDATE arr SET ia = '{{{1}},{{NULL}}}', ta = '{}' WHERE id = 2");
  }
  Maria m;
  const std::string q = "SELECT id, ia, ta, m, e, b, ts, js, nb, bo FROM " + dst.name + ".arr";
  REQUIRE(eventually([&] { return m.rows(q + " WHERE id = 2") == std::vector<std::string>{
                                      "2 | [[[1]],[[null]]] | [] | NULL | NULL | NULL | NULL | NULL | NULL | NULL"} &&
                                  m.rows(q + " WHERE id > 10").size() == 2; }));
  session.stop();
  session.wait();
  const std::string one =
      R"J(1 | [1,2,null] | ["plain","with \"quotes\"","back\\slash",null,"NULL","","ünï 😀"] | [[1,2],[3,null]] | [] | [7,8] | )J"
      R"J(["2024-02-29 20:00:00.5",null] | [{"a": [1, "x"]}] | [1.50,-2] | [true,false])J";
  CHECK(m.rows(q + " WHERE id = 1") == std::vector<std::string>{one});
  CHECK(m.rows(q + " WHERE id = 11") == std::vector<std::string>{"11" + one.substr(1)});  // the stream's copy, identical
  CHECK(m.rows(q + " WHERE id = 12") == std::vector<std::string>{"12 | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL"});
  CHECK(m.rows("SELECT COUNT(*) FROM " + dst.name + ".arr WHERE JSON_VALID(ia) AND JSON_VALID(ta) AND JSON_VALID(m) AND JSON_VALID(js)") ==
        std::vector<std::string>{"2"});  // ids 1 and 11 (the others hold NULLs)
  cdc::VerifyOptions vo;
  vo.config = &config;
  check_equal(cdc::verify(config.source, config.destination, vo));

  // To SQLite: the same JSON, as text.
  pg_test::TempDir dir;  // removed with the SQLite file's -wal and -shm companions
  const std::string file = dir.file("arrays.db");
  cdc::Config lite;
  lite.source = pg.url();
  lite.destination = "sqlite://" + file;
  check_done(copy_once(lite));
  auto batch = read_all(lite.destination, "arr", "id = 1");
  REQUIRE(batch.size() == 1);
  CHECK(batch[0][1].text() == "[1,2,null]");
  CHECK(batch[0][2].text() == R"J(["plain","with \"quotes\"","back\\slash",null,"NULL","","ünï 😀"])J");
  CHECK(batch[0][3].text() == "[[1,2],[3,null]]");
  CHECK(batch[0][8].text() == R"J(["1.50","-2"])J");  // SQLite's rule for numeric: exact digits as text
  cdc::VerifyOptions lv;
  lv.config = &lite;
  check_equal(cdc::verify(lite.source, lite.destination, lv));
}

TEST_CASE("verify follows shortened, renamed and retargeted names", "[hetero][verify]") {
  MariaDb src("names");
  pg_test::TempDb pg("names");
  // 64 characters: MariaDB's limit, one more than PostgreSQL's.
  const std::string table = "orders_with_a_rather_long_descriptive_name_for_the_test_of_names";
  const std::string column = "customer_reference_with_a_rather_long_descriptive_name_for_tests";
  REQUIRE(table.size() == 64);
  REQUIRE(column.size() == 64);
  {
    Maria m;
    m.exec("USE " + src.name);
    m.exec("CREATE TABLE " + table + " (id INT PRIMARY KEY, " + column + " VARCHAR(20), en ENUM('a','b'))");
    m.exec("INSERT INTO " + table + " VALUES (1, 'x', 'a'), (2, 'y', 'b'), (3, NULL, NULL)");
    m.exec("CREATE TABLE short_src (id INT PRIMARY KEY, old_name INT, kept TEXT)");
    m.exec("INSERT INTO short_src VALUES (1, 10, 'p'), (2, 20, 'q')");
  }
  cdc::Config config;
  config.source = mariadb_url(src.name);
  config.destination = pg.url();
  config.tables["short_src"].target = "renamed_target";
  config.tables["short_src"].rename["old_name"] = "new_name";
  auto status = copy_once(config);
  check_done(status);
  const std::string pg_table = cdc::fit_identifier(table, 63), pg_column = cdc::fit_identifier(column, 63);
  pg_test::Conn p(pg.url());
  CHECK(p.rows("SELECT id, \"" + pg_column + "\", en FROM \"" + pg_table + "\" ORDER BY id") ==
        std::vector<std::string>{"1 | x | a", "2 | y | b", "3 | NULL | NULL"});
  CHECK(p.rows("SELECT typname FROM pg_type WHERE typtype = 'e'") ==
        std::vector<std::string>{cdc::fit_identifier(pg_table + "_en", 63)});
  CHECK(p.rows("SELECT id, new_name, kept FROM renamed_target ORDER BY id") == std::vector<std::string>{"1 | 10 | p", "2 | 20 | q"});

  cdc::VerifyOptions vo;
  vo.config = &config;
  auto report = cdc::verify(config.source, config.destination, vo);
  check_equal(report);
  REQUIRE(report.tables.size() == 2);  // sorted by source name
  CHECK(report.tables[0].source == table);
  CHECK(report.tables[0].target == pg_table);
  CHECK(report.tables[1].source == "short_src");
  CHECK(report.tables[1].target == "renamed_target");
  // Without a config the shortened names are followed too.
  cdc::VerifyOptions plain;
  plain.include = {table};
  check_equal(cdc::verify(config.source, config.destination, plain));

  // One changed value at the target: verify names the table and the key.
  p.exec("UPDATE \"" + pg_table + "\" SET \"" + pg_column + "\" = 'changed' WHERE id = 2");
  p.exec("UPDATE renamed_target SET new_name = 11 WHERE id = 1");
  report = cdc::verify(config.source, config.destination, vo);
  REQUIRE(report.tables.size() == 2);
  CHECK(report.tables[0].source == table);
  CHECK_FALSE(report.tables[0].equal);
  CHECK(report.tables[0].differing_keys == std::vector<std::string>{"id=2 (values differ)"});
  CHECK(report.tables[1].source == "short_src");
  CHECK_FALSE(report.tables[1].equal);
  CHECK(report.tables[1].differing_keys == std::vector<std::string>{"id=1 (values differ)"});
}

TEST_CASE("text with a NUL byte is quarantined for PostgreSQL, or kept as bytea by a column cast", "[hetero][nul]") {
  MariaDb src("nul");
  pg_test::TempDb pg("nul");
  {
    Maria m;
    m.exec("USE " + src.name);
    m.exec("CREATE TABLE notes (id INT PRIMARY KEY, v VARCHAR(10))");
    m.exec("INSERT INTO notes VALUES (1, 'plain'), (2, CONCAT('a', CHAR(0), 'b'))");
    m.exec("CREATE TABLE kept (id INT PRIMARY KEY, v VARCHAR(10))");
    m.exec("INSERT INTO kept VALUES (1, CONCAT('a', CHAR(0), 'b'))");
  }
  cdc::Config config;
  config.source = mariadb_url(src.name);
  config.destination = pg.url();
  config.cast.push_back({"", "kept.v", "bytea"});
  check_done(copy_once(config));
  pg_test::Conn p(pg.url());
  CHECK(p.rows("SELECT id, v FROM notes") == std::vector<std::string>{"1 | plain"});
  CHECK(p.rows("SELECT row_key, column_name, error FROM cdc_metadata.quarantine") ==
        std::vector<std::string>{"id=2 | v | text with a NUL byte, which PostgreSQL text cannot hold (cast the column to bytea to keep it)"});
  CHECK(p.rows("SELECT id, encode(v, 'hex'), pg_typeof(v) FROM kept") == std::vector<std::string>{"1 | 610062 | bytea"});
}
