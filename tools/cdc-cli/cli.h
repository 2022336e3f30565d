// Shared declarations of cdc-cli: the subcommands, exit codes and small helpers.
// Everything here is single-threaded except where a comment says otherwise.
#pragma once

#include <cstdio>

#include <cdc/cdc.h>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cdc_cli {

// Exit codes shared by every subcommand.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // a table failed, verify found differences, a runtime error
  kExitConfig = 2,       // bad configuration or command line
  kExitInterrupted = 130 // stopped by SIGINT/SIGTERM before finishing (copy only)
};

// The subcommand chosen on the command line, ready to run. Returns the exit code.
using CommandFn = std::function<int()>;

// Each add_* registers one subcommand; when it is selected, its parse callback stores its runner
// into `selected`.
void add_copy_command(CLI::App& app, CommandFn& selected);
void add_replicate_command(CLI::App& app, CommandFn& selected);
void add_discover_command(CLI::App& app, CommandFn& selected);
void add_verify_command(CLI::App& app, CommandFn& selected);
void add_status_command(CLI::App& app, CommandFn& selected);
void add_teardown_command(CLI::App& app, CommandFn& selected);
void add_reset_command(CLI::App& app, CommandFn& selected);
void add_finish_command(CLI::App& app, CommandFn& selected);
void add_control_commands(CLI::App& app, CommandFn& selected);  // pause, resume, resync, stop (over HTTP)

// --url and --token (default $CDC_HTTP_TOKEN) of the commands that talk to a running cdc.
void add_remote_options(CLI::App& sub, std::string& url, std::string& token);

enum class OutputFormat { Table, Json, Yaml };
// Adds `--format table|json` to a subcommand.
void add_format_option(CLI::App& sub, OutputFormat& format);

// "1234567" -> "1,234,567"; negative values print as "?".
std::string group_digits(std::int64_t n);
// Seconds as "0.4s", "12.3s", "4:05", "1:02:03"; negative = "?".
std::string format_duration(double seconds);
// Rows per second, grouped: "12,345".
std::string format_rate(double rows_per_second);

// Writes `text` followed by a newline to stdout (the only stream data goes to).
void print_line(const std::string& text);
// Where summaries and reports go: standard output, unless the session writes its data there
// (jsonl://-), in which case they go to standard error.
std::FILE* report_stream();
void set_report_stream(std::FILE* stream);
// `error: <message>` on stderr.
void print_error(const std::string& message);
// A schema-object report on stdout: what was done, then what was not (with the reason), then a
// count line naming `what` ("finish", "copy --schema-only").
void print_schema_report(const cdc::SchemaObjectReport& report, const std::string& what);

// Config built from the selectors common to several subcommands.
struct TableSelection {
  std::vector<std::string> include;  // --tables (comma-separated, repeatable); empty = keep
  std::vector<std::string> exclude;  // --exclude
  bool views = false;                // --views: views matched by the patterns too
};
void add_selection_options(CLI::App& sub, TableSelection& selection);
// --pipeline NAME (repeatable, comma-separated): the pipelines of a config file to act on.
void add_pipeline_option(CLI::App& sub, std::vector<std::string>& names);
// The pipelines of config file `path` that `names` select (every one when empty), in file order;
// an unknown name is a config error listing the known ones. `all` (optional) receives the whole file.
std::vector<cdc::Config> load_pipelines(const std::string& path, const std::vector<std::string>& names,
                                        cdc::PipelinesConfig* all = nullptr);

// Applies --tables/--exclude to a config's include/exclude (only those given replace the config's);
// --views turns Config::views on.
void apply_selection(const TableSelection& selection, cdc::Config& config);

}  // namespace cdc_cli
