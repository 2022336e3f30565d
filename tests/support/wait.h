// Waiting in tests: poll a condition until it holds or time runs out, and keep a test's log quiet.
#pragma once

#include <cdc/log.h>
#include <cdc/session.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

namespace cdc_test {

// Polls `done` every few milliseconds for up to `seconds`; returns its last answer.
template <typename F>
bool eventually(F&& done, int seconds = 20) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// Only errors reach the log while it lives.
struct QuietLog {
  QuietLog() { cdc::set_log_level(cdc::LogLevel::Error); }
  ~QuietLog() { cdc::set_log_level(cdc::LogLevel::Info); }
  QuietLog(const QuietLog&) = delete;
  QuietLog& operator=(const QuietLog&) = delete;
};

// A session's tables by source name ("orders", or "public.orders" with `strip_schema` false).
inline std::map<std::string, cdc::TableStatus> by_table(const cdc::SessionStatus& s, bool strip_schema = false) {
  std::map<std::string, cdc::TableStatus> out;
  for (const auto& t : s.tables) out[strip_schema ? t.source.substr(t.source.rfind('.') + 1) : t.source] = t;
  return out;
}

}  // namespace cdc_test
