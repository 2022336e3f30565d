// SQLite source, capture, destination and checkpoint store against real files.
#include "sqlite_test_util.h"

#include <cdc/error.h>
#include <cdc/registry.h>
#include <cdc/type_mapper.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <set>

using namespace sqlite_test;
using cdc::ChangeEvent;
using cdc::ChangeOp;
using cdc::ConnectorRegistry;
using cdc::DestinationTable;
using cdc::Position;
using cdc::Row;
using cdc::TableSchema;
using cdc::Value;

namespace {

const TableSchema& find_table(const std::vector<TableSchema>& ts, const std::string& name) {
  for (auto& t : ts)
    if (t.id.name == name) return t;
  FAIL("table " << name << " not discovered");
  throw std::logic_error("unreachable");
}

std::vector<TableSchema> discover_all(cdc::SourceConnector& src) {
  return src.discover([](const cdc::TableId&) { return true; });
}

DestinationTable same_dialect(const TableSchema& s) {
  DestinationTable t;
  t.schema = s;
  auto mapper = cdc::default_type_mapper();
  for (auto& c : t.schema.columns) c = mapper->map_column(s.id, c, "sqlite", "sqlite").target;
  return t;
}

// Copies a whole table: plan, read every chunk, write rows, commit.
std::int64_t copy_table(cdc::SourceConnector& src, cdc::DestinationConnector& dst, const TableSchema& s,
                        std::int64_t chunk_rows = 1000, int min_chunks = 1, std::int64_t batch = 1000) {
  DestinationTable dt = same_dialect(s);
  dst.prepare_table(dt);
  auto w = dst.open_writer();
  w->begin();
  std::int64_t n = 0;
  for (auto& chunk : src.plan_snapshot(s, cdc::SnapshotPlanOptions{chunk_rows, min_chunks})) {
    cdc::ReadRequest req;
    req.schema = s;
    req.chunk = chunk;
    req.batch_size = batch;
    auto reader = src.read_chunk(req);
    std::vector<Row> rows;
    while (reader->next(rows)) {
      n += std::int64_t(rows.size());
      w->write_rows(dt, rows);
    }
  }
  w->commit("test", {});
  return n;
}

// Polls until the stream is quiet.
std::vector<ChangeEvent> drain(cdc::ChangeStream& stream) {
  std::vector<ChangeEvent> all;
  for (;;) {
    std::vector<ChangeEvent> batch;
    stream.poll(batch, 7, std::chrono::milliseconds(100));
    if (batch.empty()) return all;
    for (auto& e : batch) all.push_back(std::move(e));
  }
}

void apply_events(cdc::DestinationConnector& dst, const std::vector<cdc::StreamTable>& tables,
                  const std::vector<ChangeEvent>& events, const std::string& position) {
  auto w = dst.open_writer();
  w->begin();
  for (auto& e : events) {
    for (auto& t : tables)
      if (t.schema.id == e.table) w->apply(same_dialect(t.schema), {e});
  }
  w->commit("test", {{"stream", position}});
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
}

}  // namespace

