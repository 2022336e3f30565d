// The engine's shared core: the session's life (run, live loop, stop), holds and releases of
// the source log, failures, checkpoints of table state. See engine.h for the parts.
#include "core/session/engine.h"

#include "core/logging.h"
#include "core/run_history.h"

#include <cdc/error.h>
#include <cdc/plan.h>
#include <cdc/version.h>

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace cdc::detail {

Engine::Engine(Config config, SessionOptions opts, std::shared_ptr<SourceConnector> src, std::shared_ptr<DestinationConnector> dst)
    : options(std::move(opts)),
      clock(options.clock ? options.clock : system_clock()),
      source(std::move(src)),
      destination(std::move(dst)),
      retry(*clock, [this](std::chrono::milliseconds d) { return sleep_for(d); }),
      config_(std::make_shared<const Config>(std::move(config))) {
  started = clock->now();
  started_wall_us = clock->wall_us();
  log_name = session_name(*config_);
  batch_apply.bounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  batch_apply.counts.assign(batch_apply.bounds.size() + 1, 0);
}

void Engine::count_error(TableState* t, std::string_view kind, std::string_view message) {
  auto& counts = t ? t->errors : errors;
  counts[std::string(kind)] += 1;
  if (pending_errors.size() >= 1000) return;  // the store is unreachable: the log keeps the first ones
  ErrorRecord e;
  e.at = utc_text(now_us());
  e.session = name;
  e.run = run_record.run;
  e.table = t ? t->id : std::string();
  e.kind = std::string(kind);
  e.message = std::string(message);
  e.position = stream_position.str();
  pending_errors.push_back(std::move(e));
}

void Engine::begin_run(const std::string& holder) {
  RunRecord r;
  r.session = name;
  r.kind = options.snapshot_only ? "copy" : "replicate";
  r.version = cdc::version();
  r.holder = holder;
  try {
    r.run = store->begin_run(r);
  } catch (const std::exception& ex) {
    logf(LogLevel::Warn, "session", "", "the run history could not record this run: {}", ex.what());
  }
  std::lock_guard<std::mutex> lock(mu);
  run_record = r;
  for (auto& e : pending_errors) e.run = r.run;
}

void Engine::end_run(SessionState final_state) noexcept {
  flush_errors();
  RunRecord r;
  {
    std::lock_guard<std::mutex> lock(mu);
    r = run_record;
    if (r.run == 0) return;
    // A run that ends with a table failed did not do its job, however it ended.
    std::vector<std::string> failed;
    std::int64_t rows = 0, changes = 0;
    for (const auto& t : tables) {
      rows += t->rows_done;
      changes += t->rec.changes;
      if (t->phase() == TablePhase::Failed) failed.push_back(fmt::format("table {} failed: {}", t->id, t->rec.error));
    }
    r.outcome = final_state == SessionState::Failed || !failed.empty() ? "failed" : stopped_by_user.load() ? "stopped" : "finished";
    r.error = error;
    for (const auto& f : failed)
      if (r.error.find(f) == std::string::npos) r.error += (r.error.empty() ? "" : "; ") + f;
    r.rows = std::max<std::int64_t>(0, rows - run_rows_base);
    r.changes = std::max<std::int64_t>(0, changes - run_changes_base);
  }
  try {
    store->end_run(r);
  } catch (const std::exception& ex) {
    logf(LogLevel::Warn, "session", "", "the run history could not record the end of run {}: {}", r.run, ex.what());
  }
}

void Engine::flush_errors() noexcept {
  std::vector<ErrorRecord> batch;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (pending_errors.empty() || !store) return;
    batch.swap(pending_errors);
  }
  try {
    store->record_errors(batch);
  } catch (const std::exception& ex) {
    logf(LogLevel::Debug, "session", "", "the error log could not be written now: {}", ex.what());
    std::lock_guard<std::mutex> lock(mu);
    batch.insert(batch.end(), std::make_move_iterator(pending_errors.begin()), std::make_move_iterator(pending_errors.end()));
    pending_errors.swap(batch);
    if (pending_errors.size() > 1000) pending_errors.resize(1000);
  }
}

void Engine::observe_batch(double seconds) {
  std::size_t i = 0;
  while (i < batch_apply.bounds.size() && seconds > batch_apply.bounds[i]) ++i;
  batch_apply.counts[i] += 1;
  batch_apply.sum += seconds;
  batch_apply.count += 1;
}

