// Opening a session: connectors, the checkpoint store and its lease, the ledger (migrated from
// older formats, moved from a legacy session name), and every table restored to where the
// ledger says it was.
#include "core/session/engine.h"
#include "core/session/cascade_state.h"

#include "core/logging.h"
#include "core/session_name.h"

#include <cdc/error.h>
#include <cdc/plan.h>
#include <cdc/registry.h>

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <set>
#include <unistd.h>

namespace cdc::detail {

namespace {

std::string holder_description(std::int64_t now_us) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "?");
  std::time_t t = static_cast<std::time_t>(now_us / 1000000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return fmt::format("pid {} on {} since {}", ::getpid(), host, when);
}

std::string entry(const std::map<std::string, std::string>& entries, const std::string& key) {
  auto it = entries.find(key);
  return it == entries.end() ? std::string() : it->second;
}

// What the destination is told about the source (event destinations name it in each event).
SourceInfo describe(const Config& cfg, const SourceConnector& source, const std::string& session) {
  SourceInfo info;
  info.connector = source.dialect();
  info.session = session;
  info.name = cfg.name;
  try {
    ConnectorUrl url = ConnectorUrl::parse(cfg.source);
    info.database = url.path;
    if (url.scheme == "sqlite") {  // the file's stem
      auto slash = info.database.find_last_of('/');
      if (slash != std::string::npos) info.database = info.database.substr(slash + 1);
      auto dot = info.database.rfind('.');
      if (dot != std::string::npos && dot > 0) info.database = info.database.substr(0, dot);
    }
  } catch (const Error&) {
    // A host's source may be described by any text: no database name then.
  }
  return info;
}

}  // namespace

void Engine::open() {
  auto cfg = config();
  auto& registry = ConnectorRegistry::instance();
  with_retry(nullptr, "open the source", [&] {
    if (!source) source = registry.open_source(cfg->source);
  });
  with_retry(nullptr, "open the destination", [&] {
    if (!destination) destination = registry.open_destination(cfg->destination);
  });
  caps = destination->capabilities();
  {
    std::lock_guard<std::mutex> lock(mu);
    mapper = options.type_mapper ? options.type_mapper : make_type_mapper(*cfg);
  }
  {
    std::lock_guard<std::mutex> lock(mu);  // status() reads it from other threads
    name = session_name(*cfg);
    // A one-off copy of the same URLs keeps its own checkpoints, apart from a replication's.
    if (options.snapshot_only && cfg->name.empty()) name += "-copy";
  }
  destination->describe_source(describe(*cfg, *source, name));

  bool atomic = false;
  with_retry(nullptr, "open the checkpoint store", [&] {
    if (options.checkpoint_store) {
      store = options.checkpoint_store;
    } else if (cfg->checkpoint.empty() && caps.atomic_checkpoints) {
      store = destination->checkpoint_store();
      atomic = store != nullptr;
    }
    if (!store) store = open_checkpoint_store(*cfg, destination.get());
  });
  committer = std::make_unique<Committer>(name, store, atomic);
  logf(LogLevel::Info, "session", "", "session {}: {} -> {}", name, redact_url(cfg->source), redact_url(cfg->destination));
  const std::string holder = holder_description(now_us());
  with_retry(nullptr, "take the session's lease", [&] { lease = store->acquire_lease(name, holder); });

  std::map<std::string, std::string> entries;
  with_retry(nullptr, "read the checkpoints", [&] {
    entries = store->load(name);
    // Sessions named by an older cdc (the URLs hashed with their parameters): move them over.
    std::string legacy = legacy_session_name(*cfg) + (options.snapshot_only && cfg->name.empty() ? "-copy" : "");
    if (entries.empty() && cfg->name.empty() && legacy != name) {
      auto old = store->load(legacy);
      if (!old.empty()) {
        std::vector<CheckpointEntry> moved;
        for (const auto& [k, v] : old)
          if (k != "lease") moved.push_back({k, v});
        store->put(name, moved);
        store->clear(legacy);
        logf(LogLevel::Info, "session", "", "checkpoints of session {} now kept as {}", legacy, name);
        entries = store->load(name);
      }
    }
  });
  auto upgrade = Ledger::migrate(entries, name);
  if (!upgrade.empty()) {
    if (entries.size() > 0)
      logf(LogLevel::Info, "session", "", "checkpoints of session {} upgraded to ledger format {}", name, kLedgerFormat);
    put(upgrade);
  }
  if (auto s = entry(entries, Ledger::stream_key()); !s.empty()) stream_position = Position(s);
  restore(entries);
  setup_cascade_state(entries);
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& t : tables) {
      run_rows_base += t->rows_done;
      run_changes_base += t->rec.changes;
    }
  }
  begin_run(holder);
  prepare_targets();
  prepare_stream();
}