TEST_CASE("sqlite source discovers tables, columns, keys and estimates", "[sqlite]") {
  TempDir dir;
  {
    Raw db(dir.file("src.db"));
    db.exec(R"(CREATE TABLE "order"(id INTEGER PRIMARY KEY, "select" VARCHAR(20) NOT NULL, "my col" REAL, d DATE, j JSON, n DECIMAL(10,2), u);
              CREATE TABLE "we""ird table"(a INT, b TEXT, c BLOB, PRIMARY KEY(b, a)) WITHOUT ROWID;
              CREATE TABLE nokey(x SMALLINT, y TINYINT, z BOOLEAN, t TIMESTAMP);
              CREATE TABLE _cdc_hidden(x);
              INSERT INTO "order"("select") VALUES('a'), ('b'), ('c');
              INSERT INTO "we""ird table" VALUES(1, 'x', NULL);)");
  }
  auto src = ConnectorRegistry::instance().open_source(dir.url("src.db"));
  CHECK(src->dialect() == "sqlite");
  auto tables = discover_all(*src);
  std::vector<std::string> names;
  for (auto& t : tables) names.push_back(t.id.name);
  CHECK(names == std::vector<std::string>{"nokey", "order", "we\"ird table"});

  const TableSchema& order = find_table(tables, "order");
  CHECK(order.id.schema.empty());
  REQUIRE(order.columns.size() == 7);
  CHECK(order.columns[1].name == "select");
  CHECK(order.columns[1].type.id == cdc::TypeId::String);
  CHECK(order.columns[1].type.length == 20);
  CHECK_FALSE(order.columns[1].nullable);
  CHECK(order.columns[1].source_type == "VARCHAR(20)");
  CHECK(order.columns[2].name == "my col");
  CHECK(order.columns[2].type.id == cdc::TypeId::Float64);
  CHECK(order.columns[3].type.id == cdc::TypeId::Date);
  CHECK(order.columns[4].type.id == cdc::TypeId::Json);
  CHECK(order.columns[5].type.id == cdc::TypeId::Decimal);
  CHECK(order.columns[5].type.precision == 10);
  CHECK(order.columns[5].type.scale == 2);
  CHECK(order.columns[6].type.id == cdc::TypeId::Unknown);
  CHECK(order.columns[0].type.id == cdc::TypeId::Int64);
  CHECK(order.primary_key == std::vector<std::string>{"id"});
  CHECK(order.estimated_rows == 3);

  const TableSchema& weird = find_table(tables, "we\"ird table");
  CHECK(weird.primary_key == std::vector<std::string>{"b", "a"});
  CHECK(weird.estimated_rows == 1);
  CHECK(weird.columns[2].type.id == cdc::TypeId::Bytes);

  const TableSchema& nokey = find_table(tables, "nokey");
  CHECK(nokey.primary_key.empty());
  CHECK(nokey.columns[0].type.id == cdc::TypeId::Int16);
  CHECK(nokey.columns[1].type.id == cdc::TypeId::Int8);
  CHECK(nokey.columns[2].type.id == cdc::TypeId::Bool);
  CHECK(nokey.columns[3].type.id == cdc::TypeId::Timestamp);

  auto only = src->discover([](const cdc::TableId& id) { return id.name == "nokey"; });
  REQUIRE(only.size() == 1);
  CHECK(only[0].id.name == "nokey");

  CHECK(src->count_rows(cdc::TableId("order"), "") == 3);
  CHECK(src->count_rows(cdc::TableId("order"), "\"select\" <> 'b'") == 2);
}

TEST_CASE("sqlite source reads indexes, foreign keys, CHECKs, generated columns, defaults and the rowid key", "[sqlite]") {
  TempDir dir;
  {
    Raw db(dir.file("src.db"));
    db.exec(R"(CREATE TABLE parent(id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL UNIQUE, made TEXT DEFAULT CURRENT_TIMESTAMP);
              CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES Parent ON DELETE CASCADE,
                qty INT NOT NULL DEFAULT 1 CHECK (qty > 0), price REAL,
                total REAL GENERATED ALWAYS AS (qty * price) STORED, label TEXT AS (upper(note)), note TEXT,
                CONSTRAINT price_known CHECK (price IS NOT NULL),
                FOREIGN KEY (note) REFERENCES parent(code) ON UPDATE SET NULL);
              CREATE INDEX child_note ON child(note, qty);
              CREATE UNIQUE INDEX child_lower ON child(lower(note)) WHERE qty > 1;
              CREATE TABLE pair(a INT, b INT, PRIMARY KEY (a, b));)");
  }
  auto src = ConnectorRegistry::instance().open_source(dir.url("src.db"));
  auto tables = discover_all(*src);
  const TableSchema& parent = find_table(tables, "parent");
  const TableSchema& child = find_table(tables, "child");
  CHECK(parent.columns[0].identity);
  CHECK(parent.columns[2].default_expr == std::optional<std::string>("CURRENT_TIMESTAMP"));
  REQUIRE(parent.indexes.size() == 1);
  CHECK(parent.indexes[0].name == "parent_code_key");  // the UNIQUE constraint's index, named
  CHECK(parent.indexes[0].unique);
  CHECK(parent.indexes[0].columns == std::vector<std::string>{"code"});
  CHECK_FALSE(find_table(tables, "pair").columns[0].identity);

  REQUIRE(child.columns.size() == 7);
  CHECK(child.columns[0].identity);
  CHECK(child.columns[2].default_expr == std::optional<std::string>("1"));
  CHECK(child.columns[4].name == "total");
  CHECK(child.columns[4].generated == "qty * price");
  CHECK(child.columns[4].generated_stored);
  CHECK(child.columns[5].generated == "upper(note)");
  CHECK_FALSE(child.columns[5].generated_stored);
  REQUIRE(child.checks.size() == 2);
  CHECK(child.checks[0].expression == "qty > 0");
  CHECK(child.checks[1].name == "price_known");
  CHECK(child.checks[1].expression == "price IS NOT NULL");
  REQUIRE(child.indexes.size() == 2);
  CHECK(child.indexes[0].name == "child_lower");
  CHECK(child.indexes[0].unique);
  CHECK(child.indexes[0].expression == "lower(note)");
  CHECK(child.indexes[0].where == "qty > 1");
  CHECK(child.indexes[1].name == "child_note");
  CHECK(child.indexes[1].columns == std::vector<std::string>{"note", "qty"});
  CHECK(child.indexes[1].expression.empty());
  REQUIRE(child.foreign_keys.size() == 2);
  // SQLite lists foreign keys last one first; a REFERENCES without columns means the parent's key.
  const auto& to_code = child.foreign_keys[0];
  CHECK(to_code.columns == std::vector<std::string>{"note"});
  CHECK(to_code.references == cdc::TableId("parent"));
  CHECK(to_code.referenced_columns == std::vector<std::string>{"code"});
  CHECK(to_code.on_update == cdc::ForeignKeyAction::SetNull);
  const auto& to_id = child.foreign_keys[1];
  CHECK(to_id.columns == std::vector<std::string>{"parent_id"});
  CHECK(to_id.references == cdc::TableId("parent"));  // spelled as the table is, not as REFERENCES wrote it
  CHECK(to_id.referenced_columns == std::vector<std::string>{"id"});
  CHECK(to_id.on_delete == cdc::ForeignKeyAction::Cascade);
}

