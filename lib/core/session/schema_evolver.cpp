// Schema evolution: a change of a table's columns, reported by the stream (in log order) or found
// by discovery (applied once the stream passed the position it was seen at). It is compared with
// what the table copies, follows the table's `ddl` policy, changes the target (where the
// destination can), is recorded in the schema history, and re-plans the table with the same type
// mapper as the snapshot. Existing rows keep the values the source gave them:
//   - an added column gets the value the source's DDL gave existing rows (SchemaChange::fill)
//     through the target's DDL; otherwise its values are backfilled from the source;
//   - a column whose type changed is backfilled (the log does not say whether the DDL rewrote
//     its values, e.g. PostgreSQL's ALTER COLUMN ... TYPE ... USING), unless the source knows the
//     values stayed (SchemaChange::values_kept);
// backfills run once the stream has passed the position at which the new definition was read,
// so that older row images replayed afterwards cannot overwrite them.
#include "core/session/convert.h"
#include "core/session/engine.h"

#include "core/failpoint.h"
#include "core/logging.h"
#include "core/text_util.h"

#include <cdc/error.h>
#include <cdc/plan.h>
#include <cdc/schema_change.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace cdc::detail {

namespace {

std::string type_text(const Column& c) { return c.source_type.empty() ? c.type.to_string() : c.source_type; }

// Whether a change touches what the table copies (config `columns` / `exclude_columns`).
bool copied(const TablePlan& plan, const ColumnChange& c) {
  const TableSettings& s = plan.settings;
  if (c.kind == ColumnChangeKind::Added)
    return s.columns.empty() && std::find(s.exclude_columns.begin(), s.exclude_columns.end(), c.column) == s.exclude_columns.end();
  return plan.read.index_of(c.before.name) >= 0;
}

// The target column a plan writes a source column to, or nullptr.
const Column* target_of(const TablePlan& p, const std::string& source_column) {
  int r = p.read.index_of(source_column);
  for (std::size_t i = 0; r >= 0 && i < p.target_from_read.size(); ++i)
    if (p.target_from_read[i] == r) return &p.target.schema.columns[i];
  return nullptr;
}

// A source value converted for the target column a plan writes `column` to.
std::optional<Value> converted(const TablePlan& p, const std::string& column, const Value& v) {
  int r = p.read.index_of(column);
  if (r < 0) return std::nullopt;
  const auto& conv = p.converters[static_cast<std::size_t>(r)];
  try {
    return conv ? conv->convert(v) : v;
  } catch (const Error&) {
    return std::nullopt;  // not representable: backfilled instead
  }
}

struct Decision {
  std::vector<ColumnChange> changes;
  std::set<std::size_t> ignored;
  std::map<std::string, Column> kept_types;
  std::set<std::string> left_out;

