// ReplicationSession end to end on real SQLite files: copies equal their source value by value
// (storage class included), per-table settings change the result as documented, failures stay
// with their table, and live replication converges under concurrent writes.
#include "support/sqlite_fixture.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

using cdc_test::Db;
using cdc_test::TempDir;
using cdc_test::url;

namespace {

cdc::Config make_config(const std::string& src, const std::string& dst) {
  cdc::Config c;
  c.source = url(src);
  c.destination = url(dst);
  c.retry.initial_delay_ms = 10;
  c.retry.max_delay_ms = 50;
  c.poll_interval_ms = 20;
  return c;
}

// Tables that exercise values and names: integers at the edges of int64, REAL, text with NUL,
// blobs with NUL, '' vs NULL, text stored in an INTEGER column, quoted and reserved identifiers,
// a table name with spaces, a table without a key, a composite key.
void create_edge_tables(Db& db, int extra_rows) {
  db.exec(R"(
    CREATE TABLE "order" ("select" INTEGER PRIMARY KEY, "from" TEXT, "group by" REAL, "we""ird" BLOB, n INTEGER);
    INSERT INTO "order" VALUES (1, 'a', 1.5, x'00ff00', 9223372036854775807);
    INSERT INTO "order" VALUES (2, '', 0.0, x'', -9223372036854775808);
    INSERT INTO "order" VALUES (3, NULL, NULL, NULL, NULL);
    INSERT INTO "order" VALUES (4, 'nul' || char(0) || 'inside', -1e308, zeroblob(3), 'text in int');
    INSERT INTO "order" VALUES (5, 'ünïcødé ✓ 😀', 3.141592653589793, x'6869', 9223372036854775806);
    CREATE TABLE "order items" (order_id INTEGER NOT NULL, line INTEGER NOT NULL, qty NUMERIC(10,2), note VARCHAR(20),
                                PRIMARY KEY (order_id, line));
    CREATE TABLE nokey (a INTEGER, b TEXT);
    INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (2, NULL);
  )");
  db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(extra_rows) +
          ") INSERT INTO \"order items\" SELECT i / 3, i % 3, i * 1.25, 'line ' || i FROM n");
}

void check_same(Db& a, Db& b, const std::string& table, const std::string& order_by) {
  auto left = a.rows("SELECT * FROM " + table + " ORDER BY " + order_by);
  auto right = b.rows("SELECT * FROM " + table + " ORDER BY " + order_by);
  REQUIRE(left.size() == right.size());
  for (std::size_t i = 0; i < left.size(); ++i) CHECK(left[i] == right[i]);
}

}  // namespace

TEST_CASE("a multi-table copy equals the source value by value", "[sqlite][session]") {
  TempDir dir;
  const auto src = dir.file("src.db"), dst = dir.file("dst.db");
  {
    Db s(src);
    create_edge_tables(s, 5000);
  }
  auto config = make_config(src, dst);
  config.defaults.chunk_rows = 700;  // several chunks per table
  config.defaults.parallel_chunks = 3;
  config.parallel_tables = 2;
  cdc::SessionOptions opts;
  opts.snapshot_only = true;
  std::atomic<int> callbacks{0};
  opts.on_progress = [&](const cdc::SessionStatus&) { ++callbacks; };
  opts.progress_interval = std::chrono::milliseconds(10);
  cdc::ReplicationSession session(config, opts);
  auto status = session.run();
  CHECK(status.state == cdc::SessionState::Finished);
  REQUIRE(status.tables.size() == 3);
  CHECK(status.tables.front().source == "order items");  // largest first
  for (const auto& t : status.tables) {
    INFO(t.source << " " << t.error);
    CHECK(t.phase == cdc::TablePhase::Done);
  }
  CHECK(status.tables.front().chunks_total >= 7);
  CHECK(status.tables.front().rows_done == 5000);
  CHECK(callbacks.load() >= 1);

  Db s(src), d(dst);
  check_same(s, d, "\"order\"", "1");
  check_same(s, d, "\"order items\"", "1, 2");
  check_same(s, d, "nokey", "1, 2");
  CHECK(d.rows("SELECT typeof(n) FROM \"order\" WHERE \"select\" = 4") == std::vector<std::string>{"text:text"});
  // cdc's own tables: the checkpoints and the run history beside them.
  CHECK(d.rows("SELECT name FROM sqlite_master WHERE name LIKE '\\_cdc\\_%' ESCAPE '\\' AND type = 'table' ORDER BY name") ==
        std::vector<std::string>{"text:_cdc_checkpoints", "text:_cdc_errors", "text:_cdc_runs"});

  auto report = cdc::verify(url(src), url(dst), cdc::VerifyOptions{});
  CHECK(report.all_equal());
  REQUIRE(report.tables.size() == 3);

  // verify notices a changed value, a missing row and an extra row, and names their keys.
  d.exec("UPDATE \"order items\" SET qty = 0 WHERE order_id = 10 AND line = 1");
  d.exec("DELETE FROM \"order\" WHERE \"select\" = 2");
  d.exec("INSERT INTO nokey VALUES (3, 'extra')");
  report = cdc::verify(url(src), url(dst), cdc::VerifyOptions{});
  CHECK_FALSE(report.all_equal());
  std::map<std::string, cdc::TableVerifyResult> by;
  for (const auto& t : report.tables) by[t.source] = t;
  CHECK_FALSE(by["order items"].equal);
  CHECK(by["order items"].source_rows == by["order items"].target_rows);
  REQUIRE(by["order items"].differing_keys.size() == 1);
  CHECK(by["order items"].differing_keys[0] == "order_id=10, line=1 (values differ)");
  REQUIRE(by["order"].differing_keys.size() == 1);
  CHECK(by["order"].differing_keys[0] == "select=2 (missing at target)");
  CHECK(by["nokey"].target_rows == 4);
  REQUIRE(by["nokey"].differing_keys.size() == 1);
  CHECK(by["nokey"].differing_keys[0] == "a=3, b='extra' (only at target)");

  // A second copy of a finished copy starts over and repairs the target.
  cdc::SessionOptions again;
  again.snapshot_only = true;
  cdc::ReplicationSession(config, again).run();
  CHECK(cdc::verify(url(src), url(dst), cdc::VerifyOptions{}).all_equal());
}