TEST_CASE("sqlite source on a missing file names the path and creates nothing", "[sqlite]") {
  TempDir dir;
  try {
    ConnectorRegistry::instance().open_source(dir.url("missing.db"));
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(std::string(e.what()).find(dir.file("missing.db")) != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("missing.db")));
}

TEST_CASE("sqlite snapshot chunks cover every row exactly once", "[sqlite]") {
  TempDir dir;
  {
    Raw db(dir.file("src.db"));
    db.exec(R"(CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT);
              WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
              INSERT INTO big SELECT i * 3 - 500, 'v' || i FROM n;
              CREATE TABLE wr(k TEXT, n INTEGER, v, PRIMARY KEY(k, n)) WITHOUT ROWID;
              WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
              INSERT INTO wr SELECT 'k' || (i % 7), i, randomblob(3) FROM n;
              CREATE TABLE empty(id INTEGER PRIMARY KEY);
              CREATE TABLE keyless(a, b);
              INSERT INTO keyless VALUES(1, 2), (1, 2), (3, NULL);)");
  }
  auto src = ConnectorRegistry::instance().open_source(dir.url("src.db"));
  auto tables = discover_all(*src);

  auto read_all = [&](const TableSchema& s, std::int64_t chunk_rows, int min_chunks, std::size_t expect_chunks) {
    auto chunks = src->plan_snapshot(s, cdc::SnapshotPlanOptions{chunk_rows, min_chunks});
    CHECK(chunks.size() == expect_chunks);
    std::vector<std::string> seen;
    for (auto& c : chunks) {
      CHECK(c.count == int(chunks.size()));
      cdc::ReadRequest req;
      req.schema = s;
      req.chunk = c;
      req.batch_size = 33;
      auto r = src->read_chunk(req);
      std::vector<Row> rows;
      while (r->next(rows)) {
        CHECK(rows.size() <= 33);
        for (auto& row : rows) {
          std::string key;
          for (auto& v : row) key += v.to_display() + "|";
          seen.push_back(key);
        }
      }
      CHECK(rows.empty());
    }
    return seen;
  };

  const TableSchema& big = find_table(tables, "big");
  auto seen = read_all(big, 100, 1, 10);
  CHECK(seen.size() == 1000);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 1000);
  CHECK(read_all(big, 1000000, 4, 4).size() == 1000);

  const TableSchema& wr = find_table(tables, "wr");
  auto wseen = read_all(wr, 64, 1, 8);
  CHECK(wseen.size() == 500);
  CHECK(std::set<std::string>(wseen.begin(), wseen.end()).size() == 500);

  CHECK(read_all(find_table(tables, "empty"), 100, 4, 1).empty());
  CHECK(read_all(find_table(tables, "keyless"), 1, 4, 3).size() == 3);

  // A filter and a projection (columns in request order).
  TableSchema proj = big;
  proj.columns = {big.columns[1], big.columns[0]};
  cdc::ReadRequest req;
  req.schema = proj;
  req.where = "id < 0";
  auto r = src->read_chunk(req);
  std::vector<Row> rows;
  std::size_t n = 0;
  while (r->next(rows))
    for (auto& row : rows) {
      REQUIRE(row.size() == 2);
      CHECK(row[0].kind() == cdc::ValueKind::String);
      CHECK(row[1].as_int() < 0);
      ++n;
    }
  CHECK(n == 166);
}

