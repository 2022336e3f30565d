// cdc-cli replicate -c CONFIG: snapshot then follow changes until SIGINT/SIGTERM (or until idle);
// SIGHUP reloads the config file.
#include "cli.h"
#include "run_session.h"

namespace cdc_cli {

namespace {

struct ReplicateArgs {
  std::string config_path;
  bool until_idle = false;
  std::string http;  // --http HOST:PORT
};

int run_replicate(const ReplicateArgs& args) {
  cdc::Config config = cdc::load_config_file(args.config_path);
  cdc::SessionOptions options;
  options.exit_when_idle = args.until_idle;
  SessionOutcome outcome = run_session(std::move(config), std::move(options), args.config_path, args.http);
  return outcome.any_failed ? kExitFailure : kExitOk;
}

}  // namespace

void add_replicate_command(CLI::App& app, CommandFn& selected) {
  auto args = std::make_shared<ReplicateArgs>();
  auto* sub = app.add_subcommand("replicate", "Copy, then keep the destination in sync until stopped");
  sub->add_option("-c,--config", args->config_path, "Config file (YAML or JSON)")->required()->check(CLI::ExistingFile);
  sub->add_flag("--until-idle", args->until_idle,
                "Exit once snapshots are done and no new changes arrive (batch jobs, tests)");
  sub->add_option("--http", args->http,
                  "Serve status, control, /metrics and a status page on HOST:PORT (overrides http.listen; docs/status.md)");
  sub->footer(
      "Runs until SIGINT or SIGTERM, then stops at the next committed batch (a second signal exits at once).\n"
      "SIGHUP re-reads the config file and applies it to the running session (tables added or removed,\n"
      "per-table settings); a file that does not load, or a change of source, destination, name or\n"
      "checkpoint, is logged with its key path and the session goes on unchanged.\n"
      "With --http (or http.listen in the config), GET / shows a status page, GET /api/v1/status the status,\n"
      "GET /metrics Prometheus metrics; POST /api/v1/tables/T/pause|resume|stop|resync controls a table and\n"
      "POST /api/v1/reload does what SIGHUP does (http.token, when set, is required as a bearer token).\n"
      "Exit code: 0 clean stop, 1 a table failed, 2 configuration error.\n"
      "Example: cdc-cli replicate -c cdc.yaml; kill -HUP <pid> after editing cdc.yaml");
  sub->callback([args, &selected] { selected = [args] { return run_replicate(*args); }; });
}

}  // namespace cdc_cli
