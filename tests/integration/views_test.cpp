// Views as sources (SQLite): discovered with Config::views or when named, read whole unless a key
// is configured, copied and followed by watermark into a table holding their rows, refused for
// mode replicate with the reason; `cdc-cli discover` marks them and lists them only with --views.
#include "support/sqlite_fixture.h"
#include "support/wait.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <sys/wait.h>

using cdc_test::Db;
using cdc_test::TempDir;
using cdc_test::url;

namespace {

// Orders joined to their customers, filtered; `weighted` is an expression (no declared type).
const char* kSchema = R"SQL(
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, amount INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE VIEW big_orders AS
  SELECT o.id AS order_id, c.name AS customer, o.amount, o.amount * 1.5 AS weighted, o.seq
  FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.amount >= 10;
INSERT INTO customers VALUES (1, 'Ann', 'NZ'), (2, 'Bob', NULL), (3, 'Cy', 'FR');
)SQL";

const char* kViewRows = "SELECT order_id, customer, amount, weighted, seq FROM big_orders ORDER BY order_id";

struct Shop {
  TempDir dir;
  std::string src = dir.file("src.db"), dst = dir.file("dst.db");
  Shop() {
    Db db(src);
    db.exec(kSchema);
    db.exec("BEGIN");
    for (int i = 1; i <= 200; ++i)
      db.exec("INSERT INTO orders VALUES (" + std::to_string(i) + ", " + std::to_string(i % 3 + 1) + ", " +
              std::to_string(i * 7 % 30) + ", " + std::to_string(i) + ")");
    db.exec("COMMIT");
  }
  cdc::Config config() const {
    cdc::Config c;
    c.source = url(src);
    c.destination = url(dst);
    c.poll_interval_ms = 20;
    return c;
  }
};

std::vector<std::string> planned(const cdc::Config& config) {
  auto source = cdc::ConnectorRegistry::instance().open_source(config.source);
  std::vector<std::string> names;
  for (const auto& p : cdc::plan_tables(config, *source, *cdc::make_type_mapper(config), "sqlite")) names.push_back(p.key);
  std::sort(names.begin(), names.end());
  return names;
}

cdc::SessionStatus copy_once(const cdc::Config& config) {
  cdc::SessionOptions copy;
  copy.snapshot_only = true;
  return cdc::ReplicationSession(config, copy).run();
}

cdc::SessionStatus run_until_idle(const cdc::Config& config) {
  cdc::SessionOptions opt;
  opt.exit_when_idle = true;
  return cdc::ReplicationSession(config, opt).run();
}

const cdc::TableStatus& status_of(const cdc::SessionStatus& s, const std::string& table) {
  for (const auto& t : s.tables)
    if (t.source == table) return t;
  FAIL("no status for " << table);
  return s.tables.front();
}

std::vector<std::string> target_key(Db& db, const std::string& table) {
  return db.rows("SELECT name FROM pragma_table_info('" + table + "') WHERE pk > 0 ORDER BY pk");
}

}  // namespace

