// Tables joining, leaving and changing while the session runs: config reloads, discovery of
// tables created or dropped at the source, pause/resume/stop/resync on request, the cool-down
// after which a failed table is tried again, and the limit on how much source log a table that
// does not apply changes may pin (max_held_log). Every change of a table's phase goes through
// transition() under the engine's lock and is recorded in the ledger (docs/lifecycle.md).
#include "core/session/engine.h"

#include "core/failpoint.h"
#include "core/logging.h"
#include "core/session/retry.h"

#include <cdc/error.h>
#include <cdc/plan.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace cdc::detail {

namespace {

// What makes two plans of a table write differently (a change of it needs the table re-copied).
std::string plan_shape(const TablePlan& p) {
  std::string s = p.target.schema.id.to_string() + '\x1e' + shape_signature(p.target) + '\x1e' + p.settings.where;
  for (const auto& c : p.read.columns) s += c.name + '\x1f';
  return s;
}

bool holds_for_user(const TableState& t) { return t.rec.paused || t.rec.ddl_held; }

// Snapshot workers read their table's plan without the lock: before it is replaced, those at
// work on `t` finish their task and no new one starts (TableState::replanning); the lock is
// held again with no stream batch between routing and commit.
void wait_for_workers(Engine& e, TableState& t, std::unique_lock<std::mutex>& lock) {
  if (!t.at_work()) return;
  t.replanning = true;
  e.cv.wait(lock, [&] { return e.stopping() || (!t.at_work() && !e.applying); });
  t.replanning = false;
  if (e.stopping()) throw Error(ErrorKind::Cancelled, "stopped");
}

// Whether a table that was `p` is copied again beside the stream (a resync: it held, its rows
// are replaced in place) rather than afresh (nothing of it streamed yet).
bool resyncs_from(const TableState& t, TablePhase p) {
  return t.mode == TableMode::Replicate && p != TablePhase::Pending && p != TablePhase::Snapshot;
}

// The table's copy starts over: its chunks go, and so does the ledger's chunk plan, in the same
// write as its new phase, so that a restart before the next copy records its plan does not take
// the old chunks for done.
void forget_chunks(TableState& t, std::vector<CheckpointEntry>& entries) {
  t.chunks.clear();
  t.chunk_state.clear();
  t.chunks_done = 0;
  entries.push_back({Ledger::plan_key(t.id), ""});
}

}  // namespace

// ---- on request ----------------------------------------------------------------------------

void Lifecycle::pause(const std::string& name) {
  std::vector<CheckpointEntry> entries;
  {
    auto lock = e_.lock_between_batches();
    TableState& t = *e_.find_table(name);
    t.rec.paused = true;
    if (t.phase() == TablePhase::Streaming) entries = e_.hold(t);
    entries.push_back(e_.table_entry(t));
    e_.cv.notify_all();
  }
  e_.put(entries);
  logf(LogLevel::Info, "session", name, "paused");
}

// A stopped or failed table takes up what it was doing; a held one applies changes again.
void Lifecycle::take_up(TableState& t, std::unique_lock<std::mutex>& lock) {
  TablePhase from = t.rec.failed_from;
  if (from == TablePhase::Failed || from == TablePhase::Stopped) from = TablePhase::Pending;
  if (from == TablePhase::Snapshot && t.chunks.empty()) from = TablePhase::Pending;
  transition(t, from, lock);
  t.rec.failed_at_us = 0;
  t.rec.error.clear();
  t.attempts = 0;
  for (auto& c : t.chunk_state)
    if (c == ChunkState::Running) c = ChunkState::Pending;
}

void Lifecycle::resume(const std::string& name) {
  std::vector<CheckpointEntry> entries;
  {
    auto lock = e_.lock_between_batches();
    TableState& t = *e_.find_table(name);
    t.rec.paused = false;
    if (t.rec.ddl_held) {  // held by `ddl: pause`: the replayed change is applied now
      t.rec.ddl_held = false;
      t.ddl_resume = true;
    }
    if (t.phase() == TablePhase::Failed || t.phase() == TablePhase::Stopped) take_up(t, lock);
    apply_again(t, lock, entries);
    entries.push_back(e_.table_entry(t));
    e_.cv.notify_all();
  }
  e_.put(entries);
  logf(LogLevel::Info, "session", name, "resumed");
}

