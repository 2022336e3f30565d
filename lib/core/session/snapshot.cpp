// The snapshot pool: workers that plan, copy and finish tables, chunk by chunk, each chunk in one
// destination transaction together with its checkpoint.
//
// A table copied beside a running stream (added by a reload, created at the source, resynced)
// hands over without a gap: before its first row is read the source installs its capture
// (extend_capture) and tells its position L0 (current_position); the table's changes are held
// from L0 while it is copied and replayed afterwards. A keyed table converges under that replay
// (upserts of full rows, deletes by key); a table without a key is read as one chunk whose
// reader reports the exact position of what it read, and only changes after it are applied.
// A resync upserts every chunk (the target stays readable), records the keys it wrote, and at
// the end removes the target rows whose keys the source no longer has.
#include "core/session/convert.h"
#include "core/session/engine.h"

#include "core/failpoint.h"
#include "core/logging.h"
#include "core/text_util.h"

#include <cdc/error.h>
#include <cdc/pipelines.h>

#include <fmt/format.h>

#include <algorithm>

namespace cdc::detail {

SnapshotPool::~SnapshotPool() { join(); }

void SnapshotPool::start(int workers) {
  for (int i = 0; i < workers; ++i)
    threads_.emplace_back([this] {
      ScopedLogPipeline tag(e_.log_name);
      worker();
    });
}

void SnapshotPool::join() {
  for (auto& th : threads_)
    if (th.joinable()) th.join();
  threads_.clear();
}

bool SnapshotPool::busy(bool initial_only) const {
  for (const auto& t : e_.tables) {
    if (initial_only && t->late_join) continue;
    TablePhase p = t->phase();
    if ((p == TablePhase::Pending && t->mode != TableMode::Incremental) || p == TablePhase::Snapshot || p == TablePhase::Resyncing)
      return true;
  }
  return false;
}

SnapshotPool::Task SnapshotPool::next_task() {
  if (e_.paused_all) return {};
  const Config& cfg = *e_.config_;
  int active = 0;
  for (const auto& t : e_.tables)
    if (t->at_work()) ++active;
  for (const auto& tp : e_.tables) {
    TableState& t = *tp;
    TablePhase p = t.phase();
    if (t.rec.paused || t.starting || t.finishing || t.replanning) continue;
    bool copying = p == TablePhase::Snapshot || p == TablePhase::Resyncing;
    bool needs_plan = (p == TablePhase::Pending && t.mode != TableMode::Incremental) || (copying && t.chunks.empty());
    if (needs_plan) {
      if (active >= cfg.parallel_tables) continue;
      return {Task::Start, &t, -1};
    }
    if (!copying) continue;
    if (t.chunks_done == static_cast<int>(t.chunks.size()) && t.chunks_running == 0) return {Task::Finish, &t, -1};
    if (t.chunks_running >= *t.plan.settings.parallel_chunks) continue;
    if (t.chunks_running == 0 && active >= cfg.parallel_tables) continue;
    for (std::size_t i = 0; i < t.chunk_state.size(); ++i)
      if (t.chunk_state[i] == ChunkState::Pending) return {Task::Chunk, &t, static_cast<int>(i)};
  }
  return {};
}

void SnapshotPool::worker() {
  std::unique_ptr<DestinationWriter> writer;
  // Shared with other sessions: a slot is taken once there is work, and given back after it, so
  // that a worker waiting for work never keeps another pipeline's worker from running.
  WorkerBudget* budget = e_.options.worker_budget.get();
  for (;;) {
    Task task;
    bool slot = false;
    {
      std::unique_lock<std::mutex> lock(e_.mu);
      for (;;) {
        while (!e_.stopping() && (task = next_task()).kind == Task::None)
          e_.clock->wait(e_.cv, lock, std::chrono::seconds(1), [&] { return e_.stopping() || next_task().kind != Task::None; });
        if (e_.stopping()) return;
        if (!budget) break;
        lock.unlock();
        if (!budget->acquire([this] { return e_.stopping(); })) return;
        lock.lock();
        if (!e_.stopping() && (task = next_task()).kind != Task::None) {
          slot = true;
          break;
        }
        budget->release();  // another worker took the task meanwhile
      }
      TableState& t = *task.table;
      if (task.kind == Task::Start) t.starting = true;
      if (task.kind == Task::Finish) t.finishing = true;
      if (task.kind == Task::Chunk) {
        t.chunk_state[static_cast<std::size_t>(task.chunk)] = ChunkState::Running;
        t.chunks_running += 1;
      }
    }
    TableState& t = *task.table;
    switch (task.kind) {
      case Task::Start:
        try {
          start_table(t, writer);
        } catch (const Error& err) {
          if (err.kind() != ErrorKind::Cancelled) e_.fail_table(t, err.what());
        } catch (const std::exception& err) {
          e_.fail_table(t, err.what());
        }
        break;
      case Task::Chunk: {
        bool ok = copy_chunk(t, task.chunk, writer);
        std::lock_guard<std::mutex> lock(e_.mu);
        t.chunks_running -= 1;
        if (static_cast<std::size_t>(task.chunk) < t.chunk_state.size())
          t.chunk_state[static_cast<std::size_t>(task.chunk)] = ok ? ChunkState::Done : ChunkState::Pending;
        if (ok) t.chunks_done += 1;
        break;
      }
      case Task::Finish:
        try {
          finish_table(t, writer);
        } catch (const Error& err) {
          if (err.kind() != ErrorKind::Cancelled) e_.fail_table(t, err.what());
        } catch (const std::exception& err) {
          e_.fail_table(t, err.what());
        }
        break;
      case Task::None: break;
    }
    {
      std::unique_lock<std::mutex> lock(e_.mu);
      t.starting = false;
      t.finishing = false;
      e_.take_pending_plan(t, lock);
      e_.cv.notify_all();
    }
    if (slot) budget->release();
  }
}

std::vector<SnapshotChunk> SnapshotPool::plan_chunks(const TableState& t) {
  SnapshotPlanOptions options;
  options.chunk_rows = *t.plan.settings.chunk_rows;
  options.min_chunks = *t.plan.settings.parallel_chunks;
  // Read as one chunk: a replicated table without a key, at one position (replaying changes over
  // rows already copied would double them, since nothing identifies a row); and a view without a
  // configured key, which has no physical position (rowid, ctid) to split it by.
  options.whole_table = t.plan.read.primary_key.empty() && (t.mode == TableMode::Replicate || t.plan.source.view);
  auto chunks = e_.source->plan_snapshot(t.plan.read, options);
  if (chunks.empty()) chunks.push_back(SnapshotChunk{});
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    chunks[i].index = static_cast<int>(i);
    chunks[i].count = static_cast<int>(chunks.size());
  }
  return chunks;
}

