// Today's ReplicationSession over the in-memory fakes (support/scripted_source.h,
// support/memory_destination.h): snapshot then stream converging row by row, pause and resume,
// and retried failures of the stream and of a chunk read. No server, no file.
#include "support/catch_printers.h"
#include "support/memory_destination.h"
#include "support/scripted_source.h"
#include "support/wait.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

using cdc::Row;
using cdc::TypeId;
using cdc_test::column;
using cdc_test::row;
using cdc_test::eventually;
using cdc_test::QuietLog;
using cdc_test::table_schema;

namespace {

struct Fakes {
  std::shared_ptr<cdc_test::ScriptedSource> src = std::make_shared<cdc_test::ScriptedSource>();
  std::shared_ptr<cdc_test::MemoryDestination> dst = std::make_shared<cdc_test::MemoryDestination>();

  Fakes() {
    std::vector<Row> items;
    for (int i = 1; i <= 45; ++i) items.push_back(row(i, "item " + std::to_string(i), i % 7));
    src->create_table(table_schema("items", {column("id", TypeId::Int64), column("name", TypeId::String), column("grp", TypeId::Int64)},
                                   {"id"}),
                      items);
    src->create_table(table_schema("events", {column("at", TypeId::Int64), column("what", TypeId::String)}),
                      {row(1, "boot"), row(2, "login")});
  }

  static cdc::Config config() {
    cdc::Config c;
    c.name = "fakes";
    c.poll_interval_ms = 10;
    c.parallel_tables = 2;
    c.defaults.chunk_rows = 10;
    c.defaults.parallel_chunks = 2;
    c.defaults.batch_size = 4;
    c.retry.initial_delay_ms = 5;
    c.retry.max_delay_ms = 20;
    c.retry.jitter = 0;
    return c;
  }

  bool converged(const std::string& table) const { return dst->has_table(table) && dst->rows(table) == src->rows(table); }
  bool converged() const { return converged("items") && converged("events"); }
};

bool streaming(const cdc::ReplicationSession& s) {
  auto st = s.status();
  if (st.state != cdc::SessionState::Streaming || st.tables.empty()) return false;
  for (const auto& t : st.tables)
    if (t.phase != cdc::TablePhase::Streaming) return false;
  return true;
}

}  // namespace

TEST_CASE("session over fakes: a chunked snapshot, then the stream, converge row by row", "[unit][fakes][session]") {
  QuietLog quiet;
  Fakes f;
  cdc::ReplicationSession session(Fakes::config(), f.src, f.dst);
  session.start();
  REQUIRE(eventually([&] { return streaming(session); }));
  CHECK(f.converged());
  // items: 45 rows in chunks of 10; events has no key: one chunk read at one position.
  CHECK(f.dst->checkpoints("fakes").count("chunk:items:4") == 1);
  CHECK(f.dst->checkpoints("fakes").count("chunk:events:0") == 1);
  CHECK(f.dst->checkpoints("fakes").count("chunk:events:1") == 0);

  f.src->insert("items", row(100, "new", 1));
  f.src->update("items", row(1, "renamed", 1));
  f.src->delete_row("items", row(2));
  f.src->transaction([&] {
    f.src->update("items", row(3), row(300, "moved", 3));
    f.src->insert("events", row(3, "logout"));
    f.src->delete_row("events", row(1, "boot"));
  });
  REQUIRE(eventually([&] { return f.converged(); }));
  // The stream checkpoint reaches the last transaction, and the source may release its log there.
  const cdc::Position end = f.src->position();
  CHECK(eventually([&] { return f.dst->checkpoints("fakes")["stream"] == end.str(); }));
  CHECK(eventually([&] {
    auto acks = f.src->acknowledged();
    return !acks.empty() && acks.back() == end;
  }));
  session.stop();
  auto status = session.wait();
  REQUIRE(status.tables.size() == 2);
  for (const auto& t : status.tables) CHECK(t.phase == cdc::TablePhase::Streaming);
}

TEST_CASE("session over fakes: a restarted session resumes the stream where the last one committed", "[unit][fakes][session]") {
  QuietLog quiet;
  Fakes f;
  {
    cdc::ReplicationSession session(Fakes::config(), f.src, f.dst);
    session.start();
    REQUIRE(eventually([&] { return streaming(session); }));
    session.stop();
    session.wait();
  }
  f.src->insert("items", row(200, "while stopped", 0));
  f.src->delete_row("items", row(10));
  cdc::ReplicationSession again(Fakes::config(), f.src, f.dst);
  again.start();
  REQUIRE(eventually([&] { return f.converged(); }));
  again.stop();
  again.wait();
  // The second run did not copy again: it streamed from the stored position.
  const auto& opened = f.src->opened_from();
  REQUIRE(opened.size() >= 2);
  CHECK(opened.back() != cdc::Position("0"));
}

TEST_CASE("session over fakes: pause holds changes back, resume applies them", "[unit][fakes][session]") {
  QuietLog quiet;
  Fakes f;
  cdc::ReplicationSession session(Fakes::config(), f.src, f.dst);
  session.start();
  REQUIRE(eventually([&] { return streaming(session); }));

  session.pause();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a poll in flight may still land
  const int commits = f.dst->commits();
  f.src->insert("items", row(101, "paused", 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(f.dst->commits() == commits);
  CHECK_FALSE(f.dst->row("items", row(101)));
  session.resume();
  REQUIRE(eventually([&] { return f.converged(); }));

  // One table paused: the other goes on; resumed, the paused one replays from where it was held.
  session.pause_table("events");
  f.src->insert("events", row(9, "held"));
  f.src->insert("items", row(102, "flows", 0));
  REQUIRE(eventually([&] { return f.converged("items"); }));
  CHECK_FALSE(f.converged("events"));
  auto held = session.status();
  for (const auto& t : held.tables)
    if (t.source == "events") CHECK(t.paused);
  session.resume_table("events");
  REQUIRE(eventually([&] { return f.converged(); }));
  session.stop();
  session.wait();
}

TEST_CASE("session over fakes: a failing stream is reopened and a failing chunk read retried", "[unit][fakes][session]") {
  QuietLog quiet;
  Fakes f;
  f.src->failures().fail("read_chunk", cdc_test::lost_connection("chunk read lost (injected)"));
  cdc::ReplicationSession session(Fakes::config(), f.src, f.dst);
  session.start();
  REQUIRE(eventually([&] { return streaming(session); }));
  CHECK(f.converged());
  int attempts = 0;
  for (const auto& t : session.status().tables) attempts += t.attempts;
  CHECK(attempts == 1);

  const auto streams_before = f.src->opened_streams().size();
  f.src->failures().fail("poll", cdc_test::lost_connection("stream lost (injected)"), 2);
  // Each failure ends the stream; the session opens it again (after a backoff) from its checkpoint.
  REQUIRE(eventually([&] { return f.src->opened_streams().size() >= streams_before + 2; }));
  CHECK(f.src->failures().pending("poll") == 0);
  f.src->insert("items", row(103, "after the failures", 0));
  f.src->update("items", row(5, "updated after the failures", 5));
  REQUIRE(eventually([&] { return f.converged(); }));
  session.stop();
  auto status = session.wait();
  CHECK(status.state == cdc::SessionState::Finished);
}
