#include "progress.h"

#include "cli.h"
#include "text_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <sys/ioctl.h>
#include <unistd.h>

namespace cdc_cli {

namespace {

constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
constexpr auto kPlainEvery = std::chrono::seconds(5);
constexpr std::size_t kBarWidth = 20;

bool is_active(cdc::TablePhase p) { return p == cdc::TablePhase::Snapshot; }
bool is_final_or_live(cdc::TablePhase p) {
  return p == cdc::TablePhase::Streaming || p == cdc::TablePhase::Incremental || p == cdc::TablePhase::Done ||
         p == cdc::TablePhase::Failed || p == cdc::TablePhase::Stopped;
}
bool snapshot_complete(cdc::TablePhase p) {
  return p == cdc::TablePhase::Streaming || p == cdc::TablePhase::Incremental || p == cdc::TablePhase::Done;
}

std::string bar(double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  auto filled = static_cast<std::size_t>(fraction * kBarWidth);
  std::string b(filled, '=');
  if (filled < kBarWidth) {
    b += filled > 0 ? ">" : " ";
    b.append(kBarWidth - filled - 1, ' ');
  }
  return "[" + b + "]";
}

// Rows expected for a table: the estimate, never less than what is done; the done count once the
// snapshot is complete (estimates are only estimates).
std::int64_t expected_rows(const cdc::TableStatus& t) {
  if (snapshot_complete(t.phase)) return t.rows_done;
  if (t.rows_estimated < 0) return -1;
  return std::max(t.rows_estimated, t.rows_done);
}

double fraction_of(const cdc::TableStatus& t) {
  if (snapshot_complete(t.phase)) return 1.0;
  auto expected = expected_rows(t);
  if (expected <= 0) return 0.0;
  return static_cast<double>(t.rows_done) / static_cast<double>(expected);
}

std::string phase_text(const cdc::TableStatus& t) {
  std::string p(cdc::to_string(t.phase));
  if (t.paused) p += " (paused)";
  else if (t.held) p += " (held)";
  if (t.needs_resync) p += " (needs resync)";
  return p;
}

std::string table_line(const cdc::TableStatus& t, std::size_t name_width) {
  std::string name = truncate_display(t.source, name_width);
  name.append(name_width - display_width(name), ' ');
  std::string line = fmt::format("  {} {:<10} ", name, phase_text(t));
  switch (t.phase) {
    case cdc::TablePhase::Pending:
      break;
    case cdc::TablePhase::Failed:
      line += "error: " + t.error;
      return line;
    case cdc::TablePhase::Snapshot:
    case cdc::TablePhase::Resyncing: {
      auto expected = expected_rows(t);
      line += bar(fraction_of(t));
      line += fmt::format(" {} / {} rows", group_digits(t.rows_done), expected < 0 ? "?" : group_digits(expected));
      if (expected > 0) line += fmt::format(" {:>3.0f}%", 100.0 * fraction_of(t));
      if (t.rows_per_second > 0) line += fmt::format("  {} rows/s", format_rate(t.rows_per_second));
      if (t.eta_seconds >= 0) line += "  ETA " + format_duration(t.eta_seconds);
      break;
    }
    case cdc::TablePhase::Streaming:
    case cdc::TablePhase::Incremental:
      line += bar(1.0);
      line += fmt::format(" {} rows  +{} changes", group_digits(t.rows_done), group_digits(t.changes_applied));
      if (t.rows_per_second > 0) line += fmt::format("  {}/s", format_rate(t.rows_per_second));
      break;
    case cdc::TablePhase::Done:
    case cdc::TablePhase::Stopped:
    case cdc::TablePhase::Removed:
    case cdc::TablePhase::Dropped:
      line += bar(fraction_of(t));
      line += fmt::format(" {} rows", group_digits(t.rows_done));
      if (t.changes_applied > 0) line += fmt::format("  +{} changes", group_digits(t.changes_applied));
      break;
  }
  if (t.attempts > 0 && !t.error.empty()) line += fmt::format("  (retry {}: {})", t.attempts, t.error);
  return line;
}

struct Totals {
  int tables = 0, done = 0, failed = 0;
  std::int64_t rows = 0, expected = 0, changes = 0;
  bool expected_known = true;
  double rate = 0;
};

Totals totals_of(const cdc::SessionStatus& s) {
  Totals t;
  for (const auto& table : s.tables) {
    ++t.tables;
    if (snapshot_complete(table.phase)) ++t.done;
    if (table.phase == cdc::TablePhase::Failed) ++t.failed;
    t.rows += table.rows_done;
    t.changes += table.changes_applied;
    auto e = expected_rows(table);
    if (e < 0) t.expected_known = false; else t.expected += e;
    if (is_active(table.phase)) t.rate += table.rows_per_second;
  }
  return t;
}

std::string total_line(const cdc::SessionStatus& s) {
  Totals t = totals_of(s);
  std::string line = fmt::format("  {} {}/{} tables", cdc::to_string(s.state), t.done, t.tables);
  if (t.failed > 0) line += fmt::format(" ({} failed)", t.failed);
  double fraction = t.expected_known && t.expected > 0 ? static_cast<double>(t.rows) / static_cast<double>(t.expected)
                                                       : (t.done == t.tables && t.tables > 0 ? 1.0 : 0.0);
  line += " " + bar(fraction);
  line += fmt::format(" {} / {} rows", group_digits(t.rows), t.expected_known ? group_digits(t.expected) : "?");
  if (t.rate > 0) {
    line += fmt::format("  {} rows/s", format_rate(t.rate));
    if (t.expected_known && t.expected > t.rows)
      line += "  ETA " + format_duration(static_cast<double>(t.expected - t.rows) / t.rate);
  }
  if (t.changes > 0) line += fmt::format("  +{} changes", group_digits(t.changes));
  if (s.lag_ms >= 0) line += fmt::format("  lag {}", format_duration(static_cast<double>(s.lag_ms) / 1000.0));
  line += "  elapsed " + format_duration(s.elapsed_seconds);
  return line;
}

// Keeps a line within the terminal width, so one line is one row and cursor-up counts hold.
std::string fit(const std::string& line, std::size_t width) {
  return width > 1 ? truncate_display(line, width - 1) : line;
}

int priority(cdc::TablePhase p) {
  switch (p) {
    case cdc::TablePhase::Failed: return 0;
    case cdc::TablePhase::Snapshot: return 1;
    case cdc::TablePhase::Streaming:
    case cdc::TablePhase::Incremental: return 2;
    case cdc::TablePhase::Pending: return 3;
    default: return 4;
  }
}

void terminal_size(std::FILE* out, std::size_t& width, std::size_t& height) {
  width = 100;
  height = 40;
  struct winsize ws {};
  if (::ioctl(fileno(out), TIOCGWINSZ, &ws) == 0) {
    if (ws.ws_col > 0) width = ws.ws_col;
    if (ws.ws_row > 0) height = ws.ws_row;
  }
}

}  // namespace

std::vector<std::string> render_progress_block(const cdc::SessionStatus& status, std::size_t width,
                                               std::size_t height) {
  std::vector<std::string> lines;
  std::size_t name_width = 8;
  for (const auto& t : status.tables) name_width = std::max(name_width, display_width(t.source));
  name_width = std::min<std::size_t>(name_width, 28);

  // Room for the table lines: the terminal height minus the total line and a margin; when tables
  // do not fit, the busiest ones are shown and the rest summarised in one line.
  std::size_t room = height > 4 ? height - 3 : 1;
  std::vector<const cdc::TableStatus*> shown;
  for (const auto& t : status.tables) shown.push_back(&t);
  std::size_t hidden = 0;
  if (shown.size() > room) {
    std::stable_sort(shown.begin(), shown.end(),
                     [](const auto* a, const auto* b) { return priority(a->phase) < priority(b->phase); });
    hidden = shown.size() - (room - 1);
    shown.resize(room - 1);
  }
  for (const auto* t : shown) lines.push_back(fit(table_line(*t, name_width), width));
  if (hidden > 0) lines.push_back(fit(fmt::format("  ... and {} more tables", hidden), width));
  if (!status.error.empty()) lines.push_back(fit("  error: " + status.error, width));
  lines.push_back(fit(total_line(status), width));
  return lines;
}

ProgressDisplay::ProgressDisplay(Mode mode, std::FILE* out) : mode_(mode), out_(out) {}

void ProgressDisplay::write(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

std::string ProgressDisplay::erase_block() const {
  if (block_.empty()) return {};
  // The cursor sits at the start of the line below the block: go up to its first line, clear down.
  return fmt::format("\x1b[{}A\r\x1b[J", block_.size());
}

void ProgressDisplay::track(const cdc::SessionStatus& status) {
  auto now = Clock::now();
  for (const auto& t : status.tables) {
    auto& timing = timings_[t.source];
    // Queued tables may already report Snapshot: the clock starts with the first rows.
    if (t.phase != cdc::TablePhase::Pending && (t.rows_done > 0 || is_final_or_live(t.phase)) && !timing.started) {
      timing.started = true;
      timing.start = now;
    }
    if (is_final_or_live(t.phase) && !timing.ended) {
      timing.ended = true;
      timing.end = now;
    }
  }
}

void ProgressDisplay::update(const cdc::SessionStatus& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  track(status);
  if (mode_ == Mode::Live) draw_live(status, false);
  else report_plain(status, false);
}

void ProgressDisplay::draw_live(const cdc::SessionStatus& status, bool force) {
  // A phase change is worth a redraw even inside the throttle window.
  bool changed = force;
  for (const auto& t : status.tables) {
    auto it = phases_.find(t.source);
    if (it == phases_.end() || it->second != t.phase) changed = true;
    phases_[t.source] = t.phase;
  }
  auto now = Clock::now();
  if (!changed && now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  std::size_t width, height;
  terminal_size(out_, width, height);
  std::string text = erase_block();
  block_ = render_progress_block(status, width, height);
  for (const auto& line : block_) {
    text += line;
    text += "\x1b[K\n";
  }
  write(text);
}

void ProgressDisplay::report_plain(const cdc::SessionStatus& status, bool force) {
  std::string text;
  for (const auto& t : status.tables) {
    auto it = phases_.find(t.source);
    bool changed = it == phases_.end() ? t.phase != cdc::TablePhase::Pending : it->second != t.phase;
    phases_[t.source] = t.phase;
    if (!changed) continue;
    std::string line = fmt::format("cdc-cli: [{}] {}", t.source, cdc::to_string(t.phase));
    if (t.phase == cdc::TablePhase::Snapshot && t.rows_estimated >= 0)
      line += fmt::format(" (~{} rows)", group_digits(t.rows_estimated));
    if (snapshot_complete(t.phase) || t.phase == cdc::TablePhase::Stopped)
      line += fmt::format(": {} rows copied", group_digits(t.rows_done));
    if (t.phase == cdc::TablePhase::Failed) line += ": " + t.error;
    text += line + "\n";
  }
  auto now = Clock::now();
  if (force || now - last_plain_ >= kPlainEvery) {
    last_plain_ = now;
    bool any = false;
    for (const auto& t : status.tables) {
      if (t.phase == cdc::TablePhase::Snapshot) {
        auto expected = expected_rows(t);
        std::string line = fmt::format("cdc-cli: [{}] snapshot {} / {} rows", t.source, group_digits(t.rows_done),
                                       expected < 0 ? "?" : group_digits(expected));
        if (expected > 0) line += fmt::format(" ({:.0f}%)", 100.0 * fraction_of(t));
        if (t.rows_per_second > 0) line += fmt::format(", {} rows/s", format_rate(t.rows_per_second));
        if (t.eta_seconds >= 0) line += ", ETA " + format_duration(t.eta_seconds);
        text += line + "\n";
        any = true;
      } else if (t.phase == cdc::TablePhase::Streaming || t.phase == cdc::TablePhase::Incremental) {
        auto& last = plain_changes_[t.source];
        if (t.changes_applied != last) {
          text += fmt::format("cdc-cli: [{}] {} changes applied (+{})\n", t.source, group_digits(t.changes_applied),
                              group_digits(t.changes_applied - last));
          last = t.changes_applied;
          any = true;
        }
      }
    }
    if (any || force) {
      Totals tot = totals_of(status);
      text += fmt::format("cdc-cli: {} {}/{} tables, {} rows, {} changes, elapsed {}\n", cdc::to_string(status.state),
                          tot.done, tot.tables, group_digits(tot.rows), group_digits(tot.changes),
                          format_duration(status.elapsed_seconds));
    }
  }
  if (!text.empty()) write(text);
}

void ProgressDisplay::print_line(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (mode_ == Mode::Live && !block_.empty()) {
    std::string text = erase_block();
    text += line;
    text += '\n';
    for (const auto& l : block_) {
      text += l;
      text += "\x1b[K\n";
    }
    write(text);
  } else {
    write(line + "\n");
  }
}

void ProgressDisplay::finish(const cdc::SessionStatus& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  track(status);
  if (mode_ == Mode::Live) draw_live(status, true);
  else report_plain(status, true);
  finished_ = true;
  block_.clear();  // the final block stays; nothing redraws over it any more
}

double ProgressDisplay::table_seconds(const std::string& source) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = timings_.find(source);
  // A table seen only once it had finished (too quick for the callbacks) has no known duration.
  if (it == timings_.end() || !it->second.started || !it->second.ended || it->second.start == it->second.end) return -1;
  return std::chrono::duration<double>(it->second.end - it->second.start).count();
}

std::string format_log_record(const cdc::LogRecord& r, bool show_pipeline) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char ts[16];
  std::strftime(ts, sizeof ts, "%H:%M:%S", &tm);
  std::string line = fmt::format("{} {:<5} ", ts, cdc::to_string(r.level));
  if (show_pipeline && !r.pipeline.empty()) line += fmt::format("{}: ", r.pipeline);
  line += r.component;
  if (!r.table.empty()) line += fmt::format(" [{}]", r.table);
  line += ' ';
  line += r.message;
  return line;
}

void DisplayLogSink::write(const cdc::LogRecord& record) { display_->print_line(format_log_record(record, show_pipeline_)); }

void SchemaObjectLog::write(const cdc::LogRecord& record) {
  if (record.component == "session") {
    constexpr std::string_view kSkipped = "not created: ", kCreated = "created ";
    const std::string_view m = record.message;
    if (m.substr(0, kSkipped.size()) == kSkipped) {
      std::lock_guard<std::mutex> lock(mu_);
      report_.skipped.emplace_back(m.substr(kSkipped.size()));
    } else if (m.substr(0, kCreated.size()) == kCreated && m != "created at the source: added") {
      std::lock_guard<std::mutex> lock(mu_);
      report_.created.emplace_back(m.substr(kCreated.size()));
    }
  }
  next_->write(record);
}

cdc::SchemaObjectReport SchemaObjectLog::report() const {
  std::lock_guard<std::mutex> lock(mu_);
  return report_;
}

void print_schema_summary(const cdc::SchemaObjectReport& report) {
  if (report.created.empty() && report.skipped.empty()) return;
  std::string out = fmt::format("schema objects: {} created, {} not created{}\n", report.created.size(), report.skipped.size(),
                                report.skipped.empty() ? "" : ":");
  for (const auto& s : report.skipped) out += "  " + s + "\n";
  std::fwrite(out.data(), 1, out.size(), report_stream());
  std::fflush(report_stream());
}

void StderrLogSink::write(const cdc::LogRecord& record) {
  std::string line = format_log_record(record) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void print_summary(const cdc::SessionStatus& status, const ProgressDisplay& display) {
  TextTable table({"table", "target", "phase", "rows", "changes", "time", "rows/s"});
  for (std::size_t c : {3u, 4u, 5u, 6u}) table.align_right(c);
  std::int64_t rows = 0, changes = 0;
  for (const auto& t : status.tables) {
    double secs = display.table_seconds(t.source);
    double rate = secs > 0 ? static_cast<double>(t.rows_done) / secs : 0;
    table.add_row({t.source, t.target, std::string(cdc::to_string(t.phase)), group_digits(t.rows_done),
                   group_digits(t.changes_applied), secs >= 0 ? format_duration(secs) : "-", format_rate(rate)});
    rows += t.rows_done;
    changes += t.changes_applied;
  }
  table.add_rule();
  double rate = status.elapsed_seconds > 0 ? static_cast<double>(rows) / status.elapsed_seconds : 0;
  table.add_row({fmt::format("{} tables", status.tables.size()), "", std::string(cdc::to_string(status.state)),
                 group_digits(rows), group_digits(changes), format_duration(status.elapsed_seconds), format_rate(rate)});
  std::string out = table.render();
  for (const auto& t : status.tables)
    if (t.phase == cdc::TablePhase::Failed) out += fmt::format("{}: {}\n", t.source, t.error);
  for (const auto& t : status.tables) {
    if (t.quarantined > 0) out += fmt::format("{}: {} rows quarantined\n", t.source, group_digits(t.quarantined));
    if (t.values_changed > 0)
      out += fmt::format("{}: {} values changed by the type rules (zero dates to NULL; see docs/type-mapping.md)\n", t.source,
                         group_digits(t.values_changed));
  }
  if (!status.error.empty()) out += "session error: " + status.error + "\n";
  std::fwrite(out.data(), 1, out.size(), report_stream());
  std::fflush(report_stream());
}

}  // namespace cdc_cli
