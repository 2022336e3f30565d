// The incremental poller: tables in mode incremental are read by their watermark column every
// poll interval; the rows past the last watermark are upserted in one transaction together with
// the new watermark. Schema differences found by discovery are applied here at once (there is no
// log to wait for), with their backfills.
#include "core/session/convert.h"
#include "core/session/engine.h"

#include "core/logging.h"
#include "core/value_order.h"

#include <cdc/error.h>

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
    {
      std::lock_guard<std::mutex> lock(e_.mu);
      req.schema = t.plan.read;
      req.watermark_column = t.plan.settings.watermark->column;
      req.last_value = t.rec.watermark;
      req.query = t.plan.settings.query;
      req.where = t.plan.settings.where;
      req.batch_size = *t.plan.settings.batch_size;
      wm_index = t.plan.read.index_of(req.watermark_column);
      high = t.rec.watermark;
    }
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
  });
  return rows;
}

}  // namespace cdc::detail