TEST_CASE("views: discovery marks views, planning takes them with views: true or when named", "[sqlite][views]") {
  Shop shop;
  auto source = cdc::ConnectorRegistry::instance().open_source(url(shop.src));
  auto all = source->discover(nullptr);
  REQUIRE(all.size() == 3);
  const cdc::TableSchema& view = all[0];
  CHECK(view.id.name == "big_orders");
  CHECK(view.view);
  CHECK_FALSE(all[1].view);
  CHECK(view.primary_key.empty());
  CHECK(view.estimated_rows == -1);
  REQUIRE(view.columns.size() == 5);
  CHECK(view.columns[0].source_type == "INTEGER");  // a column of a table: its declared type
  CHECK(view.columns[3].source_type.empty());       // an expression: none
  CHECK(view.columns[3].type.id == cdc::TypeId::Unknown);

  cdc::Config config = shop.config();
  CHECK(planned(config) == std::vector<std::string>{"customers", "orders"});
  config.include = {"big_*"};  // a pattern selects base tables only
  CHECK(planned(config).empty());
  config.views = true;
  CHECK(planned(config) == std::vector<std::string>{"big_orders"});
  config.include = {"*"};
  CHECK(planned(config) == std::vector<std::string>{"big_orders", "customers", "orders"});
  config.views = false;
  config.include = {"big_orders", "orders"};  // named exactly
  CHECK(planned(config) == std::vector<std::string>{"big_orders", "orders"});
  config.include = {"*"};
  config.tables["big_orders"];  // named under tables
  CHECK(planned(config) == std::vector<std::string>{"big_orders", "customers", "orders"});
  config.exclude = {"big_orders"};  // excluded stays excluded
  CHECK(planned(config) == std::vector<std::string>{"customers", "orders"});

  // Under the default mode replicate a view gets mode copy; it has no key unless configured.
  config.exclude.clear();
  auto src = cdc::ConnectorRegistry::instance().open_source(config.source);
  for (const auto& p : cdc::plan_tables(config, *src, *cdc::make_type_mapper(config), "sqlite")) {
    if (p.key != "big_orders") continue;
    CHECK(p.mode == cdc::TableMode::Copy);
    CHECK(p.read.primary_key.empty());
    CHECK(p.target.schema.primary_key.empty());
  }
}

TEST_CASE("views: a copied view holds the view's rows, value by value, read in one chunk", "[sqlite][views]") {
  Shop shop;
  cdc::Config config = shop.config();
  config.include = {"big_orders"};
  config.defaults.chunk_rows = 10;  // a table would be split; a view without a key is not
  config.defaults.parallel_chunks = 4;
  auto status = copy_once(config);
  const auto& t = status_of(status, "big_orders");
  INFO(t.error);
  CHECK(t.phase == cdc::TablePhase::Done);
  CHECK(t.chunks_total == 1);

  Db src(shop.src), dst(shop.dst);
  auto expected = src.rows(kViewRows);
  REQUIRE(expected.size() > 100);
  CHECK(dst.rows(kViewRows) == expected);  // storage classes too: the expression column kept its reals
  CHECK(dst.rows("SELECT type FROM sqlite_schema WHERE name = 'big_orders'") == std::vector<std::string>{"text:table"});
  CHECK(target_key(dst, "big_orders").empty());

  cdc::VerifyOptions vo;
  vo.include = {"big_orders"};
  auto report = cdc::verify(config.source, config.destination, vo);
  REQUIRE(report.tables.size() == 1);
  INFO(report.tables[0].error);
  CHECK(report.tables[0].equal);
  CHECK(report.tables[0].source_rows == static_cast<std::int64_t>(expected.size()));
}

TEST_CASE("views: a view with a key gets a primary key, is chunked by it, and runs again upsert", "[sqlite][views]") {
  Shop shop;
  cdc::Config config = shop.config();
  config.include = {"big_orders"};
  config.tables["big_orders"].key = {"order_id"};
  config.tables["big_orders"].chunk_rows = 20;
  config.tables["big_orders"].parallel_chunks = 3;
  Db src(shop.src), dst(shop.dst);

  SECTION("copy") {
    auto status = copy_once(config);
    const auto& t = status_of(status, "big_orders");
    INFO(t.error);
    CHECK(t.phase == cdc::TablePhase::Done);
    CHECK(t.chunks_total > 1);
    CHECK(target_key(dst, "big_orders") == std::vector<std::string>{"text:order_id"});
    CHECK(dst.rows(kViewRows) == src.rows(kViewRows));
    src.exec("UPDATE orders SET amount = 29 WHERE id = 3");  // 21 -> 29
    src.exec("INSERT INTO orders VALUES (201, 1, 25, 201)");
    copy_once(config);
    CHECK(dst.rows(kViewRows) == src.rows(kViewRows));
  }

  SECTION("incremental by a watermark column") {
    config.tables["big_orders"].mode = cdc::TableMode::Incremental;
    config.tables["big_orders"].watermark = cdc::WatermarkSettings{"seq"};
    auto status = run_until_idle(config);
    INFO(status_of(status, "big_orders").error);
    CHECK(target_key(dst, "big_orders") == std::vector<std::string>{"text:order_id"});
    const auto before = src.rows(kViewRows);
    CHECK(dst.rows(kViewRows) == before);

    // New rows, and a row of the view that changed (its watermark moves on): upserted, not doubled.
    src.exec("INSERT INTO orders VALUES (201, 1, 25, 201), (202, 2, 3, 202), (203, 3, 11, 203)");
    src.exec("UPDATE orders SET amount = 28, seq = 204 WHERE id = 3");
    status = run_until_idle(config);
    INFO(status_of(status, "big_orders").error);
    const auto after = src.rows(kViewRows);
    CHECK(after.size() == before.size() + 2);
    CHECK(dst.rows(kViewRows) == after);
    CHECK(dst.rows("SELECT amount FROM big_orders WHERE order_id = 3") == std::vector<std::string>{"int:28"});
  }
}

