// The engine's one retry runner: every operation that may fail for a while (a lost connection,
// a lock timeout) goes through it, so the rules live in one place:
//   - lost connections (ErrorKind::Connection) are retried for as long as the session runs;
//   - other retryable errors are retried until RetryPolicy::max_attempts;
//   - delays grow exponentially up to max_delay_ms, with jitter;
//   - the log says how long the operation has been failing.
// It waits through the engine's Clock and stops waiting when the engine stops. Thread-safe.
#pragma once

#include <cdc/clock.h>
#include <cdc/config.h>
#include <cdc/error.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

namespace cdc::detail {

class RetryRunner {
 public:
  struct Attempt {
    int number = 0;                       // the attempt that failed (1 = the first)
    std::chrono::milliseconds delay{0};   // before the next one
    std::chrono::milliseconds failing{0}; // since the first failure of this run
    const Error* error = nullptr;
  };
  using OnRetry = std::function<void(const Attempt&)>;
  // Sleeps up to the given time; returns false when the engine is stopping.
  using Sleep = std::function<bool(std::chrono::milliseconds)>;

  RetryRunner(Clock& clock, Sleep sleep, std::uint64_t seed = std::random_device{}());

  // Runs `f` until it returns. Throws its error when it is not retryable or out of attempts,
  // Error(Cancelled) when the engine stops while waiting. `on_retry` is told of each retry (for
  // status). `what` and `table` name the operation in the log.
  void run(const RetryPolicy& policy, std::string_view what, const std::string& table, const std::function<void()>& f,
           const OnRetry& on_retry = {});

  // Whether `e` is retried at attempt `attempt` (1-based, the attempt that just failed).
  static bool retries(const RetryPolicy& policy, const Error& e, int attempt);
  // The delay before attempt `attempt + 1`, with jitter.
  std::chrono::milliseconds delay(const RetryPolicy& policy, int attempt);

 private:
  Clock& clock_;
  Sleep sleep_;
  std::mutex mu_;
  std::mt19937_64 rng_;
};

// "42 ms", "3.5 s", "12m05s", "2h01m": how long something has been going on, for messages.
std::string format_elapsed(std::chrono::milliseconds d);

}  // namespace cdc::detail
