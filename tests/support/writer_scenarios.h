// The optional writer operations and the shared apply rules, as scenarios every SQL destination
// must pass against its real server: backfill, resync key sets and sweeps, evolve with fill, key
// changes (the one key-change rule, key moves with unsent columns, soft deletes in one batch), and
// error context. Each destination's test file runs them with a Target that reads its server
// directly (not through cdc), so the assertions check what the database holds, row by row.
#pragma once

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace writer_scenarios {

using Rows = std::vector<std::string>;
using cdc::ChangeEvent;
using cdc::ChangeOp;
using cdc::Row;
using cdc::Value;

struct Target {
  std::shared_ptr<cdc::DestinationConnector> dest;
  std::string schema;  // the schema tables are made in ("public" for PostgreSQL, "" elsewhere)
  // Rows of a query on the server, each row's columns joined by " | ", NULL as "NULL".
  std::function<Rows(const std::string& sql)> query;
  std::string yes = "1", no = "0";  // how a boolean reads back
  // How many key-set tables of target table `table` exist.
  std::function<int(const std::string& table)> key_sets;
  bool concurrent_writers = true;  // false: one write transaction at a time (SQLite)

  std::string rows_of(const std::string& select) const { return join(query(select)); }
  static std::string join(const Rows& rows) {
    std::string out;
    for (const auto& r : rows) out += (out.empty() ? "" : "\n") + r;
    return out;
  }
};

inline cdc::Column col(const char* name, cdc::TypeId id, bool nullable = true, int length = -1) {
  cdc::Column c;
  c.name = name;
  c.type.id = id;
  c.type.length = length;
  c.nullable = nullable;
  return c;
}

// `name` (id bigint key, v text, n bigint), with a trailing soft-delete flag when `soft`.
inline cdc::DestinationTable items(const Target& t, const std::string& name, bool soft) {
  cdc::DestinationTable d;
  d.schema.id = cdc::TableId(t.schema, name);
  d.schema.columns = {col("id", cdc::TypeId::Int64, false), col("v", cdc::TypeId::String, true, 20), col("n", cdc::TypeId::Int64)};
  d.schema.primary_key = {"id"};
  if (soft) {
    d.schema.columns.push_back(col("_cdc_deleted", cdc::TypeId::Bool, false));
    d.deletes.strategy = cdc::DeleteStrategy::Soft;
  }
  return d;
}

inline Value text(const char* v) { return v ? Value::string(v) : Value(); }
inline Value num(std::optional<std::int64_t> n) { return n ? Value::int64(*n) : Value(); }
// A row of items(); without the flag (what a stream row looks like).
inline Row r(std::int64_t id, const char* v = "x", std::optional<std::int64_t> n = std::nullopt) {
  return {Value::int64(id), text(v), num(n)};
}
// The same at full width of a soft-delete table (flag false).
inline Row full(std::int64_t id, const char* v, std::optional<std::int64_t> n) {
  return {Value::int64(id), text(v), num(n), Value::boolean(false)};
}

inline ChangeEvent ins(Row after) {
  ChangeEvent e;
  e.op = ChangeOp::Insert;
  e.after = std::move(after);
  return e;
}
inline ChangeEvent upd(Row before, Row after, std::vector<bool> unchanged = {}) {
  ChangeEvent e;
  e.op = ChangeOp::Update;
  e.before = std::move(before);
  e.after = std::move(after);
  e.unchanged = std::move(unchanged);
  return e;
}
inline ChangeEvent del(Row before) {
  ChangeEvent e;
  e.op = ChangeOp::Delete;
  e.before = std::move(before);
  return e;
}

inline void capabilities(const Target& t, bool transactional_ddl) {
  cdc::DestinationCapabilities c = t.dest->capabilities();
  CHECK(c.ddl);
  CHECK(c.atomic_checkpoints);
  CHECK(c.quarantine);
  CHECK(c.schema_evolution);
  CHECK(c.schema_history);
  CHECK(c.transactional_ddl == transactional_ddl);
  CHECK(c.backfill);
  CHECK(c.resync_sweep);
}

// Backfill sets the marked columns of rows whose key exists; absent keys are not inserted, the
// soft-delete flag is left alone, and a rolled-back backfill leaves nothing.
inline void backfill(const Target& t) {
  auto table = items(t, "bf", true);
  t.dest->prepare_table(table);
  auto w = t.dest->open_writer();
  w->begin();
  w->write_rows(table, {r(1, "a", 1), r(2, "b", 2), r(3, "c", 3)});
  w->apply(table, {del(r(3, "c", 3))});
  w->commit("s", {});
  const std::string select = "SELECT id, v, n, _cdc_deleted FROM bf ORDER BY id";
  const std::string& y = t.yes;
  const std::string& n = t.no;
  CHECK(t.rows_of(select) == Target::join({"1 | a | 1 | " + n, "2 | b | 2 | " + n, "3 | c | 3 | " + y}));

  // Only n: v keeps its value, key 9 is not inserted, row 3 stays soft-deleted.
  const std::vector<bool> n_only{false, false, true, false};
  w->begin();
  w->backfill(table, {full(1, "zz", 100), full(3, "zz", 300), full(9, "zz", 900)}, n_only);
  w->commit("s", {});
  CHECK(t.rows_of(select) == Target::join({"1 | a | 100 | " + n, "2 | b | 2 | " + n, "3 | c | 300 | " + y}));

  // Two columns, one set to NULL.
  w->begin();
  w->backfill(table, {full(2, "B", std::nullopt)}, {false, true, true, false});
  w->commit("s", {});
  CHECK(t.rows_of(select) == Target::join({"1 | a | 100 | " + n, "2 | B | NULL | " + n, "3 | c | 300 | " + y}));

  // Rolled back: nothing changed.
  w->begin();
  w->backfill(table, {full(1, "no", -1)}, {false, true, true, false});
  w->rollback();
  CHECK(t.rows_of(select) == Target::join({"1 | a | 100 | " + n, "2 | B | NULL | " + n, "3 | c | 300 | " + y}));

  // The key and the flag are never set; rows have the target's width.
  for (const auto& marks : {std::vector<bool>{true, false, true, false}, std::vector<bool>{false, false, true, true}}) {
    w->begin();
    try {
      w->backfill(table, {full(1, "no", -1)}, marks);
      FAIL("backfill of a key or flag column accepted");
    } catch (const cdc::Error& e) {
      CHECK(e.kind() == cdc::ErrorKind::Internal);
    }
    w->rollback();
  }
  w->begin();
  CHECK_THROWS_AS(w->backfill(table, {{Value::int64(1), text("x")}}, n_only), cdc::Error);
  w->rollback();
  CHECK(t.rows_of(select) == Target::join({"1 | a | 100 | " + n, "2 | B | NULL | " + n, "3 | c | 300 | " + y}));
}

// Key sets: keys staged across transactions (and again, as a replayed chunk would) survive; the
// sweep removes every other row once, drops the set, and is harmless when replayed; a rolled-back
// sweep keeps both the rows and the set; an empty set sweeps everything; soft deletes flag rows.
inline void resync_sweep(const Target& t) {
  auto kv = items(t, "sw", false);
  t.dest->prepare_table(kv);
  auto w = t.dest->open_writer();
  const std::string select = "SELECT id FROM sw ORDER BY id";
  w->begin();
  w->write_rows(kv, {r(1), r(2), r(3), r(4), r(5)});
  w->commit("s", {});

  w->begin();
  w->stage_keys(kv, "r1", {r(1), r(3)});
  w->commit("s", {});
  CHECK(t.key_sets("sw") == 1);
  w->begin();
  w->stage_keys(kv, "r1", {r(5), r(7), r(1)});  // 7 is not in the target; 1 again
  w->commit("s", {});
  w->begin();
  CHECK(w->sweep_unstaged(kv, "r1") == 2);
  w->commit("s", {});
  CHECK(t.rows_of(select) == Target::join({"1", "3", "5"}));
  CHECK(t.key_sets("sw") == 0);

  // Replayed after the set is gone (a crash after the sweep committed): nothing happens.
  w->begin();
  CHECK(w->sweep_unstaged(kv, "r1") == 0);
  w->commit("s", {});
  CHECK(t.rows_of(select) == Target::join({"1", "3", "5"}));

  // Rolled back: rows and set stay; the sweep runs again later.
  w->begin();
  w->stage_keys(kv, "r2", {r(1)});
  w->commit("s", {});
  w->begin();
  CHECK(w->sweep_unstaged(kv, "r2") == 2);
  w->rollback();
  CHECK(t.rows_of(select) == Target::join({"1", "3", "5"}));
  CHECK(t.key_sets("sw") == 1);
  w->begin();
  CHECK(w->sweep_unstaged(kv, "r2") == 2);
  w->commit("s", {});
  CHECK(t.rows_of(select) == "1");
  CHECK(t.key_sets("sw") == 0);

  // A set staged with no rows exists, and sweeps every row.
  w->begin();
  w->write_rows(kv, {r(2)});
  w->stage_keys(kv, "none", {});
  w->commit("s", {});
  CHECK(t.key_sets("sw") == 1);
  w->begin();
  CHECK(w->sweep_unstaged(kv, "none") == 2);
  w->commit("s", {});
  CHECK(t.rows_of(select).empty());

  // An abandoned set is dropped, and dropping it twice is fine.
  w->begin();
  w->stage_keys(kv, "r3", {r(1)});
  w->commit("s", {});
  w->begin();
  w->drop_key_set(kv, "r3");
  w->commit("s", {});
  CHECK(t.key_sets("sw") == 0);
  w->begin();
  w->drop_key_set(kv, "r3");
  w->commit("s", {});

  // Soft deletes: rows not staged are flagged; a row flagged already does not count.
  auto soft = items(t, "sws", true);
  t.dest->prepare_table(soft);
  w->begin();
  w->write_rows(soft, {r(1), r(2), r(3), r(4)});
  w->apply(soft, {del(r(2))});
  w->commit("s", {});
  w->begin();
  w->stage_keys(soft, "s1", {full(1, "x", std::nullopt)});
  CHECK(w->sweep_unstaged(soft, "s1") == 2);
  w->commit("s", {});
  CHECK(t.rows_of("SELECT id, _cdc_deleted FROM sws ORDER BY id") ==
        Target::join({"1 | " + t.no, "2 | " + t.yes, "3 | " + t.yes, "4 | " + t.yes}));
  CHECK(t.key_sets("sws") == 0);

  if (!t.concurrent_writers) return;
  // Two chunk writers stage keys into one new set at the same time; both commit.
  auto par = items(t, "swp", false);
  t.dest->prepare_table(par);
  auto w2 = t.dest->open_writer();
  w->begin();
  w->write_rows(par, {r(1), r(2), r(3)});
  w->commit("s", {});
  w->begin();
  w2->begin();
  w->stage_keys(par, "p", {r(1)});
  w2->stage_keys(par, "p", {r(2)});
  w->commit("s", {});
  w2->commit("s", {});
  w->begin();
  CHECK(w->sweep_unstaged(par, "p") == 1);
  w->commit("s", {});
  CHECK(t.rows_of("SELECT id FROM swp ORDER BY id") == Target::join({"1", "2"}));
}

// An added column with `fill` gives every existing row that value; without it they hold NULL. A
// change replayed after a crash runs nothing. Returns the table as evolved.
inline cdc::DestinationTable evolve_fill(const Target& t) {
  auto table = items(t, "ev", false);
  t.dest->prepare_table(table);
  auto w = t.dest->open_writer();
  w->begin();
  w->write_rows(table, {r(1, "a", 1), r(2, nullptr, std::nullopt)});
  w->commit("s", {});

  cdc::DestinationTable evolved = table;
  std::vector<cdc::TargetColumnChange> changes;
  auto add = [&](cdc::Column c, std::optional<Value> fill) {
    evolved.schema.columns.push_back(c);
    cdc::TargetColumnChange ch;
    ch.kind = cdc::ColumnChangeKind::Added;
    ch.column = c.name;
    ch.target = c;
    ch.fill = std::move(fill);
    changes.push_back(ch);
  };
  add(col("c", cdc::TypeId::Int64), Value::int64(-42));
  add(col("s", cdc::TypeId::String, true, 40), Value::string("it's \\ \"q\" ; DROP"));
  add(col("d", cdc::TypeId::Int64), std::nullopt);
  add(col("b", cdc::TypeId::Bool), Value::boolean(true));
  w->begin();
  auto ddl = w->evolve(evolved, changes);
  w->commit("s", {});
  REQUIRE(ddl.size() == 4);
  CHECK(ddl[0].find("DEFAULT") != std::string::npos);
  CHECK(ddl[2].find("DEFAULT") == std::string::npos);
  const std::string select = "SELECT id, v, n, c, s, d, b FROM ev ORDER BY id";
  CHECK(t.rows_of(select) == Target::join({"1 | a | 1 | -42 | it's \\ \"q\" ; DROP | NULL | " + t.yes,
                                           "2 | NULL | NULL | -42 | it's \\ \"q\" ; DROP | NULL | " + t.yes}));

  // Replayed: the columns are there, nothing runs.
  w->begin();
  ddl = w->evolve(evolved, changes);
  w->commit("s", {});
  CHECK(ddl == std::vector<std::string>(4));

  // Rows written after carry their own values.
  w->begin();
  w->apply(evolved, {ins({Value::int64(3), text("c"), num(3), num(7), text("new"), num(8), Value::boolean(false)})});
  w->commit("s", {});
  CHECK(t.rows_of(select) == Target::join({"1 | a | 1 | -42 | it's \\ \"q\" ; DROP | NULL | " + t.yes,
                                           "2 | NULL | NULL | -42 | it's \\ \"q\" ; DROP | NULL | " + t.yes,
                                           "3 | c | 3 | 7 | new | 8 | " + t.no}));
  return evolved;
}

// The one key-change rule, key moves with unsent columns (and their replay), soft deletes of rows
// written in the same batch, and a moved row replacing a soft-deleted holder of its key.
inline void key_changes(const Target& t) {
  auto w = t.dest->open_writer();
  // Composite key; one old key value not sent: it did not change, the old row still goes.
  cdc::DestinationTable ck;
  ck.schema.id = cdc::TableId(t.schema, "ck");
  ck.schema.columns = {col("a", cdc::TypeId::Int64, false), col("b", cdc::TypeId::String, false, 10), col("v", cdc::TypeId::String)};
  ck.schema.primary_key = {"a", "b"};
  t.dest->prepare_table(ck);
  w->begin();
  w->write_rows(ck, {{Value::int64(1), text("k"), text("x")}, {Value::int64(5), text("m"), text("y")}});
  w->apply(ck, {upd({Value::int64(1), Value(), Value()}, {Value::int64(2), text("k"), text("y")}),
                // An old image without the key (REPLICA IDENTITY DEFAULT): no key change, no delete.
                upd({Value(), Value(), Value()}, {Value::int64(5), text("m"), text("z")})});
  w->commit("s", {});
  CHECK(t.rows_of("SELECT a, b, v FROM ck ORDER BY a") == Target::join({"2 | k | y", "5 | m | z"}));

  // A key change whose new image lacks n (unsent): the row moves and keeps n. The same batch
  // replayed (a crash before its checkpoint) changes nothing.
  auto mv = items(t, "mv", false);
  t.dest->prepare_table(mv);
  w->begin();
  w->write_rows(mv, {r(1, "a", 11)});
  w->commit("s", {});
  const std::vector<ChangeEvent> batch{upd(r(1, nullptr, std::nullopt), r(3, "m", std::nullopt), {false, false, true}),
                                       upd({}, r(3, "m2", std::nullopt), {false, false, true})};
  for (int round = 0; round < 2; ++round) {
    w->begin();
    w->apply(mv, batch);
    w->commit("s", {});
    CHECK(t.rows_of("SELECT id, v, n FROM mv ORDER BY id") == "3 | m2 | 11");
  }

  // Soft deletes: inserted and deleted in one batch, the row is there, flagged; a key moved onto
  // a soft-deleted row replaces it.
  auto soft = items(t, "mvs", true);
  t.dest->prepare_table(soft);
  w->begin();
  w->apply(soft, {ins(r(7, "x", 7)), del(r(7, "x", 7))});
  w->write_rows(soft, {r(1, "a", 11), r(3, "old", 33)});
  w->apply(soft, {del(r(3))});
  w->commit("s", {});
  w->begin();
  w->apply(soft, {upd(r(1, nullptr, std::nullopt), r(3, "m", std::nullopt), {false, false, true, false})});
  w->commit("s", {});
  CHECK(t.rows_of("SELECT id, v, n, _cdc_deleted FROM mvs ORDER BY id") ==
        Target::join({"3 | m | 11 | " + t.no, "7 | x | 7 | " + t.yes}));
}

// A destination error during apply names what was applied and where, and keeps its kind; returns
// the message (each destination checks its own wording).
inline std::string error_context(const Target& t) {
  cdc::DestinationTable table;
  table.schema.id = cdc::TableId(t.schema, "ctx");
  table.schema.columns = {col("id", cdc::TypeId::Int64, false), col("v", cdc::TypeId::String, false, 10)};
  table.schema.primary_key = {"id"};
  t.dest->prepare_table(table);
  auto w = t.dest->open_writer();
  w->begin();
  std::string message;
  try {
    w->apply(table, {ins({Value::int64(1), text("a")}), ins({Value::int64(2), Value()}), ins({Value::int64(3), text("c")})});
    FAIL("a NULL in a NOT NULL column was accepted");
  } catch (const cdc::Error& e) {
    CHECK_FALSE(e.retryable());
    CHECK(e.kind() != cdc::ErrorKind::Internal);
    message = e.message();
  }
  w->rollback();
  CHECK(t.query("SELECT id FROM ctx").empty());
  return message;
}

}  // namespace writer_scenarios