// A streaming table no longer held applies changes again: from where it stopped, or, when it let
// go of the source log meanwhile (needs_resync), after it is copied again.
void Lifecycle::apply_again(TableState& t, std::unique_lock<std::mutex>& lock, std::vector<CheckpointEntry>& entries) {
  if (t.phase() != TablePhase::Streaming || holds_for_user(t)) return;
  if (!t.rec.needs_resync) {
    e_.unhold(t);
    return;
  }
  restart_copy(t, lock, entries);
  logf(LogLevel::Info, "session", t.id, "copying it again before it applies changes (it let go of the source log while held, or "
       "the config selects other columns, rows or target)");
}

void Lifecycle::stop(const std::string& name) {
  std::vector<CheckpointEntry> entries;
  {
    auto lock = e_.lock_between_batches();
    TableState& t = *e_.find_table(name);
    if (!t.live()) return;
    t.rec.failed_from = t.phase();
    entries = e_.hold(t);
    transition(t, TablePhase::Stopped, lock);
    entries.push_back(e_.table_entry(t));
    e_.cv.notify_all();
  }
  e_.put(entries);
  logf(LogLevel::Info, "session", name, "stopped");
}

void Lifecycle::resync(const std::string& name) {
  std::vector<CheckpointEntry> entries;
  {
    auto lock = e_.lock_between_batches();
    TableState& t = *e_.find_table(name);
    TablePhase p = t.phase();
    if (p == TablePhase::Snapshot || p == TablePhase::Resyncing || p == TablePhase::Pending)
      throw Error(ErrorKind::State, fmt::format("table {} is being copied already", t.id), false, "table " + t.id);
    if (p == TablePhase::Removed || p == TablePhase::Dropped)
      throw Error(ErrorKind::State, fmt::format("table {} is {}: it has nothing to copy", t.id, to_string(p)), false, "table " + t.id);
    restart_copy(t, lock, entries);
    e_.cv.notify_all();
  }
  failpoint("lifecycle.resync");
  e_.put(entries);
  logf(LogLevel::Info, "session", name, "resync requested: the table is copied again while the others stream");
}

// Copies `t` again from its first row: a resync, a reload that changed what the config selects
// of it, a table that let go of the source log. A replicated table that streamed holds meanwhile
// and is copied beside the stream; a copy under way starts over (the rows it wrote had the old
// shape). The ledger forgets the earlier copy's chunk plan in the same write as the new phase, so
// that a restart before the new plan is recorded does not take the old chunks for done; the copy's
// start prepares the target. An incremental table polls every row again. Caller holds the lock
// between batches, with no worker at work on `t`.
void Lifecycle::restart_copy(TableState& t, std::unique_lock<std::mutex>& lock, std::vector<CheckpointEntry>& entries) {
  if (t.mode == TableMode::Incremental) {
    t.rec.watermark.reset();
    entries.push_back(e_.table_entry(t));
    return;
  }
  const bool resync = resyncs_from(t, t.phase());
  if (resync) {
    auto h = e_.hold(t);
    entries.insert(entries.end(), h.begin(), h.end());
  } else {
    t.rec.snapshot_position.clear();  // a fresh copy: it gets its hand-over position when it starts
  }
  t.late_join = true;
  forget_chunks(t, entries);
  t.backfill.reset();
  t.rec.needs_resync = false;
  t.rec.failed_at_us = 0;
  t.rec.error.clear();
  transition(t, resync ? TablePhase::Resyncing : TablePhase::Pending, lock);
  entries.push_back(e_.table_entry(t));
}

// ---- reload --------------------------------------------------------------------------------

