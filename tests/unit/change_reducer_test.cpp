// The destination toolkit every SQL writer shares (lib/core/writer/): change reduction per key
// with its one key-change rule, unchanged-column merging, key moves and TRUNCATE segments; the
// width check; the layout cache; the error context.
#include "core/writer/change_reducer.h"
#include "core/writer/error_context.h"
#include "core/writer/key_set.h"
#include "core/writer/table_layout.h"

#include <cdc/error.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace cdc;
using cdc::detail::ReducedSegment;

namespace {

Column col(const char* name, TypeId id) {
  Column c;
  c.name = name;
  c.type.id = id;
  return c;
}

// public.t (id, a, b) keyed by id; with `soft`, a trailing flag column.
DestinationTable table(bool soft = false) {
  DestinationTable t;
  t.schema.id = TableId("public", "t");
  t.schema.columns = {col("id", TypeId::Int64), col("a", TypeId::String), col("b", TypeId::String)};
  t.schema.primary_key = {"id"};
  if (soft) {
    t.schema.columns.push_back(col("_cdc_deleted", TypeId::Bool));
    t.deletes.strategy = DeleteStrategy::Soft;
  }
  return t;
}

Value s(const char* v) { return v ? Value::string(v) : Value(); }
Row row(std::int64_t id, const char* a, const char* b) { return {Value::int64(id), s(a), s(b)}; }

ChangeEvent ins(Row after) {
  ChangeEvent e;
  e.op = ChangeOp::Insert;
  e.after = std::move(after);
  return e;
}
ChangeEvent upd(Row before, Row after, std::vector<bool> unchanged = {}) {
  ChangeEvent e;
  e.op = ChangeOp::Update;
  e.before = std::move(before);
  e.after = std::move(after);
  e.unchanged = std::move(unchanged);
  return e;
}
ChangeEvent del(Row before) {
  ChangeEvent e;
  e.op = ChangeOp::Delete;
  e.before = std::move(before);
  return e;
}
ChangeEvent trunc() {
  ChangeEvent e;
  e.op = ChangeOp::Truncate;
  return e;
}

std::string text(const Row& r) {
  std::string out = "(";
  for (std::size_t i = 0; i < r.size(); ++i) out += (i ? ", " : "") + r[i].to_display();
  return out + ")";
}

std::string mask(const DestinationTable& t, const std::vector<bool>& w) {
  std::string out;
  for (std::size_t i = 0; i < w.size(); ++i)
    if (w[i]) out += (out.empty() ? "" : ",") + t.schema.columns[i].name;
  return "[" + out + "]";
}

// The reduced batch as lines, every row with the index of the event that set it.
std::vector<std::string> reduce(const DestinationTable& t, const std::vector<ChangeEvent>& changes) {
  auto layout = detail::make_table_layout(t, t.schema.id.to_string());
  auto segments = detail::reduce_changes(layout, t.schema, changes);
  std::vector<std::string> out;
  auto at = [&](const ChangeEvent* e) { return " @" + std::to_string(e - changes.data()); };
  for (const auto& seg : segments) {
    switch (seg.start) {
      case ReducedSegment::Start::Batch: out.push_back("segment"); break;
      case ReducedSegment::Start::Truncate: out.push_back("truncate"); break;
      case ReducedSegment::Start::Move:
        out.push_back("move " + text(seg.move.before) + " -> " + text(seg.move.after) + " " + mask(t, seg.move.written) +
                      at(seg.move.event));
        break;
    }
    for (const auto& d : seg.deletes) out.push_back("delete " + text(d.row()) + at(d.event));
    for (const auto& g : seg.upserts) {
      std::string line = "upsert " + mask(t, g.written) + (g.all_written() ? " all" : "");
      for (const auto& r : g.rows) line += " " + text(r.row()) + at(r.event);
      out.push_back(line);
    }
  }
  return out;
}

using Lines = std::vector<std::string>;

}  // namespace