namespace {

// Decides where a table stands after a restart, from its ledger entries. Returns false when the
// table starts over (its old entries are erased by its snapshot's start).
bool resume_from_ledger(TableState& t, const std::map<std::string, std::string>& entries, bool copy_job_done) {
  const std::string rec_text = entry(entries, Ledger::table_key(t.id));
  if (rec_text.empty()) return false;
  TableRecord rec = Ledger::decode_table(rec_text, t.id);
  const std::string mode(to_string(t.mode));
  if (rec.mode != mode) return false;  // a table that changed mode starts over
  if (t.mode == TableMode::Copy && (copy_job_done || rec.phase == TablePhase::Done)) return false;
  if (rec.phase == TablePhase::Dropped) return false;  // created again at the source
  if (t.mode == TableMode::Replicate && rec.snapshot_position.empty()) return false;  // never got as far as streaming
  t.rec = rec;
  return true;
}

}  // namespace

void Engine::restore(const std::map<std::string, std::string>& entries) {
  auto cfg = config();
  std::vector<TablePlan> plans;
  with_retry(nullptr, "discover the source's tables", [&] {
    plans = plan_tables(*cfg, *source, *mapper, destination->dialect(), destination->max_identifier_length());
  });
  // A copy whose every table was done is a finished job: this run copies again.
  bool copy_job_done = !plans.empty();
  for (const auto& p : plans) {
    TableMode mode = options.snapshot_only ? TableMode::Copy : p.mode;
    auto it = entries.find(Ledger::table_key(p.source.id.to_string()));
    if (mode != TableMode::Copy || it == entries.end() ||
        Ledger::decode_table(it->second, p.source.id.to_string()).phase != TablePhase::Done)
      copy_job_done = false;
  }
  std::vector<CheckpointEntry> writes;
  {
    std::lock_guard<std::mutex> lock(mu);
    std::set<std::string> planned;
    for (auto& p : plans) {
      auto t = std::make_unique<TableState>();
      t->id = p.source.id.to_string();
      t->mode = options.snapshot_only ? TableMode::Copy : p.mode;
      if (t->mode == TableMode::Replicate && !source->supports_stream())
        throw config_error("tables." + p.key + ".mode",
                           fmt::format("the {} source cannot stream changes; use mode copy or incremental", source->dialect()));
      planned.insert(t->id);
      if (!resume_from_ledger(*t, entries, copy_job_done)) {
        t->rec = TableRecord{};
        t->rec.phase = t->mode == TableMode::Incremental ? TablePhase::Incremental : TablePhase::Pending;
        t->source_seen = p.source;
        set_plan(*t, std::move(p));
      } else {
        auto w = restore_table(*t, std::move(p), *cfg, entries);
        writes.insert(writes.end(), w.begin(), w.end());
      }
      by_source[t->plan.source.id] = t.get();
      tables.push_back(std::move(t));
    }
    // Tables the ledger knows that the config no longer selects (or the source no longer has):
    // removed, keeping their place until a reset (docs/lifecycle.md).
    for (const auto& [key, value] : entries) {
      LedgerKey k = Ledger::parse_key(key);
      if (k.kind != LedgerKey::Kind::Table || planned.count(k.table)) continue;
      auto w = restore_removed(k.table, Ledger::decode_table(value, k.table), entries);
      writes.insert(writes.end(), w.begin(), w.end());
    }
    discover_now = true;  // compare the restored tables' schemas with the source once streaming
    // A session that streamed before keeps streaming while tables new to it are copied; a fresh
    // one copies everything first and then reads the log once.
    stream_waits = true;
    for (const auto& t : tables)
      if (t->mode == TableMode::Replicate && t->phase() == TablePhase::Streaming && !t->holding) stream_waits = false;
  }
  put(writes);
}

