// The checkpoint ledger: every key parses back to what built it, values round-trip, a store
// written by cdc 0.1 (format 1) is brought to format 2 and a newer format is refused.
#include "core/session/ledger.h"

#include <cdc/error.h>

#include <catch2/catch.hpp>

using cdc::detail::Ledger;
using cdc::detail::LedgerKey;

TEST_CASE("ledger keys parse back to their kind and table", "[unit][ledger]") {
  auto k = Ledger::parse_key(Ledger::chunk_key("public.orders", 12));
  CHECK(k.kind == LedgerKey::Kind::Chunk);
  CHECK(k.table == "public.orders");
  CHECK(k.chunk == 12);
  // A table name may hold ':' itself; the chunk index is after the last one.
  k = Ledger::parse_key(Ledger::chunk_key("odd:name", 3));
  CHECK(k.table == "odd:name");
  CHECK(k.chunk == 3);
  CHECK(Ledger::parse_key(Ledger::table_key("a.b")).kind == LedgerKey::Kind::Table);
  CHECK(Ledger::parse_key(Ledger::schema_key("a.b")).kind == LedgerKey::Kind::Schema);
  CHECK(Ledger::parse_key(Ledger::held_key("a.b")).table == "a.b");
  CHECK(Ledger::parse_key(Ledger::backfill_key("a.b")).kind == LedgerKey::Kind::Backfill);
  CHECK(Ledger::parse_key("stream").kind == LedgerKey::Kind::Stream);
  CHECK(Ledger::parse_key("format").kind == LedgerKey::Kind::Format);
  CHECK(Ledger::parse_key("lease").kind == LedgerKey::Kind::Lease);
  CHECK(Ledger::parse_key("chunk:x:notanumber").kind == LedgerKey::Kind::Unknown);
  CHECK(Ledger::parse_key("something").kind == LedgerKey::Kind::Unknown);

  std::map<std::string, std::string> entries{{"table:a", "{}"}, {"chunk:a:0", "1"}, {"held:a", "5"}, {"table:ab", "{}"},
                                             {"stream", "9"}, {"schema:a", "{}"}};
  auto keys = Ledger::keys_of(entries, "a");
  CHECK(keys == std::vector<std::string>{"chunk:a:0", "held:a", "schema:a", "table:a"});
}

TEST_CASE("table records, schemas and backfills round-trip", "[unit][ledger]") {
  cdc::detail::TableRecord r;
  r.phase = cdc::TablePhase::Failed;
  r.target = "public.t";
  r.mode = "replicate";
  r.snapshot_position = "0/16B3748";
  r.watermark = cdc::Value::timestamp("2026-01-02 03:04:05.000006");
  r.changes = 42;
  r.quarantined = 3;
  r.error = "disk full";
  r.paused = true;
  r.ddl_held = true;
  r.needs_resync = true;
  r.held_since_us = 1700000000000000;
  r.failed_at_us = 1700000001000000;
  r.failed_from = cdc::TablePhase::Streaming;
  r.resync_set = "r1234abcd";
  cdc::Column kept;
  kept.name = "v";
  kept.type.id = cdc::TypeId::Int64;
  kept.source_type = "bigint";
  r.kept_types["v"] = kept;
  r.left_out = {"extra"};
  auto back = Ledger::decode_table(Ledger::encode_table(r), "t");
  CHECK(Ledger::encode_table(back) == Ledger::encode_table(r));
  CHECK(back.failed_from == cdc::TablePhase::Streaming);
  CHECK(back.kept_types.at("v").source_type == "bigint");
  CHECK(back.watermark->to_display() == r.watermark->to_display());

  cdc::TableSchema s;
  s.id = cdc::TableId("shop", "orders");
  cdc::Column id;
  id.name = "id";
  id.type.id = cdc::TypeId::Int64;
  id.type.is_unsigned = true;
  id.nullable = false;
  id.identity = true;
  id.comment = "the order's number";
  cdc::Column st;
  st.name = "state";
  st.type.id = cdc::TypeId::Enum;
  st.type.members = {"new", "paid", "it's done"};
  st.default_expr = "'new'";
  st.source_type = "enum('new','paid','it''s done')";
  cdc::Column price;
  price.name = "price";
  price.type.id = cdc::TypeId::Decimal;
  price.type.precision = 10;
  price.type.scale = 2;
  price.generated = "`qty` * 2";
  price.generated_stored = false;
  price.on_update = "current_timestamp()";
  s.columns = {id, st, price};
  s.primary_key = {"id"};
  auto sb = Ledger::decode_schema(Ledger::encode_schema(s), "shop.orders");
  CHECK(sb.id == s.id);
  REQUIRE(sb.columns.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(sb.columns[i].name == s.columns[i].name);
    CHECK(sb.columns[i].type == s.columns[i].type);
    CHECK(sb.columns[i].nullable == s.columns[i].nullable);
    CHECK(sb.columns[i].default_expr == s.columns[i].default_expr);
    CHECK(sb.columns[i].source_type == s.columns[i].source_type);
    CHECK(sb.columns[i].identity == s.columns[i].identity);
    CHECK(sb.columns[i].generated == s.columns[i].generated);
    CHECK(sb.columns[i].generated_stored == s.columns[i].generated_stored);
    CHECK(sb.columns[i].on_update == s.columns[i].on_update);
    CHECK(sb.columns[i].comment == s.columns[i].comment);
  }
  CHECK(sb.primary_key == s.primary_key);

  cdc::detail::BackfillTask task{{"d", "v"}, "mysql-bin.000003:4567#0-1-9"};
  auto tb = Ledger::decode_backfill(Ledger::encode_backfill(task), "t");
  CHECK(tb.columns == task.columns);
  CHECK(tb.after == task.after);
}

TEST_CASE("unreadable ledger values name their key", "[unit][ledger]") {
  try {
    Ledger::decode_table("{not json", "shop.orders");
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::State);
    CHECK(e.where() == "checkpoint table:shop.orders");
  }
  CHECK_THROWS_AS(Ledger::decode_chunks("[[1]]", "t"), cdc::Error);
}

TEST_CASE("a format 1 ledger migrates to format 2, a newer one is refused", "[unit][ledger]") {
  // As cdc 0.1 wrote it (tests/data/ledger-v1/ holds a whole store).
  std::map<std::string, std::string> v1{
      {"stream", "8"},
      {"table:orders", R"({"phase":"streaming","target":"orders","mode":"replicate","snapshot_position":"0","changes":6})"},
      {"plan:orders", R"([["","",50]])"},
      {"chunk:orders:0", "50"},
      {"held:paused_t", "6"}};
  auto writes = Ledger::migrate(v1, "s");
  REQUIRE(writes.size() == 1);
  CHECK(writes[0].key == "format");
  CHECK(writes[0].value == "2");
  auto rec = Ledger::decode_table(v1.at("table:orders"), "orders");
  CHECK(rec.phase == cdc::TablePhase::Streaming);
  CHECK(!rec.paused);
  CHECK(rec.kept_types.empty());

  v1["format"] = "2";
  CHECK(Ledger::migrate(v1, "s").empty());
  CHECK(Ledger::migrate({}, "s").size() == 1);  // a new session records its format
  v1["format"] = "3";
  try {
    Ledger::migrate(v1, "shop");
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::State);
    CHECK(std::string(e.what()).find("written by a newer cdc (ledger format 3)") != std::string::npos);
  }
}
