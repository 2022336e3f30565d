// Logging: the library never writes to stdout; it hands structured records to a LogSink.
// The default sink writes one line per record to stderr. A host replaces it with set_log_sink().
// Records written on a session's threads carry its name (LogRecord::pipeline).
// set_log_sink/log_sink/log are thread-safe; a sink's write() may be called from any cdc thread
// concurrently and must be thread-safe itself.
#pragma once

#include <cdc/export.h>

#include <memory>
#include <string>
#include <string_view>

namespace cdc {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Off };

CDC_API std::string_view to_string(LogLevel level);
// Parses "trace|debug|info|warn|error|off"; throws cdc::Error (Config) otherwise.
CDC_API LogLevel parse_log_level(std::string_view text);

struct LogRecord {
  LogLevel level = LogLevel::Info;
  std::string_view component;  // "session", "sqlite.source", ...
  std::string_view table;      // empty when not about one table
  std::string_view message;
  // The pipeline (session name) whose thread wrote the record; empty outside a session's threads.
  // A process running several pipelines (PipelineRunner) tells their lines apart by it.
  std::string_view pipeline;
};

class CDC_API LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(const LogRecord& record) = 0;
};

// Replaces the process-wide sink (nullptr restores the default stderr sink).
CDC_API void set_log_sink(std::shared_ptr<LogSink> sink);
CDC_API std::shared_ptr<LogSink> log_sink();
// Records below this level are dropped before formatting. Default: Info.
CDC_API void set_log_level(LogLevel level);
CDC_API LogLevel log_level();

CDC_API void log(LogLevel level, std::string_view component, std::string_view table, std::string_view message);

}  // namespace cdc