std::vector<CheckpointEntry> Engine::restore_table(TableState& t, TablePlan plan, const Config& cfg,
                                                   const std::map<std::string, std::string>& entries) {
  std::vector<CheckpointEntry> writes;
  const TableSchema described = plan.source;
  if (auto text = entry(entries, Ledger::schema_key(t.id)); !text.empty()) {
    t.source_seen = Ledger::decode_schema(text, t.id);
    t.source_seen.id = described.id;
    // The ledger keeps the columns the target reflects; keys, indexes and foreign keys are the
    // source's as they are now (foreign keys decide which cascades are derived), and so is
    // whether it is a view (a re-plan must not take a view for a table it could replicate).
    t.source_seen.indexes = described.indexes;
    t.source_seen.foreign_keys = described.foreign_keys;
    t.source_seen.checks = described.checks;
    t.source_seen.comment = described.comment;
    t.source_seen.view = described.view;
  } else {
    // Written by a cdc that did not record schemas: what the source has now is the baseline.
    t.source_seen = described;
    writes.push_back({Ledger::schema_key(t.id), Ledger::encode_schema(described)});
    if (t.mode != TableMode::Copy)
      logf(LogLevel::Info, "session", t.id, "no schema recorded for this table (older checkpoints): taking the source's as it is now");
  }
  if (auto h = entry(entries, Ledger::held_key(t.id)); !h.empty()) t.held = Position(h);
  // A backfill that a schema change committed and that had not finished runs again (a table copied
  // again has its backfill key cleared by the copy).
  if (auto b = entry(entries, Ledger::backfill_key(t.id));
      !b.empty() && (t.rec.phase == TablePhase::Streaming || t.rec.phase == TablePhase::Incremental))
    t.backfill = Ledger::decode_backfill(b, t.id);
  const bool same_schema = diff_schemas(t.source_seen, described).empty();
  // The config now selects other columns, rows or another target than the rows written so far
  // had (recorded by the run that wrote them): the table is copied again.
  const bool reselected = !t.rec.shape.empty() && t.rec.shape != selection_shape(plan);
  const char* const reselected_why = "its columns, target or filter in the config changed since the last run: copying it again";
  switch (t.rec.phase) {
    case TablePhase::Incremental:
      if (t.rec.mode != "incremental") t.rec.watermark.reset();
      if (reselected && t.rec.watermark) {
        logf(LogLevel::Info, "session", t.id, "{}", reselected_why);
        t.rec.watermark.reset();
      }
      set_plan(t, std::move(plan));
      return writes;
    case TablePhase::Pending:
    case TablePhase::Snapshot:
    case TablePhase::Resyncing:
    case TablePhase::Done:
      set_plan(t, std::move(plan));
      if ((!same_schema || reselected) && t.rec.phase != TablePhase::Done) {
        logf(LogLevel::Info, "session", t.id, "{}",
             same_schema ? reselected_why : "the table changed while its copy was under way: copying it again");
        t.rec = TableRecord{};
        t.source_seen = described;
        writes.push_back({Ledger::plan_key(t.id), ""});  // its chunks are not this copy's
        return writes;
      }
      restore_chunks(t, entries);
      return writes;
    default: break;
  }
  // Streaming (or held: paused, stopped, failed, removed and selected again): the plan follows
  // the schema the target reflects; the stream meets the DDL logged since in order, and
  // discovery reconciles what the log does not show.
  try {
    set_plan(t, plan_table(cfg, effective_source(t.rec.kept_types, t.rec.left_out, t.source_seen), plan.key, *mapper,
                           source->dialect(), destination->dialect(), destination->max_identifier_length()));
  } catch (const Error& e) {
    logf(LogLevel::Warn, "session", t.id, "planning with the recorded schema failed ({}): using the source's", e.what());
    set_plan(t, std::move(plan));
  }
  t.plan.source.estimated_rows = described.estimated_rows;
  const TablePhase was = t.rec.phase;
  if (was == TablePhase::Removed) {
    // Selected again: it catches up from where it stopped, or copies again if it let go.
    t.rec.phase = t.rec.needs_resync || t.held.empty() ? TablePhase::Resyncing : TablePhase::Streaming;
    t.rec.needs_resync = false;
    if (t.rec.phase == TablePhase::Resyncing) {
      t.late_join = true;
      t.held = Position();
    }
    writes.push_back(table_entry(t));
  }
  const bool holding = t.rec.paused || t.rec.ddl_held || was == TablePhase::Stopped || was == TablePhase::Failed;
  if (reselected && t.mode == TableMode::Incremental) t.rec.watermark.reset();  // failed or stopped: every row again
  if (reselected && t.mode == TableMode::Replicate && t.rec.phase != TablePhase::Resyncing) {
    logf(LogLevel::Info, "session", t.id, "{}", reselected_why);
    t.rec.needs_resync = true;  // now, or when it is taken up if it is held
    if (was == TablePhase::Stopped || was == TablePhase::Failed) {
      t.rec.failed_from = TablePhase::Resyncing;
      t.rec.needs_resync = false;
      t.late_join = true;
    }
  }
  if (holding || t.rec.phase == TablePhase::Resyncing) {
    t.holding = true;
    if (t.held.empty()) t.held = stream_position;
  }
  if (t.rec.needs_resync && !holding) {
    t.rec.phase = TablePhase::Resyncing;
    t.rec.needs_resync = false;
    t.late_join = true;
    t.holding = true;
  }
  if (t.rec.phase == TablePhase::Streaming && !holding && *t.plan.settings.snapshot == SnapshotPolicy::Always) {
    t.rec.phase = TablePhase::Resyncing;  // re-copied at every start, replacing rows in place
    t.late_join = true;
    t.holding = true;
    if (t.held.empty()) t.held = stream_position;
  }
  // A resync the last run left unfinished goes on with its chunks (unless the config changed what
  // it selects); one that starts now plans anew.
  if (was == TablePhase::Resyncing && !reselected) restore_chunks(t, entries);
  return writes;
}