  void ignore(std::size_t i) {
    const ColumnChange& c = changes[i];
    ignored.insert(i);
    if (c.kind == ColumnChangeKind::Added || c.kind == ColumnChangeKind::Renamed) left_out.insert(c.column);
    if (c.kind == ColumnChangeKind::Widened || c.kind == ColumnChangeKind::Incompatible) {
      Column old = c.before;
      old.name = c.column;
      kept_types[c.column] = old;
    }
  }
};

struct TargetPlan {
  TablePlan plan;
  std::vector<TargetColumnChange> target;
  std::vector<std::size_t> source_change;  // the change each target change came from
  std::vector<std::string> backfill;       // source columns to re-read
};

// The new plan and what the target must do for it. `late`: the definition was read after the
// change's position (the stream runs behind), so rows logged in between carry the names and types
// they had then: renamed columns are read again too.
TargetPlan plan_target(Engine& e, const TablePlan& old_plan, const SchemaChange& sc, const Decision& d, bool late) {
  TargetPlan out;
  out.plan = e.plan_for(effective_source(d.kept_types, d.left_out, sc.after), old_plan.key);
  for (std::size_t i = 0; i < d.changes.size(); ++i) {
    if (d.ignored.count(i)) continue;
    const ColumnChange& c = d.changes[i];
    const Column* before = c.kind == ColumnChangeKind::Added ? nullptr : target_of(old_plan, c.before.name);
    const Column* after = c.kind == ColumnChangeKind::Dropped ? nullptr : target_of(out.plan, c.column);
    TargetColumnChange tc;
    tc.kind = c.kind;
    bool type_changed = c.kind == ColumnChangeKind::Widened || c.kind == ColumnChangeKind::Incompatible;
    if (c.kind == ColumnChangeKind::Added && after) {
      auto fill = sc.fill.find(c.column);
      if (fill != sc.fill.end()) tc.fill = converted(out.plan, c.column, fill->second);
      if (!tc.fill) out.backfill.push_back(c.column);
    }
    if (type_changed && after && !sc.values_kept.count(c.column)) out.backfill.push_back(c.column);
    if (c.kind == ColumnChangeKind::Renamed && after && late) out.backfill.push_back(c.column);
    if (c.kind == ColumnChangeKind::Dropped) {
      if (!before) continue;
      tc.column = before->name;
      tc.target = *before;
    } else {
      if (!after) continue;
      tc.column = after->name;
      tc.target = *after;
      if (c.kind == ColumnChangeKind::Renamed) {
        if (!before || before->name == after->name) continue;
        tc.old_name = before->name;
      } else if (type_changed && before && before->type == after->type && before->source_type == after->source_type) {
        continue;  // the target type does not change (both map to the same type)
      }
    }
    out.target.push_back(std::move(tc));
    out.source_change.push_back(i);
  }
  return out;
}

// Renames the log did not spell out (PostgreSQL's Relation messages, a difference found by
// looking at the source): a column that disappeared and one that appeared at the same position
// with the same type is the same column renamed. Sources that have the statement (MariaDB) say
// what was renamed; their other drops and adds are what they say.
std::map<std::string, std::string> infer_renames(const TableSchema& before, const SchemaChange& sc) {
  if (!sc.statement.empty() || !sc.renamed.empty()) return sc.renamed;
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i < before.columns.size() && i < sc.after.columns.size(); ++i) {
    const Column& b = before.columns[i];
    const Column& a = sc.after.columns[i];
    if (b.name == a.name || sc.after.index_of(b.name) >= 0 || before.index_of(a.name) >= 0) continue;
    if (b.type == a.type && detail::iequals(b.source_type, a.source_type)) out[b.name] = a.name;
  }
  return out;
}

// A drop and an add the rules above could not pair: a rename with a type change, or a real
// drop and add. Under `ddl: pause` a person decides.
bool ambiguous(const std::vector<ColumnChange>& changes) {
  bool dropped = false, added = false;
  for (const auto& c : changes) {
    dropped = dropped || c.kind == ColumnChangeKind::Dropped;
    added = added || c.kind == ColumnChangeKind::Added;
  }
  return dropped && added;
}

using HistoryFn = std::function<SchemaHistoryEntry(const ColumnChange&, std::string_view, std::string)>;

// Columns to re-read once the stream passed both the change and where it was described; merged
// with a backfill still waiting.
BackfillTask backfill_task(Engine& e, const TableState& t, const std::vector<std::string>& columns, const Position& at,
                           const Position& observed_at) {
  BackfillTask task = t.backfill ? *t.backfill : BackfillTask{};
  for (const auto& c : columns)
    if (std::find(task.columns.begin(), task.columns.end(), c) == task.columns.end()) task.columns.push_back(c);
  for (const Position& p : {at, observed_at})
    if (!p.empty() && (task.after.empty() || e.position_after(p, Position(task.after)))) task.after = p.str();
  return task;
}

