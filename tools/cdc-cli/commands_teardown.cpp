// cdc-cli teardown -c CONFIG: removes the capture objects cdc installed in the source.
#include "cli.h"

#include <fmt/format.h>

namespace cdc_cli {

namespace {

int run_teardown(const std::string& config_path) {
  cdc::Config config = cdc::load_config_file(config_path);
  auto source = cdc::ConnectorRegistry::instance().open_source(config.source);
  auto removed = source->teardown();
  for (const auto& line : removed) print_line(line);
  print_line(fmt::format("{} object{} removed from {}", removed.size(), removed.size() == 1 ? "" : "s",
                         cdc::redact_url(config.source)));
  return kExitOk;
}

}  // namespace

void add_teardown_command(CLI::App& app, CommandFn& selected) {
  auto path = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("teardown", "Remove every capture object cdc installed in the source");
  sub->add_option("-c,--config", *path, "Config file (YAML or JSON)")->required()->check(CLI::ExistingFile);
  sub->footer("Stop `replicate` first. Checkpoints at the destination are not touched.\n"
              "Example: cdc-cli teardown -c cdc.yaml");
  sub->callback([path, &selected] { selected = [path] { return run_teardown(*path); }; });
}

}  // namespace cdc_cli
