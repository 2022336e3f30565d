// ReplicationSession: snapshot workers, the stream applier and incremental pollers, with
// checkpoints committed together with the data they cover.
//
// Threads: `runner_` runs the whole session (planning, then the live loop); `workers` copy
// snapshot chunks; `reporter_` calls the progress callback. All shared state is guarded by `mu`.
// Checkpoint layout: see checkpoint_codec.h.
#include "core/checkpoint_codec.h"
#include "core/failpoint.h"
#include "core/logging.h"
#include "core/stream_prefetch.h"
#include "core/text_util.h"
#include "core/value_order.h"

#include <cdc/error.h>
#include <cdc/plan.h>
#include <cdc/registry.h>
#include <cdc/session.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace cdc {

std::string_view to_string(TablePhase phase) {
  switch (phase) {
    case TablePhase::Pending: return "pending";
    case TablePhase::Snapshot: return "snapshot";
    case TablePhase::Streaming: return "streaming";
    case TablePhase::Incremental: return "incremental";
    case TablePhase::Done: return "done";
    case TablePhase::Failed: return "failed";
    case TablePhase::Stopped: return "stopped";
    case TablePhase::Resyncing: return "resyncing";
    case TablePhase::Removed: return "removed";
    case TablePhase::Dropped: return "dropped";
  }
  return "?";
}

std::string_view to_string(SessionState state) {
  switch (state) {
    case SessionState::Idle: return "idle";
    case SessionState::Starting: return "starting";
    case SessionState::Snapshot: return "snapshot";
    case SessionState::Streaming: return "streaming";
    case SessionState::Stopping: return "stopping";
    case SessionState::Finished: return "finished";
    case SessionState::Failed: return "failed";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;
using detail::logf;

using detail::row_key_text;

// Rate over the last few seconds from (time, running total) samples.
class RateMeter {
 public:
  void add(Clock::time_point now, std::int64_t total) {
    samples_.emplace_back(now, total);
    while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(5)) samples_.pop_front();
  }
  double rate(Clock::time_point now) const {
    if (samples_.size() < 2) return 0;
    auto [t0, n0] = samples_.front();
    auto [t1, n1] = samples_.back();
    if (now - t1 > std::chrono::seconds(5)) return 0;  // stalled
    double dt = std::chrono::duration<double>(t1 - t0).count();
    return dt > 0 ? static_cast<double>(n1 - n0) / dt : 0;
  }

 private:
  std::deque<std::pair<Clock::time_point, std::int64_t>> samples_;
};

enum class ChunkState : std::uint8_t { Pending, Running, Done };

struct TableRun {
  TablePlan plan;
  std::string id;  // source table id text: status name and checkpoint key
  TableMode mode = TableMode::Replicate;
  TablePhase phase = TablePhase::Pending;
  detail::TableCheckpoint cp;
  std::vector<SnapshotChunk> chunks;
  std::vector<ChunkState> chunk_state;
  int chunks_running = 0;
  int chunks_done = 0;
  std::int64_t rows_done = 0;
  std::int64_t changes = 0;
  bool paused = false;
  bool stop_requested = false;
  int attempts = 0;
  std::string error;
  Position skip_until;   // stream: events at or before it are already applied for this table
  Position held;         // stream: held back here while paused/stopped/failed
  bool holding = false;
  bool erase_held = false;  // the next stream commit removes "held:<id>"
  bool identity = true;     // values need no conversion
  bool reorder = false;     // target columns differ from the read columns in number or order
  std::int64_t quarantined = 0;
  RateMeter rate;
  // Schema evolution. `source_seen`: the source table as the stream last reported it (empty =
  // plan.source). Under `ddl: ignore` the plan keeps the old definition of `kept_types` columns
  // and leaves out `left_out` columns the destination could not add.
  TableSchema source_seen;
  std::map<std::string, Column> kept_types;
  std::set<std::string> left_out;
  bool ddl_paused = false;  // held by `ddl: pause`; resuming applies the change
  bool ddl_resume = false;  // the next schema change of this table is applied whatever the policy
};

}  // namespace

// session_name(): lib/core/session_name.cpp.

std::shared_ptr<CheckpointStore> open_checkpoint_store(const Config& config, DestinationConnector* destination) {
  auto& registry = ConnectorRegistry::instance();
  if (!config.checkpoint.empty()) return registry.open_checkpoint_store(config.checkpoint);
  std::shared_ptr<DestinationConnector> opened;
  if (!destination) {
    opened = registry.open_destination(config.destination);
    destination = opened.get();
  }
  if (auto store = destination->checkpoint_store()) return store;
  return registry.open_checkpoint_store("sqlite://cdc-checkpoints.db");
}

SessionStatus checkpoint_status(const Config& config) {
  auto store = open_checkpoint_store(config);
  SessionStatus status;
  status.name = session_name(config);
  auto entries = store->load(status.name);
  if (auto it = entries.find("stream"); it != entries.end()) status.stream_position = it->second;
  std::map<std::string, TableStatus> tables;
  for (const auto& [key, value] : entries) {
    if (key.rfind("table:", 0) == 0) {
      std::string id = key.substr(6);
      auto cp = detail::decode_table(value, id);
      TableStatus& t = tables[id];
      t.source = id;
      t.target = cp.target;
      t.phase = cp.phase;
      t.error = cp.error;
      t.changes_applied = cp.changes;
      t.quarantined = cp.quarantined;
      if (cp.mode == "copy") t.mode = TableMode::Copy;
      else if (cp.mode == "incremental") t.mode = TableMode::Incremental;
      if (cp.watermark) t.position = cp.watermark->to_display();
      else if (cp.phase == TablePhase::Streaming) t.position = status.stream_position;
    }
  }
  for (const auto& [key, value] : entries) {
    if (key.rfind("plan:", 0) == 0) {
      std::string id = key.substr(5);
      auto chunks = detail::decode_chunks(value, id);
      TableStatus& t = tables[id];
      t.chunks_total = static_cast<int>(chunks.size());
      t.rows_estimated = 0;
      for (const auto& c : chunks) t.rows_estimated += std::max<std::int64_t>(c.estimated_rows, 0);
    } else if (key.rfind("chunk:", 0) == 0) {
      std::string rest = key.substr(6);
      std::string id = rest.substr(0, rest.rfind(':'));
      TableStatus& t = tables[id];
      t.chunks_done += 1;
      t.rows_done += std::strtoll(value.c_str(), nullptr, 10);
    } else if (key.rfind("held:", 0) == 0) {
      tables[key.substr(5)].position = value;
    }
  }
  for (auto& [id, t] : tables) {
    if (t.source.empty()) t.source = id;
    status.tables.push_back(t);
  }
  return status;
}

struct ReplicationSession::Impl {
  Config config;
  SessionOptions options;
  std::shared_ptr<SourceConnector> source;
  std::shared_ptr<DestinationConnector> destination;
  std::shared_ptr<const TypeMapper> mapper;
  std::shared_ptr<CheckpointStore> store;
  bool store_in_destination = false;
  std::string name;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> stop_flag{false};
  bool paused = false;
  SessionState state = SessionState::Idle;
  std::string error;
  std::vector<std::unique_ptr<TableRun>> tables;
  std::map<TableId, TableRun*> by_source;
  Position stream_position;  // last committed global stream position
  std::int64_t lag_ms = -1;
  bool restart_stream = false;
  Clock::time_point started = Clock::now();
  std::string snapshot_id;
  std::mt19937_64 rng{std::random_device{}()};

  std::thread runner;
  std::thread reporter;
  std::exception_ptr failure;
  SessionStatus final_status;
  bool finished = false;
  bool ran = false;

  Impl(Config c, SessionOptions o) : config(std::move(c)), options(std::move(o)) {}

  // ---- small helpers -------------------------------------------------------------------

  bool stopping() const { return stop_flag.load(); }

