// verify against the throwaway servers, over every type rule in every direction the mapper has
// (MariaDB -> PostgreSQL, PostgreSQL -> MariaDB, SQLite -> both): each table holds its types'
// boundary values, is copied, and must verify equal (CHAR padded by PostgreSQL and stripped by
// MariaDB included); then a one-character change is planted in the copy of each column in turn,
// and verify must find it and name the row.
#include "maria_test_util.h"
#include "pg_test_util.h"
#include "session_test_util.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace maria_test;
using namespace hetero_test;

// A column of the copy and a value one character away from what row 1 holds there, as a SQL
// literal of the target's dialect.
using Plants = std::vector<std::pair<std::string, std::string>>;

cdc::VerifyReport verify_types(const cdc::Config& config) {
  cdc::VerifyOptions options;
  options.config = &config;
  options.include = {"types"};
  return cdc::verify(config.source, config.destination, options);
}

// Plants each change in row 1 of the copy (`table`, the target's name for it), runs verify, and
// puts the column back from a saved copy of the table before the next one.
void check_each_plant_caught(const cdc::Config& config, const std::function<void(const std::string&)>& exec, bool mariadb,
                             const std::string& table, const Plants& plants) {
  const std::string saved = table + "_saved";
  exec("CREATE TABLE " + saved + " AS SELECT * FROM " + table);
  for (const auto& [column, literal] : plants) {
    INFO("planted " << column << " = " << literal);
    const std::string col = mariadb ? "`" + column + "`" : "\"" + column + "\"";
    exec("UPDATE " + table + " SET " + col + " = " + literal + " WHERE id = 1");
    auto report = verify_types(config);
    REQUIRE(report.tables.size() == 1);
    INFO(pg_test::describe(report));
    CHECK_FALSE(report.tables[0].equal);
    CHECK(report.tables[0].differing_keys == std::vector<std::string>{"id=1 (values differ)"});
    if (mariadb)
      exec("UPDATE " + table + " t JOIN " + saved + " s ON t.id = s.id SET t." + col + " = s." + col);
    else
      exec("UPDATE " + table + " t SET " + col + " = s." + col + " FROM " + saved + " s WHERE t.id = s.id");
  }
  check_equal(verify_types(config), 1);
}

void check_copy_verifies(const cdc::Config& config) {
  check_done(hetero_test::copy_once(config));
  auto report = verify_types(config);
  INFO(pg_test::describe(report));
  check_equal(report, 1);
}

}  // namespace