// Records history entries in a transaction of their own (a change that was not applied).
void record_alone(Engine& e, TableState& t, std::unique_ptr<DestinationWriter>& writer, const std::vector<SchemaHistoryEntry>& entries) {
  if (!e.caps.schema_history || entries.empty()) return;
  try {
    DestinationTxn txn(*e.destination, writer);
    txn->record_schema_changes(e.name, entries);
    txn.commit(*e.committer, {});
  } catch (const std::exception& err) {
    logf(LogLevel::Warn, "session", t.id, "could not record the schema change: {}", err.what());
  }
}

// The target's DDL, the schema history and the table's new definition, in one transaction
// where the destination's DDL is transactional. Throws what the destination refused.
void commit_change(Engine& e, TableState& t, const SchemaChange& sc, const Decision& d, const TargetPlan& tp, const HistoryFn& history,
                   const std::optional<BackfillTask>& backfill, std::unique_ptr<DestinationWriter>& writer) {
  if (!tp.target.empty() && !e.caps.schema_evolution)
    throw Error(ErrorKind::Destination, "this destination cannot evolve schemas", false, "table " + t.id);
  std::vector<CheckpointEntry> entries;
  {
    std::lock_guard<std::mutex> lock(e.mu);
    TableState next = t;
    next.rec.kept_types = d.kept_types;
    next.rec.left_out = d.left_out;
    entries.push_back(e.table_entry(next));
  }
  entries.push_back({Ledger::schema_key(t.id), Ledger::encode_schema(sc.after)});
  entries.push_back({Ledger::backfill_key(t.id), backfill ? Ledger::encode_backfill(*backfill) : std::string()});
  DestinationTxn txn(*e.destination, writer);
  std::vector<std::string> ddl(tp.target.size());
  if (!tp.target.empty()) ddl = txn->evolve(tp.plan.target, tp.target);
  ddl.resize(tp.target.size());
  if (e.caps.schema_history) {
    std::vector<SchemaHistoryEntry> rows;
    for (std::size_t i = 0; i < d.changes.size(); ++i) {
      std::string text;
      for (std::size_t k = 0; k < tp.source_change.size(); ++k)
        if (tp.source_change[k] == i && !ddl[k].empty()) text += (text.empty() ? "" : "; ") + ddl[k];
      rows.push_back(history(d.changes[i], d.ignored.count(i) ? "ignored" : "applied", text));
    }
    txn->record_schema_changes(e.name, rows);
  }
  failpoint("schema.before_commit");
  txn.commit(*e.committer, entries);
  failpoint("schema.committed");
}

// One schema change being handled: what it changes, what the policy allows, and how to say so.
struct Evolution {
  Engine& e;
  TableState& t;
  const SchemaChange& sc;
  const Position& at;
  std::unique_ptr<DestinationWriter>& writer;
  TablePlan old_plan;
  Decision d;
  DdlPolicy policy = DdlPolicy::Apply;
  std::int64_t now_us = 0;

