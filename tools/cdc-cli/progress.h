// Progress display for copy and replicate, fed by SessionOptions::on_progress.
// Live mode (stderr is a terminal): a block of one line per table plus a total line, redrawn in
// place with ANSI escapes (cursor up, clear), at most every 100 ms; log lines are printed above
// the block so they never garble it. Plain mode (a file or pipe): a line when a table changes
// phase and a progress line per active table every few seconds.
// Thread-safety: every public method may be called from any thread (one internal mutex).
#pragma once

#include <cdc/destination.h>
#include <cdc/log.h>
#include <cdc/session.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cdc_cli {

class ProgressDisplay {
 public:
  enum class Mode { Live, Plain };
  ProgressDisplay(Mode mode, std::FILE* out);

  Mode mode() const { return mode_; }
  void update(const cdc::SessionStatus& status);
  // A line above the live block (plain mode: just the line).
  void print_line(const std::string& line);
  // Last redraw with the final status; the block stays on screen and later output goes below it.
  void finish(const cdc::SessionStatus& status);
  // Seconds a table spent from its first copied rows until done/streaming/failed, as
  // observed by the callbacks; -1 when unknown.
  double table_seconds(const std::string& source) const;

 private:
  struct Timing {
    std::chrono::steady_clock::time_point start, end;
    bool started = false, ended = false;
  };
  using Clock = std::chrono::steady_clock;

  void track(const cdc::SessionStatus& status);
  void draw_live(const cdc::SessionStatus& status, bool force);
  void report_plain(const cdc::SessionStatus& status, bool force);
  std::string erase_block() const;
  void write(const std::string& text);

  const Mode mode_;
  std::FILE* const out_;
  mutable std::mutex mu_;
  std::vector<std::string> block_;   // lines currently drawn (live mode)
  bool finished_ = false;
  Clock::time_point last_draw_{};
  Clock::time_point last_plain_{};
  std::map<std::string, cdc::TablePhase> phases_;
  std::map<std::string, std::int64_t> plain_changes_;
  std::map<std::string, Timing> timings_;
};

// Routes cdc's log records through the display (above the live block).
class DisplayLogSink final : public cdc::LogSink {
 public:
  // `show_pipeline`: lines name the pipeline that wrote them (several pipelines in one process).
  explicit DisplayLogSink(std::shared_ptr<ProgressDisplay> display, bool show_pipeline = false)
      : display_(std::move(display)), show_pipeline_(show_pipeline) {}
  void write(const cdc::LogRecord& record) override;

 private:
  std::shared_ptr<ProgressDisplay> display_;
  bool show_pipeline_;
};

// Passes every record on to `next` and keeps the schema-object entries the session logs
// ("created ...", "not created: ..." from component "session"), for the summary. Entries logged
// below the log level are not seen (the library drops them before any sink).
class SchemaObjectLog final : public cdc::LogSink {
 public:
  explicit SchemaObjectLog(std::shared_ptr<cdc::LogSink> next) : next_(std::move(next)) {}
  void write(const cdc::LogRecord& record) override;
  cdc::SchemaObjectReport report() const;

 private:
  std::shared_ptr<cdc::LogSink> next_;
  mutable std::mutex mu_;
  cdc::SchemaObjectReport report_;
};

// What a session did with schema objects, after the summary table: a count line, then every
// entry that was not created with its reason. Nothing when there is neither.
void print_schema_summary(const cdc::SchemaObjectReport& report);

// The same short lines straight to stderr, for subcommands without a progress display.
class StderrLogSink final : public cdc::LogSink {
 public:
  void write(const cdc::LogRecord& record) override;

 private:
  std::mutex mu_;
};

// "12:00:01 warn  sqlite.source [orders] message"; with `show_pipeline` and a record that names
// its pipeline: "12:00:01 warn  shop: sqlite.source [orders] message".
std::string format_log_record(const cdc::LogRecord& record, bool show_pipeline = false);

// The end-of-run table on stdout: per table rows, changes, time, rate; then a total line.
void print_summary(const cdc::SessionStatus& status, const ProgressDisplay& display);

// Lines of the live block for a terminal `width` columns wide and `height` lines high.
std::vector<std::string> render_progress_block(const cdc::SessionStatus& status, std::size_t width,
                                               std::size_t height);

}  // namespace cdc_cli