// Plans a table's chunks and records the plan; a fresh copy also empties the target, in the
// same transaction. A table joining a running stream first gets its capture and its position.
void SnapshotPool::start_table(TableState& t, std::unique_ptr<DestinationWriter>& writer) {
  bool resync = false, late = false;
  StreamTable st;
  DestinationTable target;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    resync = t.phase() == TablePhase::Resyncing;
    late = t.late_join;
    st = e_.stream_table(t);
    target = e_.copy_target(t);
  }
  Position from;
  if (late) {
    e_.with_retry(&t, "prepare the target table", [&] { e_.destination->prepare_table(target); });
    if (t.mode == TableMode::Replicate) {
      // Pin the log first: the stream must not let the source release what this table will
      // replay while its position is being read (SQLite prunes its log on acknowledgement).
      {
        std::lock_guard<std::mutex> lock(e_.mu);
        if (t.held.empty()) t.held = e_.stream_position;
        t.holding = true;
      }
      e_.with_retry(&t, "install change capture", [&] { e_.source->extend_capture({st}); });
      e_.with_retry(&t, "read the source's position", [&] { from = e_.source->current_position(); });
      if (from.empty()) {
        std::lock_guard<std::mutex> lock(e_.mu);
        from = e_.stream_position;
        logf(LogLevel::Warn, "session", t.id, "the source cannot tell its position: handing over at the stream's position {}",
             from.str());
      }
    }
  }
  std::vector<SnapshotChunk> chunks;
  e_.with_retry(&t, "plan the snapshot", [&] { chunks = plan_chunks(t); });

  std::map<std::string, std::string> old;
  e_.with_retry(&t, "read the checkpoints", [&] { old = e_.store->load(e_.name); });
  const std::string old_set = t.rec.resync_set;
  std::vector<CheckpointEntry> entries;
  for (const auto& key : Ledger::keys_of(old, t.id)) {
    auto k = Ledger::parse_key(key);
    if (k.kind == LedgerKey::Kind::Chunk || k.kind == LedgerKey::Kind::Backfill) entries.push_back({key, ""});
  }
  entries.push_back({Ledger::plan_key(t.id), Ledger::encode_chunks(chunks)});
  std::string set;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    if (late && t.mode == TableMode::Replicate) {
      t.rec.snapshot_position = from.str();
      t.held = from;
      t.holding = true;
    }
    if (resync) set = fmt::format("r{:08x}", static_cast<std::uint32_t>(fnv1a(t.id + std::to_string(e_.now_us()))));
    TableRecord saved = t.rec;
    if (!resync) t.rec.phase = TablePhase::Snapshot;  // recorded with the plan; taken below
    t.rec.resync_set = set;
    t.rec.error.clear();
    entries.push_back(e_.table_entry(t));
    t.rec = saved;
    if (!t.held.empty()) entries.push_back({Ledger::held_key(t.id), t.held.str()});
    entries.push_back({Ledger::schema_key(t.id), Ledger::encode_schema(t.source_seen.columns.empty() ? t.plan.source : t.source_seen)});
  }
  e_.with_retry(&t, "start the snapshot", [&] {
    DestinationTxn txn(*e_.destination, writer);
    if (!resync) txn->truncate(t.plan.target);
    else if (!old_set.empty() && e_.caps.resync_sweep) txn->drop_key_set(t.plan.target, old_set);
    txn.commit(*e_.committer, entries);
    failpoint("snapshot.planned");
  });
  std::lock_guard<std::mutex> lock(e_.mu);
  if (!resync) transition(t, TablePhase::Snapshot, lock);
  t.rec.resync_set = set;
  t.rec.error.clear();
  t.chunks = std::move(chunks);
  t.chunk_state.assign(t.chunks.size(), ChunkState::Pending);
  t.chunks_done = 0;
  t.rows_done = 0;
  e_.cv.notify_all();
}