BatchPhase Engine::stream_batch_phase(const Config& cfg) {
  BatchPhase phase;
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu);
    std::int64_t lag_ms = applied_through_us > 0 ? std::max<std::int64_t>(0, (now_us() - applied_through_us) / 1000) : -1;
    phase = batch_phase_for_lag(lag_ms, cfg.catch_up_lag_seconds);
    changed = std::exchange(stream_batch_phase_, static_cast<int>(phase)) != static_cast<int>(phase);
  }
  // Said only where the phases differ in size: a plain number has nothing to tell.
  if (changed && cfg.stream_batch_rows.catch_up != cfg.stream_batch_rows.steady)
    log_batch_phase(nullptr, phase, cfg.stream_batch_rows.for_phase(phase));
  return phase;
}

void Engine::log_batch_phase(const TableState* t, BatchPhase phase, std::int64_t rows) {
  logf(LogLevel::Info, "session", t ? std::string_view(t->id) : std::string_view(), "{} in phase {}: batches of up to {} rows",
       t ? "incremental polls" : "change stream", to_string(phase), rows);
}

Engine::~Engine() {
  request_stop();
  snapshots.join();
}

std::shared_ptr<const Config> Engine::config() const {
  std::lock_guard<std::mutex> lock(mu);
  return config_;
}

void Engine::request_stop() {
  stop_flag = true;
  std::lock_guard<std::mutex> lock(mu);
  cv.notify_all();
}

bool Engine::quarantining() const {
  return caps.quarantine && config()->on_conversion_error == Config::OnConversionError::Quarantine;
}

std::unique_lock<std::mutex> Engine::lock_between_batches() {
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return !applying || stopping(); });
  return lock;
}

bool Engine::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu);
  clock->wait(cv, lock, d, [&] { return stopping(); });
  return !stopping();
}

TableState* Engine::find_table(const std::string& name) const {
  for (const auto& t : tables)
    if (t->id == name || t->plan.source.id.name == name || t->plan.key == name) return t.get();
  std::vector<std::string> known;
  for (const auto& t : tables) known.push_back(t->id);
  std::sort(known.begin(), known.end());
  throw config_error("table", fmt::format("no table \"{}\" in session {} (its tables: {})", name, this->name,
                                          known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", "))));
}

CheckpointEntry Engine::table_entry(const TableState& t) const {
  TableRecord r = t.rec;
  r.target = t.plan.target.schema.id.to_string();
  r.mode = std::string(to_string(t.mode));
  r.shape = selection_shape(t.plan);
  return {Ledger::table_key(t.id), Ledger::encode_table(r)};
}

DestinationTable Engine::copy_target(const TableState& t) const {
  DestinationTable target = t.plan.target;
  const TablePhase p = t.phase();
  const bool fresh = (p == TablePhase::Pending || p == TablePhase::Snapshot) && t.mode != TableMode::Incremental &&
                     !(t.mode == TableMode::Replicate && *t.plan.settings.snapshot == SnapshotPolicy::Never);
  target.key_after_load = fresh && caps.key_after_load && committer->atomic() && !target.schema.primary_key.empty();
  return target;
}

void Engine::take_pending_plan(TableState& t, std::unique_lock<std::mutex>& lock) {
  if (!t.pending_plan || t.at_work()) return;
  cv.wait(lock, [&] { return !applying || stopping(); });
  if (t.pending_plan && !t.at_work()) {
    set_plan(t, std::move(*t.pending_plan));
    t.pending_plan.reset();
  }
}

void Engine::save_table(TableState& t) {
  CheckpointEntry e;
  {
    std::lock_guard<std::mutex> lock(mu);
    e = table_entry(t);
  }
  put({e});
}

StreamTable Engine::stream_table(const TableState& t) const {
  return StreamTable{t.plan.read, t.plan.settings.where, t.source_seen.columns.empty() ? t.plan.source : t.source_seen};
}

TablePlan Engine::plan_for(const TableSchema& source_schema, const std::string& key) const {
  std::shared_ptr<const Config> c;
  std::shared_ptr<const TypeMapper> m;
  {
    std::lock_guard<std::mutex> lock(mu);
    c = config_;
    m = mapper;
  }
  return plan_table(*c, source_schema, key, *m, source->dialect(), destination->dialect(), destination->max_identifier_length());
}

void Engine::with_retry(TableState* t, std::string_view what, const std::function<void()>& f) {
  retry.run(config()->retry, what, t ? t->id : std::string(), f, [&](const RetryRunner::Attempt& a) {
    if (!t) return;
    {
      std::lock_guard<std::mutex> lock(mu);
      t->attempts += 1;
      t->last_error = a.error->what();
      count_error(t, to_string(a.error->kind()), a.error->what());
    }
    flush_errors();
  });
}

