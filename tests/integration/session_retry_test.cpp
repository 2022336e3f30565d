// Retries and host-supplied connectors: a destination wrapper (the host's own DestinationConnector)
// fails commits with retryable or fatal errors; the session retries the first kind with backoff
// and isolates the second to its table.
#include "support/sqlite_fixture.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

using cdc_test::Db;
using cdc_test::TempDir;
using cdc_test::url;

namespace {

struct Faults {
  std::atomic<int> retryable_left{0};  // commits that fail with a retryable error
  std::atomic<bool> connection{true};  // ... a lost connection (retried without limit), else a lock timeout
  std::string fatal_table;             // writes to this target table fail for good
  std::atomic<int> commits{0};
};

class FlakyWriter final : public cdc::DestinationWriter {
 public:
  FlakyWriter(std::unique_ptr<cdc::DestinationWriter> inner, Faults& faults) : inner_(std::move(inner)), faults_(faults) {}
  void begin() override { inner_->begin(); }
  void write_rows(const cdc::DestinationTable& t, const std::vector<cdc::Row>& rows) override {
    if (t.schema.id.name == faults_.fatal_table)
      throw cdc::Error(cdc::ErrorKind::Destination, "disk quota exceeded", false, "table " + t.schema.id.name);
    inner_->write_rows(t, rows);
  }
  void apply(const cdc::DestinationTable& t, const std::vector<cdc::ChangeEvent>& changes) override {
    if (t.schema.id.name == faults_.fatal_table)
      throw cdc::Error(cdc::ErrorKind::Destination, "disk quota exceeded", false, "table " + t.schema.id.name);
    inner_->apply(t, changes);
  }
  void truncate(const cdc::DestinationTable& t) override { inner_->truncate(t); }
  void commit(const std::string& session, const std::vector<cdc::CheckpointEntry>& cp) override {
    if (faults_.retryable_left.fetch_sub(1) > 0) {
      inner_->rollback();
      if (faults_.connection) throw cdc::connection_error("connection reset by peer (injected)");
      throw cdc::Error(cdc::ErrorKind::Destination, "lock wait timeout exceeded (injected)", true);
    }
    inner_->commit(session, cp);
    ++faults_.commits;
  }
  void rollback() noexcept override { inner_->rollback(); }

 private:
  std::unique_ptr<cdc::DestinationWriter> inner_;
  Faults& faults_;
};

class FlakyDestination final : public cdc::DestinationConnector {
 public:
  FlakyDestination(std::shared_ptr<cdc::DestinationConnector> inner, Faults& faults) : inner_(std::move(inner)), faults_(faults) {}
  std::string dialect() const override { return inner_->dialect(); }
  std::string render_ddl(const cdc::DestinationTable& t) const override { return inner_->render_ddl(t); }
  void prepare_table(const cdc::DestinationTable& t) override { inner_->prepare_table(t); }
  std::unique_ptr<cdc::DestinationWriter> open_writer() override {
    return std::make_unique<FlakyWriter>(inner_->open_writer(), faults_);
  }
  std::shared_ptr<cdc::CheckpointStore> checkpoint_store() override { return inner_->checkpoint_store(); }
  cdc::DestinationCapabilities capabilities() const override {
    cdc::DestinationCapabilities c;
    c.ddl = c.atomic_checkpoints = true;  // what FlakyWriter forwards
    return c;
  }

 private:
  std::shared_ptr<cdc::DestinationConnector> inner_;
  Faults& faults_;
};

void make_source(const std::string& path) {
  Db s(path);
  s.exec("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT);");
  s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO a SELECT i, 'a' || i FROM n");
  s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) INSERT INTO b SELECT i, 'b' || i FROM n");
}

// A source with tables a and b, and a flaky SQLite destination in front of a real one.
struct Flaky {
  TempDir dir;
  std::string src = dir.file("src.db"), dst = dir.file("dst.db");
  cdc::Config config;
  Faults faults;
  std::shared_ptr<cdc::SourceConnector> source;
  std::shared_ptr<FlakyDestination> destination;

  Flaky() {
    make_source(src);
    config.source = url(src);
    config.destination = url(dst);
    source = cdc::ConnectorRegistry::instance().open_source(config.source);
    destination = std::make_shared<FlakyDestination>(cdc::ConnectorRegistry::instance().open_destination(config.destination), faults);
  }
  cdc::SessionStatus copy(cdc::SessionOptions opts = {}) {
    opts.snapshot_only = true;
    return cdc::ReplicationSession(config, source, destination, opts).run();
  }
};

}  // namespace

