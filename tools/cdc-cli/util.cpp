#include "cli.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>

namespace cdc_cli {

void add_format_option(CLI::App& sub, OutputFormat& format) {
  sub.add_option_function<std::string>(
         "--format", [&format](const std::string& v) { format = v == "json" ? OutputFormat::Json : OutputFormat::Table; },
         "Output format: table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
}

std::string group_digits(std::int64_t n) {
  if (n < 0) return "?";
  std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format_duration(double seconds) {
  if (seconds < 0 || !std::isfinite(seconds)) return "?";
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  auto total = static_cast<std::int64_t>(std::llround(seconds));
  auto h = total / 3600, m = (total / 60) % 60, s = total % 60;
  if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, s);
  return fmt::format("{}:{:02}", m, s);
}

std::string format_rate(double rows_per_second) {
  if (rows_per_second <= 0 || !std::isfinite(rows_per_second)) return "-";
  return group_digits(static_cast<std::int64_t>(std::llround(rows_per_second)));
}

namespace {
std::FILE* g_report = nullptr;
}

std::FILE* report_stream() { return g_report ? g_report : stdout; }
void set_report_stream(std::FILE* stream) { g_report = stream; }

void print_line(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), report_stream());
  std::fputc('\n', report_stream());
}

void print_error(const std::string& message) {
  std::fflush(stdout);
  std::string line = "error: " + message + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void print_schema_report(const cdc::SchemaObjectReport& report, const std::string& what) {
  for (const auto& c : report.created) print_line("  done: " + c);
  for (const auto& s : report.skipped) print_line("  not done: " + s);
  print_line(fmt::format("{}: {} done, {} not done", what, report.created.size(), report.skipped.size()));
}

void add_selection_options(CLI::App& sub, TableSelection& selection) {
  sub.add_option("--tables", selection.include,
                 "Only tables matching these glob patterns (comma-separated or repeated; default: all)")
      ->delimiter(',');
  sub.add_option("--exclude", selection.exclude,
                 "Skip tables matching these glob patterns (comma-separated or repeated)")
      ->delimiter(',');
  sub.add_flag("--views", selection.views,
               "Views matching the patterns too, copied as tables holding their rows (read whole, or by a configured "
               "key); without it a view is taken only when named exactly in --tables or under tables: in the config");
}

void add_pipeline_option(CLI::App& sub, std::vector<std::string>& names) {
  sub.add_option("--pipeline", names,
                 "Only these pipelines of a config file with pipelines: (by name; comma-separated or repeated; default: all)")
      ->delimiter(',');
}

std::vector<cdc::Config> load_pipelines(const std::string& path, const std::vector<std::string>& names, cdc::PipelinesConfig* all) {
  cdc::PipelinesConfig file = cdc::load_pipelines_file(path);
  std::vector<cdc::Config> out = file.select(names);
  if (all) *all = std::move(file);
  return out;
}

void apply_selection(const TableSelection& selection, cdc::Config& config) {
  if (!selection.include.empty()) config.include = selection.include;
  if (!selection.exclude.empty()) config.exclude = selection.exclude;
  if (selection.views) config.views = true;
}

}  // namespace cdc_cli
