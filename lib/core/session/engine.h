// The replication engine behind ReplicationSession, in named parts:
//   Engine            shared state under one mutex, the life of the session (run(): open,
//                     restore, live loop, stop), checkpoints, holds and releases (engine.cpp)
//   Opening           connectors, checkpoint store, lease, ledger migration, restoring tables
//                     from the ledger (open.cpp)
//   SnapshotPool      the workers that copy tables chunk by chunk, beside the stream or before
//                     it, and finish them (snapshot.cpp)
//   StreamApplier     the change stream: routing, per-table skip points, batch apply with the
//                     checkpoint, schema events, backfills (stream.cpp)
//   SchemaEvolver     schema changes from the stream or from discovery: ddl policy, target DDL,
//                     schema history, backfill scheduling (schema_evolver.cpp)
//   IncrementalPoller watermark polls (incremental.cpp)
//   Lifecycle         reload, discovery, add/remove/drop, resync, pause/resume/stop, cool-down
//                     of failed tables, log retention (lifecycle.cpp)
//   Progress          status and the progress callback (progress.cpp)
//
// Threads: the runner (run(): setup, then the live loop: stream, polls, lifecycle timers), the
// snapshot workers, the reporter, and the stream's read-ahead thread. Shared state (every
// TableState, the stream position, the session state) is guarded by `mu`; no I/O happens under
// it. Connectors start no threads of their own.
#pragma once

#include "core/session/cascades.h"
#include "core/session/retry.h"
#include "core/session/table_state.h"
#include "core/session/txn.h"

#include <cdc/clock.h>
#include <cdc/config.h>
#include <cdc/destination.h>
#include <cdc/session.h>
#include <cdc/source.h>
#include <cdc/type_mapper.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cdc::detail {

class CascadeState;

struct Engine;

// Copies tables: a pool of workers that live as long as the session, picking the next piece of
// snapshot work (plan a table, copy a chunk, finish a table) allowed by parallel_tables,
// parallel_chunks and pauses.
class SnapshotPool {
 public:
  explicit SnapshotPool(Engine& e) : e_(e) {}
  ~SnapshotPool();
  void start(int workers);
  void join();
  // Whether any table has snapshot work left (caller holds Engine::mu). `initial_only`: only the
  // tables of the session's first snapshot phase.
  bool busy(bool initial_only) const;

 private:
  struct Task {
    enum Kind { None, Start, Chunk, Finish } kind = None;
    TableState* table = nullptr;
    int chunk = -1;
  };
  void worker();
  Task next_task();  // caller holds Engine::mu
  void start_table(TableState& t, std::unique_ptr<DestinationWriter>& writer);
  bool copy_chunk(TableState& t, int index, std::unique_ptr<DestinationWriter>& writer);
  void copy_chunk_once(TableState& t, int index, std::unique_ptr<DestinationWriter>& writer, std::int64_t& written);
  void finish_table(TableState& t, std::unique_ptr<DestinationWriter>& writer);
  void create_objects(TableState& t, bool build_key);
  std::vector<SnapshotChunk> plan_chunks(const TableState& t);

  Engine& e_;
  std::vector<std::thread> threads_;
};

using EventGroups = std::vector<std::pair<TableState*, std::vector<ChangeEvent>>>;
using QuarantineByTable = std::map<TableState*, std::vector<QuarantinedRow>>;

// Reads the change stream and applies it. Runs on the runner thread (step() per loop round).
class StreamApplier {
 public:
  explicit StreamApplier(Engine& e) : e_(e) {}
  // One round: opens the stream when needed, polls, applies. Returns whether events arrived.
  bool step(std::chrono::milliseconds wait);
  void close();
  bool open() const { return stream_ != nullptr; }

 private:
  // A run of a batch applied table by table. A batch is cut into segments where a derived
  // cascade must land between a table's own changes (cascades.h): each segment's cascades are
  // applied after its tables' changes.
  struct Segment {
    EventGroups groups;
    std::map<TableState*, std::size_t> group_of;
    std::set<const TableState*> reached;                       // tables its cascades change
    std::vector<std::pair<TableState*, ChangeEvent>> parents;  // cascading events, as read
    std::vector<CascadeGraph::Derived> cascades;                // derived from them, deepest first
  };
  Position open_from();  // sets each table's skip point; caller holds Engine::mu
  std::vector<StreamTable> stream_tables();  // caller holds Engine::mu
  void apply_batch(std::vector<ChangeEvent>& events);
  void route(std::vector<ChangeEvent>& events, std::vector<Segment>& segments, Position& boundary, std::int64_t& last_commit_us);
  void derive_cascades(std::vector<Segment>& segments);
  bool applies_at(const TableState& t, const Position& at) const;  // caller holds Engine::mu
  void commit_batch(std::vector<Segment>& segments, QuarantineByTable& quarantined, const Position& boundary);
  void after_commit(const std::vector<Segment>& segments, QuarantineByTable& quarantined, const Position& boundary,
                    std::int64_t last_commit_us);
  bool schema_event(const ChangeEvent& ev);
  void advance_idle();
  void run_due_work();

