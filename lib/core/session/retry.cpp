// The retry runner (retry.h).
#include "core/session/retry.h"

#include "core/logging.h"

#include <fmt/format.h>

namespace cdc::detail {

std::string format_elapsed(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms < 1000) return fmt::format("{} ms", ms);
  if (ms < 60'000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
  auto s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

RetryRunner::RetryRunner(Clock& clock, Sleep sleep, std::uint64_t seed) : clock_(clock), sleep_(std::move(sleep)), rng_(seed) {}

bool RetryRunner::retries(const RetryPolicy& policy, const Error& e, int attempt) {
  if (e.kind() == ErrorKind::Cancelled || !e.retryable()) return false;
  if (e.kind() == ErrorKind::Connection) return true;  // a service rides out any outage
  return attempt < policy.max_attempts;
}

std::chrono::milliseconds RetryRunner::delay(const RetryPolicy& policy, int attempt) {
  double base = static_cast<double>(policy.base_delay_ms(attempt + 1));
  std::lock_guard<std::mutex> lock(mu_);
  std::uniform_real_distribution<double> jitter(1.0 - policy.jitter, 1.0 + policy.jitter);
  return std::chrono::milliseconds(static_cast<std::int64_t>(base * jitter(rng_)));
}

void RetryRunner::run(const RetryPolicy& policy, std::string_view what, const std::string& table, const std::function<void()>& f,
                      const OnRetry& on_retry) {
  Clock::TimePoint first_failure{};
  for (int attempt = 1;; ++attempt) {
    try {
      f();
      if (attempt > 1)
        logf(LogLevel::Info, "session", table, "{} succeeded after {} attempts ({} of failures)", what, attempt,
             format_elapsed(std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - first_failure)));
      return;
    } catch (const Error& e) {
      if (!retries(policy, e, attempt)) throw;
      if (attempt == 1) first_failure = clock_.now();
      Attempt a;
      a.number = attempt;
      a.delay = delay(policy, attempt);
      a.failing = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - first_failure);
      a.error = &e;
      if (on_retry) on_retry(a);
      if (e.kind() == ErrorKind::Connection)
        logf(LogLevel::Warn, "session", table, "{} failed (attempt {}, failing for {}), retrying in {}: {}", what, attempt,
             format_elapsed(a.failing), format_elapsed(a.delay), e.what());
      else
        logf(LogLevel::Warn, "session", table, "{} failed (attempt {} of {}), retrying in {}: {}", what, attempt,
             policy.max_attempts, format_elapsed(a.delay), e.what());
      if (!sleep_(a.delay)) throw Error(ErrorKind::Cancelled, "stopped");
    }
  }
}

}  // namespace cdc::detail