bool SnapshotPool::copy_chunk(TableState& t, int index, std::unique_ptr<DestinationWriter>& writer) {
  try {
    std::int64_t written = 0;
    e_.with_retry(&t, fmt::format("copy chunk {}", index), [&] {
      try {
        copy_chunk_once(t, index, writer, written);
      } catch (...) {
        // A failed attempt leaves nothing behind: its transaction, its row count.
        std::lock_guard<std::mutex> lock(e_.mu);
        t.rows_done -= written;
        written = 0;
        throw;
      }
    });
    return true;
  } catch (const Error& err) {
    if (err.kind() != ErrorKind::Cancelled) e_.fail_table(t, err.what());
  } catch (const std::exception& err) {
    e_.fail_table(t, err.what());
  }
  return false;
}

void SnapshotPool::copy_chunk_once(TableState& t, int index, std::unique_ptr<DestinationWriter>& writer, std::int64_t& written) {
  ReadRequest req;
  bool resync, single, sweep;
  std::string set;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    req.schema = t.plan.read;
    req.chunk = t.chunks.at(static_cast<std::size_t>(index));
    req.where = t.plan.settings.where;
    req.batch_size = t.plan.settings.batch_size->initial;
    req.snapshot_id = t.late_join ? std::string() : e_.snapshot_id;
    // A table without a key copied beside the stream hands over at exactly what it read.
    req.exact_position = t.late_join && t.mode == TableMode::Replicate && t.plan.read.primary_key.empty();
    resync = t.phase() == TablePhase::Resyncing;
    single = t.chunks.size() == 1;
    set = t.rec.resync_set;
    sweep = resync && e_.caps.resync_sweep && !t.plan.target.schema.primary_key.empty();
  }
  auto reader = e_.source->read_chunk(req);
  DestinationTxn txn(*e_.destination, writer);
  // A table without a key is re-copied whole in one transaction: readers see the old rows until
  // the new ones commit.
  if (resync && t.plan.target.schema.primary_key.empty()) txn->truncate(t.plan.target);
  const bool quarantine = e_.quarantining();
  std::vector<Row> batch;
  std::vector<QuarantinedRow> quarantined;
  std::int64_t quarantined_total = 0;
  while (reader->next(batch)) {
    {
      std::lock_guard<std::mutex> lock(e_.mu);
      TablePhase p = t.phase();
      if (e_.stopping() || t.rec.paused || (p != TablePhase::Snapshot && p != TablePhase::Resyncing))
        throw Error(ErrorKind::Cancelled, "stopped");
    }
    quarantined.clear();
    convert_rows(t, batch, quarantine ? &quarantined : nullptr, "snapshot", e_.now_us());
    txn->write_rows(t.plan.target, batch);
    if (sweep) txn->stage_keys(t.plan.target, set, batch);
    write_quarantine(txn.writer(), e_.name, quarantined);
    quarantined_total += static_cast<std::int64_t>(quarantined.size());
    written += static_cast<std::int64_t>(batch.size());
    std::lock_guard<std::mutex> lock(e_.mu);
    t.rows_done += static_cast<std::int64_t>(batch.size());
    t.rate.add(e_.clock->now(), t.rows_done);
  }
  std::vector<CheckpointEntry> entries{{Ledger::chunk_key(t.id, index), std::to_string(written)}};
  Position read_at = reader->position();
  if (t.mode == TableMode::Replicate && single && !read_at.empty()) {
    // The whole table was read at one known position: its stream takes over exactly there.
    std::lock_guard<std::mutex> lock(e_.mu);
    t.rec.snapshot_position = read_at.str();
    t.held = read_at;
    entries.push_back(e_.table_entry(t));
    entries.push_back({Ledger::held_key(t.id), read_at.str()});
  }
  failpoint("snapshot.before_commit");
  txn.commit(*e_.committer, entries);
  failpoint("snapshot.chunk_committed");
  std::lock_guard<std::mutex> lock(e_.mu);
  t.rec.quarantined += quarantined_total;
}