TEST_CASE("the key-change rule: a non-NULL before key value that differs", "[unit]") {
  auto t = table();
  auto layout = detail::make_table_layout(t, "public.t");
  CHECK_FALSE(detail::changes_key(layout, upd({}, row(1, "a", "b"))));                     // no before image
  CHECK_FALSE(detail::changes_key(layout, upd({Value(), s("x"), s("y")}, row(1, "a", "b"))));  // key not sent
  CHECK_FALSE(detail::changes_key(layout, upd(row(1, "x", "y"), row(1, "a", "b"))));        // same key, full image
  CHECK(detail::changes_key(layout, upd(row(2, nullptr, nullptr), row(1, "a", "b"))));      // key-only old image
  CHECK_FALSE(detail::changes_key(layout, ins(row(1, "a", "b"))));
  CHECK_FALSE(detail::changes_key(layout, del(row(1, "a", "b"))));

  // Composite keys: one column sent and changed is enough; unsent ones do not count.
  DestinationTable c = t;
  c.schema.primary_key = {"id", "a"};
  auto cl = detail::make_table_layout(c, "public.t");
  CHECK(detail::changes_key(cl, upd({Value(), s("x"), Value()}, row(1, "y", "b"))));
  CHECK_FALSE(detail::changes_key(cl, upd({Value::int64(1), Value(), Value()}, row(1, "y", "b"))));
}

TEST_CASE("reduction keeps one final state per key in first-touch order", "[unit]") {
  auto t = table();
  // Insert, update, delete, insert of one key: the last insert; other keys keep their own state.
  CHECK(reduce(t, {ins(row(5, "x", "1")), ins(row(2, "b", "2")), upd(row(5, "x", "1"), row(5, "y", "1")),
                   del(row(5, "y", "1")), ins(row(5, "z", "3")), del(row(2, "b", "2")), ins(row(7, "q", nullptr))}) ==
        Lines{"segment", "delete (2, 'b', '2') @5", "upsert [id,a,b] all (5, 'z', '3') @4 (7, 'q', NULL) @6"});
  // Delete then re-insert: only the re-insert, a full row.
  CHECK(reduce(t, {del(row(1, "a", "b")), ins(row(1, "c", "d"))}) == Lines{"segment", "upsert [id,a,b] all (1, 'c', 'd') @1"});
  // Insert then delete: the delete, with its image.
  CHECK(reduce(t, {ins(row(1, "c", "d")), del(row(1, "c", "d"))}) == Lines{"segment", "delete (1, 'c', 'd') @1"});
  CHECK(reduce(t, {}).empty());
}

TEST_CASE("every writer applies the same key-change rule", "[unit]") {
  auto t = table();
  // An old image whose key is NULL was not sent (REPLICA IDENTITY DEFAULT): no key change, no delete.
  CHECK(reduce(t, {upd({Value(), Value(), Value()}, row(1, "a", "b"))}) == Lines{"segment", "upsert [id,a,b] all (1, 'a', 'b') @0"});
  // A full old image with the same key (MariaDB, SQLite, REPLICA IDENTITY FULL): no delete either.
  CHECK(reduce(t, {upd(row(1, "old", "old"), row(1, "a", "b"))}) == Lines{"segment", "upsert [id,a,b] all (1, 'a', 'b') @0"});
  // No old image at all.
  CHECK(reduce(t, {upd({}, row(1, "a", "b"))}) == Lines{"segment", "upsert [id,a,b] all (1, 'a', 'b') @0"});
  // The key changes: old key deleted, new key written; and back again.
  CHECK(reduce(t, {upd(row(1, nullptr, nullptr), row(3, "moved", nullptr))}) ==
        Lines{"segment", "delete (1, NULL, NULL) @0", "upsert [id,a,b] all (3, 'moved', NULL) @0"});
  CHECK(reduce(t, {ins(row(1, "a", "x")), upd(row(1, nullptr, nullptr), row(3, "moved", "x")),
                   upd(row(3, nullptr, nullptr), row(1, "back", "x"))}) ==
        Lines{"segment", "delete (3, NULL, NULL) @2", "upsert [id,a,b] all (1, 'back', 'x') @2"});
  // A key moved onto a key deleted earlier in the batch.
  CHECK(reduce(t, {del(row(3, "c", "c")), upd(row(1, "a", "a"), row(3, "a", "a"))}) ==
        Lines{"segment", "delete (1, 'a', 'a') @1", "upsert [id,a,b] all (3, 'a', 'a') @1"});
  // Composite key, one old key value not sent: it is the new one (unchanged), so the delete finds the row.
  DestinationTable c = t;
  c.schema.primary_key = {"id", "a"};
  CHECK(reduce(c, {upd({Value::int64(1), Value(), Value()}, row(2, "k", "v"))}) ==
        Lines{"segment", "delete (1, 'k', NULL) @0", "upsert [id,a,b] all (2, 'k', 'v') @0"});
}

