// ScriptedSource (see scripted_source.h). One recursive mutex guards the tables and the log: the
// scripting thread holds it through a transaction, and streams wait on `cv` for new events.
#include "support/scripted_source.h"

#include "support/fake_codec.h"

#include <cdc/error.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <optional>
#include <stdexcept>

namespace cdc_test {

using cdc::Column;
using cdc::Position;
using cdc::Row;
using cdc::TableId;
using cdc::TableSchema;

cdc::Column column(std::string name, cdc::TypeId type, bool nullable) {
  cdc::Column c;
  c.name = std::move(name);
  c.type.id = type;
  c.nullable = nullable;
  return c;
}

cdc::TableId table_id(const std::string& name) {
  auto dot = name.find('.');
  if (dot == std::string::npos) return TableId(name);
  return TableId(name.substr(0, dot), name.substr(dot + 1));
}

cdc::TableSchema table_schema(const std::string& name, std::vector<cdc::Column> columns, std::vector<std::string> key) {
  TableSchema s;
  s.id = table_id(name);
  s.columns = std::move(columns);
  s.primary_key = std::move(key);
  for (const auto& k : s.primary_key)
    for (auto& c : s.columns)
      if (c.name == k) c.nullable = false;
  return s;
}

namespace {

struct RowLess {
  bool operator()(const Row& a, const Row& b) const { return fake::compare_rows(a, b) < 0; }
};

using Layout = std::shared_ptr<const std::vector<Column>>;

struct Table {
  TableSchema schema;
  Layout layout;                        // schema.columns, shared with the log entries made under it
  std::map<Row, Row, RowLess> keyed;    // key -> row (tables with a key)
  std::vector<Row> keyless;             // insertion order (tables without one)

