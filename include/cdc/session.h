// ReplicationSession: copies and keeps live many tables from one source to one destination, for
// as long as the host runs it. It owns its threads: snapshot workers (parallel tables and PK-range
// chunks), one stream reader and applier, and the incremental pollers. run() blocks;
// start()/stop()/wait() do the same in the background. Tables join (reload), leave, pause,
// resume and re-copy (resync_table) while the others stream; every such state survives a
// restart (docs/lifecycle.md). All public methods are thread-safe and may be called from any
// thread, including from inside the progress callback (which runs on a session thread).
// Destruction stops the session and joins its threads; checkpoints already committed are kept.
#pragma once

#include <cdc/checkpoint_store.h>
#include <cdc/clock.h>
#include <cdc/config.h>
#include <cdc/destination.h>
#include <cdc/export.h>
#include <cdc/source.h>
#include <cdc/type_mapper.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cdc {

class WorkerBudget;

// A table's place in its life (docs/lifecycle.md). Pausing and `ddl: pause` holds are flags on
// top of the phase (TableStatus::paused, TableStatus::held).
//   Pending:     planned, its snapshot not started
//   Snapshot:    being copied (its changes wait, held at the position the copy started from)
//   Resyncing:   being copied again while the others stream; its target stays readable
//   Streaming:   following the change stream
//   Incremental: polled by its watermark column
//   Done:        copied (mode copy)
//   Failed:      stopped by an error; retried after retry.table_cooldown_s
//   Stopped:     stopped on request (stop_table); keeps its place
//   Removed:     no longer selected by the config; keeps its checkpoints and its target
//   Dropped:     gone from the source; its target is left alone
enum class TablePhase { Pending, Snapshot, Streaming, Incremental, Done, Failed, Stopped, Resyncing, Removed, Dropped };
enum class SessionState { Idle, Starting, Snapshot, Streaming, Stopping, Finished, Failed };

CDC_API std::string_view to_string(TablePhase phase);
CDC_API std::string_view to_string(SessionState state);

struct TableStatus {
  std::string source;          // source table id ("orders", "public.orders")
  std::string target;          // destination table name
  TableMode mode = TableMode::Replicate;
  TablePhase phase = TablePhase::Pending;
  bool paused = false;
  // The table does not apply changes and keeps the source's log from being released at
  // `position` (paused, stopped, failed, removed, or held by `ddl: pause`); `hold_reason` says why.
  bool held = false;
  std::string hold_reason;
  // The table let go of the source log after max_held_log and must be copied again (resync).
  bool needs_resync = false;
  std::int64_t rows_done = 0;        // snapshot rows written
  std::int64_t rows_estimated = -1;  // -1 = unknown
  int chunks_done = 0;
  int chunks_total = 0;
  std::int64_t changes_applied = 0;  // stream / incremental changes written
  double rows_per_second = 0;        // recent rate (snapshot rows or changes)
  double eta_seconds = -1;           // snapshot ETA; -1 = unknown
  int attempts = 0;                  // failed attempts so far (retries)
  std::int64_t quarantined = 0;      // rows kept in the quarantine table instead of copied
  // Values the type rules changed in a way the target cannot undo (a MariaDB zero date that became
  // NULL in PostgreSQL, see docs/type-mapping.md), counted by this process since the table was
  // last planned; not kept in the checkpoint store.
  std::int64_t values_changed = 0;
  std::string position;              // last committed stream position or watermark
  std::string error;                 // last error (Failed) or last retried error
  // Stream changes applied by this process, by operation (changes_applied also counts those of
  // earlier runs and of incremental polls).
  std::int64_t inserts = 0, updates = 0, deletes = 0, truncates = 0;
  // How far the target is behind the source, in milliseconds; -1 = unknown or not applicable
  // (not copied yet, being copied, copy done). Streaming: now - source commit time of the last
  // change applied, 0-ish while the stream has nothing pending; holding (paused, stopped, failed):
  // time since it stopped applying changes; incremental: time since its last finished poll.
  std::int64_t lag_ms = -1;
  std::int64_t log_retained_bytes = -1;  // source log this held table keeps (-1 = unknown / not held)
  bool polled = false;                   // incremental: at least one poll finished in this process
  std::map<std::string, std::int64_t> errors;  // errors of this process by kind ("connection", ..., "failed")
};

// Durations observed by this process, in Prometheus' histogram shape: counts[i] observations
// <= bounds[i] (not cumulative), counts.back() those above every bound.
struct DurationHistogram {
  std::vector<double> bounds;   // seconds, increasing
  std::vector<std::int64_t> counts;  // bounds.size() + 1
  double sum = 0;               // seconds
  std::int64_t count = 0;
};

struct SessionStatus {
  std::string name;
  SessionState state = SessionState::Idle;
  std::vector<TableStatus> tables;
  std::string stream_position;       // last committed stream position
  // now - source commit time of the last applied change, close to 0 while the stream has nothing
  // pending (an empty poll proves it caught up); -1 = unknown (the stream has not run yet)
  std::int64_t lag_ms = -1;
  double elapsed_seconds = 0;
  std::string error;                 // session-level error
  std::map<std::string, std::int64_t> errors;  // errors of the change stream itself, by kind
  DurationHistogram batch_apply;     // stream batches: convert, write and commit with the checkpoint
  std::int64_t started_at_us = 0;    // wall clock when the session started (0 = not started)
  // The run history kept by the checkpoint store (newest first): a running session shows its
  // own run; checkpoint_status() the last runs and the last errors.
  std::vector<RunRecord> runs;
  std::vector<ErrorRecord> recent_errors;
};

