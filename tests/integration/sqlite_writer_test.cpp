// The SQLite writer's optional operations and apply rules against real files: the shared writer
// scenarios (tests/support/writer_scenarios.h), plus fill values of every kind stored exactly as
// the same values written by the writer (storage class included).
#include "sqlite_test_util.h"

#include "support/writer_scenarios.h"

#include <limits>

using namespace sqlite_test;
namespace ws = writer_scenarios;

namespace {

ws::Rows text_rows(Raw& db, const std::string& sql) {
  ws::Rows out;
  sqlite3_stmt* s = db.prepare(sql);
  while (sqlite3_step(s) == SQLITE_ROW) {
    std::string line;
    for (int i = 0; i < sqlite3_column_count(s); ++i) {
      const unsigned char* v = sqlite3_column_text(s, i);
      line += (i ? " | " : "") + (v ? std::string(reinterpret_cast<const char*>(v), static_cast<std::size_t>(sqlite3_column_bytes(s, i)))
                                    : std::string("NULL"));
    }
    out.push_back(line);
  }
  sqlite3_finalize(s);
  return out;
}

ws::Target target(const TempDir& dir, Raw& db) {
  ws::Target t;
  t.dest = cdc::ConnectorRegistry::instance().open_destination(dir.url("dst.db"));
  t.query = [&db](const std::string& sql) { return text_rows(db, sql); };
  t.key_sets = [&db](const std::string& table) {
    return static_cast<int>(db.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_cdc\\_keys\\_" + table +
                                      "\\_%' ESCAPE '\\'"));
  };
  t.concurrent_writers = false;  // one write transaction at a time
  return t;
}

}  // namespace

TEST_CASE("sqlite writer capabilities, backfill, resync sweep, evolve with fill, key changes", "[sqlite][writer]") {
  TempDir dir;
  auto dest = cdc::ConnectorRegistry::instance().open_destination(dir.url("dst.db"));  // creates the file
  Raw db(dir.file("dst.db"));
  ws::Target t = target(dir, db);
  ws::capabilities(t, true);
  SECTION("backfill") { ws::backfill(t); }
  SECTION("resync sweep") { ws::resync_sweep(t); }
  SECTION("evolve with fill") { ws::evolve_fill(t); }
  SECTION("key changes") { ws::key_changes(t); }
  SECTION("error context") {
    CHECK_THAT(ws::error_context(t), Catch::StartsWith("NOT NULL constraint failed: ctx.v") &&
                                         Catch::EndsWith("(applying insert of key id=2 to table ctx)"));
  }
}

TEST_CASE("sqlite evolve fills existing rows as the writer would store the same values", "[sqlite][writer]") {
  TempDir dir;
  auto dest = cdc::ConnectorRegistry::instance().open_destination(dir.url("dst.db"));
  cdc::DestinationTable table;
  table.schema.id = cdc::TableId("f");
  table.schema.columns = {ws::col("id", cdc::TypeId::Int64, false)};
  table.schema.primary_key = {"id"};
  dest->prepare_table(table);
  auto w = dest->open_writer();
  w->begin();
  w->write_rows(table, {{cdc::Value::int64(1)}});
  w->commit("s", {});
  const std::vector<std::pair<cdc::Column, cdc::Value>> added{
      {ws::col("by", cdc::TypeId::Bytes), cdc::Value::bytes(std::string("\0\xff'", 3))},
      {ws::col("tx", cdc::TypeId::String), cdc::Value::string(std::string("a\0'b", 4))},
      {ws::col("f8", cdc::TypeId::Float64), cdc::Value::float64(0.1)},
      {ws::col("inf", cdc::TypeId::Float64), cdc::Value::float64(-std::numeric_limits<double>::infinity())},
      {ws::col("i8", cdc::TypeId::Int64), cdc::Value::int64(std::numeric_limits<std::int64_t>::min())},
      {ws::col("u8", cdc::TypeId::Unknown), cdc::Value::uint64(std::numeric_limits<std::uint64_t>::max())},
      {ws::col("bo", cdc::TypeId::Bool), cdc::Value::boolean(false)},
      {ws::col("ts", cdc::TypeId::Timestamp), cdc::Value::timestamp("2024-02-29 13:01:02.5")},
  };
  std::vector<cdc::TargetColumnChange> changes;
  cdc::Row written{cdc::Value::int64(2)};
  for (const auto& [c, v] : added) {
    table.schema.columns.push_back(c);
    cdc::TargetColumnChange ch;
    ch.column = c.name;
    ch.target = c;
    ch.fill = v;
    changes.push_back(ch);
    written.push_back(v);
  }
  w->begin();
  w->evolve(table, changes);
  w->write_rows(table, {written});
  w->commit("s", {});
  Raw db(dir.file("dst.db"));
  auto dumped = db.dump("SELECT by, tx, f8, inf, i8, u8, bo, ts FROM f ORDER BY id");
  REQUIRE(dumped.size() == 2);
  CHECK(dumped[0] == dumped[1]);  // filled by DEFAULT = written by the writer
  CHECK(dumped[0].rfind("b:00ff27 | t:61002762 | ", 0) == 0);
}
