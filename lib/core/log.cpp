#include <cdc/error.h>
#include <cdc/log.h>

#include "core/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace cdc {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::Trace: return "trace";
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
    case LogLevel::Off: return "off";
  }
  return "?";
}

LogLevel parse_log_level(std::string_view text) {
  for (auto l : {LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error, LogLevel::Off})
    if (to_string(l) == text) return l;
  throw config_error("log_level", "expected one of trace, debug, info, warn, error, off, got \"" + std::string(text) + "\"");
}

namespace {

// One line per record on stderr: "2026-01-01T10:00:00.123Z info session [orders] message".
class StderrSink final : public LogSink {
 public:
  void write(const LogRecord& r) override {
    auto now = std::chrono::system_clock::now();
    auto secs = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string line;
    line.reserve(64 + r.message.size());
    line += ts;
    line += '.';
    line += std::to_string(1000 + ms).substr(1);
    line += "Z ";
    line += to_string(r.level);
    line += ' ';
    if (!r.pipeline.empty()) {
      line += r.pipeline;
      line += ": ";
    }
    line += r.component;
    if (!r.table.empty()) {
      line += " [";
      line += r.table;
      line += ']';
    }
    line += ' ';
    line += r.message;
    line += '\n';
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }

 private:
  std::mutex mu_;
};

std::mutex sink_mu;
std::shared_ptr<LogSink>& sink_slot() {
  static std::shared_ptr<LogSink> sink = std::make_shared<StderrSink>();
  return sink;
}
std::atomic<LogLevel> min_level{LogLevel::Info};
thread_local std::string thread_pipeline;

}  // namespace

void set_log_sink(std::shared_ptr<LogSink> sink) {
  std::lock_guard<std::mutex> lock(sink_mu);
  sink_slot() = sink ? std::move(sink) : std::make_shared<StderrSink>();
}

std::shared_ptr<LogSink> log_sink() {
  std::lock_guard<std::mutex> lock(sink_mu);
  return sink_slot();
}

void set_log_level(LogLevel level) { min_level.store(level); }
LogLevel log_level() { return min_level.load(); }

void log(LogLevel level, std::string_view component, std::string_view table, std::string_view message) {
  if (level < min_level.load() || level == LogLevel::Off) return;
  auto sink = log_sink();
  sink->write(LogRecord{level, component, table, message, thread_pipeline});
}

namespace detail {

const std::string& log_pipeline() { return thread_pipeline; }

ScopedLogPipeline::ScopedLogPipeline(std::string name) : previous_(std::move(thread_pipeline)) {
  thread_pipeline = std::move(name);
}

ScopedLogPipeline::~ScopedLogPipeline() { thread_pipeline = std::move(previous_); }

}  // namespace detail

}  // namespace cdc