  SchemaHistoryEntry history(const ColumnChange& c, std::string_view action, std::string ddl = {}) const {
    SchemaHistoryEntry h;
    h.table = t.id;
    h.target = old_plan.target.schema.id.to_string();
    h.kind = std::string(to_string(c.kind));
    h.column = c.column;
    h.old_column = c.old_name;
    if (c.kind != ColumnChangeKind::Added) h.old_type = type_text(c.before);
    if (c.kind != ColumnChangeKind::Dropped) h.new_type = type_text(c.after);
    h.action = std::string(action);
    h.ddl = std::move(ddl);
    h.position = at.str();
    h.at_us = now_us;
    return h;
  }
  std::vector<SchemaHistoryEntry> all_history(std::string_view action) const {
    std::vector<SchemaHistoryEntry> out;
    for (const auto& c : d.changes) out.push_back(history(c, action));
    return out;
  }
  // Holds the table at the last committed position; resume_table applies the change.
  bool pause(const std::string& why) {
    record_alone(e, t, writer, all_history("paused"));
    std::vector<CheckpointEntry> entries;
    {
      std::lock_guard<std::mutex> lock(e.mu);
      t.rec.paused = true;
      t.rec.ddl_held = true;
      entries = e.hold(t);
      entries.push_back(e.table_entry(t));
    }
    e.put(entries);
    logf(LogLevel::Warn, "session", t.id, "paused by its ddl policy: {}; resume the table to apply the change", why);
    return false;
  }
  bool fail(const std::string& why) {
    record_alone(e, t, writer, all_history("failed"));
    e.fail_table(t, fmt::format("schema change of table {}: {} (ddl: {})", t.id, why, to_string(policy)));
    return false;
  }
  // The policy's verdict on incompatible changes: nullopt = go on and apply.
  std::optional<bool> screen(bool renames_guessed) {
    const ColumnChange* incompatible = nullptr;
    for (const auto& c : d.changes)
      if (c.kind == ColumnChangeKind::Incompatible && !incompatible) incompatible = &c;
    auto describe = [&](const ColumnChange& c) {
      return fmt::format("column {} changed from {} to {}: {}", c.column, type_text(c.before), type_text(c.after), c.reason);
    };
    if (incompatible && policy == DdlPolicy::Fail) return fail(describe(*incompatible));
    if (incompatible && policy == DdlPolicy::Pause) return pause(describe(*incompatible));
    if (renames_guessed && policy == DdlPolicy::Pause && ambiguous(d.changes))
      return pause("columns disappeared and others appeared, which may be renames; resuming applies them as dropped and added");
    // A column changed again: what an earlier `ignore` kept of it no longer holds.
    for (const auto& c : d.changes) {
      d.kept_types.erase(c.column);
      d.left_out.erase(c.column);
    }
    if (policy == DdlPolicy::Ignore)
      for (std::size_t i = 0; i < d.changes.size(); ++i)
        if (d.changes[i].kind == ColumnChangeKind::Incompatible) d.ignore(i);
    return std::nullopt;
  }
  void log_outcome() const {
    for (std::size_t i = 0; i < d.changes.size(); ++i)
      logf(d.ignored.count(i) ? LogLevel::Warn : LogLevel::Info, "session", t.id, "schema change {} column {}{}: {}",
           to_string(d.changes[i].kind), d.changes[i].column,
           d.changes[i].kind == ColumnChangeKind::Incompatible ? " (" + d.changes[i].reason + ")" : std::string(),
           d.ignored.count(i) ? "ignored (ddl: ignore)" : "applied");
  }
  // Plans, changes the target and commits; under `ignore` a refused change is retried keeping the
  // target as it is. Returns whether the table has a new plan.
  bool apply() {
    for (int round = 0; round < 2; ++round) {
      TargetPlan tp;
      try {
        tp = plan_target(e, old_plan, sc, d, !sc.observed_at.empty() && e.position_after(sc.observed_at, at));
      } catch (const Error& err) {
        return fail(err.what());
      }
      std::optional<BackfillTask> backfill;
      if (!tp.backfill.empty()) {
        std::lock_guard<std::mutex> lock(e.mu);
        backfill = backfill_task(e, t, tp.backfill, at, sc.observed_at);
      }
      try {
        commit_change(e, t, sc, d, tp, [this](auto& c, auto a, auto ddl) { return history(c, a, std::move(ddl)); }, backfill,
                      writer);
      } catch (const Error& err) {
        if (err.retryable() || err.kind() == ErrorKind::Cancelled) throw;  // the stream reconnects and reports it again
        // The destination cannot take the change: the policy decides.
        std::string why = fmt::format("the destination cannot apply it: {}", err.what());
        if (policy == DdlPolicy::Pause) return pause(why);
        if (policy != DdlPolicy::Ignore || round > 0) return fail(why);
        logf(LogLevel::Warn, "session", t.id, "schema change not applied ({}); ddl: ignore keeps the columns the target has", why);
        for (std::size_t i = 0; i < d.changes.size(); ++i)
          if (!d.ignored.count(i)) d.ignore(i);
        continue;
      }
      log_outcome();
      std::lock_guard<std::mutex> lock(e.mu);
      t.rec.kept_types = std::move(d.kept_types);
      t.rec.left_out = std::move(d.left_out);
      t.source_seen = sc.after;
      set_plan(t, std::move(tp.plan));
      if (backfill) {
        t.backfill = std::move(backfill);
        logf(LogLevel::Info, "session", t.id, "columns {} are read again from the source once the stream has passed {}",
             fmt::join(t.backfill->columns, ", "), t.backfill->after);
      }
      return true;
    }
    return false;
  }
};

}  // namespace

