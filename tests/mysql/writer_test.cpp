// The MariaDB writer's optional operations and apply rules against the fixture server: the shared
// writer scenarios (tests/support/writer_scenarios.h), plus what MariaDB's implicit commits around
// DDL make its own: a key set created on first use and a backfill's TEMPORARY table leave the
// writer's transaction open, so chunk rows, staged keys and checkpoint commit or roll back
// together, and a swept set is dropped only once the sweep committed.
#include "mysql_test_util.h"

#include "support/writer_scenarios.h"

#include <cdc/cdc.h>

#include <limits>

using mysql_test::Conn;
using mysql_test::Dbs;
namespace ws = writer_scenarios;

namespace {

ws::Rows rows(Conn& c, const std::string& sql) {
  ws::Rows out;
  for (const auto& r : c.rows(sql)) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) line += (i ? " | " : "") + r[i].value_or("NULL");
    out.push_back(line);
  }
  return out;
}

ws::Target target(const Dbs& dbs, Conn& c) {
  ws::Target t;
  t.dest = cdc::ConnectorRegistry::instance().open_destination(dbs.dst_url());
  t.query = [&c](const std::string& sql) { return rows(c, sql); };
  t.key_sets = [&c, db = dbs.dst](const std::string& table) {
    return std::stoi(c.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" + db +
                              "' AND TABLE_NAME LIKE '\\_cdc\\_keys\\_" + table + "\\_%'")
                         .value_or("-1"));
  };
  return t;
}

}  // namespace

TEST_CASE("writer capabilities, backfill, resync sweep, evolve with fill, key changes", "[mysql][writer]") {
  Dbs dbs("writer");
  Conn c = mysql_test::connect(dbs.dst);
  ws::Target t = target(dbs, c);
  ws::capabilities(t, false);
  SECTION("backfill") { ws::backfill(t); }
  SECTION("resync sweep") { ws::resync_sweep(t); }
  SECTION("evolve with fill") {
    ws::evolve_fill(t);
    CHECK(rows(c, "SELECT COLUMN_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" + dbs.dst +
                      "' AND TABLE_NAME = 'ev' AND COLUMN_NAME IN ('c', 'd') ORDER BY COLUMN_NAME") ==
          ws::Rows{"c | -42", "d | NULL"});
  }
  SECTION("key changes") { ws::key_changes(t); }
  SECTION("error context") {
    // The multi-row INSERT failed, its rows went again one by one, and the error names the row.
    CHECK_THAT(ws::error_context(t), Catch::Contains("cannot be null") && Catch::EndsWith("(applying insert of key id=2 to table ctx)"));
  }
}