TEST_CASE("unchanged columns are filled from an earlier image of the key, else left to the target", "[unit]") {
  auto t = table();
  const std::vector<bool> b_unsent{false, false, true};
  const std::vector<bool> a_unsent{false, true, false};
  // The insert earlier in the batch had b: the update is written whole.
  CHECK(reduce(t, {ins(row(1, "x", "big")), upd({}, row(1, "y", nullptr), b_unsent)}) ==
        Lines{"segment", "upsert [id,a,b] all (1, 'y', 'big') @1"});
  // Nothing earlier: b is not written. A full row of another key goes in its own group.
  CHECK(reduce(t, {upd({}, row(1, "y", nullptr), b_unsent), ins(row(2, "p", "q")), upd({}, row(3, "z", nullptr), b_unsent)}) ==
        Lines{"segment", "upsert [id,a] (1, 'y', NULL) @0 (3, 'z', NULL) @2", "upsert [id,a,b] all (2, 'p', 'q') @1"});
  // Two partial images of one key complete each other.
  CHECK(reduce(t, {upd({}, row(1, "a1", nullptr), b_unsent), upd({}, row(1, nullptr, "b2"), a_unsent)}) ==
        Lines{"segment", "upsert [id,a,b] all (1, 'a1', 'b2') @1"});
  // Two partial images that lack the same column: still not written.
  CHECK(reduce(t, {upd({}, row(1, "a1", nullptr), b_unsent), upd({}, row(1, "a2", nullptr), b_unsent)}) ==
        Lines{"segment", "upsert [id,a] (1, 'a2', NULL) @1"});
  // Deleted earlier in the batch: the unsent values are unknown, what was sent is written.
  CHECK(reduce(t, {del(row(1, "a", "b")), upd({}, row(1, "y", nullptr), b_unsent)}) ==
        Lines{"segment", "upsert [id,a] (1, 'y', NULL) @1"});
  // A mask on the key column means nothing: keys are always written.
  CHECK(reduce(t, {upd({}, row(1, "y", "z"), {true, false, false})}) == Lines{"segment", "upsert [id,a,b] all (1, 'y', 'z') @0"});
}

TEST_CASE("a key change with unsent columns moves the row in place, in its own segment", "[unit]") {
  auto t = table();
  const std::vector<bool> b_unsent{false, false, true};
  // Nothing in the batch has b of key 1: the target's row moves, keeping b.
  CHECK(reduce(t, {ins(row(9, "n", "n")), upd(row(1, nullptr, nullptr), row(3, "moved", nullptr), b_unsent),
                   upd({}, row(3, "again", nullptr), b_unsent), del(row(9, "n", "n"))}) ==
        Lines{"segment", "upsert [id,a,b] all (9, 'n', 'n') @0",
              "move (1, NULL, NULL) -> (3, 'moved', NULL) [id,a] @1",
              "delete (9, 'n', 'n') @3", "upsert [id,a] (3, 'again', NULL) @2"});
  // The old key was written earlier in the batch with b: no move, a plain key change.
  CHECK(reduce(t, {ins(row(1, "a", "big")), upd(row(1, nullptr, nullptr), row(3, "moved", nullptr), b_unsent)}) ==
        Lines{"segment", "delete (1, NULL, NULL) @1", "upsert [id,a,b] all (3, 'moved', 'big') @1"});
  // Written earlier without b itself: the row still has to move (after that write lands).
  CHECK(reduce(t, {upd({}, row(1, "a", nullptr), b_unsent), upd(row(1, nullptr, nullptr), row(3, "m", nullptr), b_unsent)}) ==
        Lines{"segment", "upsert [id,a] (1, 'a', NULL) @0", "move (1, NULL, NULL) -> (3, 'm', NULL) [id,a] @1"});
  // The old key was deleted earlier in the batch: nothing to keep, the new row is written as sent.
  CHECK(reduce(t, {del(row(1, "a", "b")), upd(row(1, nullptr, nullptr), row(3, "m", nullptr), b_unsent)}) ==
        Lines{"segment", "delete (1, NULL, NULL) @1", "upsert [id,a] (3, 'm', NULL) @1"});
}