bool SchemaEvolver::evolve(TableState& t, const SchemaChange& sc, const Position& at, std::unique_ptr<DestinationWriter>& writer) {
  Evolution ev{e_, t, sc, at, writer, {}, {}, DdlPolicy::Apply, e_.now_us()};
  TableSchema seen;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    // A difference queued by looking at the source is out of date once a change described at or
    // after the moment it was seen arrives: applying it later would turn the table back.
    const Position described = sc.observed_at.empty() ? at : sc.observed_at;
    if (t.reconcile && !described.empty() &&
        (t.reconcile->observed_at.empty() || !e_.position_after(t.reconcile->observed_at, described)))
      t.reconcile.reset();
    seen = t.source_seen.columns.empty() ? t.plan.source : t.source_seen;
    ev.old_plan = t.plan;
    ev.d.kept_types = t.rec.kept_types;
    ev.d.left_out = t.rec.left_out;
    ev.policy = t.ddl_resume ? DdlPolicy::Apply : *t.plan.settings.ddl;
    t.ddl_resume = false;
  }
  const bool guessed = sc.statement.empty() && sc.renamed.empty();
  for (auto& c : diff_schemas(seen, sc.after, infer_renames(seen, sc)))
    if (copied(ev.old_plan, c)) ev.d.changes.push_back(std::move(c));
  if (ev.d.changes.empty()) {
    // Nothing the table copies changed (an excluded column, a default): remember the definition.
    {
      std::lock_guard<std::mutex> lock(e_.mu);
      t.source_seen = sc.after;
    }
    e_.put({{Ledger::schema_key(t.id), Ledger::encode_schema(sc.after)}});
    return false;
  }
  if (auto verdict = ev.screen(guessed)) return *verdict;
  return ev.apply();
}