TEST_CASE("key sets and backfills never commit the writer's transaction early", "[mysql][writer]") {
  Dbs dbs("atomic");
  Conn c = mysql_test::connect(dbs.dst);
  ws::Target t = target(dbs, c);
  auto table = ws::items(t, "chunked", false);
  t.dest->prepare_table(table);
  auto store = t.dest->checkpoint_store();
  auto w = t.dest->open_writer();
  const std::string select = "SELECT id, v FROM chunked ORDER BY id";

  // A resync chunk: rows, their keys (the set made on first use) and the checkpoint, together.
  w->begin();
  w->write_rows(table, {ws::r(1, "a"), ws::r(2, "b")});
  w->stage_keys(table, "resync", {ws::r(1), ws::r(2)});
  w->commit("s", {{"chunk:chunked:0", "done"}});
  CHECK(t.rows_of(select) == ws::Target::join({"1 | a", "2 | b"}));
  CHECK(t.key_sets("chunked") == 1);
  CHECK(store->load("s").at("chunk:chunked:0") == "done");

  // The same with a set that does not exist yet, rolled back: no row, no checkpoint, no key (the
  // set itself was made on a connection of its own and stays, empty).
  w->begin();
  w->write_rows(table, {ws::r(3, "c")});
  w->stage_keys(table, "other", {ws::r(3)});
  w->rollback();
  CHECK(t.rows_of(select) == ws::Target::join({"1 | a", "2 | b"}));
  CHECK(store->load("s").count("chunk:chunked:1") == 0);
  CHECK(t.key_sets("chunked") == 2);
  const std::string other = c.scalar("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" + dbs.dst +
                                     "' AND TABLE_NAME LIKE '\\_cdc\\_keys\\_chunked\\_other\\_%'")
                                .value_or("");
  REQUIRE_FALSE(other.empty());
  CHECK(c.scalar("SELECT COUNT(*) FROM `" + other + "`").value_or("") == "0");
  // Its key columns are the target's, type and collation included.
  CHECK(rows(c, "SELECT COLUMN_NAME, COLUMN_TYPE, COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" + dbs.dst +
                    "' AND TABLE_NAME = '" + other + "'") == ws::Rows{"id | bigint(20) | PRI"});

  // A backfill's temporary table does not commit what came before it either.
  w->begin();
  w->write_rows(table, {ws::r(4, "d")});
  w->backfill(table, {ws::r(1, "A", 10)}, {false, true, false});
  w->rollback();
  CHECK(t.rows_of(select) == ws::Target::join({"1 | a", "2 | b"}));

  // The sweep's set is dropped once the sweep committed, not before (DROP TABLE would commit it).
  w->begin();
  w->stage_keys(table, "final", {ws::r(1)});
  CHECK(w->sweep_unstaged(table, "final") == 1);
  CHECK(t.key_sets("chunked") == 3);
  w->commit("s", {{"resync:chunked", "swept"}});
  CHECK(t.key_sets("chunked") == 2);
  CHECK(t.rows_of(select) == "1 | a");
  CHECK(store->load("s").at("resync:chunked") == "swept");

  // begin() inside an open transaction is a bug, not an implicit commit.
  w->begin();
  CHECK_THROWS_AS(w->begin(), cdc::Error);
  w->rollback();
}

namespace {

// The statements the fixture server's general log holds for database `db`, and every statement
// of the threads that ran them, as "<thread> <statement>" in order. Logging starts with
// start_log() and stops with stop_log().
void start_log(Conn& c) {
  c.exec("SET GLOBAL log_output = 'TABLE'");
  c.exec("TRUNCATE TABLE mysql.general_log");
  c.exec("SET GLOBAL general_log = 1");
}
void stop_log(Conn& c) { c.exec("SET GLOBAL general_log = 0"); }
std::vector<std::string> logged(Conn& c, const std::string& db) {
  std::vector<std::string> out;
  for (const auto& r : c.rows("SELECT thread_id, CONVERT(argument USING utf8mb4) FROM mysql.general_log WHERE thread_id IN "
                              "(SELECT thread_id FROM mysql.general_log WHERE argument LIKE '%" + db +
                              "%') AND command_type = 'Query' ORDER BY event_time, thread_id"))
    out.push_back(r[0].value_or("") + " " + r[1].value_or(""));
  return out;
}
std::size_t count_prefix(const std::vector<std::string>& log, const std::string& statement) {
  std::size_t n = 0;
  for (const auto& l : log)
    if (l.find(" " + statement) != std::string::npos) ++n;
  return n;
}

}  // namespace

