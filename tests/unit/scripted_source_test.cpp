// The test fakes themselves: ScriptedSource (snapshot planning and reads, the change stream and its
// projection, schema changes, filters, failure injection) and MemoryDestination (transactions
// with checkpoints, change semantics, evolution, quarantine, history, backfill, resync sweeps,
// leases), so that engine tests built on them can trust them.
#include "support/catch_printers.h"
#include "support/memory_destination.h"
#include "support/scripted_source.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using cdc::ChangeOp;
using cdc::Position;
using cdc::Row;
using cdc::TypeId;
using cdc_test::column;
using cdc_test::row;
using cdc_test::table_schema;

namespace {

cdc::TableSchema orders() {
  return table_schema("orders", {column("id", TypeId::Int64), column("status", TypeId::String), column("total", TypeId::Int64)},
                      {"id"});
}

std::vector<Row> read_all(cdc::SourceConnector& src, const cdc::ReadRequest& req, Position* at = nullptr) {
  auto reader = src.read_chunk(req);
  std::vector<Row> all, batch;
  while (reader->next(batch)) all.insert(all.end(), batch.begin(), batch.end());
  if (at) *at = reader->position();
  return all;
}

std::vector<cdc::ChangeEvent> poll(cdc::ChangeStream& s, std::size_t max = 100) {
  std::vector<cdc::ChangeEvent> out;
  s.poll(out, max, std::chrono::milliseconds(50));
  return out;
}

cdc::DestinationTable target(const cdc::TableSchema& schema) {
  cdc::DestinationTable t;
  t.schema = schema;
  return t;
}

}  // namespace

// ---- ScriptedSource -----------------------------------------------------------------------------------