// Re-reads the task's columns from the source, chunk by chunk, and sets them on the target rows
// that exist (by key). Idempotent: after a crash it runs again from the start.
void SchemaEvolver::run_backfill(TableState& t, std::unique_ptr<DestinationWriter>& writer) {
  BackfillTask task;
  TablePlan plan;
  {
    std::lock_guard<std::mutex> lock(e_.mu);
    if (!t.backfill) return;
    task = *t.backfill;
    plan = t.plan;
  }
  auto done = [&](const std::string& how) {
    e_.put({{Ledger::backfill_key(t.id), ""}});
    std::lock_guard<std::mutex> lock(e_.mu);
    t.backfill.reset();
    logf(LogLevel::Info, "session", t.id, "columns {}: {}", fmt::join(task.columns, ", "), how);
  };
  // The projection read: the key and the columns to backfill, in read order.
  TableSchema proj;
  proj.id = plan.read.id;
  proj.primary_key = plan.read.primary_key;
  std::vector<int> read_index;  // for each projected column, its index in plan.read
  std::vector<bool> mask(plan.target.schema.columns.size(), false);
  bool any = false;
  for (std::size_t i = 0; i < plan.read.columns.size(); ++i) {
    const auto& name = plan.read.columns[i].name;
    bool key = std::find(proj.primary_key.begin(), proj.primary_key.end(), name) != proj.primary_key.end();
    bool wanted = std::find(task.columns.begin(), task.columns.end(), name) != task.columns.end();
    if (!key && !wanted) continue;
    proj.columns.push_back(plan.read.columns[i]);
    read_index.push_back(static_cast<int>(i));
    for (std::size_t k = 0; k < plan.target_from_read.size() && wanted && !key; ++k)
      if (plan.target_from_read[k] == static_cast<int>(i)) mask[k] = any = true;
  }
  if (!any) return done("nothing to read again (not copied)");
  if (proj.primary_key.empty() || !e_.caps.backfill) {
    // Without a key (or a destination that cannot update columns in place) the whole table is
    // copied again instead.
    done("copied again with the whole table (no key or no backfill at the destination)");
    e_.lifecycle.resync(t.id);
    return;
  }
  SnapshotPlanOptions options;
  options.chunk_rows = *plan.settings.chunk_rows;
  std::vector<SnapshotChunk> chunks;
  e_.with_retry(&t, "plan the backfill", [&] { chunks = e_.source->plan_snapshot(proj, options); });
  if (chunks.empty()) chunks.push_back(SnapshotChunk{});
  std::int64_t rows = 0;
  for (auto& chunk : chunks)
    e_.with_retry(&t, "backfill", [&] { rows += backfill_chunk(t, plan, proj, read_index, mask, chunk, writer); });
  done(fmt::format("{} rows read again from the source", rows));
}

std::int64_t SchemaEvolver::backfill_chunk(TableState& t, const TablePlan& plan, const TableSchema& proj,
                                           const std::vector<int>& read_index, const std::vector<bool>& mask,
                                           const SnapshotChunk& chunk, std::unique_ptr<DestinationWriter>& writer) {
  ReadRequest req;
  req.schema = proj;
  req.chunk = chunk;
  req.where = plan.settings.where;
  req.batch_size = plan.settings.batch_size->initial;
  auto reader = e_.source->read_chunk(req);
  const bool quarantine = e_.quarantining();
  const std::size_t width = plan.target.schema.columns.size();
  std::int64_t count = 0;
  std::vector<Row> batch;
  while (reader->next(batch)) {
    if (e_.stopping()) throw Error(ErrorKind::Cancelled, "stopped");
    std::vector<Row> rows;
    std::vector<QuarantinedRow> quarantined;
    rows.reserve(batch.size());
    for (Row& in : batch) {
      Row out(width);
      ConversionFailure failure;
      bool ok = true;
      for (std::size_t j = 0; j < proj.columns.size() && ok; ++j) {
        std::size_t r = static_cast<std::size_t>(read_index[j]);
        const auto& conv = plan.converters[r];
        Value v = in[j];
        try {
          if (conv) conv->convert_in_place(v);
        } catch (const Error& err) {
          if (!quarantine) throw Error(ErrorKind::Conversion, err.message(), false, fmt::format("table {} column {}", t.id, proj.columns[j].name));
          failure = {proj.columns[j].name, v.to_display(4096), err.message(), row_key_text(proj, in)};
          ok = false;
          break;
        }
        for (std::size_t k = 0; k < plan.target_from_read.size(); ++k)
          if (plan.target_from_read[k] == static_cast<int>(r)) out[k] = v;
      }
      if (ok) rows.push_back(std::move(out));
      else quarantined.push_back(quarantine_record(t, failure, "backfill", e_.now_us()));
    }
    DestinationTxn txn(*e_.destination, writer);
    txn->backfill(plan.target, rows, mask);
    write_quarantine(txn.writer(), e_.name, quarantined);
    txn.commit(*e_.committer, {});
    failpoint("backfill.batch_committed");
    count += static_cast<std::int64_t>(rows.size());
  }
  return count;
}

}  // namespace cdc::detail