TEST_CASE("TRUNCATE splits a batch into segments applied in order", "[unit]") {
  auto t = table();
  const std::vector<bool> b_unsent{false, false, true};
  CHECK(reduce(t, {ins(row(1, "a", "b")), del(row(2, "x", "y")), trunc(), ins(row(3, "c", "d")), trunc()}) ==
        Lines{"segment", "delete (2, 'x', 'y') @1", "upsert [id,a,b] all (1, 'a', 'b') @0", "truncate",
              "upsert [id,a,b] all (3, 'c', 'd') @3", "truncate"});
  // An image from before the TRUNCATE does not fill columns after it.
  CHECK(reduce(t, {trunc(), ins(row(1, "a", "b")), trunc(), upd({}, row(1, "y", nullptr), b_unsent)}) ==
        Lines{"truncate", "upsert [id,a,b] all (1, 'a', 'b') @1", "truncate", "upsert [id,a] (1, 'y', NULL) @3"});
}

TEST_CASE("soft-delete tables: rows without the flag are padded, the flag is always written", "[unit]") {
  auto t = table(true);
  // Rows one value short (no flag) and full rows mix; a delete stays a delete for the writer.
  CHECK(reduce(t, {ins(row(1, "a", "b")), ins({Value::int64(2), s("c"), s("d"), Value::boolean(false)}), del(row(5, nullptr, nullptr)),
                   upd({}, row(2, "e", nullptr), {false, false, true, true})}) ==
        Lines{"segment", "delete (5, NULL, NULL, NULL) @2",
              "upsert [id,a,b,_cdc_deleted] all (1, 'a', 'b', NULL) @0 (2, 'e', 'd', NULL) @3"});
  // A key written earlier in the segment and then deleted stays, flagged: the target must end up
  // with the row, as it would applying the events one by one. Also the old key of a key change.
  CHECK(reduce(t, {ins(row(7, "x", "y")), del(row(7, "x", "y"))}) ==
        Lines{"segment", "upsert [id,a,b,_cdc_deleted] all (7, 'x', 'y', true) @1"});
  CHECK(reduce(t, {ins(row(1, "a", "b")), upd(row(1, nullptr, nullptr), row(3, "a", "b")), ins(row(9, "n", "n")),
                   del(row(9, nullptr, nullptr)), ins(row(9, "again", "n"))}) ==
        Lines{"segment", "upsert [id,a,b,_cdc_deleted] all (1, 'a', 'b', true) @1 (3, 'a', 'b', NULL) @1 (9, 'again', 'n', NULL) @4"});
  auto layout = detail::make_table_layout(t, "public.t");
  Row shorter = row(1, "a", "b");
  CHECK(layout.value(shorter, 3) == Value::boolean(false));
  Row padded{Value::int64(1), s("a"), s("b"), Value()};
  CHECK(layout.value(padded, 3) == Value::boolean(false));
  CHECK(layout.value(padded, 1) == s("a"));
}