TEST_CASE("retryable destination errors are retried with backoff", "[sqlite][session][retry]") {
  TempDir dir;
  const auto src = dir.file("src.db"), dst = dir.file("dst.db");
  make_source(src);
  cdc::Config config;
  config.source = url(src);
  config.destination = url(dst);
  config.retry.initial_delay_ms = 20;
  config.retry.max_delay_ms = 40;
  config.retry.max_attempts = 4;
  config.defaults.chunk_rows = 1000;
  Faults faults;
  faults.retryable_left = 3;
  auto source = cdc::ConnectorRegistry::instance().open_source(config.source);
  auto destination = std::make_shared<FlakyDestination>(cdc::ConnectorRegistry::instance().open_destination(config.destination), faults);
  cdc::SessionOptions opts;
  opts.snapshot_only = true;
  auto started = std::chrono::steady_clock::now();
  auto status = cdc::ReplicationSession(config, source, destination, opts).run();
  auto elapsed = std::chrono::steady_clock::now() - started;
  int attempts = 0;
  for (const auto& t : status.tables) {
    INFO(t.source << ": " << t.error);
    CHECK(t.phase == cdc::TablePhase::Done);
    attempts += t.attempts;
  }
  CHECK(attempts == 3);
  CHECK(elapsed >= std::chrono::milliseconds(3 * 20 * 8 / 10));  // three backoffs, jitter at most 20%
  CHECK(cdc::verify(url(src), url(dst), cdc::VerifyOptions{}).all_equal());
}

TEST_CASE("retries give up after max_attempts and the table fails alone", "[sqlite][session][retry]") {
  TempDir dir;
  const auto src = dir.file("src.db"), dst = dir.file("dst.db");
  make_source(src);
  cdc::Config config;
  config.source = url(src);
  config.destination = url(dst);
  config.retry.initial_delay_ms = 1;
  config.retry.max_delay_ms = 2;
  config.retry.max_attempts = 2;
  Faults faults;
  faults.fatal_table = "b";
  auto source = cdc::ConnectorRegistry::instance().open_source(config.source);
  auto destination = std::make_shared<FlakyDestination>(cdc::ConnectorRegistry::instance().open_destination(config.destination), faults);
  cdc::SessionOptions opts;
  opts.snapshot_only = true;
  auto status = cdc::ReplicationSession(config, source, destination, opts).run();
  std::map<std::string, cdc::TableStatus> by;
  for (const auto& t : status.tables) by[t.source] = t;
  CHECK(by["a"].phase == cdc::TablePhase::Done);
  CHECK(by["b"].phase == cdc::TablePhase::Failed);
  CHECK(by["b"].error == "table b: disk quota exceeded");
  CHECK(by["b"].attempts == 0);  // fatal: not retried

  // A retryable error that never clears (a lock timeout, not a lost connection) exhausts max_attempts.
  faults.fatal_table.clear();
  faults.connection = false;
  faults.retryable_left = 1000;
  config.name = "second";
  auto again = cdc::ReplicationSession(config, source, destination, opts).run();
  REQUIRE(again.tables.size() == 2);
  for (const auto& t : again.tables) {
    CHECK(t.phase == cdc::TablePhase::Failed);
    CHECK(t.attempts == 1);
    CHECK(t.error == "lock wait timeout exceeded (injected)");
  }
}

TEST_CASE("a lost destination connection is retried past max_attempts for as long as it takes", "[sqlite][session][retry]") {
  Flaky f;
  f.config.retry.max_attempts = 2;
  f.config.retry.initial_delay_ms = 1000;
  f.config.retry.max_delay_ms = 30000;
  f.faults.retryable_left = 40;  // 40 failed commits in a row: about 18 minutes of backoff
  cdc::SessionOptions opts;
  auto clock = std::make_shared<cdc::ManualClock>();
  opts.clock = clock;  // the backoff passes on this clock, not in real time
  auto status = f.copy(opts);
  int attempts = 0;
  for (const auto& t : status.tables) {
    INFO(t.source << ": " << t.error);
    CHECK(t.phase == cdc::TablePhase::Done);
    attempts += t.attempts;
  }
  CHECK(attempts == 40);
  // Capped exponential backoff: 1, 2, 4, 8, 16 s, then 30 s each (jitter +-20%).
  CHECK(clock->waited() > std::chrono::minutes(14));
  CHECK(cdc::verify(url(f.src), url(f.dst), cdc::VerifyOptions{}).all_equal());
}

TEST_CASE("destroying a running session stops it cleanly", "[sqlite][session]") {
  TempDir dir;
  const auto src = dir.file("src.db"), dst = dir.file("dst.db");
  make_source(src);
  cdc::Config config;
  config.source = url(src);
  config.destination = url(dst);
  config.poll_interval_ms = 10;
  auto started = std::chrono::steady_clock::now();
  {
    cdc::ReplicationSession session(config);
    session.start();
    for (int i = 0; i < 200 && session.status().state != cdc::SessionState::Streaming; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(session.running());
  }  // destructor: stop + join
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  // What was committed stays: a new session resumes streaming without copying again.
  cdc::SessionOptions opts;
  opts.exit_when_idle = true;
  auto status = cdc::ReplicationSession(config, opts).run();
  for (const auto& t : status.tables) CHECK(t.phase == cdc::TablePhase::Streaming);
  CHECK(cdc::checkpoint_status(config).tables.size() == 2);
}
