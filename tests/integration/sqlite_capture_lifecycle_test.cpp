// The SQLite source's part in a table's life in a running session: current_position() against
// the capture log's own sequence, extend_capture() for a new table and for a table whose columns
// changed (re-installed triggers and image columns), and images logged before a column was
// captured, which mark it unchanged instead of delivering a NULL the table never held.
#include "sqlite_test_util.h"

#include <cdc/source.h>

#include <chrono>

using namespace sqlite_test;
using cdc::ChangeEvent;
using cdc::ChangeOp;
using cdc::ConnectorRegistry;
using cdc::Row;
using cdc::StreamTable;
using cdc::TableSchema;
using cdc::Value;

namespace {

TableSchema table_of(cdc::SourceConnector& src, const std::string& name) {
  auto t = src.discover([&](const cdc::TableId& id) { return id.name == name; });
  REQUIRE(t.size() == 1);
  return t[0];
}

std::vector<ChangeEvent> drain(cdc::ChangeStream& stream) {
  std::vector<ChangeEvent> out;
  for (int i = 0; i < 20; ++i) {
    std::size_t before = out.size();
    stream.poll(out, 1000, std::chrono::milliseconds(20));
    if (out.size() == before && i > 2) break;
  }
  return out;
}

}  // namespace

TEST_CASE("sqlite current_position() lies between a change before it and one after it", "[sqlite]") {
  TempDir dir;
  Raw db(dir.file("src.db"));
  db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  auto src = ConnectorRegistry::instance().open_source(dir.url("src.db"));
  CHECK(src->current_position().empty());  // nothing captured yet: the source cannot tell
  TableSchema t = table_of(*src, "t");
  auto start = src->prepare_stream({StreamTable{t}});
  std::vector<cdc::Position> between;
  for (int i = 0; i < 3; ++i) {
    db.exec("INSERT INTO t VALUES(" + std::to_string(2 * i) + ", 'before')");
    between.push_back(src->current_position());
    db.exec("INSERT INTO t VALUES(" + std::to_string(2 * i + 1) + ", 'after')");
  }
  auto stream = src->open_stream({StreamTable{t}}, start.position);
  auto evs = drain(*stream);
  REQUIRE(evs.size() == 6);
  for (int i = 0; i < 3; ++i) {
    CHECK(src->compare_positions(evs[2 * i].position, between[i]) <= 0);
    CHECK(src->compare_positions(evs[2 * i + 1].position, between[i]) > 0);
  }
  // Acknowledged entries are deleted; sequences still grow.
  stream->acknowledge(evs.back().position);
  db.exec("INSERT INTO t VALUES(100, 'x')");
  CHECK(src->compare_positions(src->current_position(), evs.back().position) > 0);
  CHECK(src->log_bytes_between(start.position, between[0]) == -1);
}

TEST_CASE("sqlite extend_capture() installs new tables and captures added columns from then on", "[sqlite]") {
  TempDir dir;
  Raw db(dir.file("src.db"));
  db.exec(R"(CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT);
             CREATE TABLE b(id INTEGER PRIMARY KEY, v TEXT);)");
  auto src = ConnectorRegistry::instance().open_source(dir.url("src.db"));
  TableSchema a = table_of(*src, "a"), b = table_of(*src, "b");
  auto start = src->prepare_stream({StreamTable{a}});
  db.exec("INSERT INTO b VALUES(1, 'not captured')");
  CHECK(db.scalar("SELECT count(*) FROM sqlite_schema WHERE name LIKE '_cdc_trg_b_%'") == 0);

  src->extend_capture({StreamTable{b}});
  src->extend_capture({StreamTable{b}});  // idempotent
  CHECK(db.scalar("SELECT count(*) FROM sqlite_schema WHERE name LIKE '_cdc_trg_b_%'") == 3);
  cdc::Position l0 = src->current_position();
  db.exec("INSERT INTO b VALUES(2, 'captured')");

  // A column added to a: rows written before capture is installed again do not log it.
  db.exec("INSERT INTO a VALUES(1, 'one')");
  db.exec("ALTER TABLE a ADD COLUMN extra INTEGER DEFAULT 7");
  db.exec("INSERT INTO a VALUES(2, 'two', 22)");
  db.exec("UPDATE a SET extra = 11 WHERE id = 1");
  src->extend_capture({StreamTable{table_of(*src, "a")}});
  CHECK(db.dump("SELECT columns FROM _cdc_tables WHERE name = 'a'").size() == 1);
  db.exec("INSERT INTO a VALUES(3, 'three', 33)");
  db.exec("UPDATE a SET extra = NULL WHERE id = 2");

  TableSchema a_now = table_of(*src, "a");
  REQUIRE(a_now.columns.size() == 3);
  auto stream = src->open_stream({StreamTable{a_now}, StreamTable{b}}, start.position);
  auto evs = drain(*stream);
  REQUIRE(evs.size() == 6);
  CHECK(evs[0].table.name == "b");
  CHECK(evs[0].after == Row{Value::int64(2), Value::string("captured")});
  CHECK(src->compare_positions(evs[0].position, l0) > 0);
  // Logged by the old triggers: `extra` is not in the image, and says so.
  for (int i : {1, 2, 3}) {
    INFO("event " << i);
    CHECK(evs[i].unchanged == std::vector<bool>{false, false, true});
    CHECK(evs[i].after[2].is_null());
  }
  CHECK(evs[1].after[0] == Value::int64(1));
  CHECK(evs[2].after[0] == Value::int64(2));
  CHECK(evs[3].op == ChangeOp::Update);
  // Logged by the new triggers: `extra` is a value, NULL included.
  CHECK(evs[4].after == Row{Value::int64(3), Value::string("three"), Value::int64(33)});
  CHECK(evs[4].unchanged.empty());
  CHECK(evs[5].op == ChangeOp::Update);
  CHECK(evs[5].after == Row{Value::int64(2), Value::string("two"), Value()});
  CHECK(evs[5].unchanged.empty());

  // A stream that still asks for the old columns gets plain rows.
  auto old = src->open_stream({StreamTable{a}}, start.position);
  auto old_evs = drain(*old);
  REQUIRE(old_evs.size() == 5);
  for (const auto& e : old_evs) CHECK(e.unchanged.empty());
}