  bool has_key() const { return !schema.primary_key.empty(); }
  std::vector<Row> all() const {
    if (!has_key()) return keyless;
    std::vector<Row> out;
    out.reserve(keyed.size());
    for (const auto& [k, r] : keyed) out.push_back(r);
    return out;
  }
  std::size_t size() const { return has_key() ? keyed.size() : keyless.size(); }
};

struct Entry {
  std::int64_t seq = 0;
  std::int64_t txn = 0;
  bool end_of_transaction = true;
  cdc::ChangeEvent event;  // rows laid out as `layout`
  Layout layout;
};

std::int64_t parse_position(const Position& p) {
  if (p.empty()) return 0;
  std::size_t used = 0;
  std::int64_t v = 0;
  try {
    v = std::stoll(p.str(), &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != p.str().size() || v < 0)
    throw cdc::Error(cdc::ErrorKind::State, "\"" + p.str() + "\" is not a position of the scripted source");
  return v;
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

[[noreturn]] void mistake(const std::string& what) { throw std::logic_error("ScriptedSource: " + what); }

}  // namespace

struct ScriptedSource::State {
  Options options;
  FailureInjector failures;
  mutable std::recursive_mutex mu;
  std::condition_variable_any cv;
  std::map<TableId, Table> tables;
  std::vector<Entry> log;  // log[i].seq == i + 1
  std::int64_t next_txn = 1;
  std::int64_t open_txn = 0;  // the transaction being scripted (0 = none)
  int txn_depth = 0;
  std::map<std::string, std::function<bool(const TableSchema&, const Row&)>> filters;
  std::vector<Position> acks;
  std::vector<std::vector<cdc::StreamTable>> streams, prepares, extends;
  std::vector<Position> stream_from;
  int live_streams = 0;

  Table& table(const std::string& name) {
    auto it = tables.find(table_id(name));
    if (it == tables.end()) mistake("no table " + name);
    return it->second;
  }
  const Table& table(const TableId& id) const {
    auto it = tables.find(id);
    if (it == tables.end()) throw cdc::Error(cdc::ErrorKind::Schema, "no table " + id.to_string() + " in the scripted source");
    return it->second;
  }

  std::int64_t head() const { return static_cast<std::int64_t>(log.size()); }

  // Appends one event in the open transaction (or one of its own); caller holds mu.
  void append(cdc::ChangeEvent ev, Layout layout) {
    Entry e;
    e.seq = head() + 1;
    e.txn = open_txn ? open_txn : next_txn++;
    e.end_of_transaction = open_txn == 0;
    ev.position = Position(std::to_string(e.seq));
    ev.transaction_id = "tx" + std::to_string(e.txn);
    ev.commit_time_us = now_us();
    e.event = std::move(ev);
    e.layout = std::move(layout);
    log.push_back(std::move(e));
    if (!open_txn) cv.notify_all();
  }

  void append_row_event(const Table& t, cdc::ChangeOp op, Row before, Row after) {
    cdc::ChangeEvent ev;
    ev.op = op;
    ev.table = t.schema.id;
    ev.before = std::move(before);
    ev.after = std::move(after);
    append(std::move(ev), t.layout);
  }

  void append_schema_event(cdc::SchemaChange change) {
    cdc::ChangeEvent ev;
    ev.table = change.after.id;
    ev.schema_change = std::make_shared<const cdc::SchemaChange>(std::move(change));
    append(std::move(ev), nullptr);
  }

  bool passes(const std::string& where, const TableSchema& schema, const Row& row) const {
    if (where.empty()) return true;
    auto it = filters.find(where);
    if (it == filters.end()) mistake("no filter registered for where \"" + where + "\" (set_filter)");
    return it->second(schema, row);
  }
};

// ---- readers ---------------------------------------------------------------------------------------

namespace {

class ListReader final : public cdc::RowReader {
 public:
  ListReader(std::shared_ptr<ScriptedSource::State> state, std::vector<Row> rows, std::int64_t batch, Position at)
      : state_(std::move(state)), rows_(std::move(rows)), batch_(std::max<std::int64_t>(batch, 1)), at_(std::move(at)) {}

  bool next(std::vector<Row>& batch) override {
    batch.clear();
    state_->failures.enter("next");
    while (next_ < rows_.size() && static_cast<std::int64_t>(batch.size()) < batch_) batch.push_back(rows_[next_++]);
    return !batch.empty();
  }
  Position position() const override { return at_; }

 private:
  std::shared_ptr<ScriptedSource::State> state_;
  std::vector<Row> rows_;
  std::size_t next_ = 0;
  std::int64_t batch_;
  Position at_;
};

// ---- the change stream -----------------------------------------------------------------------------

class ScriptedStream final : public cdc::ChangeStream {
 public:
  ScriptedStream(std::shared_ptr<ScriptedSource::State> state, const std::vector<cdc::StreamTable>& tables, std::int64_t from)
      : state_(std::move(state)), cursor_(from) {
    for (const auto& t : tables) tables_[t.schema.id] = t;
  }
  ~ScriptedStream() override {
    std::lock_guard<std::recursive_mutex> lock(state_->mu);
    state_->live_streams -= 1;
  }

  void poll(std::vector<cdc::ChangeEvent>& out, std::size_t max_events, std::chrono::milliseconds timeout) override {
    state_->failures.enter("poll");
    std::unique_lock<std::recursive_mutex> lock(state_->mu);
    auto until = std::chrono::steady_clock::now() + timeout;
    std::size_t start = out.size();
    for (;;) {
      if (deliver(out, max_events) || out.size() > start) return;
      if (state_->cv.wait_until(lock, until) == std::cv_status::timeout) {
        deliver(out, max_events);
        return;
      }
    }
  }

  Position position() const override {
    state_->failures.enter("position");
    std::lock_guard<std::recursive_mutex> lock(state_->mu);
    return Position(std::to_string(cursor_));
  }

  void acknowledge(const Position& position) override {
    state_->failures.enter("acknowledge");
    std::lock_guard<std::recursive_mutex> lock(state_->mu);
    state_->acks.push_back(position);
  }

 private:
  // Moves past committed events after the cursor, appending those of the requested tables.
  // Returns true when it stopped at a schema change. Caller holds mu.
  bool deliver(std::vector<cdc::ChangeEvent>& out, std::size_t max_events) {
    const auto& log = state_->log;
    while (cursor_ < state_->head() && out.size() < max_events) {
      const Entry& e = log[static_cast<std::size_t>(cursor_)];
      if (e.txn == state_->open_txn) return false;  // not committed yet
      cursor_ = e.seq;
      if (e.event.schema_change) {
        const auto kind = e.event.schema_change->kind;
        if (kind != cdc::SchemaChangeKind::Created && !tables_.count(e.event.table)) continue;
        out.push_back(e.event);
        return true;
      }
      auto t = tables_.find(e.event.table);
      if (t == tables_.end()) continue;
      if (auto ev = project(e, t->second)) {
        ev->end_of_transaction = last_of_transaction(e);
        out.push_back(std::move(*ev));
      }
    }
    return false;
  }

  // Whether no later event of e's transaction is delivered to this stream.
  bool last_of_transaction(const Entry& e) const {
    const auto& log = state_->log;
    for (std::size_t i = static_cast<std::size_t>(e.seq); i < log.size() && log[i].txn == e.txn; ++i) {
      const Entry& later = log[i];
      if (later.event.schema_change) return false;
      auto t = tables_.find(later.event.table);
      if (t != tables_.end() && project(later, t->second)) return false;
    }
    return true;
  }

  // The event as the stream delivers it for `st` (columns, filter), or nothing when filtered out.
  std::optional<cdc::ChangeEvent> project(const Entry& e, const cdc::StreamTable& st) const {
    cdc::ChangeEvent ev = e.event;
    const auto& from = *e.layout;
    const auto& to = st.schema.columns;
    TableSchema full;
    full.id = e.event.table;
    full.columns = from;
    if (!st.where.empty()) {
      bool before_in = !ev.before.empty() && state_->passes(st.where, full, ev.before);
      bool after_in = !ev.after.empty() && state_->passes(st.where, full, ev.after);
      switch (ev.op) {
        case cdc::ChangeOp::Insert:
          if (!after_in) return std::nullopt;
          break;
        case cdc::ChangeOp::Delete:
          if (!before_in) return std::nullopt;
          break;
        case cdc::ChangeOp::Update:
          if (!before_in && !after_in) return std::nullopt;
          if (before_in && !after_in) {  // left the filter: a delete
            ev.op = cdc::ChangeOp::Delete;
            ev.after.clear();
          } else if (!before_in) {  // entered it: an insert
            ev.op = cdc::ChangeOp::Insert;
            ev.before.clear();
          }
          break;
        case cdc::ChangeOp::Truncate: break;
      }
    }
    if (!ev.before.empty()) ev.before = fake::project(ev.before, from, to);
    if (!ev.after.empty()) {
      std::vector<bool> missing;
      ev.after = fake::project(ev.after, from, to, &missing);
      if (std::find(missing.begin(), missing.end(), true) != missing.end()) ev.unchanged = std::move(missing);
    }
    return ev;
  }

  std::shared_ptr<ScriptedSource::State> state_;
  std::map<TableId, cdc::StreamTable> tables_;
  std::int64_t cursor_;
};

// Chunk bounds: "k:<encoded key>" for tables with a key, "p:<row position>" without one.
std::string key_bound(const Row& key) { return "k:" + fake::encode_values(key); }

}  // namespace

// ---- ScriptedSource ----------------------------------------------------------------------------------

ScriptedSource::ScriptedSource() : ScriptedSource(Options{}) {}

ScriptedSource::ScriptedSource(Options options) : state_(std::make_shared<State>()) { state_->options = std::move(options); }

ScriptedSource::~ScriptedSource() = default;

FailureInjector& ScriptedSource::failures() { return state_->failures; }

void ScriptedSource::create_table(cdc::TableSchema schema, std::vector<cdc::Row> rows) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  if (state_->tables.count(schema.id)) mistake("table " + schema.id.to_string() + " exists");
  Table t;
  t.schema = schema;
  t.layout = std::make_shared<const std::vector<Column>>(schema.columns);
  for (auto& r : rows) {
    if (r.size() != schema.columns.size()) mistake("a row of " + schema.id.to_string() + " has the wrong width");
    if (t.has_key()) {
      Row key = fake::key_of(schema, r);
      if (!t.keyed.emplace(key, std::move(r)).second) mistake("duplicate key in the rows of " + schema.id.to_string());
    } else {
      t.keyless.push_back(std::move(r));
    }
  }
  state_->tables.emplace(schema.id, std::move(t));
  cdc::SchemaChange change;
  change.kind = cdc::SchemaChangeKind::Created;
  change.after = std::move(schema);
  state_->append_schema_event(std::move(change));
}

void ScriptedSource::drop_table(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  Table& t = state_->table(name);
  cdc::SchemaChange change;
  change.kind = cdc::SchemaChangeKind::Dropped;
  change.after.id = t.schema.id;
  state_->tables.erase(t.schema.id);
  state_->append_schema_event(std::move(change));
}

void ScriptedSource::insert(const std::string& name, cdc::Row row) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  Table& t = state_->table(name);
  if (row.size() != t.schema.columns.size()) mistake("insert into " + name + ": wrong row width");
  if (t.has_key()) {
    if (!t.keyed.emplace(fake::key_of(t.schema, row), row).second) mistake("insert into " + name + ": the key exists");
  } else {
    t.keyless.push_back(row);
  }
  state_->append_row_event(t, cdc::ChangeOp::Insert, {}, std::move(row));
}

void ScriptedSource::update(const std::string& name, cdc::Row row) {
  Row key;
  {
    std::lock_guard<std::recursive_mutex> lock(state_->mu);
    key = fake::key_of(state_->table(name).schema, row);
  }
  update(name, key, std::move(row));
}

void ScriptedSource::update(const std::string& name, const cdc::Row& key, cdc::Row row) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  Table& t = state_->table(name);
  if (row.size() != t.schema.columns.size()) mistake("update of " + name + ": wrong row width");
  Row before;
  if (t.has_key()) {
    auto it = t.keyed.find(key);
    if (it == t.keyed.end()) mistake("update of " + name + ": no row with key " + fake::encode_values(key));
    before = it->second;
    t.keyed.erase(it);
    if (!t.keyed.emplace(fake::key_of(t.schema, row), row).second) mistake("update of " + name + ": the new key exists");
  } else {
    auto it = std::find(t.keyless.begin(), t.keyless.end(), key);
    if (it == t.keyless.end()) mistake("update of " + name + ": no such row");
    before = *it;
    *it = row;
  }
  state_->append_row_event(t, cdc::ChangeOp::Update, std::move(before), std::move(row));
}