TEST_CASE("bulk rows go by LOAD DATA LOCAL from memory: exact values, replaced keys, and INSERT when it would bend a value",
          "[mysql][writer]") {
  Dbs dbs("bulk");
  Conn c = mysql_test::connect(dbs.dst);
  ws::Target t = target(dbs, c);
  auto table = ws::items(t, "bulk", false);
  t.dest->prepare_table(table);
  auto w = t.dest->open_writer();
  const std::string select = "SELECT id, v, n FROM bulk ORDER BY id";
  // Every byte LOAD DATA's format gives a meaning to, and the text "\N", which is not NULL.
  const std::string tricky("tab\there\nnl\\bs\\N\r\0z", 19);
  start_log(c);
  w->begin();
  w->write_rows(table, {ws::r(1, "a", 1), {cdc::Value::int64(2), cdc::Value::string(tricky), cdc::Value()},
                        {cdc::Value::int64(3), cdc::Value::string("\\N"), cdc::Value::int64(-3)},
                        {cdc::Value::int64(4), cdc::Value::string(""), cdc::Value::int64(4)}});
  w->commit("s", {});
  auto log = logged(c, dbs.dst);
  CHECK(count_prefix(log, "LOAD DATA LOCAL INFILE 'cdc-rows' REPLACE INTO TABLE `it_bulk_dst`.`bulk`") == 1);
  CHECK(count_prefix(log, "ROLLBACK TO SAVEPOINT") == 0);
  CHECK(count_prefix(log, "INSERT INTO `it_bulk_dst`.`bulk`") == 0);
  CHECK(rows(c, "SELECT id, HEX(v), v IS NULL, n FROM bulk ORDER BY id") ==
        ws::Rows{"1 | 61 | 0 | 1", "2 | 74616209686572650A6E6C5C62735C4E0D007A | 0 | NULL", "3 | 5C4E | 0 | -3", "4 |  | 0 | 4"});

  // A key already there takes the new image, as ON DUPLICATE KEY UPDATE would give it.
  w->begin();
  w->write_rows(table, {ws::r(2, "B"), ws::r(5, "e", 5)});
  w->commit("s", {});
  CHECK(t.rows_of(select) == ws::Target::join({"1 | a | 1", "2 | B | NULL", "3 | \\N | -3", "4 |  | 4", "5 | e | 5"}));

  // LOAD DATA LOCAL would store '' for a NULL in a NOT NULL column, or cut a text that is too
  // long, with a warning: the batch is rolled back to its savepoint and goes as INSERTs, which
  // refuse the row and name it.
  auto narrow = table;
  narrow.schema.id = cdc::TableId(t.schema, "narrow");
  narrow.schema.columns[1].nullable = false;
  narrow.schema.columns[1].type.length = 3;
  t.dest->prepare_table(narrow);
  for (const cdc::Value& bad : {cdc::Value(), cdc::Value::string("abcd")}) {
    w->begin();
    try {
      w->write_rows(narrow, {ws::r(1, "a"), {cdc::Value::int64(2), bad, cdc::Value()}, ws::r(3, "c")});
      FAIL("a value the column cannot hold was stored");
    } catch (const cdc::Error& e) {
      CHECK_THAT(e.message(), Catch::EndsWith("(applying insert of key id=2 to table narrow)"));
    }
    w->rollback();
    CHECK(t.query("SELECT id FROM narrow").empty());
  }
  log = logged(c, dbs.dst);
  CHECK(count_prefix(log, "ROLLBACK TO SAVEPOINT cdc_load") == 2);

  // A server that refuses LOAD DATA LOCAL gets INSERTs.
  c.exec("SET GLOBAL local_infile = 0");
  auto w2 = t.dest->open_writer();
  w2->begin();
  w2->write_rows(table, {ws::r(6, "f", 6)});
  w2->write_rows(table, {ws::r(7, "g", 7)});
  w2->commit("s", {});
  c.exec("SET GLOBAL local_infile = 1");
  stop_log(c);
  CHECK(t.rows_of("SELECT id, v, n FROM bulk WHERE id > 5 ORDER BY id") == ws::Target::join({"6 | f | 6", "7 | g | 7"}));
  log = logged(c, dbs.dst);
  // One try, then INSERTs for good.
  CHECK(count_prefix(log, "LOAD DATA LOCAL INFILE 'cdc-rows' REPLACE INTO TABLE `it_bulk_dst`.`bulk`") == 3);
  CHECK(count_prefix(log, "INSERT INTO `it_bulk_dst`.`bulk`") == 2);
}

