// cdc-cli copy SRC DST: a one-off snapshot of selected tables (SessionOptions::snapshot_only).
#include "cli.h"
#include "run_session.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <limits>

namespace cdc_cli {

namespace {

struct CopyArgs {
  std::string source;
  std::string destination;
  TableSelection selection;
  int parallel = 0;          // 0 = library default
  std::int64_t batch_size = 0;
  std::string chunk_rows;       // empty = library default (auto)
  std::string parallel_chunks;
  std::string name;
  bool schema_only = false;  // tables and schema objects, no rows
  bool data_only = false;    // rows only: tables created plain when missing, no schema objects
};

// "auto" (cdc::kAuto) or a number in 1..max, for --parallel-chunks and --chunk-rows.
std::int64_t auto_or_number(const std::string& text, std::int64_t max) {
  if (text == "auto") return cdc::kAuto;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || errno || v < 1 || v > max) throw CLI::ValidationError(fmt::format("expected auto or a number in 1..{}, got \"{}\"", max, text));
  return v;
}

int run_copy(const CopyArgs& args) {
  cdc::Config config;
  config.source = args.source;
  config.destination = args.destination;
  config.name = args.name;
  apply_selection(args.selection, config);
  if (args.parallel > 0) config.parallel_tables = args.parallel;
  if (args.batch_size > 0) config.defaults.batch_size = args.batch_size;
  if (!args.chunk_rows.empty()) config.defaults.chunk_rows = auto_or_number(args.chunk_rows, std::numeric_limits<std::int64_t>::max());
  if (!args.parallel_chunks.empty()) config.defaults.parallel_chunks = static_cast<int>(auto_or_number(args.parallel_chunks, 256));
  cdc::validate_config(config);

  if (args.schema_only) {
    print_schema_report(cdc::create_schema(config), "copy --schema-only");
    return kExitOk;
  }
  if (args.data_only)
    config.schema.indexes = config.schema.foreign_keys = config.schema.constraints = config.schema.sequences =
        config.schema.comments = false;

  cdc::SessionOptions options;
  options.snapshot_only = true;
  SessionOutcome outcome = run_session(std::move(config), std::move(options));
  if (outcome.any_failed) return kExitFailure;
  if (outcome.interrupted) {
    print_error("interrupted; run the same command again to resume from the last committed chunk");
    return kExitInterrupted;
  }
  return kExitOk;
}

}  // namespace

void add_copy_command(CLI::App& app, CommandFn& selected) {
  auto args = std::make_shared<CopyArgs>();
  auto* sub = app.add_subcommand("copy", "Copy tables once from a source to a destination (snapshot only)");
  sub->add_option("source", args->source, "Source connector URL, e.g. sqlite:///data/shop.db")->required();
  sub->add_option("destination", args->destination, "Destination connector URL, e.g. sqlite:///data/copy.db")
      ->required();
  add_selection_options(*sub, args->selection);
  sub->add_option("--parallel", args->parallel, "Tables copied at once (default 4)")->check(CLI::Range(1, 256));
  sub->add_option("--batch-size", args->batch_size, "Rows per read/write batch (default 10000)")
      ->check(CLI::PositiveNumber);
  auto auto_or_positive = [](std::int64_t max) {
    return CLI::Validator(
        [max](std::string& text) {
          try {
            auto_or_number(text, max);
          } catch (const CLI::ValidationError& e) {
            return std::string(e.what());
          }
          return std::string();
        },
        "auto|N");
  };
  sub->add_option("--chunk-rows", args->chunk_rows,
                  "Target rows per snapshot chunk, the resume granularity: auto (default: from each table's size) or a number")
      ->check(auto_or_positive(std::numeric_limits<std::int64_t>::max()));
  sub->add_option("--parallel-chunks", args->parallel_chunks,
                  "Chunks of one table read at once: auto (default: from each table's size and the cores) or 1..256")
      ->check(auto_or_positive(256));
  sub->add_option("--name", args->name, "Session name under which checkpoints are kept (default: from the source)");
  auto* schema_only = sub->add_flag("--schema-only", args->schema_only,
                                    "Create the tables with their indexes, constraints, foreign keys, sequences and comments; "
                                    "copy no rows");
  sub->add_flag("--data-only", args->data_only,
                "Copy rows only: no indexes, constraints, foreign keys, sequences or comments (tables that do not exist "
                "are created with columns and primary key)")
      ->excludes(schema_only);
  sub->footer(
      "Re-running an interrupted copy resumes from the chunks already committed at the destination\n"
      "(a table without a primary key that was copied only in part is copied again whole).\n"
      "SQL destinations get each table's secondary and unique indexes, CHECKs, identity sequences, comments\n"
      "and generated columns after its rows, and the foreign keys once every table is in; what a\n"
      "destination cannot take is listed in the summary (docs/schema-objects.md). `cdc-cli finish -c FILE`\n"
      "then validates foreign keys and makes deferred unique keys unique (the cut-over).\n"
      "--schema-only then --data-only splits a migration in two: the schema first, the rows later.\n"
      "Example: cdc-cli copy sqlite:///data/shop.db sqlite:///tmp/copy.db --tables 'orders*' --parallel 2");
  sub->callback([args, &selected] { selected = [args] { return run_copy(*args); }; });
}

}  // namespace cdc_cli