void ScriptedSource::delete_row(const std::string& name, const cdc::Row& key) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  Table& t = state_->table(name);
  Row before;
  if (t.has_key()) {
    auto it = t.keyed.find(key);
    if (it == t.keyed.end()) mistake("delete from " + name + ": no row with key " + fake::encode_values(key));
    before = it->second;
    t.keyed.erase(it);
  } else {
    auto it = std::find(t.keyless.begin(), t.keyless.end(), key);
    if (it == t.keyless.end()) mistake("delete from " + name + ": no such row");
    before = *it;
    t.keyless.erase(it);
  }
  state_->append_row_event(t, cdc::ChangeOp::Delete, std::move(before), {});
}

void ScriptedSource::truncate(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  Table& t = state_->table(name);
  t.keyed.clear();
  t.keyless.clear();
  state_->append_row_event(t, cdc::ChangeOp::Truncate, {}, {});
}

void ScriptedSource::alter(const std::string& name, cdc::TableSchema new_schema, AlterOptions options) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  Table& t = state_->table(name);
  if (new_schema.id != t.schema.id) mistake("alter of " + name + " names another table");
  // Carry every row over by name (renamed columns under their new name).
  std::map<std::string, std::string> old_name_of;  // new -> old
  for (const auto& [from, to] : options.renamed) old_name_of[to] = from;
  const TableSchema old_schema = t.schema;
  auto carry = [&](const Row& row) {
    Row out;
    for (const auto& c : new_schema.columns) {
      auto renamed = old_name_of.find(c.name);
      const std::string& old = renamed == old_name_of.end() ? c.name : renamed->second;
      int i = old_schema.index_of(old);
      if (i >= 0 && static_cast<std::size_t>(i) < row.size()) {
        out.push_back(row[static_cast<std::size_t>(i)]);
      } else {
        auto f = options.fill.find(c.name);
        out.push_back(f == options.fill.end() ? cdc::Value() : f->second);
      }
    }
    return out;
  };
  std::vector<Row> rows = t.all();
  t.keyed.clear();
  t.keyless.clear();
  t.schema = new_schema;
  t.layout = std::make_shared<const std::vector<Column>>(new_schema.columns);
  for (const auto& r : rows) {
    Row nr = carry(r);
    if (t.has_key()) t.keyed.emplace(fake::key_of(t.schema, nr), std::move(nr));
    else t.keyless.push_back(std::move(nr));
  }
  cdc::SchemaChange change;
  change.kind = cdc::SchemaChangeKind::Altered;
  change.after = std::move(new_schema);
  change.after.estimated_rows = static_cast<std::int64_t>(t.size());
  change.renamed = std::move(options.renamed);
  change.statement = std::move(options.statement);
  change.observed_at = std::move(options.observed_at);
  change.fill = std::move(options.fill);
  change.values_kept = std::move(options.values_kept);
  state_->append_schema_event(std::move(change));
}