TEST_CASE("sqlite values round-trip exactly, storage class included", "[sqlite]") {
  TempDir dir;
  const char* ddl =
      R"(CREATE TABLE "edge values"(id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC, x, "order" DATE))";
  {
    Raw db(dir.file("src.db"));
    db.exec(ddl);
    sqlite3_stmt* s = db.prepare(R"(INSERT INTO "edge values" VALUES(?, ?, ?, ?, ?, ?, ?, ?))");
    auto row = [&](std::int64_t id, auto&& fill) {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
      sqlite3_bind_int64(s, 1, id);
      fill(s);
      REQUIRE(sqlite3_step(s) == SQLITE_DONE);
    };
    row(1, [](sqlite3_stmt* s) {
      sqlite3_bind_int64(s, 2, std::numeric_limits<std::int64_t>::min());
      sqlite3_bind_double(s, 3, 0.1);
      bind_text(s, 4, std::string("a\0b", 3));
      sqlite3_bind_blob(s, 5, "\0\1\0", 3, SQLITE_TRANSIENT);
      sqlite3_bind_double(s, 6, 1.5);
      sqlite3_bind_int64(s, 7, 42);
      bind_text(s, 8, "2024-02-29");
    });
    row(2, [](sqlite3_stmt* s) {
      sqlite3_bind_int64(s, 2, std::numeric_limits<std::int64_t>::max());
      sqlite3_bind_double(s, 3, -0.0);
      bind_text(s, 4, "");
      sqlite3_bind_zeroblob(s, 5, 0);
      bind_text(s, 6, "12345678901234567890123");
      bind_text(s, 7, "text in untyped");
      sqlite3_bind_double(s, 8, 3.25);
    });
    row(3, [](sqlite3_stmt* s) {
      bind_text(s, 2, "not a number");  // text stays text in an INTEGER column
      sqlite3_bind_double(s, 3, 1e308);
      sqlite3_bind_blob(s, 4, "\xff\x00", 2, SQLITE_TRANSIENT);  // blob in a TEXT column
      sqlite3_bind_int64(s, 5, 7);                             // integer in a BLOB column
      sqlite3_bind_null(s, 6);
      sqlite3_bind_blob(s, 7, "\0", 1, SQLITE_TRANSIENT);
    });
    row(std::numeric_limits<std::int64_t>::max(), [](sqlite3_stmt* s) {
      sqlite3_bind_double(s, 2, 2.5);  // real in an INTEGER column
      sqlite3_bind_double(s, 3, 9007199254740993.0);
      bind_text(s, 4, "\xc3\xa9t\xc3\xa9");
    });
    row(std::numeric_limits<std::int64_t>::min(), [](sqlite3_stmt* s) { sqlite3_bind_int64(s, 2, -1); });
    sqlite3_finalize(s);
  }
  auto src = ConnectorRegistry::instance().open_source(dir.url("src.db"));
  auto dst = ConnectorRegistry::instance().open_destination(dir.url("dst.db"));
  auto tables = discover_all(*src);
  const TableSchema& s = find_table(tables, "edge values");
  CHECK(copy_table(*src, *dst, s, 2, 3) == 5);

  const std::string q = R"(SELECT * FROM "edge values" ORDER BY id)";
  Raw a(dir.file("src.db")), b(dir.file("dst.db"));
  auto expect = a.dump(q);
  REQUIRE(expect.size() == 5);
  CHECK(b.dump(q) == expect);
  // The destination kept the declared types, so affinity is the same on both sides.
  const std::string types = R"(SELECT name, type, pk FROM pragma_table_info('edge values'))";
  CHECK(b.dump(types) == a.dump(types));

  // Date column text arrives as a Date value.
  cdc::ReadRequest req;
  req.schema = s;
  auto r = src->read_chunk(req);
  std::vector<Row> rows;
  REQUIRE(r->next(rows));
  bool saw_date = false;
  for (auto& row : rows)
    if (row[7].kind() == cdc::ValueKind::Date) {
      CHECK(row[7].text() == "2024-02-29");
      saw_date = true;
    }
  CHECK(saw_date);
}

