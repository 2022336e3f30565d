#include "run_session.h"

#include "cli.h"

#include "progress.h"
#include "signals.h"

#include <cdc/error.h>
#include <cdc/http_server.h>
#include <cdc/log.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <unistd.h>

namespace cdc_cli {

namespace {

bool stderr_is_terminal() {
  if (!::isatty(STDERR_FILENO)) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

// Installs a log sink for the lifetime of the guard and puts the previous one back.
class ScopedLogSink {
 public:
  explicit ScopedLogSink(std::shared_ptr<cdc::LogSink> sink) : previous_(cdc::log_sink()) {
    cdc::set_log_sink(std::move(sink));
  }
  ~ScopedLogSink() { cdc::set_log_sink(previous_); }
  ScopedLogSink(const ScopedLogSink&) = delete;
  ScopedLogSink& operator=(const ScopedLogSink&) = delete;

 private:
  std::shared_ptr<cdc::LogSink> previous_;
};

// The config file again, for the running session: SIGHUP (on the signal watcher's thread) and
// POST /api/v1/reload (on the HTTP server's). Returns what happened; throws when not applied.
std::string reload_config(cdc::ReplicationSession& session, const std::string& path, const char* why) {
  cdc::log(cdc::LogLevel::Info, "cli", "", fmt::format("{}: reloading {}", why, path));
  cdc::Config config;
  try {
    config = cdc::load_config_file(path);
  } catch (const cdc::Error& e) {  // what() names the key path: "tables.orders.batch_size: ..."
    cdc::log(cdc::LogLevel::Error, "cli", "",
             fmt::format("reload: {}: {}; the session goes on with its current configuration", path, e.what()));
    throw;
  }
  try {
    session.reload(std::move(config));
  } catch (const std::exception& e) {
    cdc::log(cdc::LogLevel::Error, "cli", "",
             fmt::format("reload: {} not applied: {}; the session goes on with its current configuration", path, e.what()));
    throw;
  }
  std::string done = fmt::format("reload: {} applied", path);
  cdc::log(cdc::LogLevel::Info, "cli", "", done);
  return done;
}

// The file again, for the running pipelines; the same contract as reload_config().
std::string reload_pipelines(cdc::PipelineRunner& runner, const std::string& path, const std::vector<std::string>& selected,
                             const char* why) {
  cdc::log(cdc::LogLevel::Info, "cli", "", fmt::format("{}: reloading {}", why, path));
  cdc::PipelinesConfig config;
  try {
    config = cdc::load_pipelines_file(path);
    config.select(selected);  // a selected pipeline gone from the file is named here
  } catch (const cdc::Error& e) {  // what() names the key path: "pipelines[1].tables.orders.batch_size: ..."
    cdc::log(cdc::LogLevel::Error, "cli", "",
             fmt::format("reload: {}: {}; the pipelines go on with their current configuration", path, e.what()));
    throw;
  }
  try {
    std::string done = fmt::format("reload: {} applied: {}", path, runner.reload(std::move(config), selected));
    cdc::log(cdc::LogLevel::Info, "cli", "", done);
    return done;
  } catch (const std::exception& e) {
    cdc::log(cdc::LogLevel::Error, "cli", "", fmt::format("reload: {}: {}", path, e.what()));
    throw;
  }
}

// Every pipeline's tables in one status for the display and the summary, named "pipeline/table".
cdc::SessionStatus merge_statuses(const std::vector<std::pair<std::string, cdc::SessionStatus>>& pipelines) {
  cdc::SessionStatus out;
  out.state = cdc::SessionState::Idle;
  for (const auto& [name, s] : pipelines) {
    out.name += (out.name.empty() ? "" : ", ") + name;
    if (s.state == cdc::SessionState::Failed || out.state == cdc::SessionState::Idle) out.state = s.state;
    out.elapsed_seconds = std::max(out.elapsed_seconds, s.elapsed_seconds);
    out.lag_ms = std::max(out.lag_ms, s.lag_ms);
    if (!s.error.empty()) out.error += (out.error.empty() ? "" : "; ") + name + ": " + s.error;
    for (auto t : s.tables) {
      t.source = name + "/" + t.source;
      out.tables.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace

SessionOutcome run_pipelines(cdc::PipelinesConfig config, const std::vector<std::string>& selected, cdc::SessionOptions options,
                             const std::string& reload_path, const std::string& http_listen) {
  std::vector<cdc::Config> chosen = config.select(selected);
  for (const auto& c : chosen)
    if (c.destination.rfind("jsonl://-", 0) == 0 && (c.destination.size() == 9 || c.destination[9] == '?'))
      set_report_stream(stderr);
  auto mode = stderr_is_terminal() ? ProgressDisplay::Mode::Live : ProgressDisplay::Mode::Plain;
  auto display = std::make_shared<ProgressDisplay>(mode, stderr);
  auto objects = std::make_shared<SchemaObjectLog>(std::make_shared<DisplayLogSink>(display, true));
  ScopedLogSink sink_guard(objects);

  cdc::HttpSettings http = config.http;
  if (!http_listen.empty()) http.listen = http_listen;
  // The server outlives the runner: the runner takes its pipelines off it before they go.
  std::unique_ptr<cdc::HttpServer> server;
  cdc::PipelineRunner* runner_ptr = nullptr;  // set before any session starts
  if (!http.listen.empty()) {
    auto http_options = cdc::HttpOptions::from_config(http);
    if (!reload_path.empty())
      http_options.on_reload = [&runner_ptr, reload_path, selected] {
        return reload_pipelines(*runner_ptr, reload_path, selected, "POST /api/v1/reload");
      };
    server = std::make_unique<cdc::HttpServer>(std::move(http_options));
  }

  cdc::PipelineRunnerOptions runner_options;
  runner_options.session = std::move(options);
  runner_options.session.progress_interval = std::chrono::milliseconds(200);
  runner_options.session.on_progress = [display, &runner_ptr](const cdc::SessionStatus&) {
    if (runner_ptr) display->update(merge_statuses(runner_ptr->status()));
  };
  if (server) {
    runner_options.on_added = [&server](const std::string& name, cdc::ReplicationSession& s) { server->add_pipeline(name, s); };
    runner_options.on_removed = [&server](const std::string& name, cdc::ReplicationSession&) { server->remove_pipeline(name); };
  }
  config.pipelines = chosen;
  SessionOutcome outcome;
  std::vector<cdc::PipelineResult> results;
  {
    cdc::PipelineRunner runner(std::move(config), std::move(runner_options));
    runner_ptr = &runner;
    if (server) server->start();
    std::atomic<bool> interrupted{false};
    {
      std::function<void()> on_reload;
      if (!reload_path.empty())
        on_reload = [&] {
          try {
            reload_pipelines(runner, reload_path, selected, "SIGHUP received");
          } catch (const std::exception&) {  // logged; the pipelines go on
          }
        };
      SignalWatcher watcher(
          [&](int sig) {
            interrupted = true;
            display->print_line(fmt::format("cdc-cli: {} received, stopping every pipeline at its next committed batch "
                                            "(again to exit at once)",
                                            sig == SIGINT ? "SIGINT" : "SIGTERM"));
            runner.stop();
          },
          on_reload);
      results = runner.run();
    }
    if (server) server->stop();
    runner_ptr = nullptr;
    outcome.interrupted = interrupted;
  }
  std::vector<std::pair<std::string, cdc::SessionStatus>> finals;
  for (const auto& r : results)
    if (!r.removed) finals.emplace_back(r.name, r.status);
  outcome.status = merge_statuses(finals);
  display->finish(outcome.status);
  print_summary(outcome.status, *display);
  print_schema_summary(objects->report());
  for (const auto& r : results) {
    if (r.removed) continue;
    if (r.failed) outcome.any_failed = true;
    if (!r.error.empty()) print_error(fmt::format("pipeline {} failed: {}", r.name, r.error));
  }
  return outcome;
}

SessionOutcome run_session(cdc::Config config, cdc::SessionOptions options, const std::string& reload_path,
                           const std::string& http_listen) {
  // The change events go to standard output: the summary must not mix with them.
  if (config.destination.rfind("jsonl://-", 0) == 0 &&
      (config.destination.size() == 9 || config.destination[9] == '?'))
    set_report_stream(stderr);
  auto mode = stderr_is_terminal() ? ProgressDisplay::Mode::Live : ProgressDisplay::Mode::Plain;
  auto display = std::make_shared<ProgressDisplay>(mode, stderr);
  auto objects = std::make_shared<SchemaObjectLog>(std::make_shared<DisplayLogSink>(display));
  ScopedLogSink sink_guard(objects);

  options.on_progress = [display](const cdc::SessionStatus& s) { display->update(s); };
  // Frequent callbacks are cheap: the display throttles its own output (redraws, plain lines).
  options.progress_interval = std::chrono::milliseconds(200);

  cdc::HttpSettings http = config.http;
  if (!http_listen.empty()) http.listen = http_listen;
  std::string pipeline = config.name.empty() ? cdc::session_name(config) : config.name;
  cdc::ReplicationSession session(std::move(config), std::move(options));
  std::atomic<bool> interrupted{false};
  SessionOutcome outcome;
  // Declared after the session: stopped (and its threads joined) before the session goes.
  std::unique_ptr<cdc::HttpServer> server;
  if (!http.listen.empty()) {
    auto http_options = cdc::HttpOptions::from_config(http);
    if (!reload_path.empty())
      http_options.on_reload = [&session, reload_path] { return reload_config(session, reload_path, "POST /api/v1/reload"); };
    server = std::make_unique<cdc::HttpServer>(std::move(http_options));
    server->add_pipeline(pipeline, session);
    server->start();
  }
  {
    // Declared after the session so it is destroyed (and its thread joined) first.
    std::function<void()> on_reload;
    if (!reload_path.empty())
      on_reload = [&] {
        try {
          reload_config(session, reload_path, "SIGHUP received");
        } catch (const std::exception&) {  // logged; the session goes on
        }
      };
    SignalWatcher watcher(
        [&](int sig) {
          interrupted = true;
          display->print_line(fmt::format("cdc-cli: {} received, stopping at the next committed batch "
                                          "(again to exit at once)",
                                          sig == SIGINT ? "SIGINT" : "SIGTERM"));
          session.stop();
        },
        on_reload);
    outcome.status = session.run();
  }
  if (server) server->stop();
  display->finish(outcome.status);
  outcome.interrupted = interrupted;
  outcome.any_failed = outcome.status.state == cdc::SessionState::Failed;
  for (const auto& t : outcome.status.tables)
    if (t.phase == cdc::TablePhase::Failed) outcome.any_failed = true;
  print_summary(outcome.status, *display);
  print_schema_summary(objects->report());
  return outcome;
}

}  // namespace cdc_cli