void ScriptedSource::set_unlogged(const std::string& name, cdc::Row row) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  Table& t = state_->table(name);
  if (row.size() != t.schema.columns.size()) mistake("set_unlogged on " + name + ": wrong row width");
  if (!t.has_key()) mistake("set_unlogged needs a table with a key");
  t.keyed[fake::key_of(t.schema, row)] = std::move(row);
}

void ScriptedSource::delete_unlogged(const std::string& name, const cdc::Row& key) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  Table& t = state_->table(name);
  if (!t.has_key()) mistake("delete_unlogged needs a table with a key");
  if (t.keyed.erase(key) == 0) mistake("delete_unlogged on " + name + ": no such key");
}

void ScriptedSource::begin_transaction() {
  state_->mu.lock();  // held until end_transaction: nobody sees half a transaction
  if (state_->txn_depth++ == 0) state_->open_txn = state_->next_txn++;
}

void ScriptedSource::end_transaction() {
  if (--state_->txn_depth == 0) {
    for (auto it = state_->log.rbegin(); it != state_->log.rend() && it->txn == state_->open_txn; ++it) {
      it->end_of_transaction = it == state_->log.rbegin();
    }
    state_->open_txn = 0;
    state_->cv.notify_all();
  }
  state_->mu.unlock();
}

