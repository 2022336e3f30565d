// cdc-cli copy SRC DST: a one-off snapshot of selected tables (SessionOptions::snapshot_only).
#include "cli.h"
#include "run_session.h"

#include <fmt/format.h>

namespace cdc_cli {

namespace {

struct CopyArgs {
  std::string source;
  std::string destination;
  TableSelection selection;
  int parallel = 0;          // 0 = library default
  std::int64_t batch_size = 0;
  std::int64_t chunk_rows = 0;
  int parallel_chunks = 0;
  std::string name;
  bool schema_only = false;  // tables and schema objects, no rows
  bool data_only = false;    // rows only: tables created plain when missing, no schema objects
};

int run_copy(const CopyArgs& args) {
  cdc::Config config;
  config.source = args.source;
  config.destination = args.destination;
  config.name = args.name;
  apply_selection(args.selection, config);
  if (args.parallel > 0) config.parallel_tables = args.parallel;
  if (args.batch_size > 0) config.defaults.batch_size = args.batch_size;
  if (args.chunk_rows > 0) config.defaults.chunk_rows = args.chunk_rows;
  if (args.parallel_chunks > 0) config.defaults.parallel_chunks = args.parallel_chunks;
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
  sub->add_option("--chunk-rows", args->chunk_rows,
                  "Target rows per snapshot chunk, the resume granularity (default 250000)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--parallel-chunks", args->parallel_chunks, "Chunks of one table read at once (default 1)")
      ->check(CLI::Range(1, 256));
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