TEST_CASE("views: incremental without a key appends the view's new rows", "[sqlite][views]") {
  Shop shop;
  cdc::Config config = shop.config();
  config.include = {"big_orders"};
  config.tables["big_orders"].mode = cdc::TableMode::Incremental;
  config.tables["big_orders"].watermark = cdc::WatermarkSettings{"seq"};
  run_until_idle(config);
  Db src(shop.src), dst(shop.dst);
  CHECK(target_key(dst, "big_orders").empty());
  src.exec("INSERT INTO orders VALUES (201, 1, 25, 201), (202, 2, 3, 202)");
  run_until_idle(config);
  CHECK(dst.rows(kViewRows) == src.rows(kViewRows));
}

TEST_CASE("views: mode replicate on a view is refused before any work, saying why", "[sqlite][views]") {
  Shop shop;
  cdc::Config config = shop.config();
  config.tables["big_orders"].mode = cdc::TableMode::Replicate;
  const std::string why =
      "tables.big_orders.mode: big_orders is a view: mode replicate follows a change log, and a view has none (cdc's SQLite "
      "capture triggers fire on base tables only); use mode: copy, or mode: incremental with a watermark column";
  CHECK_THROWS_WITH(run_until_idle(config), why);
  // Nothing was created at either side: no target table, no capture triggers.
  Db src(shop.src), dst(shop.dst);
  CHECK(src.rows("SELECT name FROM sqlite_schema WHERE name LIKE '\\_cdc\\_%' ESCAPE '\\'").empty());
  CHECK(dst.rows("SELECT name FROM sqlite_schema WHERE name = 'big_orders'").empty());

  // A key is not for mode replicate either (config check), nor for a table that has a primary key.
  CHECK_THROWS_WITH(cdc::parse_config_yaml("source: sqlite:///a.db\ndestination: sqlite:///b.db\n"
                                           "tables:\n  big_orders:\n    mode: replicate\n    key: [order_id]\n"),
                    "tables.big_orders.key: mode replicate identifies rows by the source's own primary key; key is for mode "
                    "copy or incremental");
  cdc::Config keyed = shop.config();
  keyed.tables["orders"].key = {"customer_id"};
  keyed.tables["orders"].mode = cdc::TableMode::Copy;
  CHECK_THROWS_WITH(planned(keyed), "tables.orders.key: orders has a primary key (id); key is for views and tables without one");
  cdc::Config missing = shop.config();
  missing.tables["big_orders"].key = {"id"};
  CHECK_THROWS_WITH(planned(missing), Catch::StartsWith("tables.big_orders.key[0]: no column \"id\" in table big_orders"));
}

