// Runs a ReplicationSession in the foreground with the progress display, log routing and
// SIGINT/SIGTERM handling shared by `copy` and `replicate`.
#pragma once

#include <cdc/config.h>
#include <cdc/pipelines.h>
#include <cdc/session.h>

#include <string>
#include <vector>

namespace cdc_cli {

struct SessionOutcome {
  cdc::SessionStatus status;
  bool interrupted = false;  // stopped by SIGINT/SIGTERM
  bool any_failed = false;   // a table (or the session) ended Failed
};

// Blocks until the session ends or a signal stops it; prints the summary on stdout.
// Throws cdc::Error from the session (config errors, unreachable source, stop_on_error).
// With `reload_path` (replicate), SIGHUP re-reads that config file and hands it to
// ReplicationSession::reload(); a file that does not load, or a change reload() refuses, is
// logged (with its key path) and the session goes on with the configuration it has.
// With `http_listen` (or the config's http.listen) set, the process serves status, control and
// metrics there (cdc::HttpServer, docs/status.md) while the session runs; POST /api/v1/reload does
// what SIGHUP does.
SessionOutcome run_session(cdc::Config config, cdc::SessionOptions options, const std::string& reload_path = {},
                           const std::string& http_listen = {});

// The same for the pipelines of a file with `pipelines:` (cdc::PipelineRunner): `selected` names
// the ones to run (empty: all). The display shows every pipeline's tables as "pipeline/table",
// log lines carry the pipeline's name, the HTTP server serves each pipeline under its name, and
// SIGHUP (or POST /api/v1/reload) re-reads the file: pipelines added to it start, pipelines gone
// from it stop, the others are reloaded. A pipeline that fails ends alone (unless stop_on_error).
SessionOutcome run_pipelines(cdc::PipelinesConfig config, const std::vector<std::string>& selected, cdc::SessionOptions options,
                             const std::string& reload_path = {}, const std::string& http_listen = {});

}  // namespace cdc_cli