TEST_CASE("verify: MariaDB to PostgreSQL, every type at its bounds, and a planted difference per type", "[hetero][verify]") {
  MariaDb src("vsrc");
  pg_test::TempDb pg("vdst");
  {
    Maria m;
    m.exec("USE " + src.name);
    m.exec(R"SQL(CREATE TABLE types (id INT PRIMARY KEY,
      flag TINYINT(1), i8 TINYINT, u8 TINYINT UNSIGNED, i16 SMALLINT, u16 SMALLINT UNSIGNED, i24 MEDIUMINT,
      u24 MEDIUMINT UNSIGNED, i32 INT, u32 INT UNSIGNED, i64 BIGINT, u64 BIGINT UNSIGNED, dc DECIMAL(65,30), f FLOAT,
      d DOUBLE, b1 BIT(1), b64 BIT(64), c CHAR(5), vc VARCHAR(20), tx TEXT, bl BLOB, bin BINARY(4), dt DATE,
      dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), yr YEAR, en ENUM('a','b'), st SET('x','y'), js JSON))SQL");
    m.exec(R"SQL(INSERT INTO types VALUES
      (1, 127, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807,
       18446744073709551615, 99999999999999999999999999999999999.999999999999999999999999999999, 3.40282e38,
       1.7976931348623157e308, 1, b'1111111111111111111111111111111111111111111111111111111111111111', 'ab', 'ünïcødé 😀',
       'line\nbreak', x'00ff', x'01000000', '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999',
       '838:59:59.999999', 2155, 'b', 'x,y', '{"b": 1, "a": [1, 2]}'),
      (2, -128, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
       -99999999999999999999999999999999999.999999999999999999999999999999, -3.40282e38, 4.9406564584124654e-324, 0, 0,
       'abcde', '', '', x'', x'00000000', '1000-01-01', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000000',
       '-838:59:59.999999', 1901, '', '', '[]'),
      (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (4, 2, -1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0.000000000000000000000000000001, 16777217, 0.1, 0, 1, 'a    ', ' x ', ' ',
       x'00', x'ff', '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '00:00:00', 0, 'a', 'y', '{"a": 1, "a": 2}'))SQL");
  }
  cdc::Config config;
  config.source = mariadb_url(src.name);
  config.destination = pg.url();
  check_copy_verifies(config);

  pg_test::Conn p(pg.url());
  CHECK(p.rows("SELECT flag, i8, f, c, en, st, js, b64 = ~0::bit(64) FROM types ORDER BY id") ==
        std::vector<std::string>{"127 | 127 | 3.40282e+38 | ab    | b | {x,y} | {\"b\": 1, \"a\": [1, 2]} | t",
                                 "-128 | -128 | -3.40282e+38 | abcde |  | {} | [] | f",
                                 "NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL",
                                 "2 | -1 | 1.6777216e+07 | a     | a | {y} | {\"a\": 1, \"a\": 2} | f"});
  CHECK(p.rows("SELECT dt, dtm, ts FROM types WHERE id = 4") == std::vector<std::string>{"NULL | NULL | NULL"});

  check_each_plant_caught(config, [&](const std::string& sql) { p.exec(sql); }, false, "types",
                          {{"flag", "126"}, {"i8", "126"}, {"u8", "254"}, {"i16", "32766"}, {"u16", "65534"}, {"i24", "8388606"},
                           {"u24", "16777214"}, {"i32", "2147483646"}, {"u32", "4294967294"}, {"i64", "9223372036854775806"},
                           {"u64", "18446744073709551614"},
                           {"dc", "99999999999999999999999999999999999.999999999999999999999999999998"}, {"f", "3.40281e38"},
                           {"d", "1.7976931348623155e308"}, {"b1", "false"},
                           {"b64", "B'1111111111111111111111111111111111111111111111111111111111111110'"}, {"c", "'ac'"},
                           {"vc", "'ünïcødé 😁'"}, {"tx", "'line\nbreaK'"}, {"bl", "'\\x00fe'"}, {"bin", "'\\x01000001'"},
                           {"dt", "'9999-12-30'"}, {"dtm", "'9999-12-31 23:59:59.999998'"}, {"ts", "'2038-01-19 03:14:07.999998+00'"},
                           {"tm", "'838:59:59.999998'"}, {"yr", "2154"}, {"en", "'a'"}, {"st", "'{x}'"},
                           {"js", "'{\"b\": 2, \"a\": [1, 2]}'"}});
  // A CHAR keeps its value when only its padding changes (PostgreSQL ignores trailing spaces).
  p.exec("UPDATE types SET c = 'ab ' WHERE id = 1");
  check_equal(verify_types(config), 1);
}

TEST_CASE("verify: PostgreSQL to MariaDB, every type at its bounds, and a planted difference per type", "[hetero][verify]") {
  pg_test::TempDb pg("vsrc");
  MariaDb dst("vdst");
  {
    pg_test::Conn p(pg.url());
    p.exec("CREATE TYPE mood AS ENUM ('sad', 'happy')");
    p.exec(R"SQL(CREATE TABLE types (id int PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint, r real,
      d double precision, n numeric(65,30), nu numeric, c char(5), vc varchar(20), t text, bya bytea, dt date, ts timestamp(6),
      tz timestamptz(6), tm time(6), ttz timetz, iv interval, bt bit(10), vb bit varying(10), u uuid, j json, jb jsonb,
      e mood, a int[], ip inet))SQL");
    p.exec(R"SQL(INSERT INTO types VALUES
      (1, true, 32767, 2147483647, 9223372036854775807, 3.4028235e38, 1.7976931348623157e308,
       99999999999999999999999999999999999.999999999999999999999999999999, 12345.6789, 'ab', 'ünïcødé 😀', E'multi\nline',
       '\x00ff', '9999-12-31', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999+00', '24:00:00', '12:00:00+05:30',
       '1 year 2 mons 3 days 04:05:06.789', B'1111111111', B'0101', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
       '{"b": 1, "a": 1, "a": 2}', '{"a": [1, 2]}', 'happy', '{1,NULL,3}', '192.168.0.1/24'),
      (2, false, -32768, -2147483648, -9223372036854775808, -3.4028235e38, 4.9406564584124654e-324,
       -99999999999999999999999999999999999.999999999999999999999999999999, -0.5, 'abcde', '', '', '\x', '0001-01-01',
       '0001-01-01 00:00:00', '0001-01-01 00:00:00+00', '00:00:00', '00:00:00-12:00', '-1 days', B'0000000000', B'',
       '00000000-0000-0000-0000-000000000000', '[]', '{}', 'sad', '{}', '::1'),
      (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL))SQL");
  }
  cdc::Config config;
  config.source = pg.url();
  config.destination = mariadb_url(dst.name);
  check_copy_verifies(config);

  Maria m;
  const std::string t = dst.name + ".types";
  CHECK(m.rows("SELECT c, vb, HEX(bt), j, tz, r FROM " + t + " ORDER BY id") ==
        std::vector<std::string>{"ab | 0101 | 3FF | {\"b\": 1, \"a\": 1, \"a\": 2} | 9999-12-31 23:59:59.999999 | 3.40282e38",
                                 "abcde |  | 0 | [] | 0001-01-01 00:00:00.000000 | -3.40282e38",
                                 "NULL | NULL | NULL | NULL | NULL | NULL"});

  check_each_plant_caught(config, [&](const std::string& sql) { m.exec(sql); }, true, t,
                          {{"b", "0"}, {"i2", "32766"}, {"i4", "2147483646"}, {"i8", "9223372036854775806"}, {"r", "3.40281e38"},
                           {"d", "1.7976931348623155e308"},
                           {"n", "99999999999999999999999999999999999.999999999999999999999999999998"}, {"nu", "12345.6788"},
                           {"c", "'ac'"}, {"vc", "'ünïcødé 😁'"}, {"t", "'multi\\nlinE'"}, {"bya", "x'00fe'"}, {"dt", "'9999-12-30'"},
                           {"ts", "'9999-12-31 23:59:59.999998'"}, {"tz", "'9999-12-31 23:59:59.999998'"}, {"tm", "'23:59:59'"},
                           {"ttz", "'12:00:00+05:31'"}, {"iv", "'1 year 2 mons 3 days 04:05:06.788'"}, {"bt", "b'1111111110'"},
                           {"vb", "'0100'"}, {"u", "'ffffffff-ffff-ffff-ffff-fffffffffffe'"}, {"j", "'{\"b\": 1, \"a\": 1, \"a\": 3}'"},
                           {"jb", "'{\"a\": [1, 3]}'"}, {"e", "'sad'"}, {"a", "'[1,null,4]'"}, {"ip", "'192.168.0.2/24'"}});
  // pgbench's case: character(n) padded by PostgreSQL, stripped by MariaDB: equal by both CHAR rules.
  pg_test::Conn(pg.url()).exec("UPDATE types SET c = 'xy' WHERE id = 2");
  m.exec("UPDATE " + t + " SET c = 'xy' WHERE id = 2");
  check_equal(verify_types(config), 1);
}

