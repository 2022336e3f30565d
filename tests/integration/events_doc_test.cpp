// docs/events.md shows one change event of each op for a real table; this test makes those events
// (a SQLite source replicated into jsonl://) and checks them against the document, field by field,
// apart from what differs from run to run (timestamps, the capture sequence, the cdc version).
#include "support/event_fixture.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#ifdef CDC_CLI_PATH

using cdc_test::run_cli;
using cdc_test::slurp;
using cdc_test::url;

namespace {

// The JSON blocks of docs/events.md, in order.
std::vector<boost::json::value> documented_events() {
  std::ifstream in(std::string(CDC_SOURCE_DIR) + "/docs/events.md");
  REQUIRE(in);
  std::vector<boost::json::value> out;
  std::string line, block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line == "```json") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      out.push_back(boost::json::parse(block));
    } else if (inside) {
      block += line + "\n";
    }
  }
  return out;
}

// What varies between runs goes.
boost::json::value stable(boost::json::value v) {
  auto& o = v.as_object();
  o.erase("ts_ms");
  auto& s = o.at("source").as_object();
  for (const char* k : {"ts_ms", "seq", "version", "txId"}) s.erase(k);
  return v;
}

}  // namespace

TEST_CASE("docs/events.md shows the events cdc sends for a real table", "[sqlite][jsonl][docs]") {
  cdc_test::TempDir dir;
  const std::string src = dir.file("shop.db"), out = dir.file("orders.jsonl"), cfg = dir.file("cdc.yaml"), log = dir.file("cli.log");
  {
    cdc_test::Db s(src);
    s.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, total DECIMAL(10,2), paid BOOLEAN, "
           "placed_at TIMESTAMP, shipped_at TIMESTAMPTZ, label BLOB, attrs JSON, points UNSIGNED BIGINT)");
    s.exec("INSERT INTO orders VALUES (1, 'Ada', '19.90', 1, '2024-02-29 13:01:02.5', '2024-03-01 09:00:00+01:00', x'cafe', "
           "'{\"gift\": true}', 9223372036854775807)");
  }
  std::ofstream(cfg) << "name: shop\nsource: \"" << url(src) << "\"\ndestination: \"jsonl://" << out << "\"\npoll_interval_ms: 20\n";
  REQUIRE(run_cli({"replicate", "-c", cfg, "--until-idle"}, "", log).code == 0);
  {
    cdc_test::Db s(src);
    s.exec("INSERT INTO orders VALUES (2, 'Grace', '5.00', 0, '2024-03-02 08:00:00', NULL, NULL, '[1, 2]', 7)");
    s.exec("UPDATE orders SET paid = 1, total = '6.50' WHERE id = 2");
    s.exec("UPDATE orders SET id = 3 WHERE id = 2");
    s.exec("DELETE FROM orders WHERE id = 3");
  }
  REQUIRE(run_cli({"replicate", "-c", cfg, "--until-idle"}, "", log).code == 0);
  std::vector<boost::json::value> real;
  {
    std::ifstream in(out);
    std::string line;
    while (std::getline(in, line)) real.push_back(boost::json::parse(line));
  }
  INFO(slurp(log));
  auto doc = documented_events();
  REQUIRE(doc.size() == 7);  // t (the snapshot starts), r, c, u, d + c (the key changed), d
  REQUIRE(real.size() == doc.size());
  for (std::size_t i = 0; i < doc.size(); ++i) {
    INFO("event " << i << ":\n  documented " << boost::json::serialize(doc[i]) << "\n  sent       " << boost::json::serialize(real[i]));
    CHECK(stable(doc[i]) == stable(real[i]));
  }
}

#endif  // CDC_CLI_PATH
