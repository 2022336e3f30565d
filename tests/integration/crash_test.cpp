// Crash safety: `cdc-cli replicate` is killed with SIGKILL at chosen points (CDC_CRASH_AT, see
// lib/core/failpoint.h; those tests need -DCDC_FAILPOINTS=ON) and at an arbitrary moment under
// concurrent writes; a restart must
// converge to the source with nothing lost and nothing doubled (a table without a key shows
// doubles as extra rows).
#include "support/cli_process.h"
#include "support/sqlite_fixture.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <random>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using cdc_test::Db;
using cdc_test::TempDir;
using cdc_test::url;

#ifdef CDC_CLI_PATH

using cdc_test::Exit;
using cdc_test::run_cli;
using cdc_test::slurp;
using cdc_test::wait_exit;

namespace {

struct Fixture {
  TempDir dir;
  std::string src = dir.file("src.db"), dst = dir.file("dst.db"), cfg = dir.file("cdc.yaml"), log = dir.file("cli.log");

  explicit Fixture(int rows) {
    Db s(src);
    s.exec("PRAGMA journal_mode=WAL");
    s.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, payload BLOB)");
    s.exec("CREATE TABLE pairs (a TEXT NOT NULL, b INTEGER NOT NULL, v REAL, PRIMARY KEY (a, b))");
    s.exec("CREATE TABLE events (at INTEGER, what TEXT)");  // no key: a doubled row would show
    s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows) +
           ") INSERT INTO items SELECT i, i % 97, 'item ' || i, randomblob(16) FROM n");
    s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows / 4) +
           ") INSERT INTO pairs SELECT 'p' || (i % 13), i, i * 0.5 FROM n");
    s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows / 4) +
           ") INSERT INTO events SELECT i, 'e' || (i % 7) FROM n");
    std::ofstream(cfg) << "source: \"" << url(src) << "\"\ndestination: \"" << url(dst) << "\"\n"
                       << "parallel_tables: 3\npoll_interval_ms: 20\nstream_batch_rows: 40\n"
                       << "defaults: {batch_size: 500, chunk_rows: 4000, parallel_chunks: 2}\n";
  }

  void write_changes(int n, unsigned seed) {
    Db s(src);
    std::mt19937 rng(seed);
    for (int i = 0; i < n; ++i) {
      std::string id = std::to_string(rng() % 30000 + 1);
      switch (rng() % 6) {
        case 0: s.exec("INSERT OR REPLACE INTO items VALUES (" + id + ", 0, 'replaced', x'01')"); break;
        case 1: s.exec("UPDATE items SET name = name || '!' WHERE id = " + id); break;
        case 2: s.exec("DELETE FROM items WHERE id = " + id); break;
        case 3: s.exec("INSERT INTO events VALUES (" + id + ", 'live')"); break;
        case 4: s.exec("DELETE FROM events WHERE rowid = (SELECT min(rowid) FROM events WHERE at % 5 = " + std::to_string(rng() % 5) + ")"); break;
        default: s.exec("UPDATE pairs SET b = b + 100000, v = -v WHERE a = 'p3' AND b = (SELECT min(b) FROM pairs WHERE a = 'p3' AND b < 100000)");
      }
    }
  }

  void check_converged() {
    INFO(slurp(log));
    auto report = cdc::verify(url(src), url(dst), cdc::VerifyOptions{});
    for (const auto& t : report.tables) {
      INFO(t.source << ": " << t.source_rows << " vs " << t.target_rows << " " << t.error);
      for (const auto& k : t.differing_keys) INFO(k);
      CHECK(t.equal);
    }
    CHECK(report.tables.size() == 3);
    Db s(src), d(dst);
    CHECK(s.rows("SELECT at, what, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2") ==
          d.rows("SELECT at, what, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2"));
  }
};

}  // namespace

// Killed at failpoints: only in builds with -DCDC_FAILPOINTS=ON (scripts/test.sh).
#ifdef CDC_FAILPOINTS

TEST_CASE("SIGKILL mid-snapshot, then restart, converges without duplicates", "[sqlite][crash]") {
  for (const char* point : {"snapshot.chunk_committed:4", "snapshot.before_commit:3"}) {
    DYNAMIC_SECTION(point) {
      Fixture f(40000);
      auto first = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, point, f.log);
      INFO(slurp(f.log));
      REQUIRE(first.signaled);
      CHECK(first.code == SIGKILL);
      {
        Db d(f.dst);
        auto copied = d.count("items") + d.count("pairs") + d.count("events");
        CHECK(copied > 0);
        CHECK(copied < 60000);
        // The chunks that committed are recorded; they are not copied again.
        CHECK(d.rows("SELECT count(*) FROM _cdc_checkpoints WHERE key LIKE 'chunk:%'").at(0) != "int:0");
      }
      f.write_changes(200, 7);
      auto second = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log);
      CHECK_FALSE(second.signaled);
      CHECK(second.code == 0);
      f.check_converged();
      // The run history: the killed run is "interrupted" (its process never ended it), the next
      // finished and copied what the first had not committed.
      auto runs = cdc::checkpoint_status(cdc::load_config_file(f.cfg)).runs;
      REQUIRE(runs.size() == 2);
      CHECK(runs[1].outcome == "interrupted");
      CHECK(runs[1].ended_at.empty());
      CHECK(runs[0].outcome == "finished");
      CHECK(runs[0].rows > 0);
      CHECK(runs[0].rows <= 60000 + 200);
    }
  }
}

TEST_CASE("SIGKILL mid-stream, then restart, converges without duplicates", "[sqlite][crash]") {
  for (const char* point : {"stream.batch_committed:3", "stream.before_commit:2"}) {
    DYNAMIC_SECTION(point) {
      Fixture f(8000);
      REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
      f.write_changes(300, 11);
      auto killed = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, point, f.log);
      REQUIRE(killed.signaled);
      f.write_changes(100, 12);
      auto again = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log);
      CHECK(again.code == 0);
      f.check_converged();
    }
  }
}

#endif  // CDC_FAILPOINTS

TEST_CASE("SIGKILL at an arbitrary moment under concurrent writes, then restart, converges", "[sqlite][crash]") {
  Fixture f(20000);
  pid_t pid = cdc_test::spawn_cli({"replicate", "-c", f.cfg}, "", f.log);
  std::thread writer([&] { f.write_changes(600, 99); });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ::kill(pid, SIGKILL);
  auto killed = wait_exit(pid);
  writer.join();
  CHECK(killed.signaled);
  auto again = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log);
  CHECK(again.code == 0);
  f.check_converged();
}

TEST_CASE("SIGTERM stops replicate cleanly and keeps the checkpoint", "[sqlite][crash]") {
  Fixture f(5000);
  pid_t pid = cdc_test::spawn_cli({"replicate", "-c", f.cfg}, "", f.log);
  // Wait until streaming has begun (the stream position is recorded), then ask it to stop.
  for (int i = 0; i < 500; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    try {
      Db d(f.dst);
      if (d.rows("SELECT count(*) FROM _cdc_checkpoints WHERE key = 'stream'").at(0) == "int:1" &&
          d.rows("SELECT count(*) FROM _cdc_checkpoints WHERE key LIKE 'table:%' AND value LIKE '%streaming%'").at(0) == "int:3")
        break;
    } catch (const std::exception&) {
    }
  }
  f.write_changes(50, 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(pid, SIGTERM);
  auto e = wait_exit(pid);
  INFO(slurp(f.log));
  CHECK_FALSE(e.signaled);
  CHECK(e.code == 0);
  f.write_changes(50, 6);
  CHECK(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  f.check_converged();
}

#endif