void Lifecycle::reload(Config config) {
  validate_config(config);
  auto old = e_.config();
  auto refuse = [&](const char* key, const std::string& a, const std::string& b) {
    if (a == b) return;
    throw config_error(key, "cannot change while the session runs (that would be another session); restart cdc to use the new value");
  };
  refuse("source", redact_url(old->source), redact_url(config.source));
  refuse("destination", redact_url(old->destination), redact_url(config.destination));
  refuse("name", old->name, config.name);
  refuse("checkpoint", old->checkpoint, config.checkpoint);
  auto next = std::make_shared<const Config>(std::move(config));
  auto mapper = e_.options.type_mapper ? e_.options.type_mapper : make_type_mapper(*next);
  auto plans = plan_tables(*next, *e_.source, *mapper, e_.destination->dialect(), e_.destination->max_identifier_length());
  // Incremental tables new to the session need their target before their first poll.
  for (const auto& p : plans) {
    bool known;
    {
      std::lock_guard<std::mutex> lock(e_.mu);
      known = e_.by_source.count(p.source.id) > 0;
    }
    if (!known && p.mode == TableMode::Incremental && !e_.options.snapshot_only) e_.destination->prepare_table(p.target);
  }
  apply_plans(std::move(plans), next, mapper);
}

void Lifecycle::apply_plans(std::vector<TablePlan> plans, const std::shared_ptr<const Config>& config,
                            const std::shared_ptr<const TypeMapper>& mapper) {
  std::vector<CheckpointEntry> entries;
  int added = 0, removed = 0, changed = 0;
  {
    auto lock = e_.lock_between_batches();
    e_.retired_configs.push_back(e_.config_);
    e_.config_ = config;
    e_.mapper = mapper;
    std::set<std::string> selected;
    for (auto& p : plans) {
      std::string id = p.source.id.to_string();
      selected.insert(id);
      TableState* t = nullptr;
      for (auto& x : e_.tables)
        if (x->id == id) t = x.get();
      if (!t) {
        add_table(std::move(p), lock);
        ++added;
        continue;
      }
      if (readd(*t, std::move(p), lock, entries)) ++changed;
    }
    for (auto& t : e_.tables) {
      if (selected.count(t->id) || t->phase() == TablePhase::Removed || t->phase() == TablePhase::Dropped) continue;
      t->rec.failed_from = t->phase();
      auto h = e_.hold(*t);
      entries.insert(entries.end(), h.begin(), h.end());
      transition(*t, TablePhase::Removed, lock);
      entries.push_back(e_.table_entry(*t));
      logf(LogLevel::Info, "session", t->id, "no longer selected by the config: removed (its checkpoints and target are kept)");
      ++removed;
    }
    e_.cv.notify_all();
  }
  failpoint("lifecycle.reload");
  e_.put(entries);
  logf(LogLevel::Info, "session", "", "configuration reloaded: {} tables added, {} removed, {} changed", added, removed, changed);
}

