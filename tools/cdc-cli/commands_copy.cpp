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
  std::string config_path;   // -c: the pipelines of a config file instead of SOURCE DESTINATION
  std::vector<std::string> pipelines;  // --pipeline
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

// The command line's settings over a config (from the URLs, or a pipeline of -c).
void apply_copy_options(const CopyArgs& args, cdc::Config& config) {
  apply_selection(args.selection, config);
  if (args.parallel > 0) config.parallel_tables = args.parallel;
  if (args.batch_size > 0) config.defaults.batch_size = args.batch_size;
  if (!args.chunk_rows.empty()) config.defaults.chunk_rows = auto_or_number(args.chunk_rows, std::numeric_limits<std::int64_t>::max());
  if (!args.parallel_chunks.empty()) config.defaults.parallel_chunks = static_cast<int>(auto_or_number(args.parallel_chunks, 256));
  if (args.data_only)
    config.schema.indexes = config.schema.foreign_keys = config.schema.constraints = config.schema.sequences =
        config.schema.comments = false;
  cdc::validate_config(config);
}

int run_copy(const CopyArgs& args) {
  cdc::PipelinesConfig file;
  if (args.config_path.empty()) {
    if (args.source.empty() || args.destination.empty())
      throw cdc::config_error("copy", "give SOURCE and DESTINATION URLs, or -c CONFIG");
    if (!args.pipelines.empty()) throw cdc::config_error("--pipeline", "selects pipelines of a config file: give -c CONFIG");
    cdc::Config config;
    config.source = args.source;
    config.destination = args.destination;
    config.name = args.name;
    file.pipelines.push_back(std::move(config));
  } else {
    if (!args.source.empty()) throw cdc::config_error("copy", "give either SOURCE DESTINATION or -c CONFIG, not both");
    if (!args.name.empty()) throw cdc::config_error("--name", "the pipelines of -c CONFIG are named in the file");
    std::vector<cdc::Config> chosen = load_pipelines(args.config_path, args.pipelines, &file);
    // A one-off copy keeps its checkpoints apart from the replication of the same pipeline.
    for (auto& c : chosen) c.name = cdc::pipeline_name(c) + "-copy";
    file.pipelines = std::move(chosen);
  }
  for (auto& config : file.pipelines) apply_copy_options(args, config);

  if (args.schema_only) {
    for (const auto& config : file.pipelines) {
      if (file.listed) print_line("pipeline " + cdc::pipeline_name(config) + ":");
      print_schema_report(cdc::create_schema(config), "copy --schema-only");
    }
    return kExitOk;
  }

  cdc::SessionOptions options;
  options.snapshot_only = true;
  SessionOutcome outcome = file.listed ? run_pipelines(std::move(file), {}, std::move(options))
                                       : run_session(std::move(file.pipelines.front()), std::move(options));
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
  sub->add_option("source", args->source, "Source connector URL, e.g. sqlite:///data/shop.db (or -c CONFIG)");
  sub->add_option("destination", args->destination, "Destination connector URL, e.g. sqlite:///data/copy.db");
  sub->add_option("-c,--config", args->config_path,
                  "Copy the pipelines of this config file (YAML or JSON) instead of SOURCE to DESTINATION")
      ->check(CLI::ExistingFile);
  add_pipeline_option(*sub, args->pipelines);
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
      "With -c CONFIG, the tables of each pipeline in the file (or of those --pipeline names) are copied\n"
      "in this process, with the file's settings (command-line options override them).\n"
      "Example: cdc-cli copy sqlite:///data/shop.db sqlite:///tmp/copy.db --tables 'orders*' --parallel 2\n"
      "         cdc-cli copy -c cdc.yaml --pipeline shop");
  sub->callback([args, &selected] { selected = [args] { return run_copy(*args); }; });
}

}  // namespace cdc_cli