TEST_CASE("per-table settings shape the copy", "[sqlite][session]") {
  TempDir dir;
  const auto src = dir.file("shop.db"), dst = dir.file("replica.db");
  {
    Db s(src);
    s.exec(R"(
      CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total NUMERIC(10,2), updated_at TEXT, secret TEXT);
      CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, ssn TEXT);
      CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL, updated_at TEXT);
      CREATE TABLE audit_log (id INTEGER PRIMARY KEY, what TEXT);
      INSERT INTO orders VALUES (1, 10, 5.5, '2024-01-01', 's1'), (2, 11, 0, '2024-01-02', 's2'), (3, 10, 7, '2024-01-03', 's3');
      INSERT INTO customers VALUES (10, 'Ann', 'ann@x', '111'), (11, 'Bob', 'bob@x', '222');
      INSERT INTO invoices VALUES (1, 9.5, '2024-01-01 10:00:00'), (2, 3.0, '2024-01-02 10:00:00');
      INSERT INTO audit_log VALUES (1, 'boot');
    )");
  }
  auto yaml = "source: \"" + url(src) + "\"\ndestination: \"" + url(dst) + R"Y("
include: ["*"]
exclude: ["audit_*"]
parallel_tables: 4
poll_interval_ms: 20
defaults: {batch_size: 2, mode: replicate}
tables:
  orders:
    columns: [id, customer_id, total, updated_at]
    target: orders_copy
    where: "total > 0"
    batch_size: 1
    parallel_chunks: 4
  customers:
    exclude_columns: [ssn]
    rename: {email: contact_email}
    delete: {strategy: soft, column: is_deleted}
  invoices:
    mode: incremental
    watermark: {column: updated_at}
    query: "SELECT * FROM invoices WHERE updated_at > coalesce(:last_value, '')"
)Y";
  auto config = cdc::parse_config_yaml(yaml);
  cdc::SessionOptions opts;
  opts.exit_when_idle = true;
  auto status = cdc::ReplicationSession(config, opts).run();
  for (const auto& t : status.tables) {
    INFO(t.source << ": " << t.error);
    CHECK(t.phase != cdc::TablePhase::Failed);
  }

  Db d(dst);
  // columns + target + where
  CHECK(d.rows("SELECT * FROM orders_copy ORDER BY id") ==
        std::vector<std::string>{"int:1|int:10|real:5.5|text:2024-01-01", "int:3|int:10|int:7|text:2024-01-03"});
  CHECK(d.rows("SELECT count(*) FROM sqlite_master WHERE name IN ('orders', 'audit_log')").at(0) == "int:0");
  // exclude_columns + rename + soft-delete flag
  CHECK(d.rows("SELECT name FROM pragma_table_info('customers') ORDER BY cid") ==
        std::vector<std::string>{"text:id", "text:name", "text:contact_email", "text:is_deleted"});
  CHECK(d.rows("SELECT * FROM customers ORDER BY id") ==
        std::vector<std::string>{"int:10|text:Ann|text:ann@x|int:0", "int:11|text:Bob|text:bob@x|int:0"});
  // incremental with a custom query
  CHECK(d.count("invoices") == 2);

  // Live changes: a soft delete, a row entering and one leaving the filter, a new invoice.
  {
    Db s(src);
    s.exec("DELETE FROM customers WHERE id = 11");
    s.exec("UPDATE orders SET total = 1 WHERE id = 2");       // enters the filter
    s.exec("UPDATE orders SET total = 0 WHERE id = 1");       // leaves it
    s.exec("INSERT INTO invoices VALUES (3, 1.0, '2024-01-03 10:00:00')");
    s.exec("UPDATE invoices SET amount = 100 WHERE id = 1");  // older watermark: not seen (documented)
  }
  cdc::ReplicationSession(config, opts).run();
  CHECK(d.rows("SELECT id, is_deleted FROM customers ORDER BY id") == std::vector<std::string>{"int:10|int:0", "int:11|int:1"});
  CHECK(d.rows("SELECT id FROM orders_copy ORDER BY id") == std::vector<std::string>{"int:2", "int:3"});
  CHECK(d.rows("SELECT id, amount FROM invoices ORDER BY id") ==
        std::vector<std::string>{"int:1|real:9.5", "int:2|real:3", "int:3|real:1"});

  // verify understands the config: renames, targets, filters, soft deletes.
  cdc::VerifyOptions vo;
  vo.config = &config;
  auto report = cdc::verify(config.source, config.destination, vo);
  for (const auto& t : report.tables) {
    INFO(t.source << " -> " << t.target << ": " << t.error);
    if (t.source != "invoices") CHECK(t.equal);
  }

  // The checkpoint store tells where each table is.
  auto cp = cdc::checkpoint_status(config);
  std::map<std::string, cdc::TableStatus> by;
  for (const auto& t : cp.tables) by[t.source] = t;
  CHECK(by["orders"].phase == cdc::TablePhase::Streaming);
  CHECK(by["orders"].target == "orders_copy");
  CHECK(by["invoices"].phase == cdc::TablePhase::Incremental);
  CHECK(by["invoices"].position == "'2024-01-03 10:00:00'");
  CHECK_FALSE(cp.stream_position.empty());
}