std::vector<CheckpointEntry> Engine::restore_removed(const std::string& id, TableRecord rec,
                                                     const std::map<std::string, std::string>& entries) {
  auto t = std::make_unique<TableState>();
  t->id = id;
  t->mode = rec.mode == "copy" ? TableMode::Copy : rec.mode == "incremental" ? TableMode::Incremental : TableMode::Replicate;
  t->plan.target.schema.id = TableId(rec.target);
  t->rec = std::move(rec);
  std::vector<CheckpointEntry> writes;
  if (t->phase() != TablePhase::Removed && t->phase() != TablePhase::Dropped) {
    logf(LogLevel::Info, "session", id, "no longer selected by the config: removed (its checkpoints and target are kept)");
    if (t->mode == TableMode::Replicate) {
      t->held = Position(entry(entries, Ledger::held_key(id)));
      if (t->held.empty()) t->held = stream_position;
      t->holding = true;
      if (!t->held.empty()) writes.push_back({Ledger::held_key(id), t->held.str()});
      if (t->rec.held_since_us == 0) t->rec.held_since_us = now_us();
    }
    t->rec.phase = TablePhase::Removed;
    writes.push_back(table_entry(*t));
  } else if (t->phase() == TablePhase::Removed && t->mode == TableMode::Replicate && !t->rec.needs_resync) {
    t->held = Position(entry(entries, Ledger::held_key(id)));
    t->holding = true;
  }
  tables.push_back(std::move(t));
  return writes;
}

