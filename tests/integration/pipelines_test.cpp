// Several pipelines in one process (cdc::PipelineRunner) on real SQLite files: one failing alone
// while the other converges, stop_on_error stopping them all, a reload adding and removing a
// pipeline, log records carrying the pipeline's name; and phase-dependent batch sizes observed on
// a running session (incremental polls and the change stream switch between catch_up and steady).
#include "support/sqlite_fixture.h"
#include "support/wait.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <mutex>
#include <set>
#include <string>
#include <vector>

using cdc_test::Db;
using cdc_test::eventually;
using cdc_test::same_rows;
using cdc_test::TempDir;
using cdc_test::url;

namespace {

// Keeps a copy of every record (pipeline, table, message) while installed.
class CapturingSink final : public cdc::LogSink {
 public:
  struct Line {
    std::string pipeline, table, message;
  };
  CapturingSink() = default;
  void write(const cdc::LogRecord& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back({std::string(r.pipeline), std::string(r.table), std::string(r.message)});
  }
  std::vector<Line> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  // The messages containing `part`, in order.
  std::vector<std::string> matching(const std::string& part) const {
    std::vector<std::string> out;
    for (const auto& l : lines())
      if (l.message.find(part) != std::string::npos) out.push_back(l.message);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Line> lines_;
};

struct ScopedSink {
  std::shared_ptr<CapturingSink> sink = std::make_shared<CapturingSink>();
  ScopedSink() { cdc::set_log_sink(sink); }
  ~ScopedSink() { cdc::set_log_sink(nullptr); }
};

void make_source(const std::string& path, const std::string& table, int rows) {
  Db s(path);
  s.exec("PRAGMA journal_mode=WAL");
  s.exec("CREATE TABLE " + table + " (id INTEGER PRIMARY KEY, v TEXT)");
  s.exec("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < " + std::to_string(rows) + ") INSERT INTO " +
         table + " SELECT i, 'v' || i FROM r");
}

std::string pipeline_yaml(const std::string& name, const std::string& src, const std::string& dst, const std::string& extra = "") {
  return "  - name: " + name + "\n    source: \"" + url(src) + "\"\n    destination: \"" + url(dst) + "\"\n" + extra;
}

const std::string kHead = "workers: 2\npoll_interval_ms: 20\nretry: {initial_delay_ms: 10, max_attempts: 1}\npipelines:\n";

bool streaming(const std::vector<std::pair<std::string, cdc::SessionStatus>>& all, const std::string& name) {
  for (const auto& [n, s] : all)
    if (n == name) return s.state == cdc::SessionState::Streaming && !s.tables.empty();
  return false;
}

}  // namespace

TEST_CASE("pipelines: one that fails ends alone while the other converges, with stop_on_error it stops them all",
          "[sqlite][pipelines]") {
  cdc_test::QuietLog quiet;
  TempDir dir;
  const std::string src = dir.file("src.db"), dst = dir.file("dst.db");
  make_source(src, "items", 500);

  SECTION("alone") {
    auto config = cdc::parse_pipelines_yaml(kHead + pipeline_yaml("good", src, dst) +
                                            "  - {name: bad, source: \"nosuch://x\", destination: \"sqlite://" + dir.file("x.db") + "\"}\n");
    cdc::PipelineRunnerOptions options;
    options.session.exit_when_idle = true;
    cdc::PipelineRunner runner(config, options);
    auto results = runner.run();
    REQUIRE(results.size() == 2);
    CHECK(results[0].name == "good");
    CHECK_FALSE(results[0].failed);
    CHECK(results[0].error.empty());
    CHECK(results[1].name == "bad");
    CHECK(results[1].failed);
    CHECK(results[1].error.find("nosuch") != std::string::npos);
    CHECK(same_rows(src, dst, "items"));
  }
  SECTION("stop_on_error") {
    // The good pipeline streams until stopped: only the bad one's stop_on_error ends the run.
    auto config = cdc::parse_pipelines_yaml(kHead + pipeline_yaml("good", src, dst) +
                                            "  - {name: bad, stop_on_error: true, source: \"nosuch://x\", destination: \"sqlite://" +
                                            dir.file("x.db") + "\"}\n");
    cdc::PipelineRunner runner(config);
    auto results = runner.run();
    REQUIRE(results.size() == 2);
    CHECK(results[1].failed);
    CHECK_FALSE(results[0].failed);
    CHECK(results[0].status.state == cdc::SessionState::Finished);
  }
}

TEST_CASE("pipelines: a reload adds and removes pipelines while the others go on, log records name their pipeline",
          "[sqlite][pipelines]") {
  ScopedSink capture;
  TempDir dir;
  const std::string a_src = dir.file("a.db"), a_dst = dir.file("a_dst.db"), b_src = dir.file("b.db"), b_dst = dir.file("b_dst.db");
  make_source(a_src, "items", 300);
  make_source(b_src, "parts", 200);

  std::mutex mu;
  std::vector<std::string> added, removed;
  cdc::PipelineRunnerOptions options;
  options.on_added = [&](const std::string& name, cdc::ReplicationSession&) {
    std::lock_guard<std::mutex> lock(mu);
    added.push_back(name);
  };
  options.on_removed = [&](const std::string& name, cdc::ReplicationSession&) {
    std::lock_guard<std::mutex> lock(mu);
    removed.push_back(name);
  };
  cdc::PipelineRunner runner(cdc::parse_pipelines_yaml(kHead + pipeline_yaml("a", a_src, a_dst)), options);
  runner.start();
  REQUIRE(eventually([&] { return streaming(runner.status(), "a"); }));
  CHECK(same_rows(a_src, a_dst, "items"));

  // b joins.
  std::string summary = runner.reload(cdc::parse_pipelines_yaml(kHead + pipeline_yaml("a", a_src, a_dst) + pipeline_yaml("b", b_src, b_dst)));
  CHECK(summary == "pipelines added: b; removed: none; reloaded: a");
  REQUIRE(eventually([&] { return streaming(runner.status(), "b"); }));
  Db(b_src).exec("INSERT INTO parts VALUES (1001, 'new')");
  Db(a_src).exec("UPDATE items SET v = 'changed' WHERE id = 7");
  CHECK(eventually([&] { return same_rows(b_src, b_dst, "parts") && same_rows(a_src, a_dst, "items"); }));
  CHECK(runner.names() == std::vector<std::string>{"a", "b"});

  // a leaves: stopped and taken off, its target kept; b goes on.
  summary = runner.reload(cdc::parse_pipelines_yaml(kHead + pipeline_yaml("b", b_src, b_dst)));
  CHECK(summary == "pipelines added: none; removed: a; reloaded: b");
  CHECK(runner.names() == std::vector<std::string>{"b"});
  Db(a_src).exec("INSERT INTO items VALUES (5000, 'after a left')");
  Db(b_src).exec("DELETE FROM parts WHERE id = 3");
  CHECK(eventually([&] { return same_rows(b_src, b_dst, "parts"); }));
  CHECK(Db(a_dst).rows("SELECT count(*) FROM items WHERE id = 5000").at(0) == "int:0");

  // A refused change (another source for b) is named, and b keeps running.
  const std::string elsewhere = dir.file("elsewhere.db");
  make_source(elsewhere, "parts", 1);
  try {
    runner.reload(cdc::parse_pipelines_yaml(kHead + pipeline_yaml("b", elsewhere, b_dst)));
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(std::string(e.what()).find("not applied: pipeline b: source") != std::string::npos);
  }
  CHECK(streaming(runner.status(), "b"));

  runner.stop();
  auto results = runner.wait();
  REQUIRE(results.size() == 2);
  CHECK(results[0].name == "a");
  CHECK(results[0].removed);
  CHECK(results[1].name == "b");
  CHECK_FALSE(results[1].failed);
  {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(added == std::vector<std::string>{"a", "b"});
    CHECK(removed == std::vector<std::string>{"a"});  // b is taken off when the runner goes
  }

  // Each pipeline's snapshot was logged on its own threads, under its name.
  std::set<std::string> snapshot_logs;
  for (const auto& l : capture.sink->lines())
    if (l.message.find("snapshot done") != std::string::npos) snapshot_logs.insert(l.pipeline + ":" + l.table);
  CHECK(snapshot_logs.count("a:items") == 1);
  CHECK(snapshot_logs.count("b:parts") == 1);
}

TEST_CASE("batch sizes follow the phase: incremental polls and the change stream switch between catch_up and steady",
          "[sqlite][batch]") {
  ScopedSink capture;
  TempDir dir;
  const std::string src = dir.file("src.db"), dst = dir.file("dst.db");
  {
    Db s(src);
    s.exec("PRAGMA journal_mode=WAL");
    s.exec("CREATE TABLE events (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, v TEXT)");
    s.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)");
    s.exec("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 20) INSERT INTO events SELECT i, i, 'e' FROM r");
    s.exec("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 50) INSERT INTO items SELECT i, 'i' FROM r");
  }
  cdc::Config config = cdc::parse_config_yaml("source: \"" + url(src) + "\"\ndestination: \"" + url(dst) + R"("
poll_interval_ms: 20
defaults: {batch_size: {initial: 4, catch_up: 3, steady: 2}}
stream_batch_rows: {catch_up: 7, steady: 3}
catch_up_lag_seconds: 10
tables:
  events: {mode: incremental, watermark: seq}
)");
  cdc::ReplicationSession session(config);
  session.start();
  const std::string poll_catch_up = "incremental polls in phase catch_up: batches of up to 3 rows";
  const std::string poll_steady = "incremental polls in phase steady: batches of up to 2 rows";
  const std::string stream_steady = "change stream in phase steady: batches of up to 3 rows";
  // First poll: nothing known, so catch_up; it reads all 20 rows, more than a steady batch, so the
  // next is catch_up too; a poll that finds nothing new makes it steady.
  REQUIRE(eventually([&] { return !capture.sink->matching(poll_steady).empty(); }));
  CHECK(capture.sink->matching(poll_catch_up).size() == 1);
  // The stream: catch_up until a poll shows it has nothing pending, then steady.
  REQUIRE(eventually([&] { return !capture.sink->matching(stream_steady).empty(); }));
  CHECK(capture.sink->matching("change stream in phase catch_up: batches of up to 7 rows").size() == 1);

  // A burst larger than a steady batch: the poll after it catches up again, then steady again.
  Db(src).exec("WITH RECURSIVE r(i) AS (SELECT 21 UNION ALL SELECT i + 1 FROM r WHERE i < 40) INSERT INTO events SELECT i, i, 'late' FROM r");
  Db(src).exec("UPDATE items SET v = 'changed' WHERE id <= 30");
  REQUIRE(eventually([&] { return capture.sink->matching(poll_catch_up).size() == 2 && capture.sink->matching(poll_steady).size() == 2; }));
  CHECK(eventually([&] { return same_rows(src, dst, "events") && same_rows(src, dst, "items"); }));
  session.stop();
  session.wait();
  // Log lines are about the table (the poll's) or the whole stream.
  for (const auto& l : capture.sink->lines())
    if (l.message.find("incremental polls in phase") != std::string::npos) CHECK(l.table == "events");
}
