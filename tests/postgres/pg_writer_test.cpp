// The PostgreSQL writer's optional operations and apply rules against a real server: the shared
// writer scenarios (tests/support/writer_scenarios.h), plus what is PostgreSQL's own: values of
// every kind as ADD COLUMN defaults, ENUM labels added to enum types (in the source's order) and to
// enum_as: check constraints, and key sets in cdc_metadata.
#include "pg_test_util.h"

#include "support/writer_scenarios.h"

using namespace pg_test;
namespace ws = writer_scenarios;

namespace {

ws::Target target(const TempDb& db, Conn& c) {
  ws::Target t;
  t.dest = cdc::ConnectorRegistry::instance().open_destination(db.url());
  t.schema = "public";
  t.query = [&c](const std::string& sql) { return c.rows(sql); };
  t.yes = "t";
  t.no = "f";
  t.key_sets = [&c](const std::string& table) {
    return std::stoi(c.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'cdc_metadata' AND tablename LIKE 'keys\\_public\\_" +
                              table + "\\_%'"));
  };
  return t;
}

}  // namespace

TEST_CASE("postgres: writer capabilities, backfill, resync sweep, evolve with fill, key changes", "[postgres][writer]") {
  QuietLog quiet;
  TempDb db("writer");
  Conn c(db.url());
  ws::Target t = target(db, c);
  ws::capabilities(t, true);
  SECTION("backfill") { ws::backfill(t); }
  SECTION("resync sweep") {
    ws::resync_sweep(t);
    // The set lived in cdc's schema, never next to the user's tables.
    CHECK(c.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE '%keys%'") == "0");
  }
  SECTION("evolve with fill") { ws::evolve_fill(t); }
  SECTION("key changes") { ws::key_changes(t); }
  SECTION("error context") {
    CHECK_THAT(ws::error_context(t),
               Catch::StartsWith("PostgreSQL statement failed: ERROR:  null value in column \"v\"") &&
                   Catch::EndsWith("(applying 3 upserts (keys id=1; id=2; id=3) to table public.ctx)"));
  }
}

TEST_CASE("postgres: evolve fills existing rows with values of every kind", "[postgres][writer]") {
  QuietLog quiet;
  TempDb db("fill");
  auto dest = cdc::ConnectorRegistry::instance().open_destination(db.url());
  cdc::DestinationTable table;
  table.schema.id = cdc::TableId("public", "f");
  table.schema.columns = {ws::col("id", cdc::TypeId::Int64, false)};
  table.schema.primary_key = {"id"};
  dest->prepare_table(table);
  auto w = dest->open_writer();
  w->begin();
  w->write_rows(table, {{cdc::Value::int64(1)}});
  w->commit("s", {});
  std::vector<cdc::TargetColumnChange> changes;
  auto add = [&](cdc::Column col, cdc::Value fill) {
    table.schema.columns.push_back(col);
    cdc::TargetColumnChange ch;
    ch.column = col.name;
    ch.target = col;
    ch.fill = std::move(fill);
    changes.push_back(ch);
  };
  cdc::Column dec = ws::col("dec", cdc::TypeId::Decimal);
  dec.type.precision = 30;
  dec.type.scale = 10;
  add(dec, cdc::Value::decimal("-12345678901234567890.0123456789"));
  add(ws::col("f8", cdc::TypeId::Float64), cdc::Value::float64(0.1));
  add(ws::col("ts", cdc::TypeId::Timestamp), cdc::Value::timestamp("2024-02-29 13:01:02.5"));
  add(ws::col("tz", cdc::TypeId::TimestampTz), cdc::Value::timestamp_tz("2024-02-29 13:01:02+02:00"));
  add(ws::col("dt", cdc::TypeId::Date), cdc::Value::date("2024-02-29"));
  add(ws::col("by", cdc::TypeId::Bytes), cdc::Value::bytes(std::string("\0\xff'\\", 4)));
  add(ws::col("js", cdc::TypeId::Json), cdc::Value::json("{\"a\": \"it's\"}"));
  add(ws::col("u", cdc::TypeId::Uuid), cdc::Value::uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
  add(ws::col("big", cdc::TypeId::Int64), cdc::Value::uint64(9223372036854775807ULL));
  w->begin();
  w->evolve(table, changes);
  w->commit("s", {});
  Conn c(db.url());
  CHECK(c.rows("SELECT id, dec, f8, ts, tz, dt, encode(by, 'hex'), js, u, big FROM f") ==
        std::vector<std::string>{"1 | -12345678901234567890.0123456789 | 0.1 | 2024-02-29 13:01:02.5 | 2024-02-29 11:01:02+00 | "
                                 "2024-02-29 | 00ff275c | {\"a\": \"it's\"} | a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 | "
                                 "9223372036854775807"});
}

TEST_CASE("postgres: ENUM labels added at the source reach the enum type and the label CHECK", "[postgres][writer][enum]") {
  QuietLog quiet;
  TempDb db("labels");
  auto dest = cdc::ConnectorRegistry::instance().open_destination(db.url());
  cdc::DestinationTable table;
  table.schema.id = cdc::TableId("public", "lbl");
  cdc::Column e = ws::col("e", cdc::TypeId::Enum);      // enum_as: type
  cdc::Column k = ws::col("k", cdc::TypeId::String);    // enum_as: check
  e.type.members = k.type.members = {"a", "b'q"};
  table.schema.columns = {ws::col("id", cdc::TypeId::Int64, false), e, k};
  table.schema.primary_key = {"id"};
  dest->prepare_table(table);
  auto row = [](std::int64_t id, const char* ev, const char* kv) {
    return cdc::Row{cdc::Value::int64(id), cdc::Value::string(ev), cdc::Value::string(kv)};
  };
  auto w = dest->open_writer();
  w->begin();
  w->write_rows(table, {row(1, "a", "b'q")});
  w->commit("s", {});

  // The source's list becomes a, x, b'q, c: x in the middle, c at the end.
  cdc::DestinationTable evolved = table;
  evolved.schema.columns[1].type.members = evolved.schema.columns[2].type.members = {"a", "x", "b'q", "c"};
  std::vector<cdc::TargetColumnChange> changes(2);
  for (int i = 0; i < 2; ++i) {
    changes[static_cast<std::size_t>(i)].kind = cdc::ColumnChangeKind::Widened;
    changes[static_cast<std::size_t>(i)].column = evolved.schema.columns[static_cast<std::size_t>(i) + 1].name;
    changes[static_cast<std::size_t>(i)].target = evolved.schema.columns[static_cast<std::size_t>(i) + 1];
  }
  w->begin();
  auto ddl = w->evolve(evolved, changes);
  w->commit("s", {});
  CHECK(ddl[0] == "ALTER TYPE \"public\".\"lbl_e\" ADD VALUE IF NOT EXISTS E'x' BEFORE E'b''q'; "
                  "ALTER TYPE \"public\".\"lbl_e\" ADD VALUE IF NOT EXISTS E'c'");
  CHECK(ddl[1] == "ALTER TABLE \"public\".\"lbl\" DROP CONSTRAINT \"lbl_k_check\"; "
                  "ALTER TABLE \"public\".\"lbl\" ADD CONSTRAINT \"lbl_k_check\" CHECK (\"k\" IN (E'a', E'x', E'b''q', E'c'))");
  Conn c(db.url());
  CHECK(c.rows("SELECT enumlabel FROM pg_enum WHERE enumtypid = 'lbl_e'::regtype ORDER BY enumsortorder") ==
        std::vector<std::string>{"a", "x", "b'q", "c"});
  CHECK(c.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'lbl'::regclass AND attnum > 0 ORDER BY attnum") ==
        std::vector<std::string>{"bigint", "lbl_e", "text"});

  // The new labels in the next transaction (a new label is usable once its ALTER TYPE committed).
  w->begin();
  cdc::ChangeEvent ins;
  ins.after = row(2, "c", "c");
  cdc::ChangeEvent ins2;
  ins2.after = row(3, "x", "x");
  w->apply(evolved, {ins, ins2});
  w->commit("s", {});
  CHECK(c.rows("SELECT id, e, k FROM lbl ORDER BY e, id") == std::vector<std::string>{"1 | a | b'q", "3 | x | x", "2 | c | c"});

  // The CHECK still refuses what is not a label.
  w->begin();
  cdc::ChangeEvent bad;
  bad.after = row(4, "a", "zz");
  CHECK_THROWS_WITH(w->apply(evolved, {bad}), Catch::Contains("lbl_k_check"));
  w->rollback();

  // Replayed after a crash: the type has its labels (nothing to run), the CHECK is made again.
  w->begin();
  ddl = w->evolve(evolved, changes);
  w->commit("s", {});
  CHECK(ddl[0].empty());
  CHECK(c.rows("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'lbl'::regclass AND contype = 'c'") ==
        std::vector<std::string>{"CHECK ((k = ANY (ARRAY['a'::text, 'x'::text, 'b''q'::text, 'c'::text])))"});
  CHECK(c.count("lbl") == 3);
}
