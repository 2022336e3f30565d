// One table's state in a running session, and the checked transitions between its phases.
//
// Everything here is guarded by the engine's one mutex (Engine::mu); functions that change a
// phase take the held lock as proof. A table's phase changes only through transition(), which
// refuses moves the life cycle does not have (docs/lifecycle.md):
//
//   Pending -> Snapshot -> Streaming            (replicate)
//   Pending -> Snapshot -> Done                 (copy)
//   Pending -> Streaming                        (snapshot: never)
//   Pending -> Incremental
//   Streaming -> Resyncing -> Streaming         (resync_table, snapshot: always, needs_resync)
//   any live phase -> Failed -> (cool-down) -> what it was doing
//   any live phase -> Stopped -> (resume) -> what it was doing
//   any phase -> Removed -> (selected again) -> Pending / Streaming
//   any phase -> Dropped -> (created again) -> Pending
//
// Pausing and `ddl: pause` holds are flags (paused, rec.ddl_held) on top of the phase.
// A table "holds" while it does not apply changes (paused, held by ddl, being copied, failed,
// stopped, removed): its `held` position pins the source log (see Engine::release_point).
#pragma once

#include "core/session/ledger.h"

#include <cdc/plan.h>
#include <cdc/session.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cdc::detail {

// Rate over the last few seconds from (time, running total) samples.
class RateMeter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  void add(TimePoint now, std::int64_t total);
  double rate(TimePoint now) const;

 private:
  std::deque<std::pair<TimePoint, std::int64_t>> samples_;
};

enum class ChunkState : std::uint8_t { Pending, Running, Done };

// A schema difference found by looking at the source (at start, by discovery) rather than in the
// stream: applied once the stream has passed `observed_at`, so rows logged before it are applied
// with the columns they had.
struct PendingReconcile {
  TableSchema after;
  Position observed_at;
};

struct TableState {
  std::string id;  // source table id text: status name and checkpoint key
  TableMode mode = TableMode::Replicate;
  TablePlan plan;
  bool identity = true;  // values need no conversion
  bool reorder = false;  // target columns differ from the read columns in number or order

  TableRecord rec;  // the persisted part (phase, flags, counters); rec.phase is THE phase

  // Snapshot / resync.
  std::vector<SnapshotChunk> chunks;
  std::vector<ChunkState> chunk_state;
  int chunks_running = 0;
  int chunks_done = 0;
  std::int64_t rows_done = 0;
  bool starting = false;       // a worker is planning its snapshot
  bool finishing = false;      // a worker is finishing its snapshot (resync sweep)
  bool polling = false;        // the incremental poller is reading or writing it
  // Snapshot workers and the poller read the plan without Engine::mu: a reload's plan for a table
  // one of them is at waits here (same shape) until the last one is done (take_pending_plan), and
  // a new shape waits for them with `replanning` set, which keeps new tasks away (Lifecycle::readd).
  std::optional<TablePlan> pending_plan;
  bool replanning = false;
  bool at_work() const { return starting || finishing || chunks_running > 0 || polling; }
  bool late_join = false;      // copied beside a running stream (added, resynced, snapshot: always)

  // Stream. `held`: the position through which the table has applied changes when it is behind
  // the session's stream position (holding, or catching up after holding); empty = it follows
  // the session's position. `holding`: it applies nothing now.
  Position held;
  bool holding = false;
  Position skip_until;         // events at or before it are already in the target (cleared once passed)
  bool awaiting_replay = false;  // released behind the stream: applies nothing until it reopens from `held`
  bool in_stream = false;        // the open stream was opened with it: its events arrive (else it waits for a reopen)
  bool ddl_resume = false;     // the next schema change is applied whatever the ddl policy
  TableSchema source_seen;     // the source table as the target reflects it (ledger "schema:")
  std::optional<BackfillTask> backfill;      // columns to re-read once the stream passed `after`
  std::optional<PendingReconcile> reconcile; // a difference found by discovery
  int missing = 0;             // consecutive looks at the source that did not find it

  // Status.
  int attempts = 0;
  std::string last_error;       // last retried error (status), rec.error is the failure
  RateMeter rate;
  std::int64_t ops[4] = {0, 0, 0, 0};      // stream changes applied by this process, by ChangeOp
  std::map<std::string, std::int64_t> errors;  // errors of this process by kind
  std::int64_t polled_at_us = 0;           // incremental: when its last poll finished
  std::int64_t last_poll_rows = -1;        // incremental: rows its last poll read (-1 = none yet)
  int batch_phase = -1;                    // incremental: the BatchPhase of its last poll (-1 = none yet)
  std::int64_t retained_bytes = -1;        // source log it holds (measured by enforce_retention)

  TablePhase phase() const { return rec.phase; }
  bool live() const;  // a phase in which the table does work
};

// Whether the life cycle has a move from `from` to `to`.
bool allowed_transition(TablePhase from, TablePhase to);

// Moves a table to `to`, or throws Error(Internal) naming the table and both phases. `lock`
// proves Engine::mu is held.
void transition(TableState& t, TablePhase to, const std::unique_lock<std::mutex>& lock);
void transition(TableState& t, TablePhase to, const std::lock_guard<std::mutex>& lock);

// The source table as a plan must see it: `after`, with the definitions `ddl: ignore` keeps
// (columns whose old type stays, columns left out).
TableSchema effective_source(const std::map<std::string, Column>& kept_types, const std::set<std::string>& left_out,
                             const TableSchema& after);

// Installs a table's plan and what follows from it for conversions.
void set_plan(TableState& t, TablePlan plan);

// A fingerprint of what the config selects of a table: its target, columns, renames, filter and
// key. Rows written under one fingerprint are not what another would write (TableRecord::shape).
// Unlike a reload's comparison of plans (Lifecycle::readd), which also sees the target's column
// types, it leaves out what the stream's schema changes alter, so that runs can compare it.
std::string selection_shape(const TablePlan& plan);

}  // namespace cdc::detail