void ScriptedSource::set_filter(const std::string& where, std::function<bool(const cdc::TableSchema&, const cdc::Row&)> predicate) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  state_->filters[where] = std::move(predicate);
}

std::vector<cdc::Row> ScriptedSource::rows(const std::string& table) const {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  return state_->table(table).all();
}

cdc::TableSchema ScriptedSource::schema(const std::string& table) const {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  return state_->table(table).schema;
}

bool ScriptedSource::has_table(const std::string& table) const {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  return state_->tables.count(table_id(table)) > 0;
}

cdc::Position ScriptedSource::position() const {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  return Position(std::to_string(state_->head()));
}

std::vector<cdc::Position> ScriptedSource::acknowledged() const {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  return state_->acks;
}

std::vector<std::vector<cdc::StreamTable>> ScriptedSource::opened_streams() const {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  return state_->streams;
}

std::vector<cdc::Position> ScriptedSource::opened_from() const {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  return state_->stream_from;
}

std::vector<std::vector<cdc::StreamTable>> ScriptedSource::prepared() const {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  return state_->prepares;
}

std::vector<std::vector<cdc::StreamTable>> ScriptedSource::extended() const {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  return state_->extends;
}

int ScriptedSource::live_streams() const {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  return state_->live_streams;
}

// ---- cdc::SourceConnector ------------------------------------------------------------------------------

