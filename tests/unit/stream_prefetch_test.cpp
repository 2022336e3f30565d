// The read-ahead wrapper around a source's change stream keeps the stream's contract: order,
// batch size, a position that never runs ahead of what was handed out, acknowledgements passed
// on (also the last one, at destruction), errors after the events before them, and no reading
// past a schema change. The inner stream here is a scripted one: what it stands for (a source
// log) is exercised against real servers by the connector tests, which all stream through it.
#include "core/stream_prefetch.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace cdc;

namespace {

struct Script {
  std::mutex mu;
  std::size_t total = 0;         // events the log holds
  std::size_t fail_after = 0;    // throw once this many were read (0 = never)
  std::size_t schema_at = 0;     // event number (1-based) that is a schema change (0 = none)
  std::size_t chunk = 0;         // at most this many events per read (0 = as many as asked)
  std::size_t read = 0;          // events read so far
  std::atomic<int> polls_after_schema{0};
  std::vector<std::string> acks;
};

class ScriptedStream final : public ChangeStream {
 public:
  explicit ScriptedStream(Script& s) : s_(s) {}
  void poll(std::vector<ChangeEvent>& out, std::size_t max_events, std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> lock(s_.mu);
    if (s_.schema_at && s_.read >= s_.schema_at) ++s_.polls_after_schema;
    if (s_.chunk) max_events = std::min(max_events, s_.chunk);
    for (std::size_t i = 0; i < max_events && s_.read < s_.total; ++i) {
      if (s_.fail_after && s_.read == s_.fail_after) throw std::runtime_error("log went away at event " + std::to_string(s_.read));
      ChangeEvent e;
      ++s_.read;
      e.position = Position(std::to_string(s_.read));
      e.transaction_id = std::to_string(s_.read);
      if (s_.read == s_.schema_at) {
        e.schema_change = std::make_shared<SchemaChange>();
        out.push_back(std::move(e));
        return;
      }
      out.push_back(std::move(e));
    }
  }
  Position position() const override {
    std::lock_guard<std::mutex> lock(s_.mu);
    return Position(std::to_string(s_.read));
  }
  void acknowledge(const Position& p) override {
    std::lock_guard<std::mutex> lock(s_.mu);
    s_.acks.push_back(p.str());
  }

 private:
  Script& s_;
};

// Polls until `want` events arrived (or nothing comes for a while); checks order, batch size and
// that position() is exactly the last event handed out.
std::size_t drain(ChangeStream& stream, std::size_t want, std::size_t batch) {
  std::size_t got = 0;
  for (int idle = 0; got < want && idle < 50;) {
    std::vector<ChangeEvent> events;
    stream.poll(events, batch, std::chrono::milliseconds(20));
    if (events.empty()) {
      ++idle;
      continue;
    }
    REQUIRE(events.size() <= batch);
    for (auto& e : events) REQUIRE(e.transaction_id == std::to_string(++got));
    REQUIRE(stream.position().str() == std::to_string(got));
  }
  return got;
}

}  // namespace

TEST_CASE("prefetching stream hands out events in order, batch by batch, position never ahead", "[unit]") {
  Script s;
  s.total = 5000;
  detail::PrefetchingStream stream(std::make_unique<ScriptedStream>(s), 300);
  CHECK(drain(stream, 5000, 64) == 5000);
  // Idle: the position follows the inner stream once everything was handed out.
  std::vector<ChangeEvent> none;
  stream.poll(none, 64, std::chrono::milliseconds(150));
  CHECK(none.empty());
  CHECK(stream.position().str() == "5000");
}

TEST_CASE("prefetching stream fills each batch from what it read ahead, splitting a read between two polls", "[unit]") {
  Script s;
  s.total = 1000;
  s.chunk = 7;  // the source hands out small reads (a quiet log, a short poll time)
  detail::PrefetchingStream stream(std::make_unique<ScriptedStream>(s), 2000);
  std::vector<ChangeEvent> first;
  stream.poll(first, 50, std::chrono::milliseconds(20));  // tells the reader the batch size
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(s.mu);
      if (s.read == s.total) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::size_t got = 0;
  for (auto& e : first) REQUIRE(e.transaction_id == std::to_string(++got));
  while (got < s.total) {
    std::vector<ChangeEvent> events;
    stream.poll(events, 50, std::chrono::milliseconds(20));
    // Everything is read ahead: every batch is full (the last one holds the rest).
    REQUIRE(events.size() == std::min<std::size_t>(50, s.total - got));
    for (auto& e : events) REQUIRE(e.transaction_id == std::to_string(++got));
    REQUIRE(stream.position().str() == std::to_string(got));
  }
}

TEST_CASE("prefetching stream passes acknowledgements on, the last one at destruction", "[unit]") {
  Script s;
  s.total = 10;
  {
    detail::PrefetchingStream stream(std::make_unique<ScriptedStream>(s));
    REQUIRE(drain(stream, 10, 4) == 10);
    stream.acknowledge(Position("7"));
    for (int i = 0; i < 100; ++i) {
      {
        std::lock_guard<std::mutex> lock(s.mu);
        if (!s.acks.empty()) break;
      }
      std::vector<ChangeEvent> none;
      stream.poll(none, 4, std::chrono::milliseconds(10));
    }
    {
      std::lock_guard<std::mutex> lock(s.mu);
      REQUIRE(s.acks == std::vector<std::string>{"7"});
    }
    stream.acknowledge(Position("10"));
  }  // destroyed right after: the acknowledgement must still arrive
  CHECK(s.acks.back() == "10");
}

TEST_CASE("prefetching stream throws a read error after the events read before it", "[unit]") {
  Script s;
  s.total = 100;
  s.fail_after = 37;
  detail::PrefetchingStream stream(std::make_unique<ScriptedStream>(s));
  std::size_t got = 0;
  std::string error;
  for (int i = 0; i < 200 && error.empty(); ++i) {
    std::vector<ChangeEvent> events;
    try {
      stream.poll(events, 10, std::chrono::milliseconds(20));
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    for (auto& e : events) REQUIRE(e.transaction_id == std::to_string(++got));
  }
  // The scripted log throws mid-poll, losing that poll's partial batch: what was queued before
  // it is all delivered, then the error.
  CHECK(got == 30);
  CHECK(error == "log went away at event 37");
}

TEST_CASE("prefetching stream reads nothing past a schema change until it was handed out", "[unit]") {
  Script s;
  s.total = 100;
  s.schema_at = 25;
  detail::PrefetchingStream stream(std::make_unique<ScriptedStream>(s));
  // Events 1..25, the last one the schema change: the caller may now reopen the stream with the
  // new tables, so nothing after it may have been read yet.
  REQUIRE(drain(stream, 25, 10) == 25);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK(s.polls_after_schema == 0);
  CHECK(stream.position().str() == "25");
  // Polling again means reading on with this stream.
  std::size_t got = 25;
  for (int i = 0; i < 200 && got < 100; ++i) {
    std::vector<ChangeEvent> events;
    stream.poll(events, 10, std::chrono::milliseconds(20));
    for (auto& e : events) REQUIRE(e.transaction_id == std::to_string(++got));
  }
  CHECK(got == 100);
}