  // Sleeps up to `ms`, waking early on stop. Returns false when stopping.
  bool sleep_for(std::int64_t ms) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping(); });
    return !stopping();
  }

  std::int64_t retry_delay(int attempt) {
    double base = static_cast<double>(config.retry.base_delay_ms(attempt));
    std::uniform_real_distribution<double> jitter(1.0 - config.retry.jitter, 1.0 + config.retry.jitter);
    std::lock_guard<std::mutex> lock(mu);
    return static_cast<std::int64_t>(base * jitter(rng));
  }

  TableRun* find_table(const std::string& name) const {
    for (const auto& t : tables)
      if (t->id == name || t->plan.source.id.name == name || t->plan.key == name) return t.get();
    throw config_error("table", fmt::format("no table \"{}\" in this session", name));
  }

  void put_state(const std::vector<CheckpointEntry>& entries) { store->put(name, entries); }

  // Commits data and checkpoint together when the store lives in the destination.
  void commit(DestinationWriter& writer, const std::vector<CheckpointEntry>& entries) {
    if (store_in_destination) {
      writer.commit(name, entries);
    } else {
      writer.commit(name, {});
      if (!entries.empty()) put_state(entries);
    }
  }

  CheckpointEntry table_entry(const TableRun& t) const {
    detail::TableCheckpoint cp = t.cp;
    cp.phase = t.phase;
    cp.target = t.plan.target.schema.id.to_string();
    cp.mode = std::string(to_string(t.mode));
    cp.error = t.error;
    cp.changes = t.changes;
    cp.quarantined = t.quarantined;
    return {detail::table_key(t.id), detail::encode_table(cp)};
  }

  void save_table(const TableRun& t) {
    CheckpointEntry e;
    {
      std::lock_guard<std::mutex> lock(mu);
      e = table_entry(t);
    }
    put_state({e});
  }

  // Marks a table failed. With stop_on_error the whole session stops with this error.
  void fail_table(TableRun& t, const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(mu);
      t.phase = TablePhase::Failed;
      t.error = message;
    }
    logf(LogLevel::Error, "session", t.id, "table failed: {}", message);
    try {
      save_table(t);
    } catch (const std::exception& e) {
      logf(LogLevel::Error, "session", t.id, "could not record the failure: {}", e.what());
    }
    if (config.stop_on_error) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (error.empty()) error = fmt::format("table {} failed: {}", t.id, message);
      }
      request_stop();
    }
  }

  void request_stop() {
    stop_flag = true;
    std::lock_guard<std::mutex> lock(mu);
    cv.notify_all();
  }

  struct ConversionFailure {
    std::string column, value, error, key;
  };

  // Converts one row in read order into target order and types. On a value that cannot be
  // converted: fills `failure` and returns false when given one, throws otherwise.
  bool convert_row(TableRun& t, Row& row, ConversionFailure* failure) const {
    const auto& plan = t.plan;
    if (row.empty()) return true;
    if (!t.identity) {
      for (std::size_t i = 0; i < plan.converters.size() && i < row.size(); ++i) {
        if (!plan.converters[i]) continue;
        try {
          row[i] = plan.converters[i]->convert(row[i]);
        } catch (const Error& e) {
          if (!failure)
            throw Error(ErrorKind::Conversion, e.message(), false,
                        fmt::format("table {} column {} ({})", t.id, plan.read.columns[i].name, row_key_text(plan.read, row)));
          *failure = {plan.read.columns[i].name, row[i].to_display(4096), e.message(), row_key_text(plan.read, row)};
          return false;
        }
      }
    }
    if (t.reorder) {
      Row out;
      out.reserve(plan.target_from_read.size());
      for (int src : plan.target_from_read) out.push_back(src >= 0 ? std::move(row[static_cast<std::size_t>(src)]) : Value::boolean(false));
      row = std::move(out);
    }
    return true;
  }

  bool quarantining() const { return config.on_conversion_error == Config::OnConversionError::Quarantine; }

  // Converts a batch; rows that cannot be converted leave the batch for `quarantined` (or throw
  // when the config says fail).
  void convert_rows(TableRun& t, std::vector<Row>& rows, std::vector<QuarantinedRow>* quarantined = nullptr,
                    const std::string& position = "snapshot") const {
    if (t.identity && !t.reorder) return;
    ConversionFailure f;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (!convert_row(t, rows[i], quarantined ? &f : nullptr)) {
        quarantined->push_back(quarantine_record(t, f, position));
        continue;
      }
      if (kept != i) rows[kept] = std::move(rows[i]);
      ++kept;
    }
    rows.resize(kept);
  }

  static QuarantinedRow quarantine_record(const TableRun& t, const ConversionFailure& f, const std::string& position) {
    QuarantinedRow q;
    q.table = t.id;
    q.key = f.key;
    q.column = f.column;
    q.value = f.value;
    q.error = f.error;
    q.position = position;
    q.at_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    return q;
  }

  // Writes quarantined rows in the writer's transaction. A destination without a quarantine
  // table fails the table with the conversion error itself.
  void write_quarantine(DestinationWriter& writer, const std::vector<QuarantinedRow>& rows) {
    if (rows.empty()) return;
    try {
      writer.quarantine(name, rows);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Destination || e.retryable()) throw;
      const auto& q = rows.front();
      throw Error(ErrorKind::Conversion, q.error, false, fmt::format("table {} column {} ({})", q.table, q.column, q.key));
    }
    for (const auto& q : rows)
      logf(LogLevel::Warn, "session", q.table, "quarantined row {}: column {}: {}", q.key, q.column, q.error);
  }

  // ---- setup ---------------------------------------------------------------------------

  void open_and_plan() {
    auto& registry = ConnectorRegistry::instance();
    if (!source) source = registry.open_source(config.source);
    if (!destination) destination = registry.open_destination(config.destination);
    if (!mapper) mapper = options.type_mapper ? options.type_mapper : make_type_mapper(config);
    name = session_name(config);
    // A one-off copy of the same URLs keeps its own checkpoints, apart from a replication's.
    if (options.snapshot_only && config.name.empty()) name += "-copy";
    if (options.checkpoint_store) {
      store = options.checkpoint_store;
    } else if (config.checkpoint.empty()) {
      store = destination->checkpoint_store();
      store_in_destination = store != nullptr;
      if (!store) store = open_checkpoint_store(config, destination.get());
    } else {
      store = open_checkpoint_store(config, destination.get());
    }
    logf(LogLevel::Info, "session", "", "session {}: {} -> {}", name, redact_url(config.source), redact_url(config.destination));

    auto plans = plan_tables(config, *source, *mapper, destination->dialect(), destination->max_identifier_length());
    auto entries = store->load(name);
    if (auto it = entries.find("stream"); it != entries.end()) stream_position = Position(it->second);

    // A copy whose every table was done is a finished job: this run copies again.
    bool all_copy_done = !plans.empty();
    for (const auto& p : plans) {
      TableMode mode = options.snapshot_only ? TableMode::Copy : p.mode;
      auto it = entries.find(detail::table_key(p.source.id.to_string()));
      if (mode != TableMode::Copy || it == entries.end() || detail::decode_table(it->second, p.key).phase != TablePhase::Done)
        all_copy_done = false;
    }

    for (auto& p : plans) {
      auto t = std::make_unique<TableRun>();
      t->id = p.source.id.to_string();
      t->mode = options.snapshot_only ? TableMode::Copy : p.mode;
      if (t->mode == TableMode::Replicate && !source->supports_stream())
        throw config_error("tables." + p.key + ".mode",
                           fmt::format("the {} source cannot stream changes; use mode copy or incremental", source->dialect()));
      set_plan(*t, std::move(p));
      restore_table(*t, entries, all_copy_done);
      by_source[t->plan.source.id] = t.get();
      tables.push_back(std::move(t));
    }
  }

  // Installs a table's plan and what follows from it for conversions.
  static void set_plan(TableRun& t, TablePlan p) {
    t.identity = std::all_of(p.converters.begin(), p.converters.end(), [](const auto& c) { return c == nullptr; });
    t.reorder = p.target_from_read.size() != p.read.columns.size();
    for (std::size_t i = 0; i < p.target_from_read.size() && !t.reorder; ++i)
      t.reorder = p.target_from_read[i] != static_cast<int>(i);
    t.plan = std::move(p);
  }

  void restore_table(TableRun& t, const std::map<std::string, std::string>& entries, bool fresh_copy) {
    auto cp_it = entries.find(detail::table_key(t.id));
    if (cp_it != entries.end()) t.cp = detail::decode_table(cp_it->second, t.id);
    t.changes = t.cp.changes;
    t.quarantined = t.cp.quarantined;
    bool fresh = cp_it == entries.end() || fresh_copy;
    if (t.mode == TableMode::Replicate && t.cp.snapshot_position.empty()) fresh = true;  // never streamed: snapshot first
    if (t.mode == TableMode::Copy && t.cp.phase == TablePhase::Done && t.cp.mode != "copy") fresh = true;
    if (t.mode == TableMode::Incremental) {
      if (t.cp.mode != "incremental") t.cp.watermark.reset();
      t.phase = TablePhase::Incremental;
      t.changes = t.cp.changes;
      return;
    }
    if (auto h = entries.find(detail::held_key(t.id)); h != entries.end() && !fresh) {
      t.held = Position(h->second);
    }
    auto plan_it = entries.find(detail::plan_key(t.id));
    if (fresh || plan_it == entries.end()) {
      t.phase = TablePhase::Pending;
      t.cp.snapshot_position.clear();
      return;
    }
    t.chunks = detail::decode_chunks(plan_it->second, t.id);
    t.chunk_state.assign(t.chunks.size(), ChunkState::Pending);
    for (std::size_t i = 0; i < t.chunks.size(); ++i) {
      auto c = entries.find(detail::chunk_key(t.id, static_cast<int>(i)));
      if (c == entries.end()) continue;
      t.chunk_state[i] = ChunkState::Done;
      t.chunks_done += 1;
      t.rows_done += std::strtoll(c->second.c_str(), nullptr, 10);
    }
    if (t.chunks_done < static_cast<int>(t.chunks.size())) t.phase = TablePhase::Snapshot;
    else t.phase = t.mode == TableMode::Copy ? TablePhase::Done : TablePhase::Streaming;
    if (t.phase == TablePhase::Snapshot && t.chunks_done > 0 && t.plan.read.primary_key.empty()) {
      // Chunks of a table without a key are ranges of physical position, disjoint only within one
      // snapshot: the rest read under this run's snapshot could double or miss rows that moved.
      logf(LogLevel::Info, "session", t.id, "table without a key was partly copied by an earlier run: copying it again");
      t.chunks.clear();
      t.chunk_state.clear();
      t.chunks_done = 0;
      t.rows_done = 0;
      t.phase = TablePhase::Pending;
      t.cp.snapshot_position.clear();
    }
  }

  // Creates or evolves every target table.
  void prepare_targets() {
    for (auto& t : tables) {
      with_retry(*t, "prepare the target table", [&] { destination->prepare_table(t->plan.target); });
    }
  }

  template <typename F>
  void with_retry(TableRun& t, std::string_view what, F&& f) {
    for (int attempt = 1;; ++attempt) {
      try {
        f();
        return;
      } catch (const Error& e) {
        if (!e.retryable() || attempt >= config.retry.max_attempts || stopping()) throw;
        auto delay = retry_delay(attempt + 1);
        {
          std::lock_guard<std::mutex> lock(mu);
          t.attempts += 1;
          t.error = e.what();
        }
        logf(LogLevel::Warn, "session", t.id, "{} failed (attempt {} of {}), retrying in {} ms: {}", what, attempt,
             config.retry.max_attempts, delay, e.what());
        if (!sleep_for(delay)) throw Error(ErrorKind::Cancelled, "stopped");
      }
    }
  }

  // Streaming tables need a consistent start; fresh tables take it as their snapshot position.
  void prepare_stream() {
    std::vector<StreamTable> stream_tables;
    for (auto& t : tables)
      if (t->mode == TableMode::Replicate) stream_tables.push_back(stream_table(*t));
    if (stream_tables.empty()) return;
    StreamStart start;
    with_retry(*tables.front(), "prepare change capture", [&] { start = source->prepare_stream(stream_tables); });
    snapshot_id = start.snapshot_id;
    std::vector<CheckpointEntry> entries;
    for (auto& t : tables) {
      if (t->mode != TableMode::Replicate || t->phase != TablePhase::Pending) continue;
      t->cp.snapshot_position = start.position.str();
    }
    if (stream_position.empty()) {
      stream_position = start.position;
      entries.push_back({"stream", stream_position.str()});
    }
    if (!entries.empty()) put_state(entries);
    logf(LogLevel::Info, "session", "", "change capture ready at position {}", start.position.str());
  }

  // ---- snapshot --------------------------------------------------------------------------

  // Plans chunks of a fresh table and empties its target, atomically with the plan.
  void start_table(TableRun& t, std::unique_ptr<DestinationWriter>& writer,
                   const std::map<std::string, std::string>& old_entries) {
    // A replicated table without a key is read as one chunk at one position: replaying changes
    // over rows already copied would double them, since nothing identifies a row.
    bool whole = t.mode == TableMode::Replicate && t.plan.read.primary_key.empty();
    // ("whole" = a chunk size no table reaches, with headroom for a connector's rounding arithmetic)
    SnapshotPlanOptions plan_options;
    plan_options.chunk_rows = config.defaults.chunk_rows;
    plan_options.min_chunks = *t.plan.settings.parallel_chunks;
    plan_options.whole_table = whole;
    auto chunks = source->plan_snapshot(t.plan.read, plan_options);
    if (chunks.empty()) chunks.push_back(SnapshotChunk{});
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      chunks[i].index = static_cast<int>(i);
      chunks[i].count = static_cast<int>(chunks.size());
    }
    std::vector<CheckpointEntry> entries;
    for (const auto& [key, value] : old_entries)
      if (key.rfind(detail::chunk_prefix(t.id), 0) == 0 || key == detail::held_key(t.id)) entries.push_back({key, ""});
    entries.push_back({detail::plan_key(t.id), detail::encode_chunks(chunks)});
    {
      std::lock_guard<std::mutex> lock(mu);
      t.chunks = chunks;
      t.chunk_state.assign(chunks.size(), ChunkState::Pending);
      t.chunks_done = 0;
      t.rows_done = 0;
      t.phase = TablePhase::Snapshot;
      t.error.clear();
      entries.push_back(table_entry(t));
    }
    if (!writer) writer = destination->open_writer();
    writer->begin();
    writer->truncate(t.plan.target);
    commit(*writer, entries);
  }

  struct Task {
    TableRun* table = nullptr;
    int chunk = -1;
  };

  // Next chunk allowed by parallel_tables / parallel_chunks and pauses; table == nullptr and
  // chunk == -1 when nothing is left to do at all.
  bool next_task(Task& task) {
    int active_tables = 0;
    bool remaining = false;
    for (const auto& t : tables)
      if (t->chunks_running > 0) ++active_tables;
    for (const auto& t : tables) {
      if (t->phase != TablePhase::Snapshot) continue;
      bool has_pending = false;
      int pending_index = -1;
      for (std::size_t i = 0; i < t->chunk_state.size(); ++i)
        if (t->chunk_state[i] == ChunkState::Pending) {
          has_pending = true;
          pending_index = static_cast<int>(i);
          break;
        }
      if (t->stop_requested) continue;
      if (has_pending || t->chunks_running > 0) remaining = true;
      if (!has_pending || paused || t->paused) continue;
      if (t->chunks_running >= *t->plan.settings.parallel_chunks) continue;
      if (t->chunks_running == 0 && active_tables >= config.parallel_tables) continue;
      task.table = t.get();
      task.chunk = pending_index;
      return true;
    }
    task = Task{};
    return remaining;
  }

  void snapshot_worker() {
    std::unique_ptr<DestinationWriter> writer;
    for (;;) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mu);
        bool more = false;
        cv.wait(lock, [&] {
          if (stopping()) return true;
          more = next_task(task);
          return task.table != nullptr || !more;
        });
        if (stopping() || task.table == nullptr) return;
        task.table->chunk_state[static_cast<std::size_t>(task.chunk)] = ChunkState::Running;
        task.table->chunks_running += 1;
      }
      bool ok = copy_chunk(*task.table, task.chunk, writer);
      bool table_done = false;
      {
        std::lock_guard<std::mutex> lock(mu);
        TableRun& t = *task.table;
        t.chunks_running -= 1;
        t.chunk_state[static_cast<std::size_t>(task.chunk)] = ok ? ChunkState::Done : ChunkState::Pending;
        if (ok) t.chunks_done += 1;
        if (t.phase == TablePhase::Snapshot && t.chunks_done == static_cast<int>(t.chunks.size())) {
          t.phase = t.mode == TableMode::Copy ? TablePhase::Done : TablePhase::Streaming;
          t.error.clear();
          table_done = true;
        } else if (t.phase == TablePhase::Snapshot && t.stop_requested && t.chunks_running == 0) {
          t.phase = TablePhase::Stopped;
        }
        cv.notify_all();
      }
      if (table_done) {
        logf(LogLevel::Info, "session", task.table->id, "snapshot done: {} rows", task.table->rows_done);
        try {
          save_table(*task.table);
        } catch (const std::exception& e) {
          fail_table(*task.table, e.what());
        }
      }
    }
  }

  // Copies one chunk in one destination transaction, with its completion marker. Returns false
  // when the chunk did not complete (stopped, or the table failed).
  bool copy_chunk(TableRun& t, int index, std::unique_ptr<DestinationWriter>& writer) {
    const SnapshotChunk& chunk = t.chunks[static_cast<std::size_t>(index)];
    for (int attempt = 1;; ++attempt) {
      std::int64_t written = 0;
      // A failed attempt leaves nothing behind: its transaction, its connection, its row count.
      auto undo = [&] {
        if (writer) writer->rollback();
        writer.reset();
        std::lock_guard<std::mutex> lock(mu);
        t.rows_done -= written;
      };
      try {
        if (!writer) writer = destination->open_writer();
        ReadRequest req;
        req.schema = t.plan.read;
        req.chunk = chunk;
        req.where = t.plan.settings.where;
        req.batch_size = *t.plan.settings.batch_size;
        req.snapshot_id = snapshot_id;
        auto reader = source->read_chunk(req);
        writer->begin();
        std::vector<Row> batch;
        std::vector<QuarantinedRow> quarantined;
        std::int64_t quarantined_total = 0;
        while (reader->next(batch)) {
          if (stopping() || t.stop_requested) {
            writer->rollback();
            std::lock_guard<std::mutex> lock(mu);
            t.rows_done -= written;
            return false;
          }
          quarantined.clear();
          convert_rows(t, batch, quarantining() ? &quarantined : nullptr);
          writer->write_rows(t.plan.target, batch);
          write_quarantine(*writer, quarantined);
          quarantined_total += static_cast<std::int64_t>(quarantined.size());
          written += static_cast<std::int64_t>(batch.size());
          std::lock_guard<std::mutex> lock(mu);
          t.rows_done += static_cast<std::int64_t>(batch.size());
          t.rate.add(Clock::now(), t.rows_done);
        }
        std::vector<CheckpointEntry> entries{{detail::chunk_key(t.id, index), std::to_string(written)}};
        Position read_at = reader->position();
        if (t.mode == TableMode::Replicate && t.chunks.size() == 1 && !read_at.empty()) {
          // The whole table was read at one known position: its stream takes over exactly there.
          std::lock_guard<std::mutex> lock(mu);
          t.cp.snapshot_position = read_at.str();
          t.held = Position();
          t.holding = false;
          entries.push_back(table_entry(t));
          entries.push_back({detail::held_key(t.id), ""});
        }
        detail::failpoint("snapshot.before_commit");
        commit(*writer, entries);
        detail::failpoint("snapshot.chunk_committed");
        if (quarantined_total) {
          std::lock_guard<std::mutex> lock(mu);
          t.quarantined += quarantined_total;
        }
        return true;
      } catch (const Error& e) {
        undo();
        if (e.kind() == ErrorKind::Cancelled) return false;
        if (e.retryable() && attempt < config.retry.max_attempts && !stopping()) {
          auto delay = retry_delay(attempt + 1);
          {
            std::lock_guard<std::mutex> lock(mu);
            t.attempts += 1;
            t.error = e.what();
          }
          logf(LogLevel::Warn, "session", t.id, "chunk {} failed (attempt {} of {}), retrying in {} ms: {}", index, attempt,
               config.retry.max_attempts, delay, e.what());
          if (!sleep_for(delay)) return false;
          continue;
        }
        fail_table(t, e.what());
        return false;
      } catch (const std::exception& e) {
        undo();
        fail_table(t, e.what());
        return false;
      }
    }
  }

  void run_snapshots() {
    // Whatever keeps the snapshot readable is released once the snapshot phase is over.
    struct Release {
      Impl& s;
      ~Release() {
        if (s.snapshot_id.empty()) return;
        try {
          s.source->release_snapshot(s.snapshot_id);
        } catch (const std::exception& e) {
          logf(LogLevel::Warn, "session", "", "could not release snapshot {}: {}", s.snapshot_id, e.what());
        }
        s.snapshot_id.clear();
      }
    } release{*this};
    bool any = false;
    {
      auto old_entries = store->load(name);
      std::unique_ptr<DestinationWriter> writer;
      for (auto& t : tables) {
        if (t->phase != TablePhase::Pending || stopping()) continue;
        try {
          with_retry(*t, "plan the snapshot", [&] {
            try {
              start_table(*t, writer, old_entries);
            } catch (...) {
              if (writer) writer->rollback();
              writer.reset();
              throw;
            }
          });
        } catch (const std::exception& e) {
          fail_table(*t, e.what());
        }
      }
      for (auto& t : tables) any = any || t->phase == TablePhase::Snapshot;
    }
    if (!any || stopping()) return;
    if (snapshot_id.empty()) {
      // No change stream handed out a snapshot (a copy): share one, so that every chunk of every
      // table reads the same point in time.
      TableRun& first = **std::find_if(tables.begin(), tables.end(), [](const auto& t) { return t->phase == TablePhase::Snapshot; });
      try {
        with_retry(first, "share a snapshot", [&] { snapshot_id = source->share_snapshot(); });
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::Cancelled) return;
        throw;
      }
    }
    set_state(SessionState::Snapshot);
    int max_chunks = 1;
    for (auto& t : tables) max_chunks = std::max(max_chunks, *t->plan.settings.parallel_chunks);
    int workers = config.workers > 0 ? config.workers : std::max(config.parallel_tables, max_chunks);
    std::vector<std::thread> threads;
    for (int i = 0; i < workers; ++i) threads.emplace_back([this] { snapshot_worker(); });
    for (auto& th : threads) th.join();
  }

  // ---- stream ------------------------------------------------------------------------------

  bool position_after(const Position& a, const Position& b) const { return source->compare_positions(a, b) > 0; }

  // Sets each streaming table's skip point and returns where the stream must start. A table
  // held back (paused, stopped, failed, or not done with its snapshot while the stream moved on)
  // replays from its held position; the others skip what the global position already covers.
  Position stream_start() {
    std::lock_guard<std::mutex> lock(mu);
    Position start = stream_position;
    for (auto& t : tables) {
      if (t->mode != TableMode::Replicate || t->phase != TablePhase::Streaming || t->holding) continue;
      Position skip = stream_position;
      if (!t->held.empty()) {
        skip = t->held;
        t->erase_held = true;
      } else if (!t->cp.snapshot_position.empty() &&
                 (skip.empty() || position_after(Position(t->cp.snapshot_position), skip))) {
        skip = Position(t->cp.snapshot_position);
      }
      t->skip_until = skip;
      if (start.empty() || position_after(start, skip)) start = skip;
    }
    return start;
  }

  // Replicate tables that will not apply events while the stream moves on keep their place.
  void hold_unfinished_tables() {
    std::vector<CheckpointEntry> entries;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& t : tables) {
        if (t->mode != TableMode::Replicate || t->phase == TablePhase::Streaming || !t->held.empty()) continue;
        if (t->cp.snapshot_position.empty()) continue;  // starts afresh next time
        t->held = Position(t->cp.snapshot_position);
        t->holding = true;
        entries.push_back({detail::held_key(t->id), t->held.str()});
      }
    }
    if (!entries.empty()) put_state(entries);
  }

  static StreamTable stream_table(const TableRun& t) {
    return StreamTable{t.plan.read, t.plan.settings.where, t.source_seen.columns.empty() ? t.plan.source : t.source_seen};
  }

  std::vector<StreamTable> stream_tables() const {
    std::vector<StreamTable> out;
    for (const auto& t : tables)
      if (t->mode == TableMode::Replicate) out.push_back(stream_table(*t));
    return out;
  }

  // The position the source may release its log up to: nothing a held table still needs.
  Position release_point() const {
    Position p = stream_position;
    for (const auto& t : tables)
      if (!t->held.empty() && position_after(p, t->held)) p = t->held;
    return p;
  }

  // Holds a streaming table back at the last committed position (pause, stop, failure).
  void hold_table(TableRun& t) {
    if (t.mode != TableMode::Replicate || t.holding) return;
    t.holding = true;
    if (t.held.empty()) t.held = stream_position;
  }

  // A streaming table that fails keeps its place (the last committed position) for the next run.
  void fail_streaming_table(TableRun& t, const std::string& message) {
    Position held;
    {
      std::lock_guard<std::mutex> lock(mu);
      hold_table(t);
      held = t.held;
    }
    if (!held.empty()) put_state({{detail::held_key(t.id), held.str()}});
    fail_table(t, message);
  }

  // Applies one polled batch: events grouped per table in order, one destination transaction,
  // the stream checkpoint at the last transaction boundary.
  void apply_batch(std::vector<ChangeEvent>& events, std::unique_ptr<DestinationWriter>& writer, ChangeStream& stream) {
    Position boundary;
    std::int64_t last_commit_us = 0;
    std::vector<std::pair<TableRun*, std::vector<ChangeEvent>>> groups;
    std::map<TableRun*, std::size_t> group_of;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& ev : events) {
        if (ev.end_of_transaction) boundary = ev.position;
        if (ev.commit_time_us) last_commit_us = ev.commit_time_us;
        auto it = by_source.find(ev.table);
        if (it == by_source.end()) continue;
        TableRun& t = *it->second;
        if (t.mode != TableMode::Replicate || t.holding || t.phase != TablePhase::Streaming) continue;
        if (!t.skip_until.empty()) {
          if (!position_after(ev.position, t.skip_until)) continue;
          t.skip_until = Position();
        }
        auto g = group_of.find(&t);
        if (g == group_of.end()) {
          g = group_of.emplace(&t, groups.size()).first;
          groups.push_back({&t, {}});
        }
        groups[g->second].second.push_back(std::move(ev));
      }
    }
    std::map<TableRun*, std::vector<QuarantinedRow>> quarantined;
    for (auto& [t, evs] : groups) {
      std::size_t kept = 0;
      for (std::size_t i = 0; i < evs.size(); ++i) {
        ChangeEvent& ev = evs[i];
        std::vector<Row> rows;
        if (!ev.before.empty()) rows.push_back(std::move(ev.before));
        if (!ev.after.empty()) rows.push_back(std::move(ev.after));
        bool converted = true;
        try {
          ConversionFailure f;
          for (auto& row : rows) {
            if (convert_row(*t, row, quarantining() ? &f : nullptr)) continue;
            quarantined[t].push_back(quarantine_record(*t, f, ev.position.str()));
            converted = false;
            break;
          }
        } catch (const Error& e) {
          fail_streaming_table(*t, e.what());
          break;
        }
        if (!converted) continue;  // the change is in quarantine, not applied
        std::size_t r = 0;
        if (ev.op == ChangeOp::Delete || (ev.op == ChangeOp::Update && rows.size() == 2)) ev.before = std::move(rows[r++]);
        if (r < rows.size()) ev.after = std::move(rows[r]);
        if (!ev.unchanged.empty() && ev.unchanged.size() != t->plan.target.schema.columns.size()) {
          std::vector<bool> mask;
          for (int src : t->plan.target_from_read)
            mask.push_back(src >= 0 && static_cast<std::size_t>(src) < ev.unchanged.size() && ev.unchanged[static_cast<std::size_t>(src)]);
          ev.unchanged = std::move(mask);
        }
        if (kept != i) evs[kept] = std::move(ev);
        ++kept;
      }
      if (t->phase == TablePhase::Streaming) evs.resize(kept);
    }

    for (int attempt = 1;; ++attempt) {
      std::vector<CheckpointEntry> entries;
      TableRun* failing = nullptr;
      try {
        if (!writer) writer = destination->open_writer();
        writer->begin();
        for (auto& [t, evs] : groups) {
          if (t->phase != TablePhase::Streaming) continue;
          failing = t;
          writer->apply(t->plan.target, evs);
          if (auto q = quarantined.find(t); q != quarantined.end()) write_quarantine(*writer, q->second);
          failing = nullptr;
        }
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!boundary.empty()) entries.push_back({"stream", boundary.str()});
          for (auto& t : tables)
            if (t->erase_held) entries.push_back({detail::held_key(t->id), ""});
        }
        detail::failpoint("stream.before_commit");
        commit(*writer, entries);
        detail::failpoint("stream.batch_committed");
        break;
      } catch (const Error& e) {
        if (writer) writer->rollback();
        writer.reset();
        if (e.retryable() && attempt < config.retry.max_attempts && !stopping()) {
          auto delay = retry_delay(attempt + 1);
          logf(LogLevel::Warn, "session", failing ? failing->id : "", "applying changes failed (attempt {}), retrying in {} ms: {}",
               attempt, delay, e.what());
          if (!sleep_for(delay)) throw Error(ErrorKind::Cancelled, "stopped");
          continue;
        }
        if (!failing) throw;
        // Isolate the failing table: hold it where it was, apply the rest again.
        fail_streaming_table(*failing, e.what());
        if (stopping()) throw Error(ErrorKind::Cancelled, "stopped");
      }
    }

    auto now = Clock::now();
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [t, evs] : groups) {
      if (t->phase != TablePhase::Streaming) continue;
      if (auto q = quarantined.find(t); q != quarantined.end()) t->quarantined += static_cast<std::int64_t>(q->second.size());
      t->changes += static_cast<std::int64_t>(evs.size());
      t->rate.add(now, t->changes);
    }
    for (auto& t : tables)
      if (t->erase_held) {
        t->erase_held = false;
        t->held = Position();
      }
    if (!boundary.empty()) stream_position = boundary;
    if (last_commit_us) {
      auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      lag_ms = std::max<std::int64_t>(0, (now_us - last_commit_us) / 1000);
    }
    Position release = release_point();
    if (!release.empty()) stream.acknowledge(release);
  }

  // ---- schema evolution --------------------------------------------------------------------

  static std::string type_text(const Column& c) { return c.source_type.empty() ? c.type.to_string() : c.source_type; }

  // The source table as the plan must see it: `after`, with the definitions `ddl: ignore` keeps.
  static TableSchema effective_source(const TableRun& t, const TableSchema& after) {
    TableSchema e = after;
    e.columns.clear();
    for (const auto& c : after.columns) {
      if (t.left_out.count(c.name)) continue;
      auto kept = t.kept_types.find(c.name);
      e.columns.push_back(kept == t.kept_types.end() ? c : kept->second);
    }
    return e;
  }

  // Whether a change touches what the table copies (config `columns` / `exclude_columns`).
  static bool copied(const TableRun& t, const ColumnChange& c) {
    const TableSettings& s = t.plan.settings;
    if (c.kind == ColumnChangeKind::Added)
      return s.columns.empty() && std::find(s.exclude_columns.begin(), s.exclude_columns.end(), c.column) == s.exclude_columns.end();
    return t.plan.read.index_of(c.before.name) >= 0;
  }

  // The target column a plan writes a source column to, or nullptr.
  static const Column* target_of(const TablePlan& p, const std::string& source_column) {
    int r = p.read.index_of(source_column);
    for (std::size_t i = 0; r >= 0 && i < p.target_from_read.size(); ++i)
      if (p.target_from_read[i] == r) return &p.target.schema.columns[i];
    return nullptr;
  }

  void record_history(DestinationWriter& writer, const std::vector<SchemaHistoryEntry>& entries) {
    if (entries.empty()) return;
    try {
      writer.record_schema_changes(name, entries);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Destination || e.retryable()) throw;
      logf(LogLevel::Debug, "session", entries.front().table, "schema history not recorded: {}", e.message());
    }
  }

  // Records entries in a transaction of their own (a change that was not applied).
  void record_alone(std::unique_ptr<DestinationWriter>& writer, const std::vector<SchemaHistoryEntry>& entries) {
    try {
      if (!writer) writer = destination->open_writer();
      writer->begin();
      record_history(*writer, entries);
      writer->commit(name, {});
    } catch (const std::exception& e) {
      if (writer) writer->rollback();
      writer.reset();
      logf(LogLevel::Warn, "session", entries.empty() ? "" : entries.front().table, "could not record the schema change: {}", e.what());
    }
  }

  // One schema change reported by the stream: compares it with what the table copies, follows
  // the table's `ddl` policy, evolves the destination and records every change in the schema
  // history (in the destination transaction that evolves the table, where its DDL is
  // transactional), then re-plans the table with the same type mapper as the snapshot.
  // Returns true when the table now has a new plan (the stream must reopen with it). A held table
  // meets the change again when its stream replays from where it was held.
  // (Unlike rows, a change before a table's skip point still counts: the plan must follow the
  // source's columns from here on.)
  bool evolve_table(const ChangeEvent& ev, std::unique_ptr<DestinationWriter>& writer, ChangeStream& stream) {
    TableRun* found = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = by_source.find(ev.table);
      if (it == by_source.end()) return false;
      TableRun& t = *it->second;
      if (t.mode != TableMode::Replicate || t.holding || t.phase != TablePhase::Streaming) return false;
      found = &t;
    }
    TableRun& t = *found;
    const SchemaChange& sc = *ev.schema_change;
    const TableSchema& seen = t.source_seen.columns.empty() ? t.plan.source : t.source_seen;
    std::vector<ColumnChange> changes;
    for (auto& c : diff_schemas(seen, sc.after, sc.renamed))
      if (copied(t, c)) changes.push_back(std::move(c));

    DdlPolicy policy = *t.plan.settings.ddl;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (t.ddl_resume) policy = DdlPolicy::Apply;
      t.ddl_resume = false;
    }
    const TablePlan old_plan = t.plan;
    const auto now_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto history = [&](const ColumnChange& c, std::string_view action, std::string ddl = {}) {
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
      h.position = ev.position.str();
      h.at_us = now_us;
      return h;
    };
    auto all_history = [&](std::string_view action) {
      std::vector<SchemaHistoryEntry> out;
      for (const auto& c : changes) out.push_back(history(c, action));
      return out;
    };
    auto describe = [&](const ColumnChange& c) {
      return fmt::format("column {} changed from {} to {}: {}", c.column, type_text(c.before), type_text(c.after), c.reason);
    };
    // Holds the table at the last committed position; resume_table applies the change.
    auto pause = [&](const std::string& why) {
      record_alone(writer, all_history("paused"));
      Position held;
      {
        std::lock_guard<std::mutex> lock(mu);
        t.paused = true;
        t.ddl_paused = true;
        hold_table(t);
        held = t.held;
      }
      if (!held.empty()) put_state({{detail::held_key(t.id), held.str()}});
      logf(LogLevel::Warn, "session", t.id, "paused by its ddl policy: {}; resume the table to apply the change", why);
      return false;
    };
    auto fail = [&](const std::string& why) {
      record_alone(writer, all_history("failed"));
      fail_streaming_table(t, fmt::format("schema change of table {}: {} (ddl: {})", t.id, why, to_string(policy)));
      return false;
    };

    const ColumnChange* incompatible = nullptr;
    for (const auto& c : changes)
      if (c.kind == ColumnChangeKind::Incompatible && !incompatible) incompatible = &c;
    if (incompatible && policy == DdlPolicy::Fail) return fail(describe(*incompatible));
    if (incompatible && policy == DdlPolicy::Pause) return pause(describe(*incompatible));

    // What stays as it was under `ignore`; everything else is applied.
    auto kept_types = t.kept_types;
    auto left_out = t.left_out;
    std::set<std::size_t> ignored;
    auto ignore = [&](std::size_t i) {
      const ColumnChange& c = changes[i];
      ignored.insert(i);
      if (c.kind == ColumnChangeKind::Added || c.kind == ColumnChangeKind::Renamed) left_out.insert(c.column);
      if (c.kind == ColumnChangeKind::Widened || c.kind == ColumnChangeKind::Incompatible) {
        Column old = c.before;
        old.name = c.column;
        kept_types[c.column] = old;
      }
    };
    // A column changed again: what an earlier `ignore` kept of it no longer holds.
    for (const auto& c : changes) {
      kept_types.erase(c.column);
      left_out.erase(c.column);
    }
    if (policy == DdlPolicy::Ignore)
      for (std::size_t i = 0; i < changes.size(); ++i)
        if (changes[i].kind == ColumnChangeKind::Incompatible) ignore(i);

    for (int round = 0; round < 2; ++round) {
      TablePlan plan;
      std::vector<TargetColumnChange> target;
      std::vector<std::size_t> target_of_change;  // the change each target change came from
      try {
        TableRun probe;
        probe.kept_types = kept_types;
        probe.left_out = left_out;
        plan = plan_table(config, effective_source(probe, sc.after), old_plan.key, *mapper, source->dialect(),
                          destination->dialect(), destination->max_identifier_length());
        for (std::size_t i = 0; i < changes.size(); ++i) {
          if (ignored.count(i)) continue;
          const ColumnChange& c = changes[i];
          const Column* before = c.kind == ColumnChangeKind::Added ? nullptr : target_of(old_plan, c.before.name);
          const Column* after = c.kind == ColumnChangeKind::Dropped ? nullptr : target_of(plan, c.column);
          TargetColumnChange tc;
          tc.kind = c.kind;
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
            } else if (c.kind != ColumnChangeKind::Added && before && before->type == after->type &&
                       before->source_type == after->source_type) {
              continue;  // the target type does not change (both map to the same type)
            }
          }
          target.push_back(std::move(tc));
          target_of_change.push_back(i);
        }
      } catch (const Error& e) {
        return fail(e.what());
      }

      std::vector<std::string> ddl(target.size());
      try {
        if (!writer) writer = destination->open_writer();
        writer->begin();
        if (!target.empty()) ddl = writer->evolve(plan.target, target);
        ddl.resize(target.size());
        std::vector<SchemaHistoryEntry> entries;
        for (std::size_t i = 0; i < changes.size(); ++i) {
          std::string text;
          for (std::size_t k = 0; k < target_of_change.size(); ++k)
            if (target_of_change[k] == i && !ddl[k].empty()) text += (text.empty() ? "" : "; ") + ddl[k];
          entries.push_back(history(changes[i], ignored.count(i) ? "ignored" : "applied", text));
        }
        record_history(*writer, entries);
        std::vector<CheckpointEntry> cp;
        if (ev.end_of_transaction) cp.push_back({"stream", ev.position.str()});
        commit(*writer, cp);
      } catch (const Error& e) {
        if (writer) writer->rollback();
        writer.reset();
        if (e.retryable()) throw;  // the stream reconnects and reports the change again
        // The destination cannot take the change: the policy decides.
        std::string why = fmt::format("the destination cannot apply it: {}", e.what());
        if (policy == DdlPolicy::Pause) return pause(why);
        if (policy != DdlPolicy::Ignore || round > 0) return fail(why);
        logf(LogLevel::Warn, "session", t.id, "schema change not applied ({}); ddl: ignore keeps the columns the target has", why);
        for (std::size_t i = 0; i < changes.size(); ++i)
          if (!ignored.count(i)) ignore(i);
        continue;
      }

      for (std::size_t i = 0; i < changes.size(); ++i)
        logf(ignored.count(i) ? LogLevel::Warn : LogLevel::Info, "session", t.id, "schema change {} column {}{}: {}",
             to_string(changes[i].kind), changes[i].column,
             changes[i].kind == ColumnChangeKind::Incompatible ? " (" + changes[i].reason + ")" : std::string(),
             ignored.count(i) ? "ignored (ddl: ignore)" : "applied");
      Position release;
      {
        std::lock_guard<std::mutex> lock(mu);
        t.kept_types = std::move(kept_types);
        t.left_out = std::move(left_out);
        t.source_seen = sc.after;
        set_plan(t, std::move(plan));
        if (ev.end_of_transaction) stream_position = ev.position;
        release = release_point();
      }
      if (ev.end_of_transaction && !release.empty()) stream.acknowledge(release);
      return true;
    }
    return false;
  }

  // While no change for a replicated table arrives, the log still moves on (writes to other
  // tables, other databases): record and acknowledge the stream's position now and then, so a
  // restart does not re-read all of it and the source can release its log.
  void advance_idle(ChangeStream& stream, Clock::time_point& last) {
    if (Clock::now() - last < std::chrono::seconds(1)) return;
    last = Clock::now();
    Position p = stream.position();
    if (p.empty()) return;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!stream_position.empty() && !position_after(p, stream_position)) return;
    }
    put_state({{"stream", p.str()}});
    Position release;
    {
      std::lock_guard<std::mutex> lock(mu);
      stream_position = p;
      release = release_point();
    }
    if (!release.empty()) stream.acknowledge(release);
  }

  // ---- incremental -------------------------------------------------------------------------

  // One poll of one incremental table: rows past the watermark, upserted in one transaction
  // together with the new watermark. Returns the number of rows.
  std::int64_t poll_incremental(TableRun& t, std::unique_ptr<DestinationWriter>& writer) {
    std::int64_t rows = 0;
    with_retry(t, "incremental poll", [&] {
      rows = 0;
      std::int64_t quarantined_here = 0;
      try {
        if (!writer) writer = destination->open_writer();
        IncrementalRequest req;
        req.schema = t.plan.read;
        req.watermark_column = t.plan.settings.watermark->column;
        req.last_value = t.cp.watermark;
        req.query = t.plan.settings.query;
        req.where = t.plan.settings.where;
        req.batch_size = *t.plan.settings.batch_size;
        int wm_index = t.plan.read.index_of(req.watermark_column);
        auto reader = source->read_incremental(req);
        std::optional<Value> high = t.cp.watermark;
        writer->begin();
        std::vector<Row> batch;
        while (reader->next(batch)) {
          if (stopping()) {
            writer->rollback();
            return;
          }
          for (const auto& row : batch) {
            const Value& v = row[static_cast<std::size_t>(wm_index)];
            if (!v.is_null() && (!high || detail::compare_values(v, *high) > 0)) high = v;
          }
          rows += static_cast<std::int64_t>(batch.size());
          std::vector<QuarantinedRow> quarantined;
          convert_rows(t, batch, quarantining() ? &quarantined : nullptr, "incremental");
          writer->write_rows(t.plan.target, batch);
          write_quarantine(*writer, quarantined);
          quarantined_here += static_cast<std::int64_t>(quarantined.size());
        }
        if (rows == 0) {
          writer->rollback();
          return;
        }
        CheckpointEntry entry;
        {
          std::lock_guard<std::mutex> lock(mu);
          detail::TableCheckpoint saved = t.cp;
          std::int64_t saved_changes = t.changes;
          t.cp.watermark = high;
          t.changes += rows;
          entry = table_entry(t);
          t.cp = saved;
          t.changes = saved_changes;
        }
        commit(*writer, {entry});
        std::lock_guard<std::mutex> lock(mu);
        t.cp.watermark = high;
        t.changes += rows;
        t.rows_done += rows;
        t.quarantined += quarantined_here;
        t.rate.add(Clock::now(), t.changes);
      } catch (...) {
        if (writer) writer->rollback();
        writer.reset();
        throw;
      }
    });
    return rows;
  }

  // ---- live loop ---------------------------------------------------------------------------

  void live_loop() {
    bool has_stream = false, has_incremental = false;
    for (auto& t : tables) {
      if (t->mode == TableMode::Replicate && t->phase == TablePhase::Streaming) has_stream = true;
      if (t->mode == TableMode::Incremental) has_incremental = true;
    }
    if (!has_stream && !has_incremental) return;
    set_state(SessionState::Streaming);
    // Tables failed during the snapshot do not stream.
    std::unique_ptr<ChangeStream> stream;
    std::unique_ptr<DestinationWriter> stream_writer, inc_writer;
    int stream_attempt = 0;
    int idle_rounds = 0;
    Clock::time_point last_idle_advance = Clock::now();
    auto next_incremental = Clock::now();
    std::vector<ChangeEvent> events;
    while (!stopping()) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stopping() || !paused; });
        if (stopping()) break;
        if (restart_stream) {
          restart_stream = false;
          lock.unlock();
          stream.reset();
        }
      }
      bool got = false;
      if (has_stream) {
        try {
          if (!stream) {
            Position from = stream_start();
            // Plans change with the schema. Read ahead on a thread of its own, so that decoding
            // the log overlaps applying it.
            stream = std::make_unique<detail::PrefetchingStream>(source->open_stream(stream_tables(), from));
            logf(LogLevel::Info, "session", "", "streaming changes from position {}", from.str());
          }
          events.clear();
          auto wait = has_incremental ? std::min<std::int64_t>(config.poll_interval_ms, 200) : config.poll_interval_ms;
          stream->poll(events, static_cast<std::size_t>(config.stream_batch_rows), std::chrono::milliseconds(wait));
          if (!events.empty()) {
            got = true;
            auto change = std::find_if(events.begin(), events.end(), [](const ChangeEvent& e) { return e.schema_change != nullptr; });
            if (change == events.end()) {
              apply_batch(events, stream_writer, *stream);
            } else {
              // Rows before the change are applied with the old plan; the stream then reopens with
              // the new one (rows after it, if a source delivered any, are read again).
              ChangeEvent ev = std::move(*change);
              events.erase(change, events.end());
              if (!events.empty()) apply_batch(events, stream_writer, *stream);
              if (evolve_table(ev, stream_writer, *stream)) stream.reset();
            }
          } else {
            advance_idle(*stream, last_idle_advance);
          }
          stream_attempt = 0;
        } catch (const Error& e) {
          if (e.kind() == ErrorKind::Cancelled) break;
          stream.reset();
          stream_writer.reset();
          if (!e.retryable() || ++stream_attempt >= config.retry.max_attempts) throw;
          auto delay = retry_delay(stream_attempt + 1);
          logf(LogLevel::Warn, "session", "", "change stream failed (attempt {}), reconnecting in {} ms: {}", stream_attempt, delay,
               e.what());
          if (!sleep_for(delay)) break;
          continue;
        }
      }
      if (has_incremental && Clock::now() >= next_incremental) {
        for (auto& t : tables) {
          if (t->mode != TableMode::Incremental || stopping()) continue;
          {
            std::lock_guard<std::mutex> lock(mu);
            if (t->paused || t->stop_requested || t->phase != TablePhase::Incremental) continue;
          }
          try {
            if (poll_incremental(*t, inc_writer) > 0) got = true;
          } catch (const Error& e) {
            if (e.kind() == ErrorKind::Cancelled) break;
            fail_table(*t, e.what());
          } catch (const std::exception& e) {
            fail_table(*t, e.what());
          }
        }
        next_incremental = Clock::now() + std::chrono::milliseconds(config.poll_interval_ms);
      }
      if (options.exit_when_idle) {
        idle_rounds = got ? 0 : idle_rounds + 1;
        if (idle_rounds >= 2) break;
      }
      if (!has_stream && !got) {
        auto until_next = std::chrono::duration_cast<std::chrono::milliseconds>(next_incremental - Clock::now()).count();
        if (until_next > 0 && !sleep_for(until_next)) break;
      }
    }
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  void set_state(SessionState s) {
    std::lock_guard<std::mutex> lock(mu);
    state = s;
  }

  void run_all() {
    set_state(SessionState::Starting);
    open_and_plan();
    if (tables.empty()) logf(LogLevel::Warn, "session", "", "no table matches include/exclude: nothing to do");
    prepare_targets();
    prepare_stream();
    run_snapshots();
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!error.empty()) throw Error(ErrorKind::State, error);
    }
    hold_unfinished_tables();
    if (!stopping()) live_loop();
    for (auto& t : tables) {
      if (t->mode == TableMode::Copy) continue;
      // Record where each live table stands (phase, change counts) at a clean stop.
      try {
        save_table(*t);
      } catch (const std::exception& e) {
        logf(LogLevel::Warn, "session", t->id, "could not record the table state: {}", e.what());
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    if (!error.empty()) throw Error(ErrorKind::State, error);
  }

  void reporter_loop() {
    std::unique_lock<std::mutex> lock(mu);
    while (!finished) {
      cv.wait_for(lock, options.progress_interval, [&] { return finished; });
      if (finished) break;
      lock.unlock();
      options.on_progress(status());
      lock.lock();
    }
  }

  SessionStatus status() const {
    std::lock_guard<std::mutex> lock(mu);
    SessionStatus s;
    s.name = name;
    s.state = state;
    s.error = error;
    s.stream_position = stream_position.str();
    s.lag_ms = lag_ms;
    s.elapsed_seconds = std::chrono::duration<double>(Clock::now() - started).count();
    auto now = Clock::now();
    for (const auto& t : tables) {
      TableStatus ts;
      ts.source = t->id;
      ts.target = t->plan.target.schema.id.to_string();
      ts.mode = t->mode;
      ts.phase = t->phase;
      ts.paused = t->paused || paused;
      ts.rows_done = t->rows_done;
      ts.rows_estimated = t->plan.source.estimated_rows;
      if (ts.rows_estimated >= 0 && ts.rows_done > ts.rows_estimated && t->phase == TablePhase::Snapshot)
        ts.rows_estimated = ts.rows_done;
      ts.chunks_done = t->chunks_done;
      ts.chunks_total = static_cast<int>(t->chunks.size());
      ts.changes_applied = t->changes;
      ts.rows_per_second = t->rate.rate(now);
      if (t->phase == TablePhase::Snapshot && ts.rows_per_second > 0 && ts.rows_estimated > ts.rows_done)
        ts.eta_seconds = static_cast<double>(ts.rows_estimated - ts.rows_done) / ts.rows_per_second;
      else if (t->phase == TablePhase::Snapshot)
        ts.eta_seconds = -1;
      else
        ts.eta_seconds = 0;
      ts.attempts = t->attempts;
      ts.quarantined = t->quarantined;
      if (t->mode == TableMode::Incremental)
        ts.position = t->cp.watermark ? t->cp.watermark->to_display() : "";
      else if (!t->held.empty())
        ts.position = t->held.str();
      else if (t->phase == TablePhase::Streaming)
        ts.position = stream_position.str();
      ts.error = t->error;
      s.tables.push_back(std::move(ts));
    }
    return s;
  }
};

