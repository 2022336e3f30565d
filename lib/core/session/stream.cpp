// The stream applier: reads the change stream (ahead, on the prefetch thread), routes events to
// their tables, skips what a table already has, applies a batch in one destination transaction
// with its checkpoint on a transaction boundary, and tells the source how far it may release its
// log. Runs on the runner thread.
//
// Positions: Engine::stream_position is where every streaming table without a `held` position
// stands. A table with one is behind it (it replays after holding) or ahead of it (its copy
// read a later state); each batch moves it along, and it drops its `held` once the session's
// position has caught up with it. The session's position only ever moves forward.
#include "core/session/convert.h"
#include "core/session/engine.h"

#include "core/failpoint.h"
#include "core/logging.h"
#include "core/stream_prefetch.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <algorithm>

namespace cdc::detail {

// The tables the stream is opened with; they are marked `in_stream` (their events arrive).
std::vector<StreamTable> StreamApplier::stream_tables() {
  std::vector<StreamTable> out;
  for (auto& t : e_.tables) {
    if (t->mode != TableMode::Replicate || t->plan.read.columns.empty()) continue;
    TablePhase p = t->phase();
    if (p == TablePhase::Removed || p == TablePhase::Dropped || p == TablePhase::Pending) continue;
    out.push_back(e_.stream_table(*t));
    t->in_stream = true;
  }
  return out;
}

Position StreamApplier::open_from() {
  // Cascades the source does not log are derived from the foreign keys among the streamed tables.
  derive_ = !e_.source->logs_cascades();
  if (derive_) {
    for (const auto& problem : cascades_.rebuild(e_.tables)) logf(LogLevel::Warn, "session", "", "{}", problem);
    if (!cascades_.empty() && !e_.caps.cascades) {
      logf(LogLevel::Error, "session", "",
           "the source does not log the rows its foreign keys cascade to, and this destination cannot apply derived cascades: "
           "child tables will keep rows the source deleted");
      derive_ = false;
    }
    derive_ = derive_ && !cascades_.empty();
  }
  Position start = e_.stream_position;
  for (auto& t : e_.tables) {
    if (t->mode != TableMode::Replicate || t->phase() != TablePhase::Streaming || t->holding) continue;
    Position skip = t->held.empty() ? e_.stream_position : t->held;
    t->skip_until = skip;
    t->awaiting_replay = false;
    logf(LogLevel::Debug, "session", t->id, "stream opens: applies changes after {}", skip.str());
    if (start.empty() || (!skip.empty() && e_.position_after(start, skip))) start = skip;
  }
  return start;
}

void StreamApplier::close() {
  stream_.reset();
  writer_.reset();
  std::lock_guard<std::mutex> lock(e_.mu);
  for (auto& t : e_.tables) t->in_stream = false;
}

bool StreamApplier::missing_tables() const {
  for (const auto& t : e_.tables)
    if (t->mode == TableMode::Replicate && t->phase() == TablePhase::Streaming && !t->holding && !t->in_stream) return true;
  return false;
}

bool StreamApplier::step(std::chrono::milliseconds wait) {
  auto cfg = e_.config();
  try {
    bool reopen = false;
    if (stream_) {
      std::lock_guard<std::mutex> lock(e_.mu);
      reopen = missing_tables();
    }
    if (reopen) close();
    if (!stream_) {
      Position from;
      std::vector<StreamTable> tables;
      {
        std::lock_guard<std::mutex> lock(e_.mu);
        from = open_from();
        tables = stream_tables();
        e_.stream_started = true;
      }
      // Plans change with the schema. Read ahead on a thread of its own, so that decoding the
      // log overlaps applying it.
      stream_ = std::make_unique<PrefetchingStream>(e_.source->open_stream(tables, from));
      logf(LogLevel::Info, "session", "", "streaming changes from position {}", from.str());
    }
    Position release;
    {
      std::lock_guard<std::mutex> lock(e_.mu);
      if (e_.release_moved) release = e_.release_point();
      e_.release_moved = false;
    }
    if (!release.empty()) stream_->acknowledge(release);
    std::vector<ChangeEvent> events;
    const std::int64_t poll_began_us = e_.now_us();
    stream_->poll(events, static_cast<std::size_t>(cfg->stream_batch_rows.for_phase(e_.stream_batch_phase(*cfg))), wait);
    failures_ = 0;
    if (events.empty()) {
      {
        // Nothing was pending: the target is as current as the source was when the poll began
        // (an empty poll may return before `wait`, as soon as the source said it has nothing).
        std::lock_guard<std::mutex> lock(e_.mu);
        e_.applied_through_us = std::max(e_.applied_through_us, poll_began_us);
      }
      advance_idle();
      run_due_work();
      return false;
    }
    // Rows before a schema change are applied with the old plan; when the change gives a table a
    // new plan the stream reopens with it (rows after the change, if a source delivered any, are
    // read again); other schema events (tables created, dropped) leave the stream as it is.
    auto begin = events.begin();
    if (std::none_of(begin, events.end(), [](const ChangeEvent& ev) { return ev.schema_change != nullptr; })) {
      apply_batch(events);  // the usual batch: no schema change, nothing to split
      begin = events.end();
    }
    while (begin != events.end()) {
      auto change = std::find_if(begin, events.end(), [](const ChangeEvent& ev) { return ev.schema_change != nullptr; });
      if (change != begin) {
        std::vector<ChangeEvent> part(std::make_move_iterator(begin), std::make_move_iterator(change));
        apply_batch(part);
      }
      if (change == events.end()) break;
      if (schema_event(*change)) {
        close();
        break;
      }
      begin = change + 1;
    }
    run_due_work();
    return true;
  } catch (const Error& err) {
    if (err.kind() == ErrorKind::Cancelled) return false;
    {
      std::lock_guard<std::mutex> lock(e_.mu);
      e_.count_error(nullptr, to_string(err.kind()), err.what());
    }
    e_.flush_errors();
    close();
    if (!RetryRunner::retries(cfg->retry, err, ++failures_)) throw;
    if (failures_ == 1) first_failure_ = e_.clock->now();
    auto delay = e_.retry.delay(cfg->retry, failures_);
    logf(LogLevel::Warn, "session", "", "change stream failed (attempt {}, failing for {}), reconnecting in {}: {}", failures_,
         format_elapsed(std::chrono::duration_cast<std::chrono::milliseconds>(e_.clock->now() - first_failure_)),
         format_elapsed(delay), err.what());
    e_.sleep_for(delay);
    return false;
  }
}

// Applies one polled batch: events grouped per table in order (in segments where derived
// cascades must land between them), one destination transaction, the stream checkpoint at the
// last transaction boundary.
void StreamApplier::apply_batch(std::vector<ChangeEvent>& events) {
  Position boundary;
  std::int64_t last_commit_us = 0;
  std::vector<Segment> segments(1);
  const auto began = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    e_.applying = true;
    route(events, segments, boundary, last_commit_us);
  }
  QuarantineByTable quarantined;
  const bool quarantine = e_.quarantining();
  for (auto& seg : segments)
    for (auto& [t, evs] : seg.groups) {
      try {
        convert_events(*t, evs, quarantine ? &quarantined[t] : nullptr, e_.now_us());
      } catch (const Error& err) {
        e_.fail_table(*t, err.what());
        evs.clear();
      }
    }
  try {
    derive_cascades(segments);
    commit_batch(segments, quarantined, boundary);
  } catch (...) {
    std::lock_guard<std::mutex> lock(e_.mu);
    e_.applying = false;
    e_.cv.notify_all();
    throw;
  }
  after_commit(segments, quarantined, boundary, last_commit_us);
  std::lock_guard<std::mutex> lock(e_.mu);
  e_.observe_batch(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
}

// Whether `t` applies its changes at `at` (streaming, fed by this stream, past its skip point).
bool StreamApplier::applies_at(const TableState& t, const Position& at) const {
  if (t.mode != TableMode::Replicate || t.holding || t.awaiting_replay || !t.in_stream || t.phase() != TablePhase::Streaming)
    return false;
  return t.skip_until.empty() || e_.position_after(at, t.skip_until);
}

// Sorts events into their tables' groups; an event whose foreign keys cascade opens a segment
// when the current one already changes a table it reaches, and so does a table's event that a
// cascade of the current segment reaches (its change comes after the cascade). Caller holds mu.
void StreamApplier::route(std::vector<ChangeEvent>& events, std::vector<Segment>& segments, Position& boundary,
                          std::int64_t& last_commit_us) {
  for (auto& ev : events) {
    if (ev.end_of_transaction) boundary = ev.position;
    if (ev.commit_time_us) last_commit_us = ev.commit_time_us;
    auto it = e_.by_source.find(ev.table);
    if (it == e_.by_source.end()) continue;
    TableState& t = *it->second;
    if (derive_) {
      if (segments.back().reached.count(&t)) segments.emplace_back();
      if (cascades_.cascades(&t, ev)) {
        auto reach = cascades_.reach(&t);
        for (const TableState* r : reach)
          if (segments.back().group_of.count(const_cast<TableState*>(r))) {
            segments.emplace_back();
            break;
          }
        segments.back().reached.insert(reach.begin(), reach.end());
        segments.back().parents.emplace_back(&t, ev);
      }
    }
    if (!applies_at(t, ev.position)) continue;
    t.skip_until = Position();
    Segment& seg = segments.back();
    auto g = seg.group_of.find(&t);
    if (g == seg.group_of.end()) {
      g = seg.group_of.emplace(&t, seg.groups.size()).first;
      seg.groups.push_back({&t, {}});
    }
    seg.groups[g->second].second.push_back(std::move(ev));
  }
}

// The changes each segment's cascading events made in other tables, in target terms, for the
// tables that apply changes at those events' positions.
void StreamApplier::derive_cascades(std::vector<Segment>& segments) {
  for (auto& seg : segments) {
    for (auto& [parent, ev] : seg.parents) {
      ConversionFailure failure;
      if (!convert_row(*parent, ev.before, &failure) || !convert_row(*parent, ev.after, &failure)) {
        logf(LogLevel::Error, "session", parent->id, "the foreign key cascades of a change of key {} are not derived: {}", failure.key,
             failure.error);
        continue;
      }
      auto derived = cascades_.derive(parent, ev);
      std::lock_guard<std::mutex> lock(e_.mu);
      for (auto& d : derived) {
        d.change.source_table = d.table->plan.source.id;
        d.change.position = ev.position;
        d.change.transaction_id = ev.transaction_id;
        d.change.commit_time_us = ev.commit_time_us;
        bool applies = applies_at(*d.table, ev.position);
        logf(LogLevel::Debug, "session", d.table->id, "cascade from {} at {}: {}", parent->id, ev.position.str(),
             applies ? "applied" : "not applied here (the table replays it)");
        if (applies) seg.cascades.push_back(std::move(d));
      }
    }
  }
}

// The checkpoint entries that move the session's position to `boundary` (never backwards) and
// each catching-up table's `held` along with it; `moves` records the latter for after_commit.
// Caller holds Engine::mu.
std::vector<CheckpointEntry> StreamApplier::position_entries(const Position& boundary, std::vector<HeldMove>& moves) {
  std::vector<CheckpointEntry> entries;
  const Position s = e_.stream_position;
  Position next = s;
  if (!boundary.empty() && (s.empty() || e_.position_after(boundary, s))) next = boundary;
  if (next != s) entries.push_back({Ledger::stream_key(), next.str()});
  for (auto& t : e_.tables) {
    // Only a table whose events this stream delivers moves along with it.
    if (t->mode != TableMode::Replicate || t->phase() != TablePhase::Streaming || t->holding || t->awaiting_replay ||
        !t->in_stream || t->held.empty())
      continue;
    Position h = t->held;
    if (!boundary.empty() && e_.position_after(boundary, h)) h = boundary;  // it applied through the boundary
    if (!next.empty() && !e_.position_after(next, h)) h = Position();      // it reached the session's position
    if (h == t->held) continue;
    moves.push_back({t.get(), h});
    entries.push_back({Ledger::held_key(t->id), h.str()});  // empty = erased
  }
  return entries;
}

void StreamApplier::commit_batch(std::vector<Segment>& segments, QuarantineByTable& quarantined, const Position& boundary) {
  for (int attempt = 1;; ++attempt) {
    TableState* failing = nullptr;
    try {
      DestinationTxn txn(*e_.destination, writer_);
      auto live = [&](TableState* t) {
        std::lock_guard<std::mutex> lock(e_.mu);
        return t->phase() == TablePhase::Streaming && !t->holding;
      };
      std::set<TableState*> quarantine_written;
      for (auto& seg : segments) {
        for (auto& [t, evs] : seg.groups) {
          if (!live(t)) continue;
          failing = t;
          if (!evs.empty()) txn->apply(t->plan.target, evs);
          if (auto q = quarantined.find(t); q != quarantined.end() && quarantine_written.insert(t).second)
            write_quarantine(txn.writer(), e_.name, q->second);
          failing = nullptr;
        }
        for (auto& d : seg.cascades) {
          if (!live(d.table)) continue;
          failing = d.table;
          txn->apply_cascade(d.change);
          failing = nullptr;
        }
      }
      std::vector<CheckpointEntry> entries;
      {
        std::lock_guard<std::mutex> lock(e_.mu);
        moves_.clear();
        entries = position_entries(boundary, moves_);
      }
      failpoint("stream.before_commit");
      txn.commit(*e_.committer, entries);
      failpoint("stream.batch_committed");
      return;
    } catch (const Error& err) {
      auto cfg = e_.config();
      if (RetryRunner::retries(cfg->retry, err, attempt) && !e_.stopping()) {
        auto delay = e_.retry.delay(cfg->retry, attempt);
        logf(LogLevel::Warn, "session", failing ? failing->id : "", "applying changes failed (attempt {}), retrying in {}: {}",
             attempt, format_elapsed(delay), err.what());
        if (!e_.sleep_for(delay)) throw Error(ErrorKind::Cancelled, "stopped");
        continue;
      }
      if (!failing || err.kind() == ErrorKind::Cancelled) throw;
      // Isolate the failing table: it holds where it was, the rest is applied again.
      e_.fail_table(*failing, err.what());
      if (e_.stopping()) throw Error(ErrorKind::Cancelled, "stopped");
    }
  }
}

void StreamApplier::after_commit(const std::vector<Segment>& segments, QuarantineByTable& quarantined, const Position& boundary,
                                 std::int64_t last_commit_us) {
  Position release;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    auto now = e_.clock->now();
    for (const auto& seg : segments)
      for (const auto& [t, evs] : seg.groups) {
        if (t->phase() != TablePhase::Streaming || t->holding) continue;
        t->rec.changes += static_cast<std::int64_t>(evs.size());
        t->rate.add(now, t->rec.changes);
        for (const auto& ev : evs) t->ops[static_cast<int>(ev.op)] += 1;
      }
    for (auto& [t, q] : quarantined)
      if (t->phase() == TablePhase::Streaming && !t->holding) t->rec.quarantined += static_cast<std::int64_t>(q.size());
    for (auto& [t, h] : moves_)
      if (!t->holding) t->held = h;
    moves_.clear();
    if (!boundary.empty() && (e_.stream_position.empty() || e_.position_after(boundary, e_.stream_position)))
      e_.stream_position = boundary;
    if (last_commit_us) e_.applied_through_us = last_commit_us;
    release = e_.release_point();
    e_.applying = false;
    e_.cv.notify_all();
  }
  if (!release.empty() && stream_) stream_->acknowledge(release);
}