// A table the session knows, planned again by a reload: settings take effect; a changed shape
// (columns, target, filter) copies it again, whatever it was doing (a copy under way starts over,
// since its rows so far have the old shape); a removed or dropped one comes back.
bool Lifecycle::readd(TableState& t, TablePlan p, std::unique_lock<std::mutex>& lock, std::vector<CheckpointEntry>& entries) {
  const TableMode mode = e_.options.snapshot_only ? TableMode::Copy : p.mode;
  if (mode != t.mode || t.phase() == TablePhase::Dropped || t.phase() == TablePhase::Removed) wait_for_workers(e_, t, lock);
  t.pending_plan.reset();  // this plan replaces one an earlier reload left waiting
  const TablePhase phase = t.phase();
  if (phase == TablePhase::Dropped || mode != t.mode) {
    t.mode = mode;
    t.rec = TableRecord{};
    t.rec.phase = mode == TableMode::Incremental ? TablePhase::Incremental : TablePhase::Pending;
    t.source_seen = p.source;
    t.late_join = true;
    t.held = Position();
    t.holding = false;
    e_.by_source[p.source.id] = &t;
    set_plan(t, std::move(p));
    forget_chunks(t, entries);
    entries.push_back(e_.table_entry(t));
    return true;
  }
  if (phase == TablePhase::Removed) {
    const bool reshaped = plan_shape(p) != plan_shape(t.plan);
    e_.by_source[p.source.id] = &t;
    set_plan(t, std::move(p));
    if (t.mode != TableMode::Replicate || t.rec.needs_resync || t.held.empty() || reshaped) {
      transition(t, t.mode == TableMode::Incremental ? TablePhase::Incremental : TablePhase::Pending, lock);
      if (t.mode == TableMode::Replicate) {
        t.rec.needs_resync = false;
        transition(t, TablePhase::Resyncing, lock);
      }
      if (reshaped && t.mode == TableMode::Incremental) t.rec.watermark.reset();
      forget_chunks(t, entries);
      t.late_join = true;
    } else {
      transition(t, TablePhase::Streaming, lock);
      if (!holds_for_user(t)) e_.unhold(t);
    }
    entries.push_back(e_.table_entry(t));
    logf(LogLevel::Info, "session", t.id, "selected again: {}", to_string(t.phase()));
    return true;
  }
  // Same table: the plan as the session sees its source (the stream brings schema changes).
  TablePlan next = p;
  if (!t.source_seen.columns.empty()) {
    try {
      next = plan_table(*e_.config_, effective_source(t.rec.kept_types, t.rec.left_out, t.source_seen), p.key, *e_.mapper,
                        e_.source->dialect(), e_.destination->dialect(), e_.destination->max_identifier_length());
    } catch (const Error&) {
      next = p;
    }
  }
  const bool reshaped = plan_shape(next) != plan_shape(t.plan);
  if (t.at_work()) {
    if (!reshaped) {
      t.pending_plan = std::move(next);  // the worker that finishes last takes it
      return false;
    }
    wait_for_workers(e_, t, lock);  // a new shape: as for a table at rest, once they are done
  }
  if (!reshaped || t.phase() == TablePhase::Done) {  // a finished copy job writes nothing more
    set_plan(t, std::move(next));
    return reshaped;
  }
  // The new target first, while the table still writes with its old plan (no copy task starts
  // on it meanwhile); the lock is taken again between stream batches.
  t.replanning = true;
  lock.unlock();
  try {
    e_.destination->prepare_table(next.target);
  } catch (...) {
    lock.lock();
    t.replanning = false;
    throw;
  }
  lock.lock();
  e_.cv.wait(lock, [&] { return !e_.applying || e_.stopping(); });
  t.replanning = false;
  if (e_.stopping()) throw Error(ErrorKind::Cancelled, "stopped");
  set_plan(t, std::move(next));
  const TablePhase now = t.phase();
  if (now == TablePhase::Pending) return true;  // nothing copied yet
  if (now == TablePhase::Failed || now == TablePhase::Stopped) {
    // Taken up later (resume, cool-down): as a new copy of the table.
    if (t.mode == TableMode::Incremental) {
      t.rec.watermark.reset();
    } else {
      const bool resync = resyncs_from(t, t.rec.failed_from);
      t.rec.failed_from = resync ? TablePhase::Resyncing : TablePhase::Pending;
      if (!resync) t.rec.snapshot_position.clear();
      t.late_join = true;
      forget_chunks(t, entries);
    }
    entries.push_back(e_.table_entry(t));
  } else {
    restart_copy(t, lock, entries);
  }
  // The stream delivers the table's columns and filters its rows as it was opened with them.
  if (t.in_stream) e_.restart_stream = true;
  logf(LogLevel::Info, "session", t.id, "its columns, target or filter changed: copying it again");
  return true;
}

void Lifecycle::add_table(TablePlan plan, std::unique_lock<std::mutex>& lock) {
  (void)lock;
  auto t = std::make_unique<TableState>();
  t->id = plan.source.id.to_string();
  t->mode = e_.options.snapshot_only ? TableMode::Copy : plan.mode;
  t->rec.phase = t->mode == TableMode::Incremental ? TablePhase::Incremental : TablePhase::Pending;
  t->source_seen = plan.source;
  t->late_join = true;
  set_plan(*t, std::move(plan));
  logf(LogLevel::Info, "session", t->id, "added: {}", t->mode == TableMode::Incremental ? "polling it" : "copying it beside the stream");
  e_.by_source[t->plan.source.id] = t.get();
  e_.tables.push_back(std::move(t));
}

// ---- the source's tables -------------------------------------------------------------------