TEST_CASE("a failing table does not stop the others unless stop_on_error", "[sqlite][session]") {
  TempDir dir;
  const auto src = dir.file("src.db"), dst = dir.file("dst.db");
  {
    Db s(src);
    s.exec("CREATE TABLE good (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO good VALUES (1, 'a'), (2, 'b');");
    s.exec("CREATE TABLE bad (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO bad VALUES (1, 'a');");
  }
  auto config = make_config(src, dst);
  config.tables["bad"].where = "no_such_column > 0";
  cdc::SessionOptions opts;
  opts.snapshot_only = true;
  auto status = cdc::ReplicationSession(config, opts).run();
  std::map<std::string, cdc::TableStatus> by;
  for (const auto& t : status.tables) by[t.source] = t;
  CHECK(by["good"].phase == cdc::TablePhase::Done);
  CHECK(by["bad"].phase == cdc::TablePhase::Failed);
  CHECK_THAT(by["bad"].error, Catch::Contains("no_such_column"));
  Db d(dst);
  CHECK(d.count("good") == 2);

  config.stop_on_error = true;
  config.name = "strict";
  try {
    cdc::ReplicationSession(config, opts).run();
    FAIL("expected the session to fail");
  } catch (const cdc::Error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("table bad failed"));
  }
}

TEST_CASE("unknown tables and columns in the config are named", "[sqlite][session]") {
  TempDir dir;
  const auto src = dir.file("src.db"), dst = dir.file("dst.db");
  {
    Db s(src);
    s.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL);");
  }
  auto config = make_config(src, dst);
  config.tables["ordrs"] = {};
  CHECK_THROWS_WITH(cdc::ReplicationSession(config).run(), "tables.ordrs: no table \"ordrs\" in the source (similar: orders)");
  config.tables.erase("ordrs");
  config.tables["orders"].columns = {"id", "totl"};
  CHECK_THROWS_WITH(cdc::ReplicationSession(config).run(), "tables.orders.columns[1]: no column \"totl\" in table orders (similar: total)");
  config.tables["orders"].columns = {"total"};
  CHECK_THROWS_WITH(cdc::ReplicationSession(config).run(),
                    "tables.orders.columns: mode replicate needs the primary key (id) among the copied columns");
  auto bad_source = make_config(dir.file("missing.db"), dst);
  CHECK_THROWS_AS(cdc::ReplicationSession(bad_source).run(), cdc::Error);
}