  struct HeldMove {
    TableState* table;
    Position held;  // empty: the table follows the session's position again
  };
  std::vector<CheckpointEntry> position_entries(const Position& boundary, std::vector<HeldMove>& moves);

  // Whether a table that applies changes is missing from the tables the stream was opened with
  // (it joined since): the stream must reopen to deliver its events. Caller holds Engine::mu.
  bool missing_tables() const;

  Engine& e_;
  std::unique_ptr<ChangeStream> stream_;
  std::unique_ptr<DestinationWriter> writer_;
  Clock::TimePoint last_idle_advance_{};
  int failures_ = 0;  // consecutive stream failures
  Clock::TimePoint first_failure_{};
  std::vector<HeldMove> moves_;
  QuarantineByTable empty_quarantine_;
  CascadeGraph cascades_;     // foreign keys among the streamed tables (rebuilt at each open)
  bool derive_ = false;       // the source does not log cascades: they are derived
};

// Schema changes (see schema_evolver.cpp).
class SchemaEvolver {
 public:
  explicit SchemaEvolver(Engine& e) : e_(e) {}
  // A change of `t`'s columns seen at `at`. Returns true when the table has a new plan (the
  // stream must reopen with it).
  bool evolve(TableState& t, const SchemaChange& sc, const Position& at, std::unique_ptr<DestinationWriter>& writer);
  // Re-reads columns from the source (a pending backfill) for a table; runs on the stream thread
  // (or the poller for incremental tables) once the stream has passed the task's position.
  void run_backfill(TableState& t, std::unique_ptr<DestinationWriter>& writer);

 private:
  std::int64_t backfill_chunk(TableState& t, const TablePlan& plan, const TableSchema& proj, const std::vector<int>& read_index,
                              const std::vector<bool>& mask, const SnapshotChunk& chunk, std::unique_ptr<DestinationWriter>& writer);
  Engine& e_;
};

class IncrementalPoller {
 public:
  explicit IncrementalPoller(Engine& e) : e_(e) {}
  // Polls every incremental table that is due; returns whether any rows arrived.
  bool poll_due();

 private:
  std::int64_t poll(TableState& t);
  // The batch phase of `t`'s next poll (caller holds Engine::mu).
  BatchPhase poll_phase(const TableState& t, const Config& cfg) const;
  Engine& e_;
  std::unique_ptr<DestinationWriter> writer_;
  Clock::TimePoint next_{};
};

// Tables joining, leaving and changing while the session runs (see lifecycle.cpp).
class Lifecycle {
 public:
  explicit Lifecycle(Engine& e) : e_(e) {}
  void reload(Config config);
  // Looks at the source's tables: new ones selected by the config join, vanished ones are
  // dropped, schema differences are queued for the stream. Runs on the runner thread.
  void discover();
  // Timers of the live loop: discovery, cool-down of failed tables, log retention.
  void tick();
  void created(const TableId& id);
  void dropped(const TableId& id);

  void pause(const std::string& name);
  void resume(const std::string& name);
  void stop(const std::string& name);
  void resync(const std::string& name);

 private:
  void apply_plans(std::vector<TablePlan> plans, const std::shared_ptr<const Config>& config,
                   const std::shared_ptr<const TypeMapper>& mapper);
  void add_table(TablePlan plan, std::unique_lock<std::mutex>& lock);
  bool readd(TableState& t, TablePlan plan, std::unique_lock<std::mutex>& lock, std::vector<CheckpointEntry>& entries);
  void take_up(TableState& t, std::unique_lock<std::mutex>& lock);
  void restart_copy(TableState& t, std::unique_lock<std::mutex>& lock, std::vector<CheckpointEntry>& entries);
  void apply_again(TableState& t, std::unique_lock<std::mutex>& lock, std::vector<CheckpointEntry>& entries);
  void queue_reconcile(const TableSchema& now);
  void enforce_retention();
  void retry_failed();
  Engine& e_;
  Clock::TimePoint next_discovery_{};
  Clock::TimePoint next_timers_{};
};