TEST_CASE("rows of the wrong width and deletes without an image are errors naming table and key", "[unit]") {
  auto t = table();
  auto layout = detail::make_table_layout(t, "public.t");
  try {
    const std::vector<ChangeEvent> narrow{upd({}, {Value::int64(5), s("a")})};
    detail::reduce_changes(layout, t.schema, narrow);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Internal);
    CHECK_FALSE(e.retryable());
    CHECK(e.where() == "table public.t");
    CHECK(e.message() == "row has 2 values, table public.t has 3 columns (applying update of key id=5 to table public.t)");
  }
  try {
    const std::vector<ChangeEvent> no_image{ins(row(1, "a", "b")), del({})};
    detail::reduce_changes(layout, t.schema, no_image);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Destination);
    CHECK(e.message().find("delete event without a before image") == 0);
  }
  // One value short is only allowed when the last column is the soft-delete flag.
  CHECK_NOTHROW(detail::check_width(layout, row(1, "a", "b")));
  CHECK_THROWS(detail::check_width(layout, {Value::int64(1), s("a")}));
  CHECK_THROWS(detail::check_width(layout, {Value::int64(1), s("a"), s("b"), s("c")}));
  auto soft = detail::make_table_layout(table(true), "public.t");
  CHECK_NOTHROW(detail::check_width(soft, row(1, "a", "b")));
  CHECK_THROWS(detail::check_width(soft, {Value::int64(1), s("a")}));
  // The flag is not last: no short rows.
  DestinationTable mid = table(true);
  std::swap(mid.schema.columns[2], mid.schema.columns[3]);
  auto ml = detail::make_table_layout(mid, "public.t");
  CHECK_THROWS(detail::check_width(ml, row(1, "a", "b")));
  // A table without a key is not reduced.
  DestinationTable keyless = table();
  keyless.schema.primary_key.clear();
  auto kl = detail::make_table_layout(keyless, "public.t");
  const std::vector<ChangeEvent> one{ins(row(1, "a", "b"))};
  CHECK_THROWS_AS(detail::reduce_changes(kl, keyless.schema, one), Error);
}

TEST_CASE("keys compare as values: kind and payload, NaN equal to NaN", "[unit]") {
  DestinationTable t;
  t.schema.id = TableId("k");
  t.schema.columns = {col("k", TypeId::Unknown), col("v", TypeId::Int64)};
  t.schema.primary_key = {"k"};
  auto layout = detail::make_table_layout(t, "k");
  auto up = [](Value k, std::int64_t v) { return ins({std::move(k), Value::int64(v)}); };
  const std::vector<ChangeEvent> changes{up(Value::int64(1), 1), up(Value::string("1"), 2), up(Value::uint64(1), 3),
                                         up(Value::float64(std::nan("1")), 4), up(Value::float64(std::nan("2")), 5),
                                         up(Value::string(std::string("a\0b", 3)), 6), up(Value::string("a"), 7)};
  auto segs = detail::reduce_changes(layout, t.schema, changes);  // the rows point into `changes`
  REQUIRE(segs.size() == 1);
  REQUIRE(segs[0].upserts.size() == 1);
  std::vector<std::int64_t> values;
  for (const auto& r : segs[0].upserts[0].rows) values.push_back(r.row()[1].as_int());
  CHECK(values == std::vector<std::int64_t>{1, 2, 3, 5, 6, 7});
}

TEST_CASE("the layout cache rebuilds an entry when the table's shape changes", "[unit]") {
  struct State {
    int prepared = 0;
  };
  detail::LayoutCache<State> cache;
  auto t = table();
  bool rebuilt = false;
  auto& e = cache.get("t", t, "public.t", &rebuilt);
  CHECK(rebuilt);
  CHECK(e.layout.ncols == 3);
  CHECK(e.layout.key == std::vector<int>{0});
  CHECK(e.layout.where == "table public.t");
  e.state.prepared = 7;
  CHECK(&cache.get("t", t, "public.t", &rebuilt) == &e);
  CHECK_FALSE(rebuilt);
  CHECK(cache.get("t", t, "public.t").state.prepared == 7);
  // A column widened: statements made for the old shape are gone.
  t.schema.columns[1].type.length = 20;
  auto& again = cache.get("t", t, "public.t", &rebuilt);
  CHECK(rebuilt);
  CHECK(again.state.prepared == 0);
  again.state.prepared = 1;
  cache.forget("t");
  CHECK(cache.get("t", t, "public.t", &rebuilt).state.prepared == 0);
  CHECK(rebuilt);
  // A configured soft-delete column that is missing is a Schema error naming the table.
  auto broken = table();
  broken.deletes.strategy = DeleteStrategy::Soft;
  CHECK_THROWS_WITH(cache.get("b", broken, "public.b"), Catch::Contains("soft-delete column \"_cdc_deleted\" is missing"));
}

