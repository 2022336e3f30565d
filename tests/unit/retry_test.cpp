// The retry runner on a manual clock: lost connections are retried past max_attempts with capped
// backoff, other retryable errors stop at max_attempts, fatal ones are not retried, and a stop
// ends the wait.
#include "core/session/retry.h"

#include <catch2/catch.hpp>

#include <atomic>

namespace {

struct Harness {
  cdc::ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> stop{false};
  std::vector<std::chrono::milliseconds> slept;
  cdc::detail::RetryRunner runner{clock, [this](std::chrono::milliseconds d) {
                                    slept.push_back(d);
                                    std::unique_lock<std::mutex> lock(mu);
                                    clock.wait(cv, lock, d, [&] { return stop.load(); });
                                    return !stop.load();
                                  },
                                  42};
};

cdc::RetryPolicy policy() {
  cdc::RetryPolicy p;
  p.max_attempts = 3;
  p.initial_delay_ms = 1000;
  p.multiplier = 2;
  p.max_delay_ms = 8000;
  p.jitter = 0;
  return p;
}

}  // namespace

TEST_CASE("lost connections are retried past max_attempts with capped backoff", "[unit][retry]") {
  Harness h;
  int calls = 0;
  std::vector<std::chrono::milliseconds> failing;
  h.runner.run(policy(), "apply", "t", [&] {
    if (++calls < 8) throw cdc::connection_error("server closed the connection");
  }, [&](const cdc::detail::RetryRunner::Attempt& a) { failing.push_back(a.failing); });
  CHECK(calls == 8);
  using ms = std::chrono::milliseconds;
  CHECK(h.slept == std::vector<ms>{ms(1000), ms(2000), ms(4000), ms(8000), ms(8000), ms(8000), ms(8000)});
  // How long it has been failing, as the log and status say.
  CHECK(failing.back() == ms(1000 + 2000 + 4000 + 8000 * 3));
  CHECK(h.clock.waited() == ms(39000));
}

TEST_CASE("other retryable errors stop at max_attempts, fatal ones are not retried", "[unit][retry]") {
  Harness h;
  int calls = 0;
  CHECK_THROWS_WITH(h.runner.run(policy(), "apply", "t",
                                 [&] {
                                   ++calls;
                                   throw cdc::Error(cdc::ErrorKind::Destination, "lock wait timeout", true);
                                 }),
                    "lock wait timeout");
  CHECK(calls == 3);
  calls = 0;
  CHECK_THROWS(h.runner.run(policy(), "apply", "t", [&] {
    ++calls;
    throw cdc::Error(cdc::ErrorKind::Schema, "no such column", false);
  }));
  CHECK(calls == 1);
  CHECK(cdc::detail::RetryRunner::retries(policy(), cdc::connection_error("x"), 1000));
  CHECK_FALSE(cdc::detail::RetryRunner::retries(policy(), cdc::Error(cdc::ErrorKind::Cancelled, "stopped", true), 1));
}

TEST_CASE("a stop ends the wait with Cancelled", "[unit][retry]") {
  Harness h;
  h.stop = true;
  try {
    h.runner.run(policy(), "apply", "t", [&] { throw cdc::connection_error("down"); });
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Cancelled);
  }
}

TEST_CASE("jitter stays within its bounds", "[unit][retry]") {
  Harness h;
  auto p = policy();
  p.jitter = 0.2;
  for (int i = 0; i < 200; ++i) {
    auto d = h.runner.delay(p, 1).count();
    CHECK(d >= 800);
    CHECK(d <= 1200);
  }
}

TEST_CASE("elapsed times read like a person would write them", "[unit][retry]") {
  using cdc::detail::format_elapsed;
  CHECK(format_elapsed(std::chrono::milliseconds(42)) == "42 ms");
  CHECK(format_elapsed(std::chrono::milliseconds(3500)) == "3.5 s");
  CHECK(format_elapsed(std::chrono::seconds(725)) == "12m05s");
  CHECK(format_elapsed(std::chrono::seconds(7260)) == "2h01m");
}
