// cdc-cli teardown -c CONFIG: removes the capture objects cdc installed in the source.
#include "cli.h"

#include <fmt/format.h>

namespace cdc_cli {

namespace {

struct TeardownArgs {
  std::string config_path;
  std::vector<std::string> pipelines;  // --pipeline
};

int run_teardown(const TeardownArgs& args) {
  cdc::PipelinesConfig file;
  for (const auto& config : load_pipelines(args.config_path, args.pipelines, &file)) {
    auto source = cdc::ConnectorRegistry::instance().open_source(config.source);
    auto removed = source->teardown();
    for (const auto& line : removed) print_line(line);
    print_line(fmt::format("{}{} object{} removed from {}", file.listed ? "pipeline " + cdc::pipeline_name(config) + ": " : "",
                           removed.size(), removed.size() == 1 ? "" : "s", cdc::redact_url(config.source)));
  }
  return kExitOk;
}

}  // namespace

void add_teardown_command(CLI::App& app, CommandFn& selected) {
  auto args = std::make_shared<TeardownArgs>();
  auto* sub = app.add_subcommand("teardown", "Remove every capture object cdc installed in the source");
  sub->add_option("-c,--config", args->config_path, "Config file (YAML or JSON)")->required()->check(CLI::ExistingFile);
  add_pipeline_option(*sub, args->pipelines);
  sub->footer("Stop `replicate` first. Checkpoints at the destination are not touched.\n"
              "With a config that lists pipelines:, the source of each (or of each --pipeline) is cleaned.\n"
              "Example: cdc-cli teardown -c cdc.yaml");
  sub->callback([args, &selected] { selected = [args] { return run_teardown(*args); }; });
}

}  // namespace cdc_cli
