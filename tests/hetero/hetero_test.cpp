// MariaDB -> PostgreSQL -> MariaDB through the type mapper, against both throwaway servers:
// every type of the mapping table with edge values, by snapshot and by the binlog stream,
// checked value by value in PostgreSQL's own text and by verify (converted source = target),
// then copied back and compared with the original wherever the mapping is lossless.
#include "maria_test_util.h"
#include "pg_test_util.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <thread>

namespace {

using namespace maria_test;

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

template <typename Pred>
bool eventually(Pred pred, int tries = 300) {
  for (int i = 0; i < tries; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void check_equal(const cdc::VerifyReport& report) {
  REQUIRE_FALSE(report.tables.empty());
  for (const auto& t : report.tables) {
    INFO(t.source << " -> " << t.target << ": " << t.source_rows << " vs " << t.target_rows << " " << t.error);
    for (const auto& k : t.differing_keys) INFO(k);
    CHECK(t.equal);
  }
}

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
  auto status = session.status();
  session.stop();
  session.wait();
  for (const auto& t : status.tables) {
    INFO(t.source << ": " << t.error);
    CHECK(t.phase == cdc::TablePhase::Streaming);
  }

  // PostgreSQL's own text of what arrived.
  CHECK(p.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'edge'::regclass AND attnum > 0 ORDER BY attnum") ==
        std::vector<std::string>{"bigint", "boolean", "smallint", "integer", "integer", "bigint", "numeric(20,0)", "bigint",
                                 "numeric(65,30)", "real", "double precision", "boolean", "bit varying(10)",
                                 "character(5)", "character varying(20)", "text", "bytea", "bytea", "date",
                                 "timestamp(6) without time zone", "timestamp(3) with time zone", "interval", "smallint",
                                 "text", "text", "jsonb"});
  p.exec("SET TimeZone = 'UTC'");
  CHECK(p.rows("SELECT flag, u8, u64, i64, b1, b10, tm, ts, dtm, yr, en, st, js FROM edge ORDER BY id") ==
        std::vector<std::string>{
            "t | 255 | 18446744073709551615 | -9223372036854775808 | t | 1111111111 | -838:59:59 | 2038-01-19 03:14:07.499+00 | "
            "9999-12-31 23:59:59.999999 | 2155 | large | a,c | {\"a\": [1, 2], \"b\": null}",
            "f | 0 | 12345678901234567890 | 9223372036854775807 | f | 0000000000 | -00:00:00.01 | 1970-01-01 00:00:01+00 | "
            "2024-02-29 13:01:02.000001 | 1901 | small | a,b,c | []",
            "NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL",
            "t | 200 | 18446744073709551614 | -1 | t | 1000000000 | 838:59:59 | 2000-01-01 00:00:00.25+00 | "
            "2000-01-01 00:00:00.5 | 2000 | medium | b,c | {\"k\": \"v\"}"});
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
  cdc::SessionOptions copy;
  copy.snapshot_only = true;
  auto back_status = cdc::ReplicationSession(back_config, copy).run();
  for (const auto& t : back_status.tables) {
    INFO(t.source << ": " << t.error);
    CHECK(t.phase == cdc::TablePhase::Done);
  }
  cdc::VerifyOptions same;
  same.include = {"edge"};
  check_equal(cdc::verify(mariadb_url(src.name), mariadb_url(back.name), same));
}

TEST_CASE("values PostgreSQL cannot hold stop their table with the row key, the others go on", "[hetero]") {
  MariaDb src("bad");
  pg_test::TempDb pg("bad");
  {
    Maria m;
    m.exec("USE " + src.name);
    m.exec("CREATE TABLE flags (id INT PRIMARY KEY, f TINYINT(1))");
    m.exec("INSERT INTO flags VALUES (1, 1), (2, 2)");
    m.exec("CREATE TABLE fine (id INT PRIMARY KEY, v VARCHAR(10))");
    m.exec("INSERT INTO fine VALUES (1, 'x')");
  }
  cdc::Config config;
  config.source = mariadb_url(src.name);
  config.destination = pg.url();
  config.on_conversion_error = cdc::Config::OnConversionError::Fail;
  cdc::SessionOptions copy;
  copy.snapshot_only = true;
  auto status = cdc::ReplicationSession(config, copy).run();
  std::map<std::string, cdc::TableStatus> by;
  for (const auto& t : status.tables) by[t.source.substr(t.source.rfind('.') + 1)] = t;
  CHECK(by["fine"].phase == cdc::TablePhase::Done);
  CHECK(by["flags"].phase == cdc::TablePhase::Failed);
  CHECK_THAT(by["flags"].error, Catch::Contains("column f (id=2): 2 is not a boolean (0 or 1)"));

  // With quarantine (the default) the row is kept aside in cdc_metadata.quarantine, the rest copied.
  config.name = "quarantined";
  config.on_conversion_error = cdc::Config::OnConversionError::Quarantine;
  auto quarantined = cdc::ReplicationSession(config, copy).run();
  for (const auto& t : quarantined.tables) {
    INFO(t.source << ": " << t.error);
    CHECK(t.phase == cdc::TablePhase::Done);
  }
  {
    pg_test::Conn p(pg.url());
    CHECK(p.rows("SELECT id, f FROM flags ORDER BY id") == std::vector<std::string>{"1 | t"});
    CHECK(p.rows("SELECT source_table, row_key, column_name, raw_value, error, position FROM cdc_metadata.quarantine") ==
          std::vector<std::string>{"flags | id=2 | f | 2 | 2 is not a boolean (0 or 1) | snapshot"});
  }

  // The override keeps the value, and changes the created type.
  config.name = "with-cast";
  pg_test::Conn(pg.url()).exec("DROP TABLE flags");  // created as boolean by the first run
  config.cast.push_back({"tinyint(1)", "", "smallint"});
  auto again = cdc::ReplicationSession(config, copy).run();
  for (const auto& t : again.tables) CHECK(t.phase == cdc::TablePhase::Done);
  pg_test::Conn p(pg.url());
  CHECK(p.rows("SELECT id, f, pg_typeof(f) FROM flags ORDER BY id") == std::vector<std::string>{"1 | 1 | smallint", "2 | 2 | smallint"});
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
  cdc::SessionOptions copy;
  copy.snapshot_only = true;
  auto status = cdc::ReplicationSession(config, copy).run();
  REQUIRE(status.tables.size() == 1);
  CHECK(status.tables[0].phase == cdc::TablePhase::Done);
  CHECK(status.tables[0].quarantined == 2);

  // What arrived, and what was kept aside with the reason, as MariaDB returns it.
  auto target = cdc::ConnectorRegistry::instance().open_source(mariadb_url(dst.name));
  auto tables = target->discover([](const cdc::TableId& id) { return id.name == "events"; });
  REQUIRE(tables.size() == 1);
  cdc::ReadRequest req;
  req.schema = tables[0];
  auto reader = target->read_chunk(req);
  std::vector<cdc::Row> rows, batch;
  while (reader->next(batch)) rows.insert(rows.end(), batch.begin(), batch.end());
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
