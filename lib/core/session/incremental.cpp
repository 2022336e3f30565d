// The incremental poller: tables in mode incremental are read by their watermark column every
// poll interval; the rows past the last watermark are upserted in one transaction together with
// the new watermark. Schema differences found by discovery are applied here at once (there is no
// log to wait for), with their backfills.
#include "core/session/convert.h"
#include "core/session/engine.h"

#include "core/calendar.h"
#include "core/logging.h"
#include "core/value_order.h"

#include <cdc/error.h>

#include <cctype>
#include <cstdio>
#include <utility>

namespace cdc::detail {

bool IncrementalPoller::poll_due() {
  auto cfg = e_.config();
  if (e_.clock->now() < next_) return false;
  next_ = e_.clock->now() + std::chrono::milliseconds(cfg->poll_interval_ms);
  std::vector<TableState*> due;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    for (auto& t : e_.tables)
      if (t->mode == TableMode::Incremental && t->phase() == TablePhase::Incremental && !t->rec.paused && !e_.paused_all)
        due.push_back(t.get());
  }
  bool got = false;
  for (TableState* t : due) {
    if (e_.stopping()) break;
    {
      // A reload that gives the table a new shape waits for the poll (TableState::polling).
      std::lock_guard<std::mutex> lock(e_.mu);
      if (t->replanning || t->mode != TableMode::Incremental || t->phase() != TablePhase::Incremental) continue;
      t->polling = true;
    }
    struct Done {
      Engine& e;
      TableState& t;
      ~Done() {
        std::unique_lock<std::mutex> lock(e.mu);
        t.polling = false;
        e.take_pending_plan(t, lock);
        e.cv.notify_all();
      }
    } done{e_, *t};
    try {
      std::optional<PendingReconcile> reconcile;
      {
        std::lock_guard<std::mutex> lock(e_.mu);
        reconcile.swap(t->reconcile);
      }
      if (reconcile) {
        SchemaChange sc;
        sc.after = reconcile->after;
        e_.evolver.evolve(*t, sc, Position(), writer_);
      }
      bool backfill;
      {
        std::lock_guard<std::mutex> lock(e_.mu);
        backfill = t->backfill.has_value() && t->phase() == TablePhase::Incremental;
      }
      if (backfill) e_.evolver.run_backfill(*t, writer_);
      if (poll(*t) > 0) got = true;
    } catch (const Error& err) {
      if (err.kind() == ErrorKind::Cancelled) break;
      e_.fail_table(*t, err.what());
    } catch (const std::exception& err) {
      e_.fail_table(*t, err.what());
    }
  }
  return got;
}

