// Views as sources, PostgreSQL -> MariaDB and MariaDB -> PostgreSQL: a view (a join with a
// filter, and an expression column) is discovered only with views: true or when named, copied
// whole into a table holding its rows (value by value, and `verify` agrees), copied by ranges of a
// configured key into a table with that primary key (a second run upserts), followed by its
// watermark, and refused for mode replicate with the reason.
#include "maria_test_util.h"
#include "pg_test_util.h"
#include "session_test_util.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>

namespace {

using namespace maria_test;
using namespace hetero_test;

const char* kPgSchema[] = {
    "CREATE TABLE customers (id int PRIMARY KEY, name varchar(40) NOT NULL, country text)",
    "CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, qty int NOT NULL, "
    "price numeric(10,2) NOT NULL, seq bigint NOT NULL)",
    "CREATE VIEW big_orders AS SELECT o.id AS order_id, c.name AS customer, o.qty, o.price, o.qty * 2 AS doubled, o.seq "
    "FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.qty >= 10"};

const char* kMariaSchema[] = {
    "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, country TEXT)",
    "CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, qty INT NOT NULL, price DECIMAL(10,2) NOT NULL, "
    "seq BIGINT NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "CREATE VIEW big_orders AS SELECT o.id AS order_id, c.name AS customer, o.qty, o.price, o.qty * 2 AS doubled, o.seq "
    "FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.qty >= 10"};

const char* kViewRows = "SELECT order_id, customer, qty, price, doubled, seq FROM big_orders ORDER BY order_id";

// One database, whichever kind: statements, rows as text, its URL, its primary key columns.
struct Side {
  std::string url;
  std::function<void(const std::string&)> exec;
  std::function<std::vector<std::string>(const std::string&)> rows;
  std::function<std::vector<std::string>(const std::string&)> primary_key;
};

Side pg_side(const pg_test::TempDb& db) {
  auto conn = std::make_shared<pg_test::Conn>(db.url());
  return {db.url(), [conn](const std::string& sql) { conn->exec(sql); },
          [conn](const std::string& sql) { return conn->rows(sql); },
          [conn](const std::string& table) {
            return conn->rows("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
                              "a.attnum = ANY (i.indkey) WHERE i.indisprimary AND i.indrelid = '" + table +
                              "'::regclass ORDER BY a.attnum");
          }};
}

Side maria_side(const MariaDb& db) {
  auto conn = std::make_shared<Maria>();
  conn->exec("USE " + db.name);
  const std::string name = db.name;
  return {mariadb_url(db.name), [conn](const std::string& sql) { conn->exec(sql); },
          [conn](const std::string& sql) { return conn->rows(sql); },
          [conn, name](const std::string& table) {
            return conn->rows("SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = '" + name +
                              "' AND TABLE_NAME = '" + table + "' AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION");
          }};
}

void load_shop(Side& src, const char* const* schema, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) src.exec(schema[i]);
  src.exec("INSERT INTO customers VALUES (1, 'Ann', 'NZ'), (2, 'Bob', NULL), (3, 'Cy', 'FR')");
  std::string values;
  for (int i = 1; i <= 120; ++i)
    values += (i > 1 ? ", (" : "(") + std::to_string(i) + ", " + std::to_string(i % 3 + 1) + ", " + std::to_string(i * 7 % 30) +
              ", " + std::to_string(i) + ".25, " + std::to_string(i) + ")";
  src.exec("INSERT INTO orders VALUES " + values);
}

std::vector<std::string> planned(const cdc::Config& config, const std::string& target_dialect) {
  auto source = cdc::ConnectorRegistry::instance().open_source(config.source);
  std::vector<std::string> names;
  for (const auto& p : cdc::plan_tables(config, *source, *cdc::make_type_mapper(config), target_dialect))
    names.push_back(p.source.id.name);
  std::sort(names.begin(), names.end());
  return names;
}

const cdc::TableStatus& status_of(const cdc::SessionStatus& s, const std::string& table) {
  for (const auto& t : s.tables)
    if (t.source == table || t.source == "public." + table) return t;
  FAIL("no status for " << table);
  return s.tables.front();
}

cdc::SessionStatus run_until_idle(const cdc::Config& config) {
  cdc::SessionOptions opt;
  opt.exit_when_idle = true;
  return cdc::ReplicationSession(config, opt).run();
}