TEST_CASE("scripted source: discovery, chunk plans and chunk reads cover every row once", "[unit][fakes]") {
  cdc_test::ScriptedSource src;
  std::vector<Row> rows;
  for (int i = 10; i >= 1; --i) rows.push_back(row(i, "s" + std::to_string(i), i * 100));
  src.create_table(orders(), rows);
  src.create_table(table_schema("events", {column("at", TypeId::Int64), column("what", TypeId::String)}),
                   {row(1, "a"), row(1, "a"), row(2, "b")});

  auto tables = src.discover([](const cdc::TableId&) { return true; });
  REQUIRE(tables.size() == 2);
  CHECK(tables[1].id.name == "orders");
  CHECK(tables[1].estimated_rows == 10);
  CHECK(src.discover([](const cdc::TableId& id) { return id.name == "events"; }).size() == 1);

  cdc::SnapshotPlanOptions options;
  options.chunk_rows = 3;
  auto chunks = src.plan_snapshot(orders(), options);
  REQUIRE(chunks.size() == 4);
  CHECK(chunks.front().lower.empty());
  CHECK(chunks.back().upper.empty());
  // Projected to two columns, in the order asked.
  cdc::ReadRequest req;
  req.schema = table_schema("orders", {column("total", TypeId::Int64), column("id", TypeId::Int64)}, {"id"});
  req.batch_size = 2;
  std::vector<Row> seen;
  std::int64_t estimated = 0;
  for (const auto& c : chunks) {
    req.chunk = c;
    auto part = read_all(src, req);
    CHECK(static_cast<std::int64_t>(part.size()) == c.estimated_rows);
    estimated += c.estimated_rows;
    seen.insert(seen.end(), part.begin(), part.end());
  }
  CHECK(estimated == 10);
  REQUIRE(seen.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(seen[static_cast<std::size_t>(i)] == row((i + 1) * 100, i + 1));

  options.min_chunks = 6;
  CHECK(src.plan_snapshot(orders(), options).size() == 6);
  options.whole_table = true;
  CHECK(src.plan_snapshot(orders(), options).size() == 1);

  // A table without a key is split by row positions.
  cdc::SnapshotPlanOptions two;
  two.chunk_rows = 2;
  auto keyless = src.plan_snapshot(src.schema("events"), two);
  REQUIRE(keyless.size() == 2);
  req.schema = src.schema("events");
  std::vector<Row> events;
  for (const auto& c : keyless) {
    req.chunk = c;
    auto part = read_all(src, req);
    events.insert(events.end(), part.begin(), part.end());
  }
  CHECK(events == std::vector<Row>{row(1, "a"), row(1, "a"), row(2, "b")});
  CHECK(src.count_rows(cdc_test::table_id("events"), "") == 3);
}

TEST_CASE("scripted source: a chunk read is exact: rows as of the position it reports", "[unit][fakes]") {
  cdc_test::ScriptedSource src;
  src.create_table(orders(), {row(1, "new", 10)});
  CHECK(src.position() == Position("1"));  // the Created event
  src.insert("orders", row(2, "new", 20));
  cdc::ReadRequest req;
  req.schema = orders();
  Position at;
  auto rows = read_all(src, req, &at);
  CHECK(at == Position("2"));
  CHECK(rows.size() == 2);
  src.delete_row("orders", row(1));
  CHECK(read_all(src, req, &at) == std::vector<Row>{row(2, "new", 20)});
  CHECK(at == Position("3"));
}

TEST_CASE("scripted source: the stream delivers the requested tables' events after a position, projected by name",
          "[unit][fakes]") {
  cdc_test::ScriptedSource src;
  src.create_table(orders(), {row(1, "new", 10)});
  src.create_table(table_schema("other", {column("k", TypeId::Int64)}, {"k"}));
  const Position start = src.current_position();
  src.insert("orders", row(2, "new", 20));
  src.insert("other", row(1));
  src.update("orders", row(1, "paid", 11));
  src.update("orders", row(2), row(3, "moved", 20));  // a key change
  src.delete_row("orders", row(3));
  src.truncate("orders");

  // Only `id` and `status`, in another order than the table's.
  cdc::StreamTable st(table_schema("orders", {column("status", TypeId::String), column("id", TypeId::Int64)}, {"id"}));
  auto stream = src.open_stream({st}, start);
  CHECK(stream->position() == start);
  auto evs = poll(*stream);
  REQUIRE(evs.size() == 5);
  CHECK(evs[0].op == ChangeOp::Insert);
  CHECK(evs[0].after == row("new", 2));
  CHECK(evs[0].position == Position("3"));
  CHECK(evs[0].end_of_transaction);
  CHECK(evs[0].commit_time_us > 0);
  CHECK(evs[1].op == ChangeOp::Update);  // the event of `other` was skipped
  CHECK(evs[1].before == row("new", 1));
  CHECK(evs[1].after == row("paid", 1));
  CHECK(evs[2].before == row("new", 2));
  CHECK(evs[2].after == row("moved", 3));
  CHECK(evs[3].op == ChangeOp::Delete);
  CHECK(evs[3].before == row("moved", 3));
  CHECK(evs[3].after.empty());
  CHECK(evs[4].op == ChangeOp::Truncate);
  CHECK(stream->position() == Position("8"));
  CHECK(src.compare_positions(evs[4].position, evs[0].position) > 0);
  CHECK(src.compare_positions(Position("10"), Position("9")) > 0);  // numeric, not text
  CHECK_THROWS_AS(src.compare_positions(Position("x"), Position("1")), cdc::Error);

  // From a later position only what follows it; acknowledgements are recorded.
  auto later = src.open_stream({st}, evs[2].position);
  CHECK(poll(*later).size() == 2);
  later->acknowledge(Position("7"));
  CHECK(src.acknowledged() == std::vector<Position>{Position("7")});
  CHECK(src.opened_from() == std::vector<Position>{start, evs[2].position});
  CHECK(src.live_streams() == 2);
  later.reset();
  CHECK(src.live_streams() == 1);
  // Idle: the position moves past events of other tables too.
  src.insert("other", row(2));
  CHECK(poll(*stream).empty());
  CHECK(stream->position() == src.position());
}

TEST_CASE("scripted source: transactions end on their last delivered event and are atomic", "[unit][fakes]") {
  cdc_test::ScriptedSource src;
  src.create_table(orders());
  src.create_table(table_schema("other", {column("k", TypeId::Int64)}, {"k"}));
  auto stream = src.open_stream({cdc::StreamTable(orders())}, src.current_position());
  src.transaction([&] {
    src.insert("orders", row(1, "a", 1));
    src.insert("orders", row(2, "b", 2));
    src.insert("other", row(1));  // the transaction's last event, not delivered to this stream
  });
  auto evs = poll(*stream);
  REQUIRE(evs.size() == 2);
  CHECK(evs[0].transaction_id == evs[1].transaction_id);
  CHECK_FALSE(evs[0].end_of_transaction);
  CHECK(evs[1].end_of_transaction);
  CHECK(stream->position() == Position("5"));

  // A reader on another thread never sees half a transaction.
  std::atomic<bool> done{false};
  std::atomic<bool> torn{false};
  std::thread reader([&] {
    cdc::ReadRequest req;
    req.schema = orders();
    while (!done) {
      auto n = read_all(src, req).size();
      if (n % 2 != 0) torn = true;
    }
  });
  for (int i = 0; i < 200; ++i)
    src.transaction([&] {
      src.insert("orders", row(10 + 2 * i, "x", i));
      src.insert("orders", row(11 + 2 * i, "y", i));
    });
  done = true;
  reader.join();
  CHECK_FALSE(torn);
  std::size_t delivered = 0;
  for (int i = 0; i < 50 && delivered < 400; ++i) delivered += poll(*stream, 1000).size();
  CHECK(delivered == 400);
}

TEST_CASE("scripted source: a poll waits for events written on another thread", "[unit][fakes]") {
  cdc_test::ScriptedSource src;
  src.create_table(orders());
  auto stream = src.open_stream({cdc::StreamTable(orders())}, src.current_position());
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    src.insert("orders", row(1, "late", 1));
  });
  std::vector<cdc::ChangeEvent> out;
  stream->poll(out, 10, std::chrono::seconds(10));
  writer.join();
  REQUIRE(out.size() == 1);
  CHECK(out[0].after == row(1, "late", 1));
}