TEST_CASE("sqlite destination renders quoted DDL and evolves tables", "[sqlite]") {
  TempDir dir;
  auto dst = ConnectorRegistry::instance().open_destination(dir.url("dst.db"));
  CHECK(std::filesystem::exists(dir.file("dst.db")));
  DestinationTable t;
  t.schema.id = cdc::TableId("select");
  cdc::Column a;
  a.name = "we\"ird";
  a.type.id = cdc::TypeId::Int64;
  a.nullable = false;
  cdc::Column b;
  b.name = "order";
  b.type.id = cdc::TypeId::String;
  b.type.length = 10;
  cdc::Column c;
  c.name = "x y";
  c.type.id = cdc::TypeId::Decimal;
  c.source_type = "MONEY(9,3)";
  t.schema.columns = {a, b, c};
  t.schema.primary_key = {"we\"ird", "order"};
  CHECK(dst->render_ddl(t) ==
        R"(CREATE TABLE IF NOT EXISTS "select" ("we""ird" BIGINT NOT NULL, "order" VARCHAR(10), "x y" MONEY(9,3), PRIMARY KEY ("we""ird", "order")))");
  dst->prepare_table(t);
  dst->prepare_table(t);  // idempotent
  cdc::Column d;
  d.name = "added";
  d.type.id = cdc::TypeId::Json;
  d.nullable = false;
  t.schema.columns.push_back(d);
  dst->prepare_table(t);
  Raw db(dir.file("dst.db"));
  CHECK(db.dump("SELECT name, type, \"notnull\", pk FROM pragma_table_info('select')") ==
        std::vector<std::string>{
            "t:" + Raw::hex("we\"ird", 6) + " | t:" + Raw::hex("BIGINT", 6) + " | i:1 | i:1",
            "t:" + Raw::hex("order", 5) + " | t:" + Raw::hex("VARCHAR(10)", 11) + " | i:0 | i:2",
            "t:" + Raw::hex("x y", 3) + " | t:" + Raw::hex("MONEY(9,3)", 10) + " | i:0 | i:0",
            "t:" + Raw::hex("added", 5) + " | t:" + Raw::hex("JSON", 4) + " | i:0 | i:0",
        });
  CHECK(db.scalar("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") == 1);
}

