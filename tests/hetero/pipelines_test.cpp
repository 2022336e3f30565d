// Two pipelines in one process against SQLite, PostgreSQL and MariaDB together: SQLite ->
// PostgreSQL and MariaDB -> SQLite, sharing two snapshot workers and one HTTP server, converging
// row by row under changes on both sources.
#include "maria_test_util.h"
#include "pg_test_util.h"
#include "session_test_util.h"

#include "support/http_client.h"
#include "support/sqlite_fixture.h"

#include <cdc/cdc.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <map>
#include <string>

namespace {

using maria_test::Maria;
using maria_test::MariaDb;
using maria_test::mariadb_url;
using pg_test::eventually;

// Pipeline name -> its tables' phases, from GET /api/v1/status.
std::map<std::string, std::vector<std::string>> phases(std::uint16_t port) {
  std::map<std::string, std::vector<std::string>> out;
  auto reply = cdc_test::http(port, "GET", "/api/v1/status");
  if (reply.status != 200) return out;
  const boost::json::value doc = boost::json::parse(reply.body);
  for (const auto& p : doc.at("pipelines").as_array()) {
    auto& list = out[std::string(p.at("name").as_string())];
    for (const auto& t : p.at("tables").as_array()) list.emplace_back(t.at("phase").as_string());
  }
  return out;
}

}  // namespace

TEST_CASE("two pipelines in one process: SQLite -> PostgreSQL and MariaDB -> SQLite converge row by row, served by one HTTP server",
          "[hetero][pipelines]") {
  pg_test::QuietLog quiet;
  pg_test::TempDir dir;
  const std::string shop = dir.file("shop.db"), replica = dir.file("accounts_replica.db");
  {
    cdc_test::Db s(shop);
    s.exec("PRAGMA journal_mode=WAL");
    s.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, note TEXT)");
    s.exec("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 3000) "
           "INSERT INTO orders SELECT i, i % 97, CASE WHEN i % 10 = 0 THEN NULL ELSE 'n' || i END FROM r");
  }
  pg_test::TempDb pg("pipes");
  MariaDb accounts("pipes");
  Maria m;
  m.exec("USE " + accounts.name);
  m.exec("CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, balance BIGINT)");
  for (int i = 1; i <= 400; ++i)
    m.exec("INSERT INTO accounts VALUES (" + std::to_string(i) + ", 'acct" + std::to_string(i) + "', " + std::to_string(i * 1000) + ")");

  cdc::PipelinesConfig config = cdc::parse_pipelines_yaml(R"(workers: 2
poll_interval_ms: 50
retry: {initial_delay_ms: 50}
defaults: {batch_size: 500, chunk_rows: 1000}
pipelines:
  - name: shop
    source: "sqlite://)" + shop + R"("
    destination: ")" + pg.url() + R"("
  - name: accounts
    source: ")" + mariadb_url(accounts.name) + R"("
    destination: "sqlite://)" + replica + R"("
)");
  cdc::HttpOptions http_options;
  http_options.listen = "127.0.0.1:0";
  cdc::HttpServer server(http_options);
  cdc::PipelineRunnerOptions options;
  options.on_added = [&](const std::string& name, cdc::ReplicationSession& s) { server.add_pipeline(name, s); };
  options.on_removed = [&](const std::string& name, cdc::ReplicationSession&) { server.remove_pipeline(name); };
  cdc::PipelineRunner runner(config, options);
  server.start();
  runner.start();
  auto streaming = [&] {
    auto p = phases(server.port());
    return p["shop"] == std::vector<std::string>{"streaming"} && p["accounts"] == std::vector<std::string>{"streaming"};
  };
  REQUIRE(eventually(streaming, 120));
  // Two workers shared: never more snapshot tasks at once across both pipelines.
  CHECK(runner.worker_budget()->peak() <= 2);
  CHECK(runner.worker_budget()->peak() >= 1);

  {
    cdc_test::Db s(shop);
    s.exec("UPDATE orders SET qty = qty + 1000, note = 'upd' WHERE id % 7 = 0");
    s.exec("DELETE FROM orders WHERE id % 11 = 0");
    s.exec("INSERT INTO orders VALUES (5001, 1, 'new'), (5002, 2, NULL)");
  }
  m.exec("UPDATE accounts SET balance = balance - 1, name = CONCAT(name, '!') WHERE id % 5 = 0");
  m.exec("DELETE FROM accounts WHERE id > 380");
  m.exec("INSERT INTO accounts VALUES (1000, 'late', NULL)");

  pg_test::Conn p(pg.url());
  auto shop_equal = [&] {
    return p.rows("SELECT id, qty, coalesce(note, 'NULL') FROM orders ORDER BY id") ==
           hetero_test::sqlite_rows(shop, "SELECT id, qty, coalesce(note, 'NULL') FROM orders ORDER BY id");
  };
  auto accounts_equal = [&] {
    return m.rows("SELECT id, name, balance FROM accounts ORDER BY id") ==
           hetero_test::sqlite_rows(replica, "SELECT id, name, balance FROM accounts ORDER BY id");
  };
  CHECK(eventually(shop_equal, 60));
  CHECK(eventually(accounts_equal, 60));
  CHECK(p.count("orders") == 3000 - 272 + 2);
  for (const auto& c : config.pipelines) hetero_test::check_equal(pg_test::verify_with(c), 1);

  // One status document and one /metrics for both.
  auto metrics = cdc_test::http(server.port(), "GET", "/metrics");
  CHECK(metrics.body.find("pipeline=\"shop\"") != std::string::npos);
  CHECK(metrics.body.find("pipeline=\"accounts\"") != std::string::npos);

  runner.stop();
  auto results = runner.wait();
  REQUIRE(results.size() == 2);
  for (const auto& r : results) {
    INFO(r.name << ": " << r.error);
    CHECK_FALSE(r.failed);
  }
}