TEST_CASE("scripted source: schema changes end a poll and describe the table", "[unit][fakes]") {
  cdc_test::ScriptedSource src;
  src.create_table(orders(), {row(1, "new", 10)});
  auto stream = src.open_stream({cdc::StreamTable(orders())}, src.current_position());
  src.insert("orders", row(2, "new", 20));
  cdc_test::AlterOptions alter;
  alter.renamed = {{"status", "state"}};
  alter.fill = {{"currency", cdc::Value::string("EUR")}};
  alter.values_kept = {"total"};
  alter.observed_at = Position("1");
  alter.statement = "ALTER TABLE orders ...";
  auto altered = table_schema("orders", {column("id", TypeId::Int64), column("state", TypeId::String), column("total", TypeId::Int64),
                                         column("currency", TypeId::String)},
                              {"id"});
  src.alter("orders", altered, alter);
  src.insert("orders", row(3, "new", 30, "USD"));
  CHECK(src.rows("orders") == std::vector<Row>{row(1, "new", 10, "EUR"), row(2, "new", 20, "EUR"), row(3, "new", 30, "USD")});

  auto evs = poll(*stream);
  REQUIRE(evs.size() == 2);  // the insert, then the change; the insert after it waits for the next poll
  REQUIRE(evs[1].schema_change);
  const cdc::SchemaChange& sc = *evs[1].schema_change;
  CHECK(sc.kind == cdc::SchemaChangeKind::Altered);
  CHECK(sc.after.columns.size() == 4);
  CHECK(sc.renamed.at("status") == "state");
  CHECK(sc.fill.at("currency") == cdc::Value::string("EUR"));
  CHECK(sc.values_kept.count("total") == 1);
  CHECK(sc.observed_at == Position("1"));
  CHECK(sc.statement == "ALTER TABLE orders ...");
  // Read with the old columns, the row after the change lacks `status`: null and unchanged.
  auto after = poll(*stream);
  REQUIRE(after.size() == 1);
  CHECK(after[0].after == row(3, nullptr, 30));
  CHECK(after[0].unchanged == std::vector<bool>{false, true, false});

  // Created (any table) and Dropped (a requested table) end a poll too.
  src.create_table(table_schema("fresh", {column("k", TypeId::Int64)}, {"k"}));
  src.drop_table("orders");
  auto created = poll(*stream);
  REQUIRE(created.size() == 1);
  CHECK(created[0].schema_change->kind == cdc::SchemaChangeKind::Created);
  CHECK(created[0].table.name == "fresh");
  auto dropped = poll(*stream);
  REQUIRE(dropped.size() == 1);
  CHECK(dropped[0].schema_change->kind == cdc::SchemaChangeKind::Dropped);
  CHECK_FALSE(src.has_table("orders"));
}

