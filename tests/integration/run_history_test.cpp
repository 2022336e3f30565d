// Run history: each run of a session is a row of `_cdc_runs` and each error it met a row of
// `_cdc_errors`, in the destination beside the checkpoints; `cdc-cli status` shows the last ones.
// (The stores' own contract: tests/support/history_contract.h; a run killed with SIGKILL and marked
// "interrupted" by the next: tests/integration/crash_test.cpp.)
#include "support/cli_process.h"
#include "support/sqlite_fixture.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

using cdc_test::Db;
using cdc_test::TempDir;
using cdc_test::url;

TEST_CASE("run history: a run's outcome, counts and the errors it met", "[sqlite][session][history]") {
  TempDir dir;
  const auto src = dir.file("src.db"), dst = dir.file("dst.db"), cfg = dir.file("cdc.yaml");
  {
    Db s(src);
    s.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, n); INSERT INTO t VALUES (1, 5), (2, 'abc');");
    s.exec("CREATE TABLE ok (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO ok VALUES (1, 'x'), (2, 'y'), (3, 'z');");
  }
  std::ofstream(cfg) << "source: \"" << url(src) << "\"\ndestination: \"" << url(dst)
                     << "\"\npoll_interval_ms: 20\non_conversion_error: fail\ncast: [{column: t.n, to: integer}]\n";
  auto config = cdc::load_config_file(cfg);

  // First run: a clean one, stopped by the user once streaming (t fails, ok streams).
  {
    cdc::ReplicationSession session(config);
    session.start();
    bool settled = false;
    for (int i = 0; i < 500 && !settled; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      int streaming = 0, failed = 0;
      for (const auto& t : session.status().tables) {
        streaming += t.phase == cdc::TablePhase::Streaming;
        failed += t.phase == cdc::TablePhase::Failed;
      }
      settled = streaming == 1 && failed == 1;
    }
    REQUIRE(settled);
    auto live = session.status();
    REQUIRE(live.runs.size() == 1);  // a running session shows its own run
    CHECK(live.runs[0].run == 1);
    CHECK(live.runs[0].outcome == "running");
    Db(src).exec("INSERT INTO ok VALUES (4, 'w')");
    for (int i = 0; i < 300 && Db(dst).count("ok") < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    session.stop();
    session.wait();
  }
  auto status = cdc::checkpoint_status(config);
  REQUIRE(status.runs.size() == 1);
  const auto& r = status.runs[0];
  CHECK(r.run == 1);
  CHECK(r.kind == "replicate");
  CHECK(r.outcome == "failed");  // stopped, with a table failed
  CHECK(r.error.find("table t failed") != std::string::npos);
  CHECK(r.rows == 3);            // ok's three rows (t failed before any)
  CHECK(r.changes == 1);         // ok's insert
  CHECK(r.version == cdc::version());
  CHECK(r.holder.find("pid ") == 0);
  CHECK_FALSE(r.ended_at.empty());
  REQUIRE_FALSE(status.recent_errors.empty());
  const auto& e = status.recent_errors[0];
  CHECK(e.table == "t");
  CHECK(e.kind == "failed");
  CHECK(e.message == "table t column n (id=2): string value 'abc' is not an integer");
  CHECK(e.run == 1);

  // Second run, after the bad row is repaired and t resynced: finished, numbered 2, and shown by
  // `cdc-cli status` with the first.
  Db(src).exec("UPDATE t SET n = 6 WHERE id = 2");
  {
    cdc::ReplicationSession session(config);
    session.start();
    for (int i = 0; i < 500 && session.status().state != cdc::SessionState::Streaming; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    session.resync_table("t");
    for (int i = 0; i < 500 && Db(dst).count("t") < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    session.stop();
    session.wait();
  }
  status = cdc::checkpoint_status(config);
  REQUIRE(status.runs.size() == 2);
  CHECK(status.runs[0].run == 2);
  CHECK(status.runs[0].outcome == "stopped");
  CHECK(status.runs[0].rows == 2);  // t copied again
  CHECK(status.runs[1].outcome == "failed");

#ifdef CDC_CLI_PATH
  const auto out = dir.file("status.txt"), log = dir.file("cli.log");
  auto exit = cdc_test::run_cli({"status", "-c", cfg, "--no-source"}, "", log, out);
  CHECK(exit.code == 0);
  std::string text = cdc_test::slurp(out);
  INFO(text);
  CHECK(text.find("last runs:") != std::string::npos);
  CHECK(text.find("stopped") != std::string::npos);
  CHECK(text.find("last errors:") != std::string::npos);
  CHECK(text.find("string value 'abc' is not an integer") != std::string::npos);
  auto json_exit = cdc_test::run_cli({"status", "-c", cfg, "--no-source", "--format", "json"}, "", log, out);
  CHECK(json_exit.code == 0);
  text = cdc_test::slurp(out);
  CHECK(text.find("\"runs\":[{\"run\":2,") != std::string::npos);
  CHECK(text.find("\"error_log\":[{") != std::string::npos);
#endif
}