TEST_CASE("bulk rows: binary values larger than a load's buffer go as hex in pieces, byte for byte", "[mysql][writer]") {
  Dbs dbs("bulkbig");
  Conn c = mysql_test::connect(dbs.dst);
  ws::Target t = target(dbs, c);
  cdc::DestinationTable table;
  table.schema.id = cdc::TableId(t.schema, "big");
  table.schema.columns = {ws::col("id", cdc::TypeId::Int64, false), ws::col("b", cdc::TypeId::Bytes), ws::col("s", cdc::TypeId::String)};
  table.schema.primary_key = {"id"};
  t.dest->prepare_table(table);
  // Every byte value, at sizes around the 64 KB at which a value is streamed and at odd sizes,
  // beside text that needs escapes.
  auto bytes = [](std::size_t n, unsigned seed) {
    std::string b(n, '\0');
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<char>((i * 131 + seed) & 0xff);
    return b;
  };
  std::vector<cdc::Row> rows;
  std::vector<std::string> want;
  const std::size_t sizes[] = {300001, 65536, 65537, 0, 1, 1 << 20};
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    std::string b = bytes(sizes[i], static_cast<unsigned>(i));
    std::string s = "row\t" + std::to_string(i) + "\n\\";
    rows.push_back({cdc::Value::int64(static_cast<std::int64_t>(i)), cdc::Value::bytes(b), cdc::Value::string(s)});
    want.push_back(std::to_string(i) + " " + b + " " + s);
  }
  rows.push_back({cdc::Value::int64(99), cdc::Value(), cdc::Value()});
  want.push_back("99 NULL NULL");
  auto w = t.dest->open_writer();
  start_log(c);
  w->begin();
  w->write_rows(table, rows);
  w->commit("s", {});
  stop_log(c);
  const auto log = logged(c, dbs.dst);
  CHECK(count_prefix(log, "LOAD DATA LOCAL INFILE 'cdc-rows' REPLACE INTO TABLE `it_bulkbig_dst`.`big`") == 1);
  CHECK(count_prefix(log, "ROLLBACK TO SAVEPOINT") == 0);
  std::vector<std::string> got;
  for (const auto& r : c.rows("SELECT id, b, s FROM big ORDER BY id"))
    got.push_back(r[0].value_or("") + " " + r[1].value_or("NULL") + " " + r[2].value_or("NULL"));
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("row " << i);
    CHECK(got[i].size() == want[i].size());
    CHECK(got[i] == want[i]);
  }
}

TEST_CASE("bulk rows: a value with no LOAD DATA field (a NaN) sends the batch as INSERTs, which refuse it by name", "[mysql][writer]") {
  Dbs dbs("bulknan");
  Conn c = mysql_test::connect(dbs.dst);
  ws::Target t = target(dbs, c);
  cdc::DestinationTable table;
  table.schema.id = cdc::TableId(t.schema, "dbl");
  table.schema.columns = {ws::col("id", cdc::TypeId::Int64, false), ws::col("d", cdc::TypeId::Float64)};
  table.schema.primary_key = {"id"};
  t.dest->prepare_table(table);
  auto w = t.dest->open_writer();
  w->begin();
  w->write_rows(table, {{cdc::Value::int64(1), cdc::Value::float64(1.5)}});
  try {
    w->write_rows(table, {{cdc::Value::int64(2), cdc::Value::float64(2.5)},
                          {cdc::Value::int64(3), cdc::Value::float64(std::numeric_limits<double>::quiet_NaN())}});
    FAIL("a NaN was stored");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Conversion);
    CHECK_THAT(e.message(), Catch::Contains("MariaDB cannot store nan in column d") && Catch::Contains("key id=3"));
  }
  w->rollback();
  CHECK(t.query("SELECT id FROM dbl").empty());
}

TEST_CASE("the destination connects again when the server dropped its admin connection", "[mysql][writer]") {
  Dbs dbs("readmin");
  Conn c = mysql_test::connect(dbs.dst);
  auto dest = cdc::ConnectorRegistry::instance().open_destination(dbs.dst_url());
  auto table = [](const std::string& name) {
    cdc::DestinationTable t;
    t.schema.id = cdc::TableId("", name);
    cdc::Column id;
    id.name = "id";
    id.type.id = cdc::TypeId::Int64;
    id.nullable = false;
    t.schema.columns = {id};
    t.schema.primary_key = {"id"};
    return t;
  };
  dest->prepare_table(table("before"));
  // What a server restart does to the destination's connections (the test's own stays).
  for (const auto& r : c.rows("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '" + dbs.dst + "' AND ID <> CONNECTION_ID()"))
    c.exec("KILL " + r[0].value_or("0"));
  dest->prepare_table(table("after"));  // a table added by a reload, a resync
  CHECK(c.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" + dbs.dst +
                 "' AND TABLE_NAME IN ('before', 'after')") == "2");
}