// While no change for a replicated table arrives, the log still moves on (writes to other
// tables, other databases): record and acknowledge the stream's position now and then, so a
// restart does not re-read all of it and the source can release its log.
void StreamApplier::advance_idle() {
  if (e_.clock->now() - last_idle_advance_ < std::chrono::seconds(1)) return;
  last_idle_advance_ = e_.clock->now();
  Position p = stream_->position();
  if (p.empty()) return;
  std::vector<CheckpointEntry> entries;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    if (!e_.stream_position.empty() && !e_.position_after(p, e_.stream_position)) return;
    e_.applying = true;
    moves_.clear();
    entries = position_entries(p, moves_);
  }
  try {
    e_.put(entries);
  } catch (...) {
    std::lock_guard<std::mutex> lock(e_.mu);
    e_.applying = false;
    e_.cv.notify_all();
    throw;
  }
  after_commit({}, empty_quarantine_, p, 0);
}

bool StreamApplier::schema_event(const ChangeEvent& ev) {
  const SchemaChange& sc = *ev.schema_change;
  if (sc.kind == SchemaChangeKind::Created) {
    e_.lifecycle.created(ev.table);
    return false;
  }
  if (sc.kind == SchemaChangeKind::Dropped) {
    e_.lifecycle.dropped(ev.table);
    return false;
  }
  TableState* t = nullptr;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    auto it = e_.by_source.find(ev.table);
    if (it == e_.by_source.end()) return false;
    t = it->second;
    // A held table meets the change again when its stream replays from where it was held.
    if (t->mode != TableMode::Replicate || t->holding || t->awaiting_replay || t->phase() != TablePhase::Streaming) return false;
  }
  return e_.evolver.evolve(*t, sc, ev.position, writer_);
}