void Lifecycle::created(const TableId& id) {
  auto cfg = e_.config();
  if (!table_selected(*cfg, id)) return;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    auto it = e_.by_source.find(id);
    if (it != e_.by_source.end() && it->second->phase() != TablePhase::Dropped) return;
  }
  std::vector<TableSchema> found = e_.source->discover([&](const TableId& x) { return x == id; });
  if (found.empty()) return;  // gone again
  if (!discovered_selected(*cfg, found.front())) return;  // a view the config does not take
  // Its settings under tables.<schema.name> or tables.<name>, as planning at start finds them.
  std::string key = cfg->tables.count(id.to_string()) ? id.to_string() : cfg->tables.count(id.name) ? id.name : std::string();
  TablePlan plan = e_.plan_for(found.front(), key);
  std::vector<CheckpointEntry> entries;
  {
    auto lock = e_.lock_between_batches();
    auto it = e_.by_source.find(id);
    if (it == e_.by_source.end()) add_table(std::move(plan), lock);
    else readd(*it->second, std::move(plan), lock, entries);
    e_.cv.notify_all();
  }
  e_.put(entries);
  logf(LogLevel::Info, "session", id.to_string(), "created at the source: added");
}

void Lifecycle::dropped(const TableId& id) {
  std::vector<CheckpointEntry> entries;
  {
    auto lock = e_.lock_between_batches();
    auto it = e_.by_source.find(id);
    if (it == e_.by_source.end() || it->second->phase() == TablePhase::Dropped) return;
    TableState& t = *it->second;
    t.rec.failed_from = t.phase();
    transition(t, TablePhase::Dropped, lock);
    t.holding = true;
    t.held = Position();  // nothing left to replay: the log is released
    e_.release_moved = true;
    t.backfill.reset();
    t.reconcile.reset();
    entries.push_back({Ledger::held_key(t.id), ""});
    entries.push_back(e_.table_entry(t));
    e_.cv.notify_all();
  }
  e_.put(entries);
  logf(LogLevel::Warn, "session", id.to_string(), "dropped at the source: stopped; its target is left as it is");
}

void Lifecycle::discover() {
  auto cfg = e_.config();
  std::vector<TableSchema> found;
  try {
    found = e_.source->discover([&](const TableId& id) { return table_selected(*cfg, id); });
    found.erase(std::remove_if(found.begin(), found.end(), [&](const TableSchema& s) { return !discovered_selected(*cfg, s); }),
                found.end());
  } catch (const Error& err) {
    logf(LogLevel::Warn, "session", "", "looking at the source's tables failed: {}", err.what());
    return;
  }
  std::vector<TableSchema> added, changed;
  std::vector<TableId> gone;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    std::set<TableId> present;
    for (const auto& s : found) {
      present.insert(s.id);
      auto it = e_.by_source.find(s.id);
      if (it == e_.by_source.end() || it->second->phase() == TablePhase::Dropped) {
        added.push_back(s);
        continue;
      }
      TableState& t = *it->second;
      bool follows = (t.mode == TableMode::Replicate && t.phase() == TablePhase::Streaming) ||
                     (t.mode == TableMode::Incremental && t.phase() == TablePhase::Incremental);
      if (follows && !t.reconcile && !t.source_seen.columns.empty() && !diff_schemas(t.source_seen, s).empty())
        changed.push_back(s);
    }
    // Gone only when two looks in a row miss it: a copying ALTER TABLE (MariaDB) briefly takes a
    // table out of the catalog while it swaps the copy in.
    for (const auto& t : e_.tables) {
      if (!t->live() || t->plan.read.columns.empty()) continue;
      t->missing = present.count(t->plan.source.id) ? 0 : t->missing + 1;
      if (t->missing >= 2) gone.push_back(t->plan.source.id);
    }
  }
  for (const auto& id : gone) dropped(id);
  for (const auto& s : added) created(s.id);
  for (const auto& s : changed) queue_reconcile(s);
}

// A difference the log did not show (yet): applied once the stream has passed the position at
// which it was seen, after the source captures the table as it is now.
void Lifecycle::queue_reconcile(const TableSchema& now) {
  TableState* t;
  StreamTable st;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    auto it = e_.by_source.find(now.id);
    if (it == e_.by_source.end()) return;
    t = it->second;
    st = e_.stream_table(*t);
    st.source = now;
  }
  Position at;
  if (t->mode == TableMode::Replicate) {
    try {
      e_.source->extend_capture({st});
      at = e_.source->current_position();
    } catch (const Error& err) {
      logf(LogLevel::Warn, "session", t->id, "could not look at the table's capture: {}", err.what());
      return;
    }
  }
  std::lock_guard<std::mutex> lock(e_.mu);
  t->reconcile = PendingReconcile{now, at};
  logf(LogLevel::Info, "session", t->id, "the source's definition differs from the target's: applied once the stream passes {}",
       at.empty() ? std::string("now") : at.str());
}