TEST_CASE("sqlite capture streams inserts, updates, key changes and deletes", "[sqlite]") {
  TempDir dir;
  Raw db(dir.file("src.db"));
  db.exec(R"(CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, data BLOB);
            CREATE TABLE "key less"(a, b TEXT);
            CREATE TABLE untouched(id INTEGER PRIMARY KEY);
            INSERT INTO items VALUES(1, 'one', 1, x'00'), (2, 'two', 2, NULL), (3, 'three', 3, x'0300');
            INSERT INTO "key less" VALUES(1, 'a'), (1, 'a'), (2, 'b');)");
  auto src = ConnectorRegistry::instance().open_source(dir.url("src.db"));
  auto dst = ConnectorRegistry::instance().open_destination(dir.url("dst.db"));
  REQUIRE(src->supports_stream());
  auto tables = src->discover([](const cdc::TableId& id) { return id.name != "untouched"; });
  REQUIRE(tables.size() == 2);
  std::vector<cdc::StreamTable> st;
  for (auto& t : tables) st.push_back({t, ""});

  auto start = src->prepare_stream(st);
  CHECK(start.position.str() == "0");
  CHECK(src->prepare_stream(st).position == start.position);  // idempotent
  // cdc's objects stay hidden from discovery.
  CHECK(discover_all(*src).size() == 3);

  for (auto& t : tables) copy_table(*src, *dst, t);

  db.exec(R"(INSERT INTO items VALUES(4, 'four', 4, x'04');
            UPDATE items SET qty = qty + 10 WHERE id = 1;
            UPDATE items SET id = 20, name = 'two moved' WHERE id = 2;
            DELETE FROM items WHERE id = 3;
            INSERT INTO items VALUES(5, '', 5, x'');
            UPDATE items SET name = NULL WHERE id = 5;
            DELETE FROM "key less" WHERE rowid = 1;
            UPDATE "key less" SET b = 'c' WHERE a = 2;
            INSERT INTO "key less" VALUES(x'00ff', 'blob');
            INSERT INTO untouched VALUES(1);)");

  auto stream = src->open_stream(st, start.position);
  auto events = drain(*stream);
  REQUIRE(events.size() == 9);
  CHECK(events[0].op == ChangeOp::Insert);
  CHECK(events[0].table.name == "items");
  CHECK(events[0].after == Row{Value::int64(4), Value::string("four"), Value::int64(4), Value::bytes("\x04")});
  CHECK(events[0].position.str() == "1");
  CHECK(events[0].end_of_transaction);
  CHECK(events[0].commit_time_us > 1600000000000000);
  CHECK(events[2].op == ChangeOp::Update);
  CHECK(events[2].before[0] == Value::int64(2));
  CHECK(events[2].after[0] == Value::int64(20));
  CHECK(events[3].op == ChangeOp::Delete);
  CHECK(events[3].before[0] == Value::int64(3));
  CHECK(events[6].table.name == "key less");
  for (std::size_t i = 1; i < events.size(); ++i)
    CHECK(src->compare_positions(events[i - 1].position, events[i].position) < 0);
  CHECK(stream->position().str() == "9");  // "untouched" is not captured: no log entries

  apply_events(*dst, st, events, stream->position().str());
  Raw out(dir.file("dst.db"));
  for (const char* q : {"SELECT * FROM items ORDER BY id", "SELECT a, b FROM \"key less\" ORDER BY a, b"})
    CHECK(out.dump(q) == db.dump(q));
  CHECK(dst->checkpoint_store()->load("test").at("stream") == "9");

  // Reopening from a position delivers only what follows it.
  auto again = src->open_stream(st, events[6].position);
  CHECK(drain(*again).size() == 2);

  // A new column: re-running prepare recreates the triggers, the stream carries the column.
  db.exec("ALTER TABLE items ADD COLUMN extra REAL");
  tables = src->discover([](const cdc::TableId& id) { return id.name == "items"; });
  REQUIRE(tables[0].columns.size() == 5);
  std::vector<cdc::StreamTable> st2{{tables[0], ""}};
  src->prepare_stream(st2);
  db.exec("UPDATE items SET extra = 2.5 WHERE id = 4");
  auto s2 = src->open_stream(st2, stream->position());
  auto ev2 = drain(*s2);
  REQUIRE(ev2.size() == 1);
  CHECK(ev2[0].after.size() == 5);
  CHECK(ev2[0].after[4] == Value::float64(2.5));
  CHECK(ev2[0].before[4].is_null());
  dst->prepare_table(same_dialect(tables[0]));
  apply_events(*dst, st2, ev2, s2->position().str());
  CHECK(out.dump("SELECT * FROM items ORDER BY id") == db.dump("SELECT * FROM items ORDER BY id"));

  // Acknowledge purges the log; teardown removes every _cdc_ object.
  CHECK(db.scalar("SELECT count(*) FROM _cdc_log") == 10);
  s2->acknowledge(Position(events[4].position));
  CHECK(db.scalar("SELECT count(*) FROM _cdc_log") == 5);
  s2->acknowledge(s2->position());
  CHECK(db.scalar("SELECT count(*) FROM _cdc_log") == 0);
  CHECK(db.scalar("SELECT count(*) FROM _cdc_img_1") == 0);
  CHECK(src->prepare_stream(st2).position == s2->position());  // sequence survives the purge

  auto removed = src->teardown();
  CHECK(std::find(removed.begin(), removed.end(), "dropped trigger _cdc_trg_items_ins") != removed.end());
  CHECK(std::find(removed.begin(), removed.end(), "dropped table _cdc_log") != removed.end());
  CHECK(removed.size() == 11);  // 6 triggers, log, tables, image columns, 2 image tables
  CHECK(db.scalar("SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_cdc\\_%' ESCAPE '\\'") == 0);
  db.exec("INSERT INTO items(id) VALUES(99)");  // no trigger left to fail
  CHECK(src->teardown().empty());

  CHECK_THROWS_AS(src->compare_positions(Position("abc"), Position("1")), cdc::Error);
  CHECK(src->compare_positions(Position("9"), Position("10")) < 0);
}