std::vector<CheckpointEntry> Engine::hold(TableState& t) {
  if (t.mode != TableMode::Replicate || t.holding) return {};
  t.holding = true;
  t.skip_until = Position();
  t.awaiting_replay = false;
  if (t.held.empty()) t.held = stream_position;
  if (t.rec.held_since_us == 0) t.rec.held_since_us = now_us();
  std::vector<CheckpointEntry> out;
  if (!t.held.empty()) out.push_back({Ledger::held_key(t.id), t.held.str()});
  out.push_back(table_entry(t));
  return out;
}

void Engine::unhold(TableState& t) {
  if (!t.holding) return;
  t.holding = false;
  t.rec.held_since_us = 0;
  if (t.held.empty()) return;
  // Behind the stream: the stream reopens from the table's position and replays its changes
  // (the other tables skip what they have). Ahead of it (a copy that read a later state):
  // events up to its position are skipped.
  if (!stream_position.empty() && position_after(stream_position, t.held)) {
    // Until the stream reopens, the batches it still delivers are newer than what the table
    // must replay first: it applies none of them.
    t.awaiting_replay = true;
    restart_stream = true;
    logf(LogLevel::Info, "session", t.id, "replays its changes from {} (the stream reopens there)", t.held.str());
  } else {
    t.skip_until = t.held;
    logf(LogLevel::Debug, "session", t.id, "applies changes after {}", t.held.str());
  }
  cv.notify_all();
}

Position Engine::release_point() const {
  Position p = stream_position;
  for (const auto& t : tables) {
    if (t->held.empty() || t->rec.needs_resync) continue;
    if (t->phase() == TablePhase::Dropped) continue;
    if (p.empty() || position_after(p, t->held)) p = t->held;
  }
  return p;
}

void Engine::fail_table(TableState& t, const std::string& message) {
  std::vector<CheckpointEntry> entries;
  bool stop_all = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (t.phase() != TablePhase::Failed) t.rec.failed_from = t.phase();
    transition(t, TablePhase::Failed, lock);
    count_error(&t, "failed", message);
    t.rec.error = message;
    t.rec.failed_at_us = now_us();
    entries = hold(t);
    entries.push_back(table_entry(t));
    if (config_->stop_on_error) {
      if (error.empty()) error = fmt::format("table {} failed: {}", t.id, message);
      stop_all = true;
    }
    cv.notify_all();
  }
  logf(LogLevel::Error, "session", t.id, "table failed: {}", message);
  try {
    put(entries);
  } catch (const std::exception& e) {
    logf(LogLevel::Error, "session", t.id, "could not record the failure: {}", e.what());
  }
  flush_errors();
  if (stop_all) request_stop();
}

// A copy job ends when nothing is left to copy; a replicating session runs until stopped.
bool Engine::finished_work() const {
  bool copy_job = options.snapshot_only;
  if (!copy_job) {
    copy_job = !tables.empty();
    for (const auto& t : tables)
      if (t->mode != TableMode::Copy && t->phase() != TablePhase::Removed && t->phase() != TablePhase::Dropped) copy_job = false;
  }
  if (!copy_job) return false;
  for (const auto& t : tables)
    if (t->phase() == TablePhase::Pending || t->phase() == TablePhase::Snapshot) return false;
  return true;
}

