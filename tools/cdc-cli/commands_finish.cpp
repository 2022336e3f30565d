// cdc-cli finish -c CONFIG: the cut-over of a migration through cdc::finish_migration. Run once
// `replicate` is stopped (or after `copy`): validates foreign keys and CHECKs, sets sequences past
// the copied ids, makes the deferred unique keys unique, creates what is still missing, and
// prints what was done and what could not be (docs/schema-objects.md).
#include "cli.h"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace cdc_cli {

namespace {

struct FinishArgs {
  std::string config_path;
  OutputFormat format = OutputFormat::Table;
  std::vector<std::string> pipelines;  // --pipeline
};

int finish_one(const FinishArgs& args, const cdc::Config& config, bool listed) {
  cdc::SchemaObjectReport report = cdc::finish_migration(config);
  if (args.format == OutputFormat::Json) {
    boost::json::object root;
    root["session"] = cdc::session_name(config);
    boost::json::array done, not_done;
    for (const auto& c : report.created) done.emplace_back(c);
    for (const auto& s : report.skipped) not_done.emplace_back(s);
    root["done"] = std::move(done);
    root["not_done"] = std::move(not_done);
    print_line(boost::json::serialize(root));
    return kExitOk;
  }
  if (listed) print_line("pipeline " + cdc::pipeline_name(config) + ":");
  print_schema_report(report, "finish");
  return kExitOk;
}

int run_finish(const FinishArgs& args) {
  cdc::PipelinesConfig file;
  for (const auto& config : load_pipelines(args.config_path, args.pipelines, &file)) finish_one(args, config, file.listed);
  return kExitOk;
}

}  // namespace

void add_finish_command(CLI::App& app, CommandFn& selected) {
  auto args = std::make_shared<FinishArgs>();
  auto* sub = app.add_subcommand("finish", "Cut over: validate foreign keys and CHECKs, set sequences, build deferred unique keys");
  sub->add_option("-c,--config", args->config_path, "Config file (YAML or JSON)")->required()->check(CLI::ExistingFile);
  add_format_option(*sub, args->format);
  add_pipeline_option(*sub, args->pipelines);
  sub->footer(
      "Run it when the application is about to switch to the destination: after `copy`, or once `replicate`\n"
      "has caught up and is stopped (refused while a process runs the session). It creates the indexes,\n"
      "constraints and foreign keys still missing, validates the foreign keys and CHECKs that were added\n"
      "without checking the rows already there (PostgreSQL NOT VALID; MariaDB and SQLite: rows that break them\n"
      "are counted), makes the unique keys unique that were plain indexes while changes were applied\n"
      "(MariaDB, SQLite, PostgreSQL expression and partial ones), and sets identity sequences and\n"
      "AUTO_INCREMENT past the highest id present. Prints what was done, then what was not, with the reason.\n"
      "Running it again does no harm. Exit code: 0 done (read the `not done` lines), 1 refused or failed,\n"
      "2 configuration error.\n"
      "Example: cdc-cli finish -c cdc.yaml");
  sub->callback([args, &selected] { selected = [args] { return run_finish(*args); }; });
}

}  // namespace cdc_cli