TEST_CASE("scripted source: filters, incremental reads and scripting mistakes", "[unit][fakes]") {
  cdc_test::ScriptedSource src;
  src.create_table(orders(), {row(1, "open", 5), row(2, "done", 7), row(3, "open", 9)});
  src.set_filter("status = 'open'", [](const cdc::TableSchema& s, const Row& r) {
    return r[static_cast<std::size_t>(s.index_of("status"))] == cdc::Value::string("open");
  });
  cdc::ReadRequest req;
  req.schema = orders();
  req.where = "status = 'open'";
  CHECK(read_all(src, req).size() == 2);
  CHECK(src.count_rows(cdc_test::table_id("orders"), "status = 'open'") == 2);
  req.where = "unknown filter";
  CHECK_THROWS_AS(read_all(src, req), std::logic_error);

  auto stream = src.open_stream({cdc::StreamTable(orders(), "status = 'open'")}, src.current_position());
  src.update("orders", row(1, "done", 5));  // leaves the filter: a delete
  src.update("orders", row(2, "open", 7));  // enters it: an insert
  src.update("orders", row(2, "done", 8));
  src.update("orders", row(2, "done", 9));  // outside before and after: not delivered
  auto evs = poll(*stream);
  REQUIRE(evs.size() == 3);
  CHECK(evs[0].op == ChangeOp::Delete);
  CHECK(evs[1].op == ChangeOp::Insert);
  CHECK(evs[2].op == ChangeOp::Delete);

  cdc::IncrementalRequest inc;
  inc.schema = orders();
  inc.watermark_column = "total";
  inc.last_value = cdc::Value::int64(5);
  auto reader = src.read_incremental(inc);
  std::vector<Row> batch;
  REQUIRE(reader->next(batch));
  CHECK(batch == std::vector<Row>{row(2, "done", 9), row(3, "open", 9)});  // by watermark, then key

  CHECK_THROWS_AS(src.insert("orders", row(1, "dup", 1)), std::logic_error);
  CHECK_THROWS_AS(src.insert("orders", row(4)), std::logic_error);
  CHECK_THROWS_AS(src.update("missing", row(1)), std::logic_error);
}

TEST_CASE("scripted source: injected failures throw on the next calls, then calls go through", "[unit][fakes]") {
  cdc_test::ScriptedSource src;
  src.create_table(orders(), {row(1, "a", 1)});
  auto stream = src.open_stream({cdc::StreamTable(orders())}, src.current_position());
  src.failures().fail("poll", cdc_test::lost_connection(), 2);
  src.failures().fail("read_chunk", cdc_test::fatal_error(cdc::ErrorKind::Source, "no such snapshot"));
  src.insert("orders", row(2, "b", 2));
  for (int i = 0; i < 2; ++i) {
    try {
      poll(*stream);
      FAIL("no failure");
    } catch (const cdc::Error& e) {
      CHECK(e.kind() == cdc::ErrorKind::Connection);
      CHECK(e.retryable());
    }
  }
  CHECK(poll(*stream).size() == 1);
  CHECK(src.failures().calls("poll") == 3);
  cdc::ReadRequest req;
  req.schema = orders();
  CHECK_THROWS_WITH(src.read_chunk(req), "no such snapshot");
  CHECK(read_all(src, req).size() == 2);
  CHECK(src.failures().pending("read_chunk") == 0);
}

