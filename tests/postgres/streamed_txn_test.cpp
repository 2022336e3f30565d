// StreamedTxn: the spill file of a protocol v2 streamed transaction, with subtransaction aborts.
#include "postgres/streamed_txn.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace cdc;
using namespace cdc::pg;

namespace {
ChangeEvent ins(std::int64_t id, Value v) {
  ChangeEvent e;
  e.op = ChangeOp::Insert;
  e.table = TableId("public", "t");
  e.after = {Value::int64(id), std::move(v)};
  return e;
}
std::vector<std::int64_t> ids(StreamedTxn& t) {
  t.rewind();
  std::vector<std::int64_t> out;
  ChangeEvent e;
  while (t.next(e)) out.push_back(e.after.at(0).as_int());
  return out;
}
}  // namespace

TEST_CASE("streamed transaction: changes read back in order with exact values", "[pg-unit]") {
  StreamedTxn t;
  ChangeEvent u;
  u.op = ChangeOp::Update;
  u.table = TableId("s", "name with space");
  u.before = {Value::int64(1), Value()};
  u.after = {Value::int64(2), Value::bytes(std::string("\0\xff", 2)), Value::float64(std::nan("")), Value::decimal("1.50"),
             Value::boolean(true), Value::timestamp_tz("2024-01-01 00:00:00+00:00")};
  u.unchanged = {false, true, false, false, false, false};
  t.append(10, u);
  REQUIRE(t.size() == 1);
  t.rewind();
  ChangeEvent e;
  REQUIRE(t.next(e));
  CHECK(e.op == ChangeOp::Update);
  CHECK(e.table == u.table);
  CHECK(e.before == u.before);
  CHECK(e.after.size() == 6);
  CHECK(e.after[1] == u.after[1]);
  CHECK(std::isnan(e.after[2].as_double()));
  CHECK(e.after[3] == Value::decimal("1.50"));
  CHECK(e.after[5].kind() == ValueKind::TimestampTz);
  CHECK(e.unchanged == u.unchanged);
  CHECK_FALSE(t.next(e));
}

TEST_CASE("streamed transaction: an aborted subtransaction drops its changes and later ones", "[pg-unit]") {
  StreamedTxn t;
  t.append(100, ins(1, Value::string("top")));
  t.append(101, ins(2, Value::string("sub a")));    // SAVEPOINT a
  t.append(100, ins(3, Value::string("top again")));
  t.append(102, ins(4, Value::string("sub b")));    // SAVEPOINT b
  t.append(103, ins(5, Value::string("sub c")));    // SAVEPOINT c inside b
  t.abort_subtransaction(999);                      // no changes: nothing happens
  CHECK(t.size() == 5);
  t.abort_subtransaction(102);                      // ROLLBACK TO b: b and c go
  CHECK(t.size() == 3);
  t.append(104, ins(6, Value::string("after")));
  CHECK(ids(t) == std::vector<std::int64_t>{1, 2, 3, 6});
}
