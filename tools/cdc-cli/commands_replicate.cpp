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
  std::vector<std::string> pipelines;  // --pipeline
};

int run_replicate(const ReplicateArgs& args) {
  cdc::PipelinesConfig file;
  std::vector<cdc::Config> chosen = load_pipelines(args.config_path, args.pipelines, &file);
  cdc::SessionOptions options;
  options.exit_when_idle = args.until_idle;
  SessionOutcome outcome = file.listed ? run_pipelines(std::move(file), args.pipelines, std::move(options), args.config_path, args.http)
                                       : run_session(std::move(chosen.front()), std::move(options), args.config_path, args.http);
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
  add_pipeline_option(*sub, args->pipelines);
  sub->footer(
      "Runs until SIGINT or SIGTERM, then stops at the next committed batch (a second signal exits at once).\n"
      "SIGHUP re-reads the config file and applies it to the running session (tables added or removed,\n"
      "per-table settings); a file that does not load, or a change of source, destination, name or\n"
      "checkpoint, is logged with its key path and the session goes on unchanged.\n"
      "With --http (or http.listen in the config), GET / shows a status page, GET /api/v1/status the status,\n"
      "GET /metrics Prometheus metrics; POST /api/v1/tables/T/pause|resume|stop|resync controls a table and\n"
      "POST /api/v1/reload does what SIGHUP does (http.token, when set, is required as a bearer token).\n"
      "A config with pipelines: runs every pipeline (or those --pipeline names) in this process, each with its\n"
      "own checkpoints; one that fails stops alone unless its stop_on_error is set. SIGHUP then also starts\n"
      "pipelines added to the file and stops those removed from it.\n"
      "Exit code: 0 clean stop, 1 a table or pipeline failed, 2 configuration error.\n"
      "Example: cdc-cli replicate -c cdc.yaml; kill -HUP <pid> after editing cdc.yaml");
  sub->callback([args, &selected] { selected = [args] { return run_replicate(*args); }; });
}

}  // namespace cdc_cli
