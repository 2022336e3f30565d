// The system clock and the manual clock of include/cdc/clock.h.
#include <cdc/clock.h>

namespace cdc {

namespace {

class SystemClock final : public Clock {
 public:
  TimePoint now() override { return std::chrono::steady_clock::now(); }
  std::int64_t wall_us() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  bool wait(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, std::chrono::milliseconds timeout,
            const std::function<bool()>& done) override {
    return cv.wait_for(lock, timeout, done);
  }
};

}  // namespace

std::shared_ptr<Clock> system_clock() {
  static const std::shared_ptr<Clock> clock = std::make_shared<SystemClock>();
  return clock;
}

ManualClock::ManualClock(std::int64_t wall_us_at_start) : wall_start_(wall_us_at_start) {}

Clock::TimePoint ManualClock::now() {
  std::lock_guard<std::mutex> lock(mu_);
  return TimePoint(elapsed_);
}

std::int64_t ManualClock::wall_us() {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_start_ + std::chrono::duration_cast<std::chrono::microseconds>(elapsed_).count();
}

bool ManualClock::wait(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, std::chrono::milliseconds timeout,
                       const std::function<bool()>& done) {
  // A moment of real waiting, so that a loop waiting on this clock lets the threads it waits for
  // run instead of spinning; then the whole timeout "passes".
  if (cv.wait_for(lock, std::chrono::milliseconds(1), done)) return true;
  std::lock_guard<std::mutex> g(mu_);
  elapsed_ += timeout;
  waited_ += timeout;
  return false;
}

void ManualClock::advance(std::chrono::milliseconds by) {
  std::lock_guard<std::mutex> lock(mu_);
  elapsed_ += by;
}

std::chrono::milliseconds ManualClock::waited() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waited_;
}

}  // namespace cdc