void Engine::restore_chunks(TableState& t, const std::map<std::string, std::string>& entries) {
  auto plan_text = entry(entries, Ledger::plan_key(t.id));
  if (plan_text.empty()) {
    t.rec.phase = t.rec.phase == TablePhase::Resyncing ? TablePhase::Resyncing : TablePhase::Pending;
    return;
  }
  t.chunks = Ledger::decode_chunks(plan_text, t.id);
  t.chunk_state.assign(t.chunks.size(), ChunkState::Pending);
  for (std::size_t i = 0; i < t.chunks.size(); ++i) {
    auto c = entries.find(Ledger::chunk_key(t.id, static_cast<int>(i)));
    if (c == entries.end()) continue;
    t.chunk_state[i] = ChunkState::Done;
    t.chunks_done += 1;
    t.rows_done += std::strtoll(c->second.c_str(), nullptr, 10);
  }
  if (t.rec.phase == TablePhase::Done || t.rec.phase == TablePhase::Resyncing) return;
  if (t.chunks_done < static_cast<int>(t.chunks.size())) t.rec.phase = TablePhase::Snapshot;
  else t.rec.phase = t.mode == TableMode::Copy ? TablePhase::Done : TablePhase::Streaming;
  if (t.rec.phase == TablePhase::Snapshot && t.chunks_done > 0 && t.plan.read.primary_key.empty()) {
    // Chunks of a table without a key are ranges of physical position, disjoint only within one
    // snapshot: the rest read under this run's snapshot could double or miss rows that moved.
    logf(LogLevel::Info, "session", t.id, "table without a key was partly copied by an earlier run: copying it again");
    t.chunks.clear();
    t.chunk_state.clear();
    t.chunks_done = 0;
    t.rows_done = 0;
    t.rec.phase = TablePhase::Pending;
    t.rec.snapshot_position.clear();
  }
  if (t.rec.phase == TablePhase::Snapshot && !t.rec.snapshot_position.empty()) {
    t.holding = true;  // its changes wait for its copy
    if (t.held.empty()) t.held = Position(t.rec.snapshot_position);
  }
}

// Creates or evolves every target table the session writes.
void Engine::setup_cascade_state(const std::map<std::string, std::string>& entries) {
  if (source->logs_cascades() || caps.cascades) return;
  auto cfg = config();
  const std::optional<std::int64_t> published = CascadeState::published(entries);
  std::vector<TableState*> reached;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& t : tables)
      if (t->mode == TableMode::Replicate && t->plan.target.reached_by_cascades) reached.push_back(t.get());
  }
  if (reached.empty() && !published) return;
  if (!committer->atomic()) return;  // the stream says that cascades are not reproduced
  const std::string path = CascadeState::path_for(cfg->state_dir.empty() ? CascadeState::default_dir() : cfg->state_dir, name);
  with_retry(nullptr, "open the cascade state", [&] { cascade_state = std::make_shared<CascadeState>(path, store, name); });
  // Resumed: any table has a record (entries of a fresh session hold at most its format).
  bool resumed = false;
  for (const auto& [k, v] : entries)
    if (Ledger::parse_key(k).kind == LedgerKey::Kind::Table) resumed = true;
  auto verdict = cascade_state->reconcile(published, resumed);
  destination = CascadeState::wrap(destination, cascade_state);
  caps.cascades = true;
  logf(LogLevel::Info, "session", "", "foreign-key cascades become change events through the copy of {} table(s) in {}", reached.size(),
       path);
  if (verdict == CascadeState::Verdict::InStep) return;
  // The copy lacks rows the destination has: every reached table that got rows copies again.
  std::vector<CheckpointEntry> writes;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (TableState* t : reached) {
      const TablePhase p = t->phase();
      if (p == TablePhase::Pending || p == TablePhase::Removed || p == TablePhase::Dropped) continue;
      logf(LogLevel::Warn, "session", t->id, "the cascade state in {} does not know this table's rows: copying it again", path);
      t->chunks.clear();
      t->chunk_state.clear();
      t->chunks_done = 0;
      if (p == TablePhase::Snapshot) continue;
      if (t->holding && p != TablePhase::Resyncing) {
        t->rec.needs_resync = true;  // paused, stopped or failed: copied again when it resumes
      } else {
        t->rec.phase = TablePhase::Resyncing;
        t->late_join = true;
        if (!t->holding) {
          t->holding = true;
          if (t->held.empty()) t->held = stream_position;
        }
      }
      writes.push_back(table_entry(*t));
    }
  }
  put(writes);
}