// ---- MemoryDestination ----------------------------------------------------------------------------------

TEST_CASE("memory destination: a transaction commits rows and checkpoint entries together, or nothing", "[unit][fakes]") {
  cdc_test::MemoryDestination dst;
  auto t = target(orders());
  dst.prepare_table(t);
  CHECK(dst.statements() == std::vector<std::string>{"CREATE TABLE orders (id int64 NOT NULL, status string, total int64, PRIMARY KEY (id))"});
  auto w = dst.open_writer();
  w->begin();
  w->write_rows(t, {row(1, "a", 1), row(2, "b", 2)});
  CHECK(dst.rows("orders").empty());  // not committed yet
  CHECK_THROWS_AS(w->begin(), cdc::Error);
  w->commit("s", {{"chunk:orders:0", "2"}});
  CHECK(dst.rows("orders") == std::vector<Row>{row(1, "a", 1), row(2, "b", 2)});
  CHECK(dst.checkpoints("s") == std::map<std::string, std::string>{{"chunk:orders:0", "2"}});
  CHECK(dst.store()->load("s") == dst.checkpoints("s"));

  w->begin();
  w->write_rows(t, {row(3, "c", 3)});
  w->rollback();
  dst.failures().fail("commit", cdc_test::lost_connection());
  w->begin();
  w->write_rows(t, {row(4, "d", 4)});
  CHECK_THROWS_AS(w->commit("s", {{"stream", "9"}}), cdc::Error);
  w->rollback();
  CHECK(dst.rows("orders").size() == 2);
  CHECK_FALSE(dst.checkpoints("s").count("stream"));
  // A row written twice ends up once; commit without begin writes only checkpoint entries.
  w->begin();
  w->write_rows(t, {row(1, "a2", 1)});
  w->commit("s", {});
  w->commit("s", {{"chunk:orders:0", ""}, {"stream", "10"}});
  CHECK(dst.rows("orders").size() == 2);
  CHECK(dst.checkpoints("s") == std::map<std::string, std::string>{{"stream", "10"}});
  CHECK(dst.commits() == 3);
}

TEST_CASE("memory destination: changes upsert full rows, keep unchanged columns, move keys and soft-delete", "[unit][fakes]") {
  cdc_test::MemoryDestination dst;
  auto t = target(orders());
  dst.prepare_table(t);
  auto w = dst.open_writer();
  auto ev = [](ChangeOp op, Row before, Row after, std::vector<bool> unchanged = {}) {
    cdc::ChangeEvent e;
    e.op = op;
    e.before = std::move(before);
    e.after = std::move(after);
    e.unchanged = std::move(unchanged);
    return e;
  };
  w->begin();
  w->apply(t, {ev(ChangeOp::Insert, {}, row(1, "a", 1)), ev(ChangeOp::Insert, {}, row(2, "b", 2)),
               ev(ChangeOp::Update, row(1, "a", 1), row(1, nullptr, 5), {false, true, false}),
               ev(ChangeOp::Update, row(2, "b", 2), row(3, "b", 2)), ev(ChangeOp::Delete, row(9, "x", 9), {})});
  w->commit("s", {});
  CHECK(dst.rows("orders") == std::vector<Row>{row(1, "a", 5), row(3, "b", 2)});

  auto soft = t;
  soft.deletes.strategy = cdc::DeleteStrategy::Soft;
  soft.schema.columns.push_back(column("_cdc_deleted", TypeId::Bool));
  dst.prepare_table(soft);  // adds the flag column
  CHECK(dst.schema("orders").columns.size() == 4);
  w->begin();
  w->apply(soft, {ev(ChangeOp::Insert, {}, row(4, "d", 4)), ev(ChangeOp::Delete, row(1, "a", 5), {})});
  w->commit("s", {});
  CHECK(dst.row("orders", row(1)) == row(1, "a", 5, true));
  CHECK(dst.row("orders", row(4)) == row(4, "d", 4, false));  // one value short: live
  w->begin();
  w->apply(t, {ev(ChangeOp::Truncate, {}, {})});
  w->commit("s", {});
  CHECK(dst.rows("orders").empty());
}