ReplicationSession::ReplicationSession(Config config, SessionOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {
  validate_config(impl_->config);
}

ReplicationSession::ReplicationSession(Config config, std::shared_ptr<SourceConnector> source,
                                       std::shared_ptr<DestinationConnector> destination, SessionOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {
  if (!source || !destination) throw config_error("session", "source and destination connectors must not be null");
  impl_->source = std::move(source);
  impl_->destination = std::move(destination);
  // URLs are only names here; connectors were given.
  if (impl_->config.source.empty()) impl_->config.source = "custom://" + impl_->source->dialect();
  if (impl_->config.destination.empty()) impl_->config.destination = "custom://" + impl_->destination->dialect();
  validate_config(impl_->config);
}

ReplicationSession::~ReplicationSession() {
  stop();
  if (impl_->runner.joinable()) impl_->runner.join();
  if (impl_->reporter.joinable()) impl_->reporter.join();
}

void ReplicationSession::start() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.ran) throw Error(ErrorKind::State, "a session runs once; create a new ReplicationSession to run again");
    s.ran = true;
    s.started = Clock::now();
    s.finished = false;
  }
  if (s.options.on_progress) s.reporter = std::thread([&s] { s.reporter_loop(); });
  s.runner = std::thread([&s] {
    try {
      s.run_all();
      std::lock_guard<std::mutex> lock(s.mu);
      s.state = SessionState::Finished;
    } catch (const Error& e) {
      std::lock_guard<std::mutex> lock(s.mu);
      s.state = SessionState::Failed;
      if (s.error.empty()) s.error = e.what();
      s.failure = std::current_exception();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(s.mu);
      s.state = SessionState::Failed;
      if (s.error.empty()) s.error = e.what();
      s.failure = std::make_exception_ptr(Error(ErrorKind::Internal, e.what()));
    }
    auto final_status = s.status();
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.final_status = final_status;
      s.finished = true;
      s.cv.notify_all();
    }
    if (s.options.on_progress) s.options.on_progress(final_status);
  });
}