std::string ScriptedSource::dialect() const { return state_->options.dialect; }

std::vector<cdc::TableSchema> ScriptedSource::discover(const std::function<bool(const cdc::TableId&)>& wanted) {
  state_->failures.enter("discover");
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  std::vector<TableSchema> out;
  for (const auto& [id, t] : state_->tables) {
    if (wanted && !wanted(id)) continue;
    TableSchema s = t.schema;
    s.estimated_rows = static_cast<std::int64_t>(t.size());
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<cdc::SnapshotChunk> ScriptedSource::plan_snapshot(const cdc::TableSchema& table, const cdc::SnapshotPlanOptions& options) {
  state_->failures.enter("plan_snapshot");
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  const Table& t = state_->table(table.id);
  const std::int64_t n = static_cast<std::int64_t>(t.size());
  std::int64_t count = 1;
  if (!options.whole_table && n > 0) {
    std::int64_t per = std::max<std::int64_t>(options.chunk_rows, 1);
    count = std::max<std::int64_t>((n + per - 1) / per, options.min_chunks);
    count = std::min(count, n);
  }
  std::vector<cdc::SnapshotChunk> chunks;
  std::vector<Row> rows = t.all();
  for (std::int64_t i = 0; i < count; ++i) {
    std::int64_t lo = n * i / count, hi = n * (i + 1) / count;
    cdc::SnapshotChunk c;
    c.index = static_cast<int>(i);
    c.count = static_cast<int>(count);
    c.estimated_rows = hi - lo;
    if (i > 0) c.lower = t.has_key() ? key_bound(fake::key_of(t.schema, rows[static_cast<std::size_t>(lo)])) : "p:" + std::to_string(lo);
    if (i + 1 < count) c.upper = t.has_key() ? key_bound(fake::key_of(t.schema, rows[static_cast<std::size_t>(hi)])) : "p:" + std::to_string(hi);
    chunks.push_back(std::move(c));
  }
  return chunks;
}

std::unique_ptr<cdc::RowReader> ScriptedSource::read_chunk(const cdc::ReadRequest& request) {
  state_->failures.enter("read_chunk");
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  const Table& t = state_->table(request.schema.id);
  auto bound = [&](const std::string& text, const char* which) -> std::optional<std::string> {
    if (text.empty()) return std::nullopt;
    if (text.rfind(t.has_key() ? "k:" : "p:", 0) != 0) mistake(std::string("bad ") + which + " chunk bound \"" + text + "\"");
    return text.substr(2);
  };
  auto lower = bound(request.chunk.lower, "lower"), upper = bound(request.chunk.upper, "upper");
  std::vector<Row> out;
  std::vector<Row> rows = t.all();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (t.has_key()) {
      Row key = fake::key_of(t.schema, rows[i]);
      if (lower && fake::compare_rows(key, fake::decode_values(*lower)) < 0) continue;
      if (upper && fake::compare_rows(key, fake::decode_values(*upper)) >= 0) continue;
    } else {
      if (lower && static_cast<std::int64_t>(i) < std::stoll(*lower)) continue;
      if (upper && static_cast<std::int64_t>(i) >= std::stoll(*upper)) continue;
    }
    if (!state_->passes(request.where, t.schema, rows[i])) continue;
    out.push_back(fake::project(rows[i], t.schema.columns, request.schema.columns));
  }
  return std::make_unique<ListReader>(state_, std::move(out), request.batch_size, Position(std::to_string(state_->head())));
}

std::unique_ptr<cdc::RowReader> ScriptedSource::read_incremental(const cdc::IncrementalRequest& request) {
  state_->failures.enter("read_incremental");
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  if (!request.query.empty()) mistake("custom incremental queries are not supported");
  const Table& t = state_->table(request.schema.id);
  int wm = t.schema.index_of(request.watermark_column);
  if (wm < 0) throw cdc::Error(cdc::ErrorKind::Schema, "no column " + request.watermark_column + " in " + t.schema.id.to_string());
  std::vector<Row> rows;
  for (const auto& r : t.all()) {
    const cdc::Value& v = r[static_cast<std::size_t>(wm)];
    if (v.is_null()) continue;
    if (request.last_value && cdc::detail::compare_values(v, *request.last_value) <= 0) continue;
    if (!state_->passes(request.where, t.schema, r)) continue;
    rows.push_back(r);
  }
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    return cdc::detail::compare_values(a[static_cast<std::size_t>(wm)], b[static_cast<std::size_t>(wm)]) < 0;
  });
  for (auto& r : rows) r = fake::project(r, t.schema.columns, request.schema.columns);
  return std::make_unique<ListReader>(state_, std::move(rows), request.batch_size, Position());
}