// Indexes, constraints and sequences of a freshly copied table (schema.index_jobs at once). A
// failure is reported, not fatal: the rows are there and the table streams without them. Before
// them, the primary key of a table loaded without it (`build_key`): a failure of that fails the
// table, which cannot take changes without its key.
void SnapshotPool::create_objects(TableState& t, bool build_key) {
  auto cfg = e_.config();
  if (!e_.caps.schema_objects && !build_key) return;
  {
    std::unique_lock<std::mutex> lock(e_.mu);
    const int jobs = std::max(1, cfg->schema.index_jobs);
    e_.cv.wait(lock, [&] { return e_.index_jobs < jobs || e_.stopping(); });
    if (e_.stopping()) throw Error(ErrorKind::Cancelled, "stopped");
    ++e_.index_jobs;
  }
  struct Slot {
    Engine& e;
    ~Slot() {
      std::lock_guard<std::mutex> lock(e.mu);
      --e.index_jobs;
      e.cv.notify_all();
    }
  } slot{e_};
  if (build_key) e_.with_retry(&t, "build the primary key", [&] { e_.destination->prepare_table(t.plan.target); });
  if (!e_.caps.schema_objects) return;
  try {
    auto report = e_.destination->create_table_objects(t.plan.target, e_.source->dialect(), cfg->schema);
    for (const auto& c : report.created) logf(LogLevel::Info, "session", t.id, "created {}", c);
    for (const auto& s : report.skipped) logf(LogLevel::Warn, "session", t.id, "not created: {}", s);
  } catch (const std::exception& err) {
    logf(LogLevel::Error, "session", t.id, "creating its indexes and constraints failed: {}", err.what());
  }
}

// All chunks are in: a resync removes the rows the source no longer has; the table then follows
// the stream from its hand-over position (a copy is done).
void SnapshotPool::finish_table(TableState& t, std::unique_ptr<DestinationWriter>& writer) {
  bool resync;
  std::string set;
  std::vector<CheckpointEntry> entries;
  TablePhase next;
  bool build_key;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    build_key = e_.copy_target(t).key_after_load;
    resync = t.phase() == TablePhase::Resyncing;
    set = t.rec.resync_set;
    next = t.mode == TableMode::Copy ? TablePhase::Done : TablePhase::Streaming;
    TableRecord saved = t.rec;
    t.rec.phase = next;
    t.rec.resync_set.clear();
    t.rec.error.clear();
    entries.push_back(e_.table_entry(t));
    t.rec = saved;
  }
  std::int64_t removed = 0;
  if (!resync) create_objects(t, build_key);
  const bool sweep = resync && e_.caps.resync_sweep && !set.empty() && !t.plan.target.schema.primary_key.empty();
  e_.with_retry(&t, "finish the snapshot", [&] {
    DestinationTxn txn(*e_.destination, writer);
    if (sweep) removed = txn->sweep_unstaged(t.plan.target, set);
    failpoint("snapshot.before_finish");
    txn.commit(*e_.committer, entries);
    failpoint("snapshot.finished");
  });
  // Between stream batches: a batch in flight dropped this table's events while it held.
  auto lock = e_.lock_between_batches();
  transition(t, next, lock);
  t.rec.resync_set.clear();
  t.rec.error.clear();
  t.late_join = true;  // a later copy of it (resync) runs beside the stream
  if (resync)
    logf(LogLevel::Info, "session", t.id, "resync done: {} rows copied, {} rows the source no longer has removed", t.rows_done,
         removed);
  else
    logf(LogLevel::Info, "session", t.id, "snapshot done: {} rows", t.rows_done);
  if (t.mode == TableMode::Replicate) e_.unhold(t);
  e_.cv.notify_all();
}

}  // namespace cdc::detail