TEST_CASE("replication converges under concurrent inserts, updates and deletes", "[sqlite][session]") {
  TempDir dir;
  const auto src = dir.file("src.db"), dst = dir.file("dst.db");
  {
    Db s(src);
    s.exec("PRAGMA journal_mode=WAL");
    s.exec("CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER, t TEXT, b BLOB)");
    s.exec("CREATE TABLE b (k1 TEXT NOT NULL, k2 INTEGER NOT NULL, v REAL, PRIMARY KEY (k1, k2))");
    s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
           "INSERT INTO a SELECT i, i * 7, 'row ' || i, randomblob(8) FROM n");
    s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
           "INSERT INTO b SELECT 'k' || (i % 50), i, i / 3.0 FROM n");
  }
  auto config = make_config(src, dst);
  config.defaults.chunk_rows = 2000;
  config.defaults.parallel_chunks = 2;
  cdc::ReplicationSession session(config);
  session.start();

  std::atomic<bool> done{false};
  std::thread writer([&] {
    Db s(src);
    std::mt19937 rng(42);
    for (int i = 0; i < 400; ++i) {
      if (i == 200) {
        // The second half runs while the stream is live (the first half overlaps the snapshot).
        for (int w = 0; w < 600 && session.status().state != cdc::SessionState::Streaming; ++w)
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      int id = static_cast<int>(rng() % 25000) + 1;
      switch (rng() % 5) {
        case 0: s.exec("INSERT OR REPLACE INTO a VALUES (" + std::to_string(id) + ", 1, 'new', x'00')"); break;
        case 1: s.exec("UPDATE a SET v = v + 1, t = t || '+' WHERE id = " + std::to_string(id)); break;
        case 2: s.exec("DELETE FROM a WHERE id = " + std::to_string(id)); break;
        case 3: s.exec("UPDATE a SET id = " + std::to_string(30000 + i) + " WHERE id = " + std::to_string(id)); break;
        default:
          s.exec("BEGIN; UPDATE b SET v = v * 2 WHERE k2 = " + std::to_string(id % 3000) + "; DELETE FROM b WHERE k2 = " +
                 std::to_string((id + 1) % 3000) + "; INSERT OR IGNORE INTO b VALUES ('new', " + std::to_string(i) + ", 1); COMMIT;");
      }
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    done = true;
  });
  writer.join();

  // Converges: poll verify until equal (bounded).
  bool equal = false;
  for (int i = 0; i < 200 && !equal; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto st = session.status();
    bool streaming = !st.tables.empty();
    for (const auto& t : st.tables) streaming = streaming && t.phase == cdc::TablePhase::Streaming;
    if (streaming) equal = cdc::verify(config.source, config.destination, cdc::VerifyOptions{}).all_equal();
  }
  auto status = session.status();
  session.stop();
  session.wait();
  CHECK(equal);
  Db s(src), d(dst);
  check_same(s, d, "a", "id");
  check_same(s, d, "b", "k1, k2");
  std::int64_t changes = 0;
  for (const auto& t : status.tables) changes += t.changes_applied;
  CHECK(changes > 0);
  // Acknowledged changes are purged from the capture log.
  CHECK(s.count("_cdc_log") == 0);
}

TEST_CASE("a paused table is held back and catches up on resume", "[sqlite][session]") {
  TempDir dir;
  const auto src = dir.file("src.db"), dst = dir.file("dst.db");
  {
    Db s(src);
    s.exec("CREATE TABLE x (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO x VALUES (1, 1);");
    s.exec("CREATE TABLE y (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO y VALUES (1, 1);");
  }
  auto config = make_config(src, dst);
  cdc::ReplicationSession session(config);
  session.start();
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 300; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  REQUIRE(wait_for([&] {
    auto st = session.status();
    return st.state == cdc::SessionState::Streaming;
  }));
  session.pause_table("x");
  CHECK_THROWS_AS(session.pause_table("nope"), cdc::Error);
  Db s(src), d(dst);
  s.exec("UPDATE x SET v = 2; UPDATE y SET v = 2; INSERT INTO x VALUES (2, 2);");
  REQUIRE(wait_for([&] { return d.rows("SELECT v FROM y").at(0) == "int:2"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(d.rows("SELECT * FROM x ORDER BY id") == std::vector<std::string>{"int:1|int:1"});
  CHECK(session.status().tables.size() == 2);
  session.resume_table("x");
  CHECK(wait_for([&] { return d.rows("SELECT * FROM x ORDER BY id") == std::vector<std::string>{"int:1|int:2", "int:2|int:2"}; }));
  s.exec("UPDATE y SET v = 3");
  CHECK(wait_for([&] { return d.rows("SELECT v FROM y").at(0) == "int:3"; }));
  session.stop();
  session.wait();
}
