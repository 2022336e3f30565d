// Several pipelines (source -> destination pairs) in one config and one process. A config file
// either holds one pipeline (the keys of cdc::Config at the top level) or a `pipelines:` list, whose
// entries inherit every top-level key as a default (maps merge key by key, an entry's value wins):
//
//   workers: 3                    # snapshot workers shared by all pipelines
//   defaults: {batch_size: 5000}
//   pipelines:
//     - {name: shop, source: "sqlite:///shop.db", destination: "postgresql://..."}
//     - {name: accounts, source: "mysql://...", destination: "postgresql://..."}
//
// PipelineRunner runs them: one ReplicationSession per pipeline, each with its own checkpoints
// (kept under its name) and its own failures (a pipeline that fails stops alone, unless its
// stop_on_error is set, which stops them all), sharing one budget of snapshot workers. Log records
// written on a pipeline's threads carry its name (LogRecord::pipeline).
// All PipelineRunner methods are thread-safe; its callbacks run on the calling or the runner's threads.
#pragma once

#include <cdc/config.h>
#include <cdc/export.h>
#include <cdc/session.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cdc {

struct PipelinesConfig {
  // Snapshot workers (a table plan, a chunk copy, a table's finish) running at once across every
  // pipeline; 0 = no shared limit (each pipeline has its own, Config::workers).
  int workers = 0;
  // The pipelines, in file order. A single-pipeline file gives one, named as Config::name says
  // (possibly empty: the session derives a name from its URLs).
  std::vector<Config> pipelines;
  bool listed = false;  // the file had a `pipelines:` list (names are then required and unique)
  HttpSettings http;    // the process's HTTP endpoint (top-level `http`)

  // The pipeline named `name`, or nullptr.
  CDC_API const Config* find(const std::string& name) const;
  // The pipelines named in `names` (all when empty), in file order. An unknown name throws
  // cdc::Error(Config) at "--pipeline" listing the known ones.
  CDC_API std::vector<Config> select(const std::vector<std::string>& names) const;
};

// The name a pipeline is shown and controlled by (status, HTTP, log lines): Config::name, or the
// name the session derives from its URLs (session_name()).
CDC_API std::string pipeline_name(const Config& config);

// Loaders. Key paths in errors name the entry: "pipelines[1].tables.orders.batch_size: ...".
// Throw cdc::Error(Config).
CDC_API PipelinesConfig load_pipelines_file(const std::string& path);
CDC_API PipelinesConfig parse_pipelines_yaml(const std::string& text, const std::string& origin = "config");
CDC_API PipelinesConfig parse_pipelines_json(const std::string& text, const std::string& origin = "config");

// A budget of slots shared by the snapshot workers of several sessions (SessionOptions::worker_budget):
// a worker holds one slot while it plans, copies or finishes a piece of a table, and none while
// it waits for work. Thread-safe.
class CDC_API WorkerBudget {
 public:
  explicit WorkerBudget(int slots);
  // Takes a slot, waiting while every one is taken. Returns false (without a slot) once
  // `cancelled()` returns true; it is asked at least every 50 ms while waiting.
  bool acquire(const std::function<bool()>& cancelled);
  void release();
  void resize(int slots);  // a smaller budget takes effect as slots are released
  int slots() const;
  int in_use() const;
  int peak() const;  // the most slots held at once so far

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// How one pipeline ended.
struct PipelineResult {
  std::string name;
  SessionStatus status;
  std::string error;     // the session's error (it failed as a whole); empty otherwise
  bool failed = false;   // the session failed, or a table of it ended Failed
  bool removed = false;  // a reload removed it
};

struct PipelineRunnerOptions {
  // Options every pipeline's session starts with (snapshot_only, exit_when_idle, clock, ...).
  // on_progress is called with the pipeline's own status.
  SessionOptions session;
  // Called with each session after it is created and before it starts (a host registers it with
  // cdc::HttpServer::add_pipeline), and before it is destroyed (remove it there). Not called
  // under a lock of the runner's that a session's threads take.
  std::function<void(const std::string& name, ReplicationSession& session)> on_added;
  std::function<void(const std::string& name, ReplicationSession& session)> on_removed;
};

class CDC_API PipelineRunner {
 public:
  // `config.pipelines` must not be empty and its names must be unique.
  PipelineRunner(PipelinesConfig config, PipelineRunnerOptions options = {});
  // Stops every pipeline and joins its threads (on_removed is called for each).
  ~PipelineRunner();
  PipelineRunner(const PipelineRunner&) = delete;
  PipelineRunner& operator=(const PipelineRunner&) = delete;

  // Starts every pipeline in the background.
  void start();
  // Asks every pipeline to stop at its next safe point. Returns immediately.
  void stop();
  // Waits until every pipeline has ended; one result per pipeline that ran, in start order
  // (removed ones included). A failing pipeline does not throw: see PipelineResult.
  std::vector<PipelineResult> wait();
  std::vector<PipelineResult> run();

  // Applies a changed file to the running pipelines (SIGHUP, POST /api/v1/reload): pipelines
  // new in `config` are started, those no longer in it are stopped and removed (their
  // checkpoints and targets kept), the others get ReplicationSession::reload(); `workers`
  // resizes the shared budget. Pipelines not selected (`only`, when not empty) are left alone.
  // Returns a line saying what changed. Throws cdc::Error naming the pipelines a change was
  // refused for (the others are applied).
  std::string reload(PipelinesConfig config, const std::vector<std::string>& only = {});

  // The status of every running pipeline, by name, in start order.
  std::vector<std::pair<std::string, SessionStatus>> status() const;
  std::vector<std::string> names() const;
  // The shared budget (null when PipelinesConfig::workers is 0).
  std::shared_ptr<WorkerBudget> worker_budget() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cdc