TEST_CASE("views: in a replicating session, selected views are copied while the tables stream", "[sqlite][views]") {
  Shop shop;
  cdc::Config config = shop.config();
  config.views = true;  // defaults.mode stays replicate
  config.include = {"orders", "big_orders"};
  auto status = run_until_idle(config);
  const auto& view = status_of(status, "big_orders");
  INFO(view.error);
  CHECK(view.mode == cdc::TableMode::Copy);
  CHECK(view.phase == cdc::TablePhase::Done);
  CHECK(status_of(status, "orders").mode == cdc::TableMode::Replicate);
  Db src(shop.src), dst(shop.dst);
  CHECK(dst.rows(kViewRows) == src.rows(kViewRows));
  // Capture was installed for the base table only.
  CHECK(src.rows("SELECT tbl_name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '\\_cdc\\_%' ESCAPE '\\' "
                 "GROUP BY tbl_name") == std::vector<std::string>{"text:orders"});
}

TEST_CASE("views: a reload keeps a copied view in mode copy, and a restart copies it afresh", "[sqlite][views]") {
  Shop shop;
  cdc::Config config = shop.config();
  config.views = true;
  config.include = {"orders", "big_orders"};
  Db src(shop.src), dst(shop.dst);
  auto settled = [](cdc::ReplicationSession& s) {
    return cdc_test::eventually([&] {
      auto t = cdc_test::by_table(s.status());
      return t.count("big_orders") && t.at("big_orders").phase == cdc::TablePhase::Done && t.count("orders") &&
             t.at("orders").phase == cdc::TablePhase::Streaming;
    });
  };
  {
    cdc::ReplicationSession session(config);
    session.start();
    REQUIRE(settled(session));
    cdc::Config next = config;
    next.tables["orders"].batch_size = 50;  // a change the session takes
    session.reload(next);
    src.exec("INSERT INTO orders VALUES (201, 1, 25, 201)");
    CHECK(cdc_test::eventually([&] { return dst.count("orders") == 201; }));
    auto t = cdc_test::by_table(session.status());
    CHECK(t.at("big_orders").mode == cdc::TableMode::Copy);
    CHECK(t.at("big_orders").phase == cdc::TablePhase::Done);
    session.stop();
    session.wait();
  }
  // The view was copied before the insert; like any mode copy table it is copied afresh by the
  // next start (replaced, not doubled).
  CHECK(dst.rows(kViewRows).size() + 1 == src.rows(kViewRows).size());
  auto status = run_until_idle(config);
  CHECK(status_of(status, "big_orders").phase == cdc::TablePhase::Done);
  CHECK(dst.rows(kViewRows) == src.rows(kViewRows));
}

#ifdef CDC_CLI_PATH
namespace {
// cdc-cli's stdout and exit code (paths in tests are temp files without shell metacharacters).
std::pair<int, std::string> cli(const std::string& args) {
  std::string out;
  FILE* p = ::popen((std::string(CDC_CLI_PATH) + " " + args + " 2>/dev/null").c_str(), "r");
  if (!p) FAIL("popen failed");
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = ::pclose(p);
  return {WEXITSTATUS(status), out};
}
}  // namespace

TEST_CASE("views: cdc-cli discover lists views with --views, marked, copy takes one named in --tables", "[sqlite][views]") {
  Shop shop;
  auto plain = cli("discover " + url(shop.src));
  CHECK(plain.first == 0);
  CHECK(plain.second.find("big_orders") == std::string::npos);
  CHECK(plain.second.find("orders  (~200 rows, key id)") != std::string::npos);
  auto with = cli("discover " + url(shop.src) + " --views");
  CHECK(with.second.find("big_orders  (view, no primary key)") != std::string::npos);
  auto json = cli("discover " + url(shop.src) + " --views --format json");
  CHECK(json.second.find("\"name\":\"big_orders\",\"id\":\"big_orders\",\"kind\":\"view\"") != std::string::npos);

  auto copied = cli("copy " + url(shop.src) + " " + url(shop.dst) + " --tables big_orders");
  INFO(copied.second);
  CHECK(copied.first == 0);
  Db src(shop.src), dst(shop.dst);
  CHECK(dst.rows(kViewRows) == src.rows(kViewRows));
  auto verified = cli("verify " + url(shop.src) + " " + url(shop.dst) + " --tables big_orders");
  INFO(verified.second);
  CHECK(verified.first == 0);
}
#endif