TEST_CASE("sqlite stream filter turns rows leaving it into deletes", "[sqlite]") {
  TempDir dir;
  Raw db(dir.file("src.db"));
  db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, qty INTEGER, hidden TEXT)");
  auto src = ConnectorRegistry::instance().open_source(dir.url("src.db"));
  auto dst = ConnectorRegistry::instance().open_destination(dir.url("dst.db"));
  auto tables = discover_all(*src);
  TableSchema proj = tables[0];
  proj.columns.pop_back();  // the filter may use a column that is not delivered
  std::vector<cdc::StreamTable> st{{proj, "qty > 10 AND hidden IS NOT 'x'"}};
  auto start = src->prepare_stream(st);
  dst->prepare_table(same_dialect(proj));
  db.exec(R"(INSERT INTO t VALUES(1, 5, NULL), (2, 20, NULL), (3, 30, NULL), (4, 40, 'x');
            UPDATE t SET qty = 1 WHERE id = 2;
            UPDATE t SET qty = 15 WHERE id = 1;
            UPDATE t SET id = 33, qty = 3 WHERE id = 3;)");
  auto stream = src->open_stream(st, start.position);
  auto events = drain(*stream);
  std::vector<std::string> ops;
  for (auto& e : events) ops.push_back(std::string(cdc::to_string(e.op)) + ":" + e.table.name);
  CHECK(events.size() == 8);
  CHECK(events[0].op == ChangeOp::Delete);  // insert of id 1 outside the filter
  CHECK(events[1].op == ChangeOp::Insert);
  CHECK(events[1].after.size() == 2);
  CHECK(events[3].op == ChangeOp::Delete);  // id 4: hidden = 'x'
  CHECK(events[4].op == ChangeOp::Delete);  // id 2 left the filter
  CHECK(events[5].op == ChangeOp::Update);  // id 1 entered it
  apply_events(*dst, st, events, stream->position().str());
  Raw out(dir.file("dst.db"));
  CHECK(out.dump("SELECT id, qty FROM t ORDER BY id") ==
        db.dump("SELECT id, qty FROM t WHERE qty > 10 AND hidden IS NOT 'x' ORDER BY id"));
  CHECK(out.scalar("SELECT count(*) FROM t") == 1);
}

TEST_CASE("sqlite checkpoints commit and roll back with the data", "[sqlite]") {
  TempDir dir;
  auto dst = ConnectorRegistry::instance().open_destination(dir.url("dst.db"));
  DestinationTable t;
  t.schema.id = cdc::TableId("t");
  cdc::Column id;
  id.name = "id";
  id.type.id = cdc::TypeId::Int64;
  cdc::Column v;
  v.name = "v";
  v.type.id = cdc::TypeId::String;
  t.schema.columns = {id, v};
  t.schema.primary_key = {"id"};
  dst->prepare_table(t);
  auto store = dst->checkpoint_store();
  REQUIRE(store);
  {
    auto w = dst->open_writer();
    w->begin();
    w->write_rows(t, {{Value::int64(1), Value::string("a")}, {Value::int64(1), Value::string("b")}});
    w->commit("s1", {{"chunk:t:0", "done"}, {"stream", "5"}});
  }
  CHECK(store->load("s1") == std::map<std::string, std::string>{{"chunk:t:0", "done"}, {"stream", "5"}});
  {
    auto w = dst->open_writer();
    w->begin();
    w->write_rows(t, {{Value::int64(2), Value::string("c")}});
    w->rollback();
    w->begin();
    w->write_rows(t, {{Value::int64(3), Value::string("d")}});
    // Destroyed with an open transaction: rolled back.
  }
  {
    auto w = dst->open_writer();
    w->begin();
    w->apply(t, {ChangeEvent{ChangeOp::Delete, t.schema.id, {Value::int64(1), Value()}, {}, {}, {}, {}, 0, false, true, {}}});
    w->commit("s1", {{"chunk:t:0", ""}, {"stream", "6"}});
  }
  CHECK(store->load("s1") == std::map<std::string, std::string>{{"stream", "6"}});
  Raw db(dir.file("dst.db"));
  CHECK(db.scalar("SELECT count(*) FROM t") == 0);
  CHECK(store->sessions() == std::vector<std::string>{"s1"});

  // Standalone store.
  auto cp = ConnectorRegistry::instance().open_checkpoint_store(dir.url("cp.db"));
  CHECK(cp->load("x").empty());
  cp->put("x", {{"a", "1"}, {"b", "2"}});
  cp->put("y", {{"a", "3"}});
  cp->put("x", {{"a", ""}, {"b", "22"}});
  CHECK(cp->load("x") == std::map<std::string, std::string>{{"b", "22"}});
  CHECK(cp->sessions() == std::vector<std::string>{"x", "y"});
  cp->clear("x");
  CHECK(cp->sessions() == std::vector<std::string>{"y"});
  auto cp2 = ConnectorRegistry::instance().open_checkpoint_store(dir.url("cp.db"));
  CHECK(cp2->load("y").at("a") == "3");
}

