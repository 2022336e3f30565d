// Quarantine: rows whose values cannot be converted for the destination are kept, with the
// reason, in `_cdc_quarantine`, by snapshot and by stream, and the table goes on; with
// on_conversion_error: fail the table fails instead. (A cast to integer over a SQLite column that
// also holds text makes such rows without a second server.)
#include "support/sqlite_fixture.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

using cdc_test::Db;
using cdc_test::TempDir;
using cdc_test::url;

TEST_CASE("unconvertible rows go to quarantine by snapshot and stream", "[sqlite][session][quarantine]") {
  TempDir dir;
  const auto src = dir.file("src.db"), dst = dir.file("dst.db");
  {
    Db s(src);
    s.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, n);");  // no declared type: any value
    s.exec("INSERT INTO t VALUES (1, 5), (2, 'abc'), (3, 7), (4, 1e300)");
    s.exec("CREATE TABLE ok (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO ok VALUES (1, 'x');");
  }
  cdc::Config config;
  config.source = url(src);
  config.destination = url(dst);
  config.poll_interval_ms = 20;
  config.cast.push_back({"", "t.n", "integer"});

  cdc::ReplicationSession session(config);
  session.start();
  for (int i = 0; i < 300 && session.status().state != cdc::SessionState::Streaming; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Db s(src), d(dst);
  s.exec("INSERT INTO t VALUES (5, 'nope'), (6, 9)");
  bool caught_up = false;
  for (int i = 0; i < 300 && !caught_up; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    caught_up = d.count("t") == 3 && d.count("_cdc_quarantine") == 3;
  }
  auto status = session.status();
  session.stop();
  session.wait();
  REQUIRE(caught_up);
  CHECK(d.rows("SELECT id, n, typeof(n) FROM t ORDER BY id") ==
        std::vector<std::string>{"int:1|int:5|text:integer", "int:3|int:7|text:integer", "int:6|int:9|text:integer"});
  CHECK(d.rows("SELECT name, type FROM pragma_table_info('t') ORDER BY cid") ==
        std::vector<std::string>{"text:id|text:INTEGER", "text:n|text:INTEGER"});
  auto q = d.rows("SELECT source_table, row_key, column_name, raw_value, error, position FROM _cdc_quarantine ORDER BY id");
  REQUIRE(q.size() == 3);
  CHECK(q[0] == "text:t|text:id=2|text:n|text:'abc'|text:string value 'abc' is not an integer|text:snapshot");
  CHECK(q[1].rfind("text:t|text:id=4|text:n|text:1e+300|text:double value 1e+300 is not an integer|text:snapshot", 0) == 0);
  CHECK(q[2].rfind("text:t|text:id=5|text:n|text:'nope'|text:string value 'nope' is not an integer|text:", 0) == 0);
  CHECK(q[2].find("|text:snapshot") == std::string::npos);  // a stream position, not "snapshot"
  std::map<std::string, cdc::TableStatus> by;
  for (const auto& t : status.tables) by[t.source] = t;
  CHECK(by["t"].phase == cdc::TablePhase::Streaming);
  CHECK(by["t"].quarantined == 3);
  CHECK(by["ok"].quarantined == 0);
  // The count survives in the checkpoint store (what `cdc-cli status` shows).
  auto recorded = cdc::checkpoint_status(config).tables;
  auto t = std::find_if(recorded.begin(), recorded.end(), [](const cdc::TableStatus& s) { return s.source == "t"; });
  REQUIRE(t != recorded.end());
  CHECK(t->quarantined == 3);
}

TEST_CASE("on_conversion_error: fail fails the table with the row key", "[sqlite][session][quarantine]") {
  TempDir dir;
  const auto src = dir.file("src.db"), dst = dir.file("dst.db");
  {
    Db s(src);
    s.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, n); INSERT INTO t VALUES (1, 5), (2, 'abc');");
  }
  auto config = cdc::parse_config_yaml("source: \"" + url(src) + "\"\ndestination: \"" + url(dst) +
                                       "\"\non_conversion_error: fail\ncast: [{column: t.n, to: integer}]\n");
  cdc::SessionOptions copy;
  copy.snapshot_only = true;
  auto status = cdc::ReplicationSession(config, copy).run();
  REQUIRE(status.tables.size() == 1);
  CHECK(status.tables[0].phase == cdc::TablePhase::Failed);
  CHECK(status.tables[0].error == "table t column n (id=2): string value 'abc' is not an integer");
}