using ProgressCallback = std::function<void(const SessionStatus&)>;

struct SessionOptions {
  ProgressCallback on_progress;  // called every progress_interval and on phase changes
  std::chrono::milliseconds progress_interval{500};
  std::shared_ptr<const TypeMapper> type_mapper;       // default: default_type_mapper()
  std::shared_ptr<CheckpointStore> checkpoint_store;   // default: open_checkpoint_store(config)
  bool snapshot_only = false;  // treat every table as mode copy (cdc-cli copy)
  bool exit_when_idle = false; // finish once snapshots are done and the stream/incremental polls
                               // find nothing new (useful for batch jobs and tests)
  std::shared_ptr<Clock> clock;  // time and waiting (retries, cool-downs, limits); default: system_clock()
  // Slots shared with other sessions (PipelineRunner, <cdc/pipelines.h>): each snapshot worker
  // holds one while it works on a table, so that the sessions together run at most that many
  // snapshot tasks at once. Null: only this session's own worker count limits it.
  std::shared_ptr<WorkerBudget> worker_budget;
};

// The name checkpoints are kept under: config.name, or one derived from the source and
// destination URLs (without credentials), stable across runs.
CDC_API std::string session_name(const Config& config);

// The checkpoint store a session with this config uses: config.checkpoint when set, else the
// destination's own store, else a SQLite file "cdc-checkpoints.db" in the working directory.
// `destination` may be given when already open.
CDC_API std::shared_ptr<CheckpointStore> open_checkpoint_store(const Config& config,
                                                               DestinationConnector* destination = nullptr);

// Per-table state as recorded in the checkpoint store (what `cdc-cli status` shows), without
// touching the source. Tables never started do not appear.
CDC_API SessionStatus checkpoint_status(const Config& config);

// Forgets a session's checkpoints (`tables` empty: all of them; else those of the named source
// tables), so that the next run starts them over. Target tables are left as they are. Refused
// with cdc::Error(State) while a process runs the session. Returns the tables forgotten.
CDC_API std::vector<std::string> reset_checkpoints(const Config& config, const std::vector<std::string>& tables = {});

// The cut-over of a migration (`cdc-cli finish`, docs/schema-objects.md): plans the tables as a
// session does and calls DestinationConnector::finish(), which creates the schema objects still
// missing, validates foreign keys and CHECKs against the rows now in the target, sets sequences
// past the highest value present and builds the unique keys that were deferred. Refused with
// cdc::Error(State) while a process runs the session; a destination without schema objects
// returns an empty report.
CDC_API SchemaObjectReport finish_migration(const Config& config);

// The target tables and their schema objects without any row (`cdc-cli copy --schema-only`):
// every planned table is prepared, gets its indexes, constraints, sequences and comments, and
// then the foreign keys among them. No checkpoint is written.
CDC_API SchemaObjectReport create_schema(const Config& config);

class CDC_API ReplicationSession {
 public:
  // Connectors are opened from config.source / config.destination through the registry.
  explicit ReplicationSession(Config config, SessionOptions options = {});
  // A host's own connector instances (either may be one of the built-in ones).
  ReplicationSession(Config config, std::shared_ptr<SourceConnector> source,
                     std::shared_ptr<DestinationConnector> destination, SessionOptions options = {});
  ~ReplicationSession();
  ReplicationSession(const ReplicationSession&) = delete;
  ReplicationSession& operator=(const ReplicationSession&) = delete;

  // Runs to completion (copy), or until stop() (replicate/incremental). Returns the final status.
  // Throws cdc::Error for session-level failures (bad config, unreachable source, or a table
  // failing with stop_on_error); a failing table otherwise shows as Failed in the status.
  SessionStatus run();
  // Starts in the background; errors surface from wait().
  void start();
  // Asks every worker to stop at the next safe point (a committed batch). Returns immediately.
  void stop();
  // Waits for the background run; returns its final status or rethrows its error.
  SessionStatus wait();
  bool running() const;

  void pause();   // every table
  void resume();
  // Per table, by source table name as shown in the status. Unknown names throw cdc::Error(Config).
  void pause_table(const std::string& table);
  void resume_table(const std::string& table);
  void stop_table(const std::string& table);
  // Copies one table again while the others stream: its stream is held, its rows are upserted
  // chunk by chunk (the target stays readable), rows the source no longer has are removed at the
  // end, and its changes since the resync began are replayed. Unknown names throw cdc::Error(Config).
  void resync_table(const std::string& table);

  // Applies a changed configuration to the running session (what SIGHUP does in cdc-cli): tables
  // newly selected by include/exclude/tables are added (snapshot beside the stream, then their
  // changes), tables no longer selected are removed (their checkpoints and targets kept), and
  // per-table settings, defaults, cast, ddl, batch and poll settings take effect. A changed
  // source, destination, name or checkpoint is refused: throws cdc::Error(Config) naming the key,
  // and the session goes on unchanged. Returns once the change is accepted (tables are added in
  // the background).
  void reload(Config config);

  SessionStatus status() const;
  const Config& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cdc