void Engine::live_loop() {
  int idle_rounds = 0;
  while (!stopping()) {
    bool want_stream = false, snapshot_busy = false, has_incremental = false, live = false, copying_first = false;
    bool first_phase_ended = false, done = false;
    std::string release;
    {
      std::unique_lock<std::mutex> lock(mu);
      clock->wait(cv, lock, std::chrono::hours(24), [&] { return stopping() || !paused_all; });
      if (stopping()) break;
      for (const auto& t : tables) {
        if (t->mode == TableMode::Replicate && t->phase() == TablePhase::Streaming && !t->holding) want_stream = true;
        if (t->mode == TableMode::Incremental) has_incremental = true;
        if (t->mode != TableMode::Copy) live = true;
      }
      if (initial_phase && !snapshots.busy(true)) {
        initial_phase = false;
        first_phase_ended = true;
        release.swap(snapshot_id);  // the first snapshot phase is over: its shared view goes
        discover_now = true;        // and the tables' schemas are compared with the source
        if (live && state == SessionState::Snapshot) state = SessionState::Streaming;
      }
      // Checked after the first phase's end so that a copy job still releases its snapshot
      // and creates the foreign keys among the tables it loaded.
      done = finished_work();
      snapshot_busy = snapshots.busy(false);
      copying_first = initial_phase && stream_waits;
      want_stream = want_stream && !copying_first;
      if (restart_stream) {
        restart_stream = false;
        lock.unlock();
        streamer.close();
      }
    }
    if (!release.empty()) {
      try {
        source->release_snapshot(release);
      } catch (const std::exception& e) {
        logf(LogLevel::Warn, "session", "", "could not release snapshot {}: {}", release, e.what());
      }
    }
    if (first_phase_ended) create_foreign_keys();
    if (done) break;
    bool got = false;
    auto cfg = config();
    auto wait = std::chrono::milliseconds(has_incremental ? std::min<std::int64_t>(cfg->poll_interval_ms, 200) : cfg->poll_interval_ms);
    if (want_stream) got = streamer.step(wait);
    if (!copying_first && poller.poll_due()) got = true;
    if (!copying_first) lifecycle.tick();
    if (options.exit_when_idle && !copying_first) {
      bool pending = snapshot_busy;
      {
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& t : tables) {
          if (t->backfill || t->reconcile) pending = true;
          // Released but not yet in the stream's table list: the stream reopens for it.
          if (t->mode == TableMode::Replicate && t->phase() == TablePhase::Streaming && !t->holding && !t->in_stream) pending = true;
        }
        if (restart_stream) pending = true;
      }
      idle_rounds = got || pending ? 0 : idle_rounds + 1;
      if (idle_rounds >= 2) break;
    }
    if (!want_stream && !got) {
      // Woken as well when the first copy phase ends or a copy job's last table is done (the
      // snapshot workers notify): a copy does not wait out the rest of the sleep.
      std::unique_lock<std::mutex> lock(mu);
      clock->wait(cv, lock, std::min(wait, std::chrono::milliseconds(200)),
                  [&] { return stopping() || (initial_phase && !snapshots.busy(true)) || finished_work(); });
    }
  }
}

// Foreign keys among the tables copied, once every one of them is loaded (NOT VALID where the
// destination allows: validated at the cut-over).
void Engine::create_foreign_keys() {
  auto cfg = config();
  if (!caps.schema_objects || !cfg->schema.foreign_keys) return;
  std::vector<DestinationTable> targets;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& t : tables)
      if (t->phase() != TablePhase::Removed && t->phase() != TablePhase::Dropped && !t->plan.read.columns.empty())
        targets.push_back(t->plan.target);
  }
  try {
    auto report = destination->create_foreign_keys(targets, source->dialect(), cfg->schema);
    for (const auto& c : report.created) logf(LogLevel::Info, "session", "", "created {}", c);
    for (const auto& s : report.skipped) logf(LogLevel::Warn, "session", "", "not created: {}", s);
  } catch (const std::exception& e) {
    logf(LogLevel::Error, "session", "", "creating foreign keys failed: {}", e.what());
  }
}

void Engine::save_live_tables() {
  std::vector<TableState*> live;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& t : tables)
      if (t->mode != TableMode::Copy) live.push_back(t.get());
  }
  for (TableState* t : live) {
    // Where each live table stands (phase, change counts) at a clean stop.
    try {
      save_table(*t);
    } catch (const std::exception& e) {
      logf(LogLevel::Warn, "session", t->id, "could not record the table state: {}", e.what());
    }
  }
}

void Engine::run() {
  {
    std::lock_guard<std::mutex> lock(mu);
    state = SessionState::Starting;
  }
  open();
  {
    std::lock_guard<std::mutex> lock(mu);
    opened = true;
    cv.notify_all();
    if (tables.empty()) logf(LogLevel::Warn, "session", "", "no table matches include/exclude: nothing to do yet");
    state = SessionState::Snapshot;
  }
  const auto cfg = config();
  int max_chunks = 1;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& t : tables)
      if (!t->plan.read.columns.empty()) max_chunks = std::max(max_chunks, *t->plan.settings.parallel_chunks);
  }
  snapshots.start(cfg->workers > 0 ? cfg->workers : std::max(cfg->parallel_tables, max_chunks));
  live_loop();
  request_stop();
  snapshots.join();
  streamer.close();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!snapshot_id.empty()) {
      std::string id;
      id.swap(snapshot_id);
      try {
        source->release_snapshot(id);
      } catch (const std::exception& e) {
        logf(LogLevel::Warn, "session", "", "could not release snapshot {}: {}", id, e.what());
      }
    }
  }
  save_live_tables();
  std::lock_guard<std::mutex> lock(mu);
  if (!error.empty()) throw Error(ErrorKind::State, error);
}

}  // namespace cdc::detail