class Progress {
 public:
  explicit Progress(Engine& e) : e_(e) {}
  SessionStatus status() const;
  TableStatus table_status(const TableState& t, Clock::TimePoint now) const;  // caller holds Engine::mu

 private:
  Engine& e_;
};

struct Engine {
  Engine(Config config, SessionOptions options, std::shared_ptr<SourceConnector> source,
         std::shared_ptr<DestinationConnector> destination);
  ~Engine();

  // ---- the session's life (engine.cpp) ----
  void run();  // runner body: throws cdc::Error for session-level failures
  void request_stop();
  bool stopping() const { return stop_flag.load(); }
  // Sleeps up to `d` on the engine's clock, waking early on stop. False when stopping.
  bool sleep_for(std::chrono::milliseconds d);
  std::shared_ptr<const Config> config() const;  // the current config (reload replaces it)

  // ---- opening and restoring (open.cpp) ----
  void open();
  void restore(const std::map<std::string, std::string>& entries);
  // Caller holds mu; returns entries to write once unlocked.
  std::vector<CheckpointEntry> restore_table(TableState& t, TablePlan plan, const Config& config,
                                             const std::map<std::string, std::string>& entries);
  std::vector<CheckpointEntry> restore_removed(const std::string& id, TableRecord rec, const std::map<std::string, std::string>& entries);
  void restore_chunks(TableState& t, const std::map<std::string, std::string>& entries);  // caller holds mu
  void prepare_targets();
  // A source that does not log its foreign-key cascades, into a destination that cannot select
  // rows: keeps the copy of the tables they reach (cascade_state.h) and wraps the destination.
  void setup_cascade_state(const std::map<std::string, std::string>& entries);
  void prepare_stream();

  // ---- shared helpers (engine.cpp) ----
  TableState* find_table(const std::string& name) const;  // caller holds mu; throws Config
  bool position_after(const Position& a, const Position& b) const { return source->compare_positions(a, b) > 0; }
  CheckpointEntry table_entry(const TableState& t) const;  // caller holds mu
  // The table's target as prepare_table() gets it before its copy: a fresh copy of a keyed table,
  // whose chunks commit with their checkpoints, lets the destination build the key after the
  // load (DestinationTable::key_after_load; finish_table asks for the key). Caller holds mu.
  DestinationTable copy_target(const TableState& t) const;
  // Called by a snapshot worker or the poller done with `t` (caller holds mu in `lock`): the plan
  // a reload left in TableState::pending_plan takes effect once no one is at work on the table,
  // between stream batches (the stream reads plans without the lock too).
  void take_pending_plan(TableState& t, std::unique_lock<std::mutex>& lock);
  void save_table(TableState& t);
  void put(const std::vector<CheckpointEntry>& entries) { committer->put(entries); }
  // Counts an error for the status and metrics (`t` null: the change stream's) and queues it for
  // the run history's error log (flush_errors). Caller holds mu.
  void count_error(TableState* t, std::string_view kind, std::string_view message);
  void observe_batch(double seconds);  // caller holds mu
  // The phase of the next change-stream batch (catch_up while the stream's lag is above
  // catch_up_lag_seconds); a change of phase is logged when the two phases' sizes differ.
  BatchPhase stream_batch_phase(const Config& cfg);
  // Logs that `t` (null: the change stream) moved to batch phase `phase` (caller does not hold mu).
  void log_batch_phase(const TableState* t, BatchPhase phase, std::int64_t rows);

