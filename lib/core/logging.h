// Internal logging helpers: format only when the level is enabled.
#pragma once

#include <cdc/log.h>

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace cdc::detail {

// The pipeline the calling thread works for (empty: none); log() puts it into every record.
const std::string& log_pipeline();

// Tags the calling thread's log records with a pipeline name until destroyed (the previous tag
// is put back). Every thread a session starts holds one.
class ScopedLogPipeline {
 public:
  explicit ScopedLogPipeline(std::string name);
  ~ScopedLogPipeline();
  ScopedLogPipeline(const ScopedLogPipeline&) = delete;
  ScopedLogPipeline& operator=(const ScopedLogPipeline&) = delete;

 private:
  std::string previous_;
};

template <typename... Args>
void logf(LogLevel level, std::string_view component, std::string_view table, fmt::format_string<Args...> format,
          Args&&... args) {
  if (level < log_level()) return;
  log(level, component, table, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace cdc::detail