TEST_CASE("sqlite soft deletes and unchanged columns", "[sqlite]") {
  TempDir dir;
  auto dst = ConnectorRegistry::instance().open_destination(dir.url("dst.db"));
  DestinationTable t;
  t.schema.id = cdc::TableId("t");
  cdc::Column id, v, w2, flag;
  id.name = "id";
  id.type.id = cdc::TypeId::Int64;
  v.name = "v";
  v.type.id = cdc::TypeId::String;
  w2.name = "w";
  w2.type.id = cdc::TypeId::String;
  flag.name = "_cdc_deleted";
  flag.type.id = cdc::TypeId::Bool;
  t.schema.columns = {id, v, w2, flag};
  t.schema.primary_key = {"id"};
  t.deletes.strategy = cdc::DeleteStrategy::Soft;
  dst->prepare_table(t);
  auto w = dst->open_writer();
  w->begin();
  w->write_rows(t, {{Value::int64(1), Value::string("a"), Value::string("x")},
                    {Value::int64(2), Value::string("b"), Value::string("y")}});
  ChangeEvent del;
  del.op = ChangeOp::Delete;
  del.table = t.schema.id;
  del.before = {Value::int64(1), Value(), Value()};
  ChangeEvent upd;
  upd.op = ChangeOp::Update;
  upd.table = t.schema.id;
  upd.before = {Value::int64(2), Value(), Value()};
  upd.after = {Value::int64(2), Value::string("b2"), Value()};
  upd.unchanged = {false, false, true};
  w->apply(t, {del, upd});
  w->commit("s", {});
  Raw db(dir.file("dst.db"));
  CHECK(db.dump("SELECT id, v, w, _cdc_deleted FROM t ORDER BY id") ==
        std::vector<std::string>{"i:1 | t:61 | t:78 | i:1", "i:2 | t:" + Raw::hex("b2", 2) + " | t:79 | i:0"});
}

TEST_CASE("sqlite incremental reads by watermark and by custom query", "[sqlite]") {
  TempDir dir;
  {
    Raw db(dir.file("src.db"));
    db.exec(R"(CREATE TABLE ev(id INTEGER PRIMARY KEY, ts INTEGER, v TEXT);
              INSERT INTO ev VALUES(1, 30, 'c'), (2, 10, 'a'), (3, 20, 'b'), (4, 40, 'd');)");
  }
  auto src = ConnectorRegistry::instance().open_source(dir.url("src.db"));
  auto s = discover_all(*src)[0];
  auto collect = [](cdc::RowReader& r) {
    std::vector<std::string> out;
    std::vector<Row> rows;
    while (r.next(rows))
      for (auto& row : rows) {
        std::string line;
        for (auto& v : row) line += v.to_display() + " ";
        out.push_back(line);
      }
    return out;
  };
  cdc::IncrementalRequest req;
  req.schema = s;
  req.watermark_column = "ts";
  req.batch_size = 1;
  CHECK(collect(*src->read_incremental(req)) ==
        std::vector<std::string>{"2 10 'a' ", "3 20 'b' ", "1 30 'c' ", "4 40 'd' "});
  req.last_value = Value::int64(20);
  CHECK(collect(*src->read_incremental(req)) == std::vector<std::string>{"1 30 'c' ", "4 40 'd' "});
  req.where = "v <> 'd'";
  CHECK(collect(*src->read_incremental(req)) == std::vector<std::string>{"1 30 'c' "});

  req.where.clear();
  req.query = "SELECT v, ts, id AS ID FROM ev WHERE :last_value IS NULL OR ts > :last_value ORDER BY ts DESC";
  CHECK(collect(*src->read_incremental(req)) == std::vector<std::string>{"4 40 'd' ", "1 30 'c' "});
  req.last_value.reset();
  CHECK(collect(*src->read_incremental(req)).size() == 4);
  req.query = "SELECT id, v FROM ev WHERE ts > :last_value";
  try {
    src->read_incremental(req);
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Schema);
    CHECK(std::string(e.what()).find("\"ts\"") != std::string::npos);
  }
}