  // ---- run history (engine.cpp): the checkpoint store's runs and errors tables ----
  void begin_run(const std::string& holder);  // once the lease is held
  void end_run(SessionState final_state) noexcept;
  // Writes the errors counted since the last call (caller does not hold mu). A store that cannot
  // take them now gets them at the next call.
  void flush_errors() noexcept;
  // Marks a table failed (kept where it was; retried after retry.table_cooldown_s).
  void fail_table(TableState& t, const std::string& message);
  // Stops a table from applying changes at the position it has applied through; returns the
  // checkpoint entries that record it (caller holds mu and writes them after unlocking).
  std::vector<CheckpointEntry> hold(TableState& t);
  // The table applies changes again; the stream replays from its held position when needed.
  // Caller holds mu, taken with lock_between_batches() (or is the stream thread itself).
  void unhold(TableState& t);
  // The position the source may release its log up to (caller holds mu).
  Position release_point() const;
  // Runs `f` under the retry policy; retries are counted in the table's status.
  void with_retry(TableState* t, std::string_view what, const std::function<void()>& f);
  std::int64_t now_us() const { return clock->wall_us(); }
  StreamTable stream_table(const TableState& t) const;
  // Plans a table from `source_schema` with the current config (the stream's and discovery's
  // re-plans use the same rules as the first plan).
  TablePlan plan_for(const TableSchema& source_schema, const std::string& key) const;
  void notify() { cv.notify_all(); }
  // Whether unconvertible rows go to the quarantine table (else they fail their table).
  bool quarantining() const;
  // Takes mu once no stream batch is in flight: holds change `held` positions that a batch's
  // checkpoint also moves, so the two must not interleave.
  std::unique_lock<std::mutex> lock_between_batches();

  // ---- fixed once open() returns ----
  SessionOptions options;
  std::shared_ptr<Clock> clock;
  std::shared_ptr<SourceConnector> source;
  std::shared_ptr<DestinationConnector> destination;
  DestinationCapabilities caps;
  std::shared_ptr<const TypeMapper> mapper;
  std::shared_ptr<CheckpointStore> store;
  std::unique_ptr<SessionLease> lease;
  std::unique_ptr<Committer> committer;
  std::shared_ptr<CascadeState> cascade_state;  // set by setup_cascade_state() when needed
  std::string name;
  std::string log_name;  // fixed at construction: the pipeline name the session's threads log under
  RetryRunner retry;

  // ---- guarded by mu ----
  mutable std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<const Config> config_;
  // Configs replaced by reloads, kept so that references handed out by config() stay valid.
  std::vector<std::shared_ptr<const Config>> retired_configs;
  bool opened = false;  // open() returned: connectors, store and tables are in place
  std::atomic<bool> stop_flag{false};
  std::atomic<bool> stopped_by_user{false};  // ReplicationSession::stop(): the run ends "stopped"
  SessionState state = SessionState::Idle;
  std::string error;  // session-level error
  bool paused_all = false;
  std::vector<std::unique_ptr<TableState>> tables;  // never shrinks while running: pointers stay valid
  std::map<TableId, TableState*> by_source;
  Position stream_position;  // the position every streaming table not held has applied through
  // Source commit time through which the stream has applied everything: the commit time of the
  // last batch's last transaction, or the time of an empty poll (nothing was pending). 0 = unknown.
  std::int64_t applied_through_us = 0;
  std::map<std::string, std::int64_t> errors;  // change-stream errors by kind
  DurationHistogram batch_apply;               // stream batch apply times
  std::int64_t started_wall_us = 0;
  bool restart_stream = false;
  std::string snapshot_id;       // shared view of the first snapshot phase (empty = none)
  bool initial_phase = true;     // the tables found at start are being copied (under snapshot_id)
  bool stream_waits = true;      // ... and the stream waits for them (a fresh session)
  bool stream_started = false;   // the change stream has been opened at least once
  int stream_batch_phase_ = -1;  // the change stream's last batch phase (-1 = none yet)
  bool discover_now = false;     // the live loop looks at the source's tables at the next round
  bool applying = false;         // a stream batch is between routing and its commit
  bool release_moved = false;    // a hold was let go: the stream tells the source at its next round
  int index_jobs = 0;            // create_table_objects() calls running (at most schema.index_jobs)
  Clock::TimePoint started{};
  std::int64_t events_received = 0;
  RunRecord run_record;                     // this run in the store's history (run 0: none)
  std::vector<ErrorRecord> pending_errors;  // counted, not yet in the store's error log
  std::int64_t run_rows_base = 0;           // rows and changes the tables had when this run began
  std::int64_t run_changes_base = 0;

  // ---- parts ----
  SnapshotPool snapshots{*this};
  StreamApplier streamer{*this};
  SchemaEvolver evolver{*this};
  IncrementalPoller poller{*this};
  Lifecycle lifecycle{*this};
  Progress progress{*this};

 private:
  void live_loop();
  bool finished_work() const;  // caller holds mu
  void create_foreign_keys();
  void save_live_tables();
};

}  // namespace cdc::detail