void Engine::prepare_targets() {
  std::vector<std::pair<TableState*, DestinationTable>> live;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& t : tables)
      if (t->phase() != TablePhase::Removed && t->phase() != TablePhase::Dropped) live.emplace_back(t.get(), copy_target(*t));
  }
  for (auto& entry : live) {
    TableState* t = entry.first;
    const DestinationTable& target = entry.second;
    try {
      with_retry(t, "prepare the target table", [&] { destination->prepare_table(target); });
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Cancelled) throw;
      fail_table(*t, e.what());
    }
  }
}

// Streaming tables need a consistent start; fresh ones take it as their snapshot position, and
// every table held back pins it.
void Engine::prepare_stream() {
  std::vector<StreamTable> stream_tables;
  std::vector<TableState*> fresh;
  bool copies = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& t : tables) {
      if (t->mode == TableMode::Copy && t->phase() == TablePhase::Pending) copies = true;
      bool follows = t->live() || t->phase() == TablePhase::Failed || t->phase() == TablePhase::Stopped;
      if (t->mode != TableMode::Replicate || !follows) continue;
      stream_tables.push_back(stream_table(*t));
      if (t->phase() == TablePhase::Pending) fresh.push_back(t.get());
    }
  }
  if (stream_tables.empty()) {
    // A copy: one shared view for every chunk of every table, where the source has one.
    if (copies) with_retry(nullptr, "share a snapshot", [&] { snapshot_id = source->share_snapshot(); });
    return;
  }
  StreamStart start;
  with_retry(nullptr, "prepare change capture", [&] { start = source->prepare_stream(stream_tables); });
  std::vector<CheckpointEntry> writes;
  {
    std::lock_guard<std::mutex> lock(mu);
    snapshot_id = start.snapshot_id;
    if (stream_position.empty()) {
      stream_position = start.position;
      writes.push_back({Ledger::stream_key(), stream_position.str()});
    }
    for (TableState* t : fresh) {
      t->rec.snapshot_position = start.position.str();
      t->held = start.position;
      if (*t->plan.settings.snapshot == SnapshotPolicy::Never) {
        // Not copied: its changes apply from the consistent start on.
        transition(*t, TablePhase::Streaming, lock);
        writes.push_back({Ledger::schema_key(t->id), Ledger::encode_schema(t->source_seen)});
        writes.push_back({Ledger::held_key(t->id), t->held.str()});
        writes.push_back(table_entry(*t));
        continue;
      }
      t->holding = true;  // its changes wait for its copy
    }
  }
  put(writes);
  logf(LogLevel::Info, "session", "", "change capture ready at position {}", start.position.str());
}

}  // namespace cdc::detail