// ---- timers --------------------------------------------------------------------------------

void Lifecycle::tick() {
  auto cfg = e_.config();
  auto now = e_.clock->now();
  bool discover_due;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    discover_due = e_.discover_now || (cfg->discover_interval_s > 0 && now >= next_discovery_);
    e_.discover_now = false;
  }
  if (discover_due) {
    next_discovery_ = now + std::chrono::seconds(std::max<std::int64_t>(cfg->discover_interval_s, 1));
    discover();
  }
  if (now >= next_timers_) {
    next_timers_ = now + std::chrono::seconds(5);
    enforce_retention();
    retry_failed();
  }
}

void Lifecycle::enforce_retention() {
  auto cfg = e_.config();
  const LogRetention& limit = cfg->max_held_log;
  if (limit.max_bytes <= 0 && limit.max_age_s <= 0) return;
  struct Held {
    TableState* t;
    Position held;
    std::int64_t since_us;
  };
  std::vector<Held> held;
  Position s;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    s = e_.stream_position;
    for (auto& t : e_.tables) {
      bool copying = (t->phase() == TablePhase::Snapshot || t->phase() == TablePhase::Resyncing) && !t->rec.paused;
      if (t->holding && !t->held.empty() && !t->rec.needs_resync && !copying && t->phase() != TablePhase::Dropped)
        held.push_back({t.get(), t->held, t->rec.held_since_us});
    }
  }
  for (const auto& h : held) {
    std::int64_t bytes = s.empty() ? -1 : e_.source->log_bytes_between(h.held, s);
    {
      std::lock_guard<std::mutex> lock(e_.mu);
      h.t->retained_bytes = bytes;
    }
    std::int64_t age_s = h.since_us > 0 ? (e_.now_us() - h.since_us) / 1000000 : 0;
    bool over_bytes = limit.max_bytes > 0 && bytes > limit.max_bytes;
    bool over_age = limit.max_age_s > 0 && age_s > limit.max_age_s;
    if (!over_bytes && !over_age) continue;
    std::vector<CheckpointEntry> entries;
    {
      auto lock = e_.lock_between_batches();
      TableState& t = *h.t;
      if (!t.holding || t.held != h.held) continue;
      t.rec.needs_resync = true;
      t.held = Position();
      e_.release_moved = true;
      entries.push_back({Ledger::held_key(t.id), ""});
      entries.push_back(e_.table_entry(t));
    }
    e_.put(entries);
    logf(LogLevel::Error, "session", h.t->id,
         "has kept the source from releasing its log for {} ({} bytes) past max_held_log ({} bytes / {} s): it lets go and "
         "must be copied again (resync) when it applies changes again",
         format_elapsed(std::chrono::seconds(age_s)), bytes, limit.max_bytes, limit.max_age_s);
  }
}

void Lifecycle::retry_failed() {
  auto cfg = e_.config();
  if (cfg->retry.table_cooldown_s <= 0 || e_.options.snapshot_only) return;
  std::vector<CheckpointEntry> entries;
  std::vector<std::string> retried;
  {
    auto lock = e_.lock_between_batches();
    const std::int64_t now = e_.now_us();
    for (auto& t : e_.tables) {
      if (t->phase() != TablePhase::Failed || t->mode == TableMode::Copy) continue;
      if (now - t->rec.failed_at_us < cfg->retry.table_cooldown_s * 1000000) continue;
      take_up(*t, lock);
      apply_again(*t, lock, entries);
      entries.push_back(e_.table_entry(*t));
      retried.push_back(t->id);
    }
    e_.cv.notify_all();
  }
  e_.put(entries);
  for (const auto& id : retried) logf(LogLevel::Info, "session", id, "trying the failed table again after its cool-down");
}

}  // namespace cdc::detail
