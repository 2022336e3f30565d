// cdc::Clock: where the session gets its time and how it waits. The session never reads
// std::chrono clocks or sleeps on its own; it asks its Clock, so that a host (or a test) can run
// retries, cool-downs and log-retention limits without waiting for real time to pass.
// Thread-safety: every method may be called from any session thread at once.
#pragma once

#include <cdc/export.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

namespace cdc {

class CDC_API Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Monotonic time, for delays and rates.
  virtual TimePoint now() = 0;
  // Wall-clock time in microseconds since the epoch, for what is stored or shown.
  virtual std::int64_t wall_us() = 0;
  // Waits on `cv` (whose mutex `lock` holds) until `done()` is true or `timeout` has passed on
  // this clock; returns done(). The session notifies `cv` whenever `done()` may have changed.
  virtual bool wait(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, std::chrono::milliseconds timeout,
                    const std::function<bool()>& done) = 0;
};

// The real clock: std::chrono::steady_clock, system_clock, and condition-variable waits.
CDC_API std::shared_ptr<Clock> system_clock();

// A clock that only moves when told to, for tests: wait() returns at once (done or not) after
// advancing the clock by the whole timeout when done() is false, so a retry that would wait 30 s
// takes no time and the test can read how much time "passed".
class CDC_API ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t wall_us_at_start = 1'700'000'000'000'000);
  TimePoint now() override;
  std::int64_t wall_us() override;
  bool wait(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, std::chrono::milliseconds timeout,
            const std::function<bool()>& done) override;
  // Moves the clock on (from a test thread).
  void advance(std::chrono::milliseconds by);
  // Total time waited through wait() so far.
  std::chrono::milliseconds waited() const;

 private:
  mutable std::mutex mu_;
  std::chrono::milliseconds elapsed_{0};
  std::chrono::milliseconds waited_{0};
  std::int64_t wall_start_;
};

}  // namespace cdc