// One poll of one table. Returns the number of rows.
std::int64_t IncrementalPoller::poll(TableState& t) {
  std::int64_t rows = 0;
  e_.with_retry(&t, "incremental poll", [&] {
    rows = 0;
    IncrementalRequest req;
    std::optional<Value> high;
    int wm_index;
    BatchPhase phase;
    bool phase_changed;
    {
      std::lock_guard<std::mutex> lock(e_.mu);
      req.schema = t.plan.read;
      req.watermark_column = t.plan.settings.watermark->column;
      req.last_value = t.rec.watermark;
      req.query = t.plan.settings.query;
      req.where = t.plan.settings.where;
      phase = poll_phase(t, *e_.config_);
      req.batch_size = t.plan.settings.batch_size->for_phase(phase);
      phase_changed = std::exchange(t.batch_phase, static_cast<int>(phase)) != static_cast<int>(phase) &&
                      t.plan.settings.batch_size->catch_up != t.plan.settings.batch_size->steady;
      wm_index = t.plan.read.index_of(req.watermark_column);
      high = t.rec.watermark;
    }
    if (phase_changed) e_.log_batch_phase(&t, phase, req.batch_size);
    auto reader = e_.source->read_incremental(req);
    DestinationTxn txn(*e_.destination, writer_);
    const bool quarantine = e_.quarantining();
    std::int64_t quarantined_here = 0;
    std::vector<Row> batch;
    while (reader->next(batch)) {
      if (e_.stopping()) throw Error(ErrorKind::Cancelled, "stopped");
      for (const auto& row : batch) {
        const Value& v = row[static_cast<std::size_t>(wm_index)];
        if (!v.is_null() && (!high || compare_values(v, *high) > 0)) high = v;
      }
      rows += static_cast<std::int64_t>(batch.size());
      std::vector<QuarantinedRow> quarantined;
      convert_rows(t, batch, quarantine ? &quarantined : nullptr, "incremental", e_.now_us());
      txn->write_rows(t.plan.target, batch);
      write_quarantine(txn.writer(), e_.name, quarantined);
      quarantined_here += static_cast<std::int64_t>(quarantined.size());
    }
    if (rows == 0) {
      txn.rollback();
      std::lock_guard<std::mutex> lock(e_.mu);
      t.polled_at_us = e_.now_us();
      t.last_poll_rows = 0;
      return;
    }
    CheckpointEntry entry;
    {
      std::lock_guard<std::mutex> lock(e_.mu);
      TableState next = t;
      next.rec.watermark = high;
      next.rec.changes += rows;
      entry = e_.table_entry(next);
    }
    txn.commit(*e_.committer, {entry});
    std::lock_guard<std::mutex> lock(e_.mu);
    t.rec.watermark = high;
    t.rec.changes += rows;
    t.rows_done += rows;
    t.rec.quarantined += quarantined_here;
    t.rate.add(e_.clock->now(), t.rec.changes);
    t.polled_at_us = e_.now_us();
    t.last_poll_rows = rows;
  });
  return rows;
}

namespace {

// Microseconds since the epoch of a DATE, TIMESTAMP or TIMESTAMPTZ value (a timestamp without
// zone read as UTC); false for other values.
bool epoch_us(const Value& v, std::int64_t& out) {
  if (v.kind() != ValueKind::Date && v.kind() != ValueKind::Timestamp && v.kind() != ValueKind::TimestampTz) return false;
  const std::string& s = v.text();
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, n = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%d%n", &y, &mo, &d, &n) < 3 || mo < 1 || mo > 12) return false;
  std::size_t pos = static_cast<std::size_t>(n);
  if (pos < s.size() && (s[pos] == ' ' || s[pos] == 'T')) {
    if (std::sscanf(s.c_str() + pos + 1, "%d:%d:%d%n", &h, &mi, &sec, &n) < 3) return false;
    pos += 1 + static_cast<std::size_t>(n);
  }
  std::int64_t us = (days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + sec) * 1000000;
  while (pos < s.size() && (s[pos] == '.' || std::isdigit(static_cast<unsigned char>(s[pos])))) ++pos;  // fraction: ignored
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    std::sscanf(s.c_str() + pos + 1, "%d:%d", &oh, &om);
    std::int64_t offset = (oh * 3600 + om * 60) * std::int64_t{1000000};
    us -= s[pos] == '+' ? offset : -offset;
  }
  out = us;
  return true;
}

}  // namespace

BatchPhase IncrementalPoller::poll_phase(const TableState& t, const Config& cfg) const {
  // How far the table is behind: from a temporal watermark, now minus the newest value read;
  // otherwise unknown (catching up) until a poll read no more than one steady batch.
  std::int64_t lag_ms = -1;
  std::int64_t at_us = 0;
  if (t.rec.watermark && epoch_us(*t.rec.watermark, at_us)) lag_ms = std::max<std::int64_t>(0, (e_.now_us() - at_us) / 1000);
  else if (t.last_poll_rows >= 0 && t.last_poll_rows <= t.plan.settings.batch_size->steady) lag_ms = 0;
  return batch_phase_for_lag(lag_ms, cfg.catch_up_lag_seconds);
}

}  // namespace cdc::detail