std::int64_t ScriptedSource::count_rows(const cdc::TableId& table, const std::string& where) {
  state_->failures.enter("count_rows");
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  const Table& t = state_->table(table);
  std::int64_t n = 0;
  for (const auto& r : t.all())
    if (state_->passes(where, t.schema, r)) ++n;
  return n;
}

bool ScriptedSource::supports_stream() const { return state_->options.supports_stream; }

bool ScriptedSource::logs_cascades() const { return state_->options.logs_cascades; }

cdc::StreamStart ScriptedSource::prepare_stream(const std::vector<cdc::StreamTable>& tables) {
  state_->failures.enter("prepare_stream");
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  if (!state_->options.supports_stream) return SourceConnector::prepare_stream(tables);
  state_->prepares.push_back(tables);
  return cdc::StreamStart{Position(std::to_string(state_->head())), {}};
}

void ScriptedSource::extend_capture(const std::vector<cdc::StreamTable>& tables) {
  state_->failures.enter("extend_capture");
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  state_->extends.push_back(tables);
}

std::unique_ptr<cdc::ChangeStream> ScriptedSource::open_stream(const std::vector<cdc::StreamTable>& tables, const cdc::Position& from) {
  state_->failures.enter("open_stream");
  if (!state_->options.supports_stream) return SourceConnector::open_stream(tables, from);
  std::int64_t start = parse_position(from);
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  state_->streams.push_back(tables);
  state_->stream_from.push_back(from);
  state_->live_streams += 1;
  return std::make_unique<ScriptedStream>(state_, tables, std::min(start, state_->head()));
}

cdc::Position ScriptedSource::current_position() {
  state_->failures.enter("current_position");
  return position();
}

std::int64_t ScriptedSource::log_bytes_between(const cdc::Position& from, const cdc::Position& to) {
  state_->failures.enter("log_bytes_between");
  return std::max<std::int64_t>(parse_position(to) - parse_position(from), 0) * state_->options.bytes_per_event;
}

int ScriptedSource::compare_positions(const cdc::Position& a, const cdc::Position& b) const {
  std::int64_t x = parse_position(a), y = parse_position(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

}  // namespace cdc_test