TEST_CASE("error context keeps kind, retryability and where", "[unit]") {
  auto t = table();
  try {
    detail::applying(
        "public.t", [&] { return detail::change_text(ChangeOp::Update, t.schema, row(5, "a", "b")); },
        [] { throw Error(ErrorKind::Connection, "server closed the connection", true, "destination db"); });
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Connection);
    CHECK(e.retryable());
    CHECK(e.where() == "destination db");
    CHECK(e.message() == "server closed the connection (applying update of key id=5 to table public.t)");
  }
  Row r1 = row(1, "a", "b"), r2 = row(2, "a", "b"), r3 = row(3, "a", "b"), r4 = row(4, "a", "b");
  CHECK(detail::rows_text("upsert", t.schema, {&r1}) == "1 upsert (key id=1)");
  CHECK(detail::rows_text("delete", t.schema, {&r1, &r2, &r3, &r4}) == "4 deletes (keys id=1; id=2; id=3; ...)");
  // The happy path builds no text.
  bool built = false;
  detail::applying("public.t", [&] { built = true; return std::string(); }, [] {});
  CHECK_FALSE(built);
}

TEST_CASE("key-set tables get distinct names that fit the destination", "[unit]") {
  CHECK(detail::key_set_table_name("_cdc_keys_", TableId("orders"), "resync", 0).rfind("_cdc_keys_orders_resync_", 0) == 0);
  CHECK(detail::key_set_table_name("keys_", TableId("public", "orders"), "r1", 0).rfind("keys_public_orders_r1_", 0) == 0);
  // Names that read alike still differ.
  CHECK(detail::key_set_table_name("_cdc_keys_", TableId("a_b"), "c", 0) != detail::key_set_table_name("_cdc_keys_", TableId("a"), "b_c", 0));
  // Stable across calls (a restart finds its set again).
  CHECK(detail::key_set_table_name("_cdc_keys_", TableId("t"), "s", 0) == detail::key_set_table_name("_cdc_keys_", TableId("t"), "s", 0));
  const std::string long_name(80, 'x');
  auto fitted = detail::key_set_table_name("_cdc_keys_", TableId(long_name), "s", 64);
  CHECK(fitted.size() == 64);
  CHECK(fitted != detail::key_set_table_name("_cdc_keys_", TableId(long_name), "t", 64));
}

TEST_CASE("columns the target computes itself are never written", "[unit]") {
  auto t = table();
  auto layout = detail::make_table_layout(t, "public.t");
  // Column b is generated at the target (set from its catalog by the writer).
  layout.set_computed(t, {"B"}, [](const std::string& x, const std::string& y) { return x == y || (x == "b" && y == "B"); });
  CHECK(layout.is_computed(2));
  CHECK(layout.writable() == std::vector<bool>{true, true, false});
  std::vector<ChangeEvent> changes = {ins(row(1, "a", "b")), upd(row(2, "x", "y"), row(3, "x", "y"), {false, false, true}),
                                      upd(row(4, "p", "q"), row(4, "r", "q"))};
  auto segments = detail::reduce_changes(layout, t.schema, changes);
  // The key change whose new image lacks b moves the row in place, writing id and a only.
  REQUIRE(segments.size() == 2);
  CHECK(segments[1].start == ReducedSegment::Start::Move);
  CHECK(mask(t, segments[1].move.written) == "[id,a]");
  for (const auto& seg : segments)
    for (const auto& g : seg.upserts) {
      CHECK(mask(t, g.written) == "[id,a]");
      CHECK_FALSE(g.all_written());
    }
  // Without computed columns nothing changes.
  auto plain = detail::make_table_layout(t, "public.t");
  CHECK_FALSE(plain.has_computed());
  CHECK(plain.writable() == std::vector<bool>{true, true, true});
}