// The whole story for one source and two fresh targets (the second for the keyed runs).
void views_story(Side& src, Side& dst, Side& keyed_dst, const std::string& target_dialect, const std::string& view_id,
                 const std::string& no_log_reason) {
  pg_test::QuietLog quiet;
  auto source = cdc::ConnectorRegistry::instance().open_source(src.url);
  auto found = source->discover([](const cdc::TableId& id) { return id.name == "big_orders"; });
  REQUIRE(found.size() == 1);
  CHECK(found[0].view);
  CHECK(found[0].primary_key.empty());
  CHECK(found[0].estimated_rows == -1);
  REQUIRE(found[0].columns.size() == 6);

  // Discovery: base tables only, unless views: true.
  cdc::Config config = stream_config(src.url, dst.url);
  CHECK(planned(config, target_dialect) == std::vector<std::string>{"customers", "orders"});
  config.views = true;
  CHECK(planned(config, target_dialect) == std::vector<std::string>{"big_orders", "customers", "orders"});

  // Copied whole: the target holds the view's rows, and verify agrees.
  config.include = {"big_orders"};
  config.defaults.chunk_rows = 10;
  auto status = copy_once(config);
  check_done(status);
  CHECK(status_of(status, "big_orders").chunks_total == 1);
  const auto expected = src.rows(kViewRows);
  REQUIRE(expected.size() > 50);
  CHECK(dst.rows(kViewRows) == expected);
  CHECK(dst.primary_key("big_orders").empty());
  check_equal(pg_test::verify_with(config), 1);

  // With a key: the target's primary key, chunks by ranges of it, and a second run upserts.
  cdc::Config keyed = stream_config(src.url, keyed_dst.url);
  keyed.include = {"big_orders"};
  keyed.tables["big_orders"].key = {"order_id"};
  keyed.tables["big_orders"].chunk_rows = 15;
  keyed.tables["big_orders"].parallel_chunks = 2;
  status = copy_once(keyed);
  check_done(status);
  CHECK(status_of(status, "big_orders").chunks_total > 1);
  CHECK(keyed_dst.primary_key("big_orders") == std::vector<std::string>{"order_id"});
  CHECK(keyed_dst.rows(kViewRows) == expected);
  check_equal(pg_test::verify_with(keyed), 1);

  // Followed by its watermark on the same target: everything again (the mode changed), upserted,
  // then the rows that appeared and the row that changed.
  keyed.tables["big_orders"].mode = cdc::TableMode::Incremental;
  keyed.tables["big_orders"].watermark = cdc::WatermarkSettings{"seq"};
  status = run_until_idle(keyed);
  INFO(status_of(status, "big_orders").error);
  CHECK(keyed_dst.rows(kViewRows) == expected);
  src.exec("INSERT INTO orders VALUES (121, 1, 25, 1.50, 121), (122, 2, 3, 2.50, 122), (123, 3, 11, 3.50, 123)");
  src.exec("UPDATE orders SET qty = 28, seq = 124 WHERE id = 3");
  status = run_until_idle(keyed);
  INFO(status_of(status, "big_orders").error);
  const auto after = src.rows(kViewRows);
  CHECK(after.size() == expected.size() + 2);
  CHECK(keyed_dst.rows(kViewRows) == after);
  check_equal(pg_test::verify_with(keyed), 1);

  // Mode replicate: refused before any work, naming the view and the reason.
  cdc::Config replicate = stream_config(src.url, dst.url);
  replicate.name = "views-replicate";
  replicate.tables["big_orders"].mode = cdc::TableMode::Replicate;
  CHECK_THROWS_WITH(run_until_idle(replicate),
                    "tables.big_orders.mode: " + view_id + " is a view: mode replicate follows a change log, and a view has none (" +
                        no_log_reason + "); use mode: copy, or mode: incremental with a watermark column");
}

}  // namespace

TEST_CASE("views: a PostgreSQL view copied and followed into MariaDB", "[hetero][views]") {
  pg_test::TempDb pg("views");
  MariaDb m1("views1"), m2("views2");
  Side src = pg_side(pg), dst = maria_side(m1), keyed = maria_side(m2);
  load_shop(src, kPgSchema, std::size(kPgSchema));
  views_story(src, dst, keyed, "mysql", "public.big_orders", "PostgreSQL's logical replication carries the rows of base tables only");
  // No slot or publication was made for the refused session.
  CHECK(src.rows("SELECT slot_name FROM pg_replication_slots WHERE database = current_database()").empty());
}

TEST_CASE("views: a MariaDB view copied and followed into PostgreSQL", "[hetero][views]") {
  MariaDb m("views");
  pg_test::TempDb p1("views1"), p2("views2");
  Side src = maria_side(m), dst = pg_side(p1), keyed = pg_side(p2);
  load_shop(src, kMariaSchema, std::size(kMariaSchema));
  views_story(src, dst, keyed, "postgresql", "big_orders", "the MariaDB/MySQL binlog carries the rows of base tables only");
}
