// Status: what the session and each table are doing, read at any time (the progress callback,
// cdc-cli's display, later the HTTP status).
#include "core/session/engine.h"

#include "core/run_history.h"

#include <algorithm>

namespace cdc::detail {

namespace {

std::string hold_reason(const TableState& t) {
  if (t.rec.ddl_held) return "ddl: pause";
  if (t.rec.paused) return "paused";
  switch (t.phase()) {
    case TablePhase::Stopped: return "stopped";
    case TablePhase::Failed: return "failed";
    case TablePhase::Removed: return "removed";
    case TablePhase::Snapshot:
    case TablePhase::Resyncing: return "copying";
    default: break;
  }
  return {};
}

}  // namespace

TableStatus Progress::table_status(const TableState& t, Clock::TimePoint now) const {
  TableStatus ts;
  ts.source = t.id;
  ts.target = t.plan.target.schema.id.name.empty() ? t.rec.target : t.plan.target.schema.id.to_string();
  ts.mode = t.mode;
  ts.phase = t.phase();
  ts.paused = t.rec.paused || e_.paused_all;
  ts.held = t.mode == TableMode::Replicate && t.holding && !t.held.empty();
  if (ts.held || t.phase() == TablePhase::Failed || t.phase() == TablePhase::Stopped) ts.hold_reason = hold_reason(t);
  ts.needs_resync = t.rec.needs_resync;
  ts.rows_done = t.rows_done;
  ts.rows_estimated = t.plan.source.estimated_rows;
  bool copying = t.phase() == TablePhase::Snapshot || t.phase() == TablePhase::Resyncing;
  if (ts.rows_estimated >= 0 && ts.rows_done > ts.rows_estimated && copying) ts.rows_estimated = ts.rows_done;
  ts.chunks_done = t.chunks_done;
  ts.chunks_total = static_cast<int>(t.chunks.size());
  ts.changes_applied = t.rec.changes;
  ts.rows_per_second = t.rate.rate(now);
  if (copying && ts.rows_per_second > 0 && ts.rows_estimated > ts.rows_done)
    ts.eta_seconds = static_cast<double>(ts.rows_estimated - ts.rows_done) / ts.rows_per_second;
  else
    ts.eta_seconds = copying ? -1 : 0;
  ts.attempts = t.attempts;
  ts.quarantined = t.rec.quarantined;
  ts.values_changed = t.plan.values_changed();
  if (t.mode == TableMode::Incremental) ts.position = t.rec.watermark ? t.rec.watermark->to_display() : "";
  else if (!t.held.empty()) ts.position = t.held.str();
  else if (t.phase() == TablePhase::Streaming) ts.position = e_.stream_position.str();
  ts.error = t.phase() == TablePhase::Failed ? t.rec.error : t.last_error;
  ts.inserts = t.ops[static_cast<int>(ChangeOp::Insert)];
  ts.updates = t.ops[static_cast<int>(ChangeOp::Update)];
  ts.deletes = t.ops[static_cast<int>(ChangeOp::Delete)];
  ts.truncates = t.ops[static_cast<int>(ChangeOp::Truncate)];
  ts.errors = t.errors;
  ts.polled = t.polled_at_us > 0;
  const std::int64_t now_us = e_.now_us();
  auto since_ms = [&](std::int64_t us) { return us > 0 ? std::max<std::int64_t>(0, (now_us - us) / 1000) : -1; };
  if (t.mode == TableMode::Incremental) {
    if (t.phase() == TablePhase::Incremental) ts.lag_ms = since_ms(t.polled_at_us);
  } else if (t.mode == TableMode::Replicate) {
    if (t.holding && t.phase() != TablePhase::Snapshot && t.phase() != TablePhase::Resyncing &&
        t.phase() != TablePhase::Pending && t.phase() != TablePhase::Dropped)
      ts.lag_ms = since_ms(t.rec.held_since_us);
    else if (t.phase() == TablePhase::Streaming && !t.holding)
      ts.lag_ms = since_ms(e_.applied_through_us);
    if (t.holding) ts.log_retained_bytes = t.retained_bytes;
  }
  return ts;
}

SessionStatus Progress::status() const {
  std::lock_guard<std::mutex> lock(e_.mu);
  SessionStatus s;
  s.name = e_.name;
  s.state = e_.state;
  s.error = e_.error;
  s.stream_position = e_.stream_position.str();
  s.lag_ms = e_.applied_through_us > 0 ? std::max<std::int64_t>(0, (e_.now_us() - e_.applied_through_us) / 1000) : -1;
  s.errors = e_.errors;
  s.batch_apply = e_.batch_apply;
  s.started_at_us = e_.started_wall_us;
  auto now = e_.clock->now();
  s.elapsed_seconds = std::chrono::duration<double>(now - e_.started).count();
  for (const auto& t : e_.tables) s.tables.push_back(table_status(*t, now));
  if (e_.run_record.run > 0) {
    RunRecord r = e_.run_record;
    r.started_at = utc_text(e_.started_wall_us);
    r.outcome = "running";
    s.runs.push_back(std::move(r));
  }
  return s;
}

}  // namespace cdc::detail