TEST_CASE("memory destination: evolve, history, quarantine, backfill and resync sweeps", "[unit][fakes]") {
  cdc_test::MemoryDestination dst;
  auto t = target(orders());
  dst.prepare_table(t);
  auto w = dst.open_writer();
  w->begin();
  w->write_rows(t, {row(1, "a", 1), row(2, "b", 2), row(3, "c", 3)});
  w->commit("s", {});

  cdc::TargetColumnChange add;
  add.kind = cdc::ColumnChangeKind::Added;
  add.column = "currency";
  add.target = column("currency", TypeId::String);
  add.fill = cdc::Value::string("EUR");
  cdc::TargetColumnChange rename;
  rename.kind = cdc::ColumnChangeKind::Renamed;
  rename.column = "state";
  rename.old_name = "status";
  rename.target = column("state", TypeId::String);
  auto evolved = target(table_schema("orders", {column("id", TypeId::Int64), column("state", TypeId::String),
                                                column("total", TypeId::Int64), column("currency", TypeId::String)},
                                     {"id"}));
  w->begin();
  auto ddl = w->evolve(evolved, {add, rename});
  CHECK(ddl == std::vector<std::string>{"ALTER TABLE orders ADD COLUMN currency string", "ALTER TABLE orders RENAME COLUMN status TO state"});
  cdc::SchemaHistoryEntry h;
  h.table = "orders";
  h.kind = "added";
  h.column = "currency";
  w->record_schema_changes("s", {h});
  cdc::QuarantinedRow q;
  q.table = "orders";
  q.key = "id=9";
  w->quarantine("s", {q});
  w->commit("s", {});
  CHECK(dst.rows("orders")[0] == row(1, "a", 1, "EUR"));
  CHECK(dst.schema("orders").columns[1].name == "state");
  CHECK(dst.schema_history().size() == 1);
  CHECK(dst.quarantine().size() == 1);
  w->begin();
  CHECK(w->evolve(evolved, {add, rename}) == std::vector<std::string>{"", ""});  // replayed: nothing to do
  w->rollback();

  w->begin();
  w->backfill(evolved, {row(1, "ignored", 0, "USD"), row(7, "absent", 0, "USD")}, {false, false, false, true});
  w->commit("s", {});
  CHECK(dst.row("orders", row(1)) == row(1, "a", 1, "USD"));
  CHECK_FALSE(dst.row("orders", row(7)));

  w->begin();
  w->stage_keys(evolved, "resync1", {row(1, "a", 1, "USD"), row(3, "c", 3, "EUR")});
  w->commit("s", {});
  CHECK(dst.key_sets("orders") == std::vector<std::string>{"resync1"});
  w->begin();
  CHECK(w->sweep_unstaged(evolved, "resync1") == 1);
  w->commit("s", {});
  CHECK(dst.rows("orders").size() == 2);
  CHECK(dst.key_sets("orders").empty());
}

TEST_CASE("memory destination: capabilities can be switched off, the store has leases", "[unit][fakes]") {
  cdc_test::MemoryDestination::Options options;
  options.capabilities.quarantine = false;
  options.capabilities.atomic_checkpoints = false;
  cdc_test::MemoryDestination dst(options);
  CHECK_FALSE(dst.capabilities().quarantine);
  CHECK(dst.checkpoint_store() == nullptr);
  auto w = dst.open_writer();
  w->begin();
  CHECK_THROWS_AS(w->quarantine("s", {cdc::QuarantinedRow{}}), cdc::Error);

  auto store = cdc_test::MemoryDestination().store();
  auto lease = store->acquire_lease("s", "pid 1");
  try {
    store->acquire_lease("s", "pid 2");
    FAIL("leased twice");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::State);
    CHECK(e.message() == "session s is already running: pid 1");
  }
  CHECK(store->lease_holder("s") == std::optional<std::string>("pid 1"));
  lease.reset();
  CHECK_FALSE(store->lease_holder("s"));
}