void ReplicationSession::stop() {
  impl_->request_stop();
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->state != SessionState::Finished && impl_->state != SessionState::Failed && impl_->state != SessionState::Idle)
    impl_->state = SessionState::Stopping;
}

SessionStatus ReplicationSession::wait() {
  if (impl_->runner.joinable()) impl_->runner.join();
  if (impl_->reporter.joinable()) impl_->reporter.join();
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->failure) std::rethrow_exception(impl_->failure);
  return impl_->final_status;
}

SessionStatus ReplicationSession::run() {
  start();
  return wait();
}

bool ReplicationSession::running() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->runner.joinable() && !impl_->finished;
}

void ReplicationSession::pause() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->paused = true;
  impl_->cv.notify_all();
}

void ReplicationSession::resume() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->paused = false;
  impl_->cv.notify_all();
}

void ReplicationSession::pause_table(const std::string& table) {
  Position held;
  std::string id;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    TableRun* t = impl_->find_table(table);
    t->paused = true;
    if (t->phase == TablePhase::Streaming) {
      impl_->hold_table(*t);
      held = t->held;
      id = t->id;
    }
    impl_->cv.notify_all();
  }
  if (!held.empty()) impl_->put_state({{detail::held_key(id), held.str()}});
}

void ReplicationSession::resume_table(const std::string& table) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  TableRun* t = impl_->find_table(table);
  t->paused = false;
  if (t->ddl_paused) {  // held by `ddl: pause`: the replayed change is applied now
    t->ddl_paused = false;
    t->ddl_resume = true;
  }
  if (t->holding && t->phase == TablePhase::Streaming) {
    // Replay its events from where it was held; other tables skip what they already have.
    t->holding = false;
    t->erase_held = true;
    impl_->restart_stream = true;
  }
  impl_->cv.notify_all();
}

void ReplicationSession::stop_table(const std::string& table) {
  Position held;
  std::string id;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    TableRun* t = impl_->find_table(table);
    t->stop_requested = true;
    if (t->phase == TablePhase::Streaming) {
      impl_->hold_table(*t);
      held = t->held;
      id = t->id;
    }
    if (t->phase == TablePhase::Streaming || t->phase == TablePhase::Incremental ||
        (t->phase == TablePhase::Snapshot && t->chunks_running == 0) || t->phase == TablePhase::Pending)
      t->phase = TablePhase::Stopped;
    impl_->cv.notify_all();
  }
  if (!held.empty()) impl_->put_state({{detail::held_key(id), held.str()}});
}

SessionStatus ReplicationSession::status() const { return impl_->status(); }

void ReplicationSession::resync_table(const std::string&) { throw Error(ErrorKind::Internal, "resync_table: not built yet"); }

void ReplicationSession::reload(Config) { throw Error(ErrorKind::Internal, "reload: not built yet"); }

std::vector<std::string> reset_checkpoints(const Config&, const std::vector<std::string>&) {
  throw Error(ErrorKind::Internal, "reset_checkpoints: not built yet");
}

const Config& ReplicationSession::config() const { return impl_->config; }

}  // namespace cdc