// Work that waits for the stream to pass a position: backfills after schema changes, and
// differences discovery found that the log did not show.
void StreamApplier::run_due_work() {
  struct Due {
    TableState* t;
    bool backfill;
    std::optional<PendingReconcile> reconcile;
  };
  std::vector<Due> due;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    const Position s = e_.stream_position;
    auto passed = [&](const Position& p) { return p.empty() || (!s.empty() && !e_.position_after(p, s)); };
    for (auto& t : e_.tables) {
      if (t->mode != TableMode::Replicate || t->phase() != TablePhase::Streaming || t->holding || t->awaiting_replay) continue;
      if (t->reconcile && passed(t->reconcile->observed_at)) {
        due.push_back({t.get(), false, std::move(t->reconcile)});
        t->reconcile.reset();
      } else if (t->backfill && passed(Position(t->backfill->after)) && (t->held.empty() || passed(t->held))) {
        due.push_back({t.get(), true, std::nullopt});
      }
    }
  }
  for (auto& d : due) {
    try {
      if (d.backfill) {
        e_.evolver.run_backfill(*d.t, writer_);
        continue;
      }
      SchemaChange sc;
      sc.after = d.reconcile->after;
      sc.observed_at = d.reconcile->observed_at;
      Position at;
      {
        std::lock_guard<std::mutex> lock(e_.mu);
        at = e_.stream_position;
      }
      if (e_.evolver.evolve(*d.t, sc, at, writer_)) close();
    } catch (const Error& err) {
      if (err.kind() == ErrorKind::Cancelled) throw;
      e_.fail_table(*d.t, err.what());
    }
  }
}

}  // namespace cdc::detail