TEST_CASE("verify: SQLite to PostgreSQL and to MariaDB, every type at its bounds, and a planted difference per type",
          "[hetero][verify]") {
  pg_test::TempDir dir;
  const std::string file = dir.file("types.db");
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, R"SQL(CREATE TABLE types (id INTEGER PRIMARY KEY, i INTEGER, ti TINYINT, r REAL, n NUMERIC(10,2),
        big DECIMAL(30,10), t TEXT, vc VARCHAR(5), c CHAR(5), bl BLOB, b BOOLEAN, d DATE, dt DATETIME, tm TIME, j JSON, u UUID);
      INSERT INTO types VALUES
        (1, 9223372036854775807, 300, 1.7976931348623157e308, 12345678.25, '1234567890.12345', 'ünï 😀',
         'longer than five', 'ab ', x'00ff', 1, '9999-12-31', '9999-12-31 23:59:59.999999', '23:59:59.999999',
         '{"b": 1, "a": 2}', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
        (2, -9223372036854775808, -300, -2.2250738585072014e-308, -0.5, '-1', '', '', '', x'', 0, '0001-01-01',
         '0001-01-01 00:00:00', '00:00:00', '[]', '00000000-0000-0000-0000-000000000000'),
        (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL))SQL",
                          nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }
  const std::string source = "sqlite://" + file;

  SECTION("to PostgreSQL") {
    pg_test::TempDb pg("vlite");
    cdc::Config config;
    config.source = source;
    config.destination = pg.url();
    check_copy_verifies(config);
    pg_test::Conn p(pg.url());
    CHECK(p.rows("SELECT ti, n, big, vc, c || '|', pg_typeof(c)::text FROM types ORDER BY id") ==
          std::vector<std::string>{"300 | 12345678.25 | 1234567890.12345 | longer than five | ab | | text",
                                   "-300 | -0.5 | -1 |  | | | text", "NULL | NULL | NULL | NULL | NULL | text"});
    check_each_plant_caught(config, [&](const std::string& sql) { p.exec(sql); }, false, "types",
                            {{"i", "9223372036854775806"}, {"ti", "301"}, {"r", "1.7976931348623155e308"}, {"n", "12345678.24"},
                             {"big", "1234567890.12346"}, {"t", "'ünï 😁'"}, {"vc", "'longer than fivE'"},
                             {"c", "'ab'"}, {"bl", "'\\x00fe'"}, {"b", "false"}, {"d", "'9999-12-30'"},
                             {"dt", "'9999-12-31 23:59:59.999998'"}, {"tm", "'23:59:59.999998'"}, {"j", "'{\"b\": 1, \"a\": 3}'"},
                             {"u", "'ffffffff-ffff-ffff-ffff-fffffffffffe'"}});
  }
  SECTION("to MariaDB") {
    MariaDb dst("vlite");
    cdc::Config config;
    config.source = source;
    config.destination = mariadb_url(dst.name);
    check_copy_verifies(config);
    Maria m;
    const std::string t = dst.name + ".types";
    CHECK(m.rows("SELECT ti, n, big, vc, CONCAT(c, '|') FROM " + t + " ORDER BY id") ==
          std::vector<std::string>{"300 | 12345678.250000000000000000000000000000 | 1234567890.123450000000000000000000000000 | "
                                   "longer than five | ab |",
                                   "-300 | -0.500000000000000000000000000000 | -1.000000000000000000000000000000 |  | |",
                                   "NULL | NULL | NULL | NULL | NULL"});
    check_each_plant_caught(config, [&](const std::string& sql) { m.exec(sql); }, true, t,
                            {{"i", "9223372036854775806"}, {"ti", "301"}, {"r", "1.7976931348623155e308"}, {"n", "12345678.24"},
                             {"big", "1234567890.12346"}, {"t", "'ünï 😁'"}, {"vc", "'longer than fivE'"},
                             {"c", "'ab'"}, {"bl", "x'00fe'"}, {"b", "0"}, {"d", "'9999-12-30'"},
                             {"dt", "'9999-12-31 23:59:59.999998'"}, {"tm", "'23:59:59.999998'"}, {"j", "'{\"b\": 1, \"a\": 3}'"},
                             {"u", "'ffffffff-ffff-ffff-ffff-fffffffffffe'"}});
  }
}
