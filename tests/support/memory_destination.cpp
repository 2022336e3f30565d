// MemoryDestination (see memory_destination.h). The committed state lives in Shared under one
// mutex; a writer collects its transaction as operations on a State and applies them at commit.
#include "support/memory_destination.h"

#include "support/fake_codec.h"

#include "core/lease.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <set>

namespace cdc_test {

using cdc::Column;
using cdc::DestinationTable;
using cdc::Row;
using cdc::TableSchema;
using cdc::Value;

namespace {

struct RowLess {
  bool operator()(const Row& a, const Row& b) const { return fake::compare_rows(a, b) < 0; }
};

struct Table {
  TableSchema schema;
  std::map<Row, Row, RowLess> keyed;  // key values (schema.primary_key order) -> row
  std::vector<Row> keyless;

  bool has_key() const { return !schema.primary_key.empty(); }
  std::vector<Row> all() const {
    if (!has_key()) return keyless;
    std::vector<Row> out;
    for (const auto& [k, r] : keyed) out.push_back(r);
    return out;
  }
  Row key_of_stored(const Row& row) const { return fake::key_of(schema, row); }
};

std::string type_text(const Column& c) { return c.source_type.empty() ? c.type.to_string() : c.source_type; }

std::string render_create(const TableSchema& s) {
  std::string cols;
  for (const auto& c : s.columns) cols += (cols.empty() ? "" : ", ") + c.name + " " + type_text(c) + (c.nullable ? "" : " NOT NULL");
  std::string key;
  for (const auto& k : s.primary_key) key += (key.empty() ? "" : ", ") + k;
  if (!key.empty()) cols += ", PRIMARY KEY (" + key + ")";
  return "CREATE TABLE " + s.id.to_string() + " (" + cols + ")";
}

}  // namespace

struct MemoryDestination::Shared {
  // Everything a transaction can change.
  struct State {
    std::map<std::string, Table> tables;
    std::map<std::string, std::map<std::string, std::string>> checkpoints;
    std::vector<cdc::QuarantinedRow> quarantine;
    std::vector<cdc::SchemaHistoryEntry> history;
    std::map<std::pair<std::string, std::string>, std::set<Row, RowLess>> key_sets;  // (table, set) -> keys
    std::vector<std::string> statements;
  };

  MemoryDestination::Options options;
  FailureInjector failures;
  mutable std::mutex mu;
  State state;
  std::map<std::string, std::string> leases;  // session -> holder
  int commits = 0;
};

using State = MemoryDestination::Shared::State;

// One operation of a transaction; `table` names the table it changes ("" = none), so that a
// commit copies only what its transaction touches.
struct Operation {
  std::string table;
  std::function<void(State&)> run;
};

namespace {

Table& table_in(State& s, const DestinationTable& t) {
  auto it = s.tables.find(t.schema.id.to_string());
  if (it == s.tables.end())
    throw cdc::Error(cdc::ErrorKind::Schema, "table " + t.schema.id.to_string() + " does not exist", false,
                     "table " + t.schema.id.to_string());
  return it->second;
}

// A writer's row (laid out as `view`, maybe one short of its soft-delete flag) as the stored
// table lays it out; `given` marks the stored columns the row sets.
Row to_stored(const Table& t, const DestinationTable& view, Row row, std::vector<bool>* given = nullptr) {
  const auto& cols = view.schema.columns;
  if (view.deletes.strategy == cdc::DeleteStrategy::Soft && row.size() + 1 == cols.size()) row.push_back(Value::boolean(false));
  std::vector<bool> missing;
  Row out = fake::project(row, cols, t.schema.columns, &missing);
  if (given) {
    given->assign(missing.size(), false);
    for (std::size_t i = 0; i < missing.size(); ++i) (*given)[i] = !missing[i];
  }
  return out;
}

// The stored key of a row given by a writer: a full row (or one short of the flag) of `view`,
// or just the key values in key order.
Row key_from(const Table& t, const DestinationTable& view, const Row& row) {
  if (row.size() + 1 >= view.schema.columns.size()) {
    Row stored = to_stored(t, view, row);
    return t.key_of_stored(stored);
  }
  return row;
}

int flag_index(const Table& t, const DestinationTable& view) {
  return view.deletes.strategy == cdc::DeleteStrategy::Soft ? t.schema.index_of(view.deletes.column) : -1;
}

// Insert or update: on update, only the columns the row sets and that are not `unchanged` change.
void upsert(Table& t, const DestinationTable& view, const Row& row, const std::vector<bool>& unchanged) {
  std::vector<bool> given;
  Row stored = to_stored(t, view, row, &given);
  // unchanged is in view order: mark those stored columns as not given.
  for (std::size_t i = 0; i < unchanged.size() && i < view.schema.columns.size(); ++i) {
    if (!unchanged[i]) continue;
    int s = t.schema.index_of(view.schema.columns[i].name);
    if (s >= 0) given[static_cast<std::size_t>(s)] = false;
  }
  if (!t.has_key()) {
    t.keyless.push_back(std::move(stored));
    return;
  }
  Row key = t.key_of_stored(stored);
  auto it = t.keyed.find(key);
  if (it == t.keyed.end()) {
    t.keyed.emplace(std::move(key), std::move(stored));
    return;
  }
  for (std::size_t i = 0; i < stored.size(); ++i)
    if (given[i]) it->second[i] = stored[i];
}

void remove(Table& t, const DestinationTable& view, const Row& before) {
  int flag = flag_index(t, view);
  if (!t.has_key()) {
    Row stored = to_stored(t, view, before);
    auto it = std::find_if(t.keyless.begin(), t.keyless.end(), [&](const Row& r) {
      for (std::size_t i = 0; i < r.size(); ++i)
        if (static_cast<int>(i) != flag && !(r[i] == stored[i])) return false;
      return true;
    });
    if (it == t.keyless.end()) return;
    if (flag >= 0) (*it)[static_cast<std::size_t>(flag)] = Value::boolean(true);
    else t.keyless.erase(it);
    return;
  }
  auto it = t.keyed.find(key_from(t, view, before));
  if (it == t.keyed.end()) return;
  if (flag >= 0) it->second[static_cast<std::size_t>(flag)] = Value::boolean(true);
  else t.keyed.erase(it);
}

void empty_table(Table& t, int soft_flag) {
  if (soft_flag < 0) {
    t.keyed.clear();
    t.keyless.clear();
    return;
  }
  for (auto& [k, r] : t.keyed) r[static_cast<std::size_t>(soft_flag)] = Value::boolean(true);
  for (auto& r : t.keyless) r[static_cast<std::size_t>(soft_flag)] = Value::boolean(true);
}

// Applies one column change; returns the statement, empty when there was nothing to do.
std::string evolve_one(Table& t, const cdc::TargetColumnChange& c) {
  const std::string name = t.schema.id.to_string();
  int at = t.schema.index_of(c.column);
  switch (c.kind) {
    case cdc::ColumnChangeKind::Added: {
      if (at >= 0) return {};
      Column col = c.target;
      col.name = c.column;
      t.schema.columns.push_back(col);
      Value fill = c.fill ? *c.fill : Value();
      for (auto& [k, r] : t.keyed) r.push_back(fill);
      for (auto& r : t.keyless) r.push_back(fill);
      return fmt::format("ALTER TABLE {} ADD COLUMN {} {}", name, c.column, type_text(col));
    }
    case cdc::ColumnChangeKind::Dropped: {
      if (at < 0 || t.schema.columns[static_cast<std::size_t>(at)].nullable) return {};
      t.schema.columns[static_cast<std::size_t>(at)].nullable = true;
      return fmt::format("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL", name, c.column);
    }
    case cdc::ColumnChangeKind::Renamed: {
      int old = t.schema.index_of(c.old_name);
      if (old < 0 || at >= 0) return {};  // already renamed
      t.schema.columns[static_cast<std::size_t>(old)].name = c.column;
      for (auto& k : t.schema.primary_key)
        if (k == c.old_name) k = c.column;
      return fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", name, c.old_name, c.column);
    }
    case cdc::ColumnChangeKind::Widened:
    case cdc::ColumnChangeKind::Incompatible: {
      if (at < 0) throw cdc::Error(cdc::ErrorKind::Schema, "no column " + c.column + " in " + name, false, "table " + name);
      Column& col = t.schema.columns[static_cast<std::size_t>(at)];
      if (col.type == c.target.type && col.source_type == c.target.source_type) return {};
      col.type = c.target.type;
      col.source_type = c.target.source_type;
      return fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {}", name, c.column, type_text(col));
    }
  }
  return {};
}

std::int64_t sweep(Table& t, const DestinationTable& view, const std::set<Row, RowLess>& keep) {
  if (!t.has_key()) return 0;
  int flag = flag_index(t, view);
  std::int64_t removed = 0;
  for (auto it = t.keyed.begin(); it != t.keyed.end();) {
    if (keep.count(it->first)) {
      ++it;
      continue;
    }
    ++removed;
    if (flag >= 0) {
      it->second[static_cast<std::size_t>(flag)] = Value::boolean(true);
      ++it;
    } else {
      it = t.keyed.erase(it);
    }
  }
  return removed;
}

std::string name_of(const DestinationTable& t) { return t.schema.id.to_string(); }

std::pair<std::string, std::string> set_key(const DestinationTable& t, const std::string& set) { return {t.schema.id.to_string(), set}; }

class MemoryWriter final : public cdc::DestinationWriter {
 public:
  explicit MemoryWriter(std::shared_ptr<MemoryDestination::Shared> shared) : shared_(std::move(shared)) {}

  void begin() override {
    enter("begin");
    if (open_) throw cdc::Error(cdc::ErrorKind::Internal, "begin() while a transaction is open");
    open_ = true;
    ops_.clear();
  }

  void write_rows(const DestinationTable& table, const std::vector<Row>& rows) override {
    enter("write_rows");
    need_transaction("write_rows");
    ops_.push_back({name_of(table), [table, rows](State& s) {
                      Table& t = table_in(s, table);
                      for (const auto& r : rows) upsert(t, table, r, {});
                    }});
  }

  void apply(const DestinationTable& table, const std::vector<cdc::ChangeEvent>& changes) override {
    enter("apply");
    need_transaction("apply");
    ops_.push_back({name_of(table), [table, changes](State& s) {
      Table& t = table_in(s, table);
      for (const auto& c : changes) {
        switch (c.op) {
          case cdc::ChangeOp::Insert: upsert(t, table, c.after, c.unchanged); break;
          case cdc::ChangeOp::Update:
            if (!c.before.empty() &&
                (!t.has_key() || fake::compare_rows(key_from(t, table, c.before), key_from(t, table, c.after)) != 0))
              remove(t, table, c.before);  // a key change (or a keyless row) moves the row
            upsert(t, table, c.after, c.unchanged);
            break;
          case cdc::ChangeOp::Delete: remove(t, table, c.before); break;
          case cdc::ChangeOp::Truncate: empty_table(t, flag_index(t, table)); break;
        }
      }
    }});
  }

  void truncate(const DestinationTable& table) override {
    enter("truncate");
    need_transaction("truncate");
    ops_.push_back({name_of(table), [table](State& s) { empty_table(table_in(s, table), -1); }});
  }

  void commit(const std::string& session, const std::vector<cdc::CheckpointEntry>& checkpoint) override {
    enter("commit");
    if (!checkpoint.empty() && !shared_->options.capabilities.atomic_checkpoints)
      throw cdc::Error(cdc::ErrorKind::Internal, "commit with checkpoint entries, but atomic_checkpoints is not declared");
    std::lock_guard<std::mutex> lock(shared_->mu);
    // All or nothing: the operations run on a copy of what they touch, which replaces the
    // committed state only once every one of them succeeded.
    State& committed = shared_->state;
    State next;
    next.checkpoints = committed.checkpoints;
    next.quarantine = committed.quarantine;
    next.history = committed.history;
    next.key_sets = committed.key_sets;
    next.statements = committed.statements;
    for (const auto& op : ops_) {
      if (op.table.empty() || next.tables.count(op.table)) continue;
      auto it = committed.tables.find(op.table);
      if (it != committed.tables.end()) next.tables.emplace(*it);
    }
    for (const auto& op : ops_) op.run(next);
    auto& cp = next.checkpoints[session];
    for (const auto& e : checkpoint) {
      if (e.value.empty()) cp.erase(e.key);
      else cp[e.key] = e.value;
    }
    if (cp.empty()) next.checkpoints.erase(session);
    for (auto& [name, t] : next.tables) committed.tables[name] = std::move(t);
    committed.checkpoints = std::move(next.checkpoints);
    committed.quarantine = std::move(next.quarantine);
    committed.history = std::move(next.history);
    committed.key_sets = std::move(next.key_sets);
    committed.statements = std::move(next.statements);
    shared_->commits += 1;
    ops_.clear();
    open_ = false;
  }

  void rollback() noexcept override {
    ops_.clear();
    open_ = false;
  }

  void quarantine(const std::string& session, const std::vector<cdc::QuarantinedRow>& rows) override {
    if (!shared_->options.capabilities.quarantine) return DestinationWriter::quarantine(session, rows);
    enter("quarantine");
    need_transaction("quarantine");
    ops_.push_back({"", [rows](State& s) { s.quarantine.insert(s.quarantine.end(), rows.begin(), rows.end()); }});
  }

  std::vector<std::string> evolve(const DestinationTable& table, const std::vector<cdc::TargetColumnChange>& changes) override {
    if (!shared_->options.capabilities.schema_evolution) return DestinationWriter::evolve(table, changes);
    enter("evolve");
    need_transaction("evolve");
    // The statements are those the changes make on the state this transaction has built so far.
    State scratch = simulate();
    std::vector<std::string> out;
    Table& t = table_in(scratch, table);
    for (const auto& c : changes) out.push_back(evolve_one(t, c));
    ops_.push_back({name_of(table), [table, changes](State& s) {
                      Table& t = table_in(s, table);
                      for (const auto& c : changes) {
                        std::string statement = evolve_one(t, c);
                        if (!statement.empty()) s.statements.push_back(statement);
                      }
                    }});
    return out;
  }

  void record_schema_changes(const std::string& session, const std::vector<cdc::SchemaHistoryEntry>& entries) override {
    if (!shared_->options.capabilities.schema_history) return DestinationWriter::record_schema_changes(session, entries);
    enter("record_schema_changes");
    need_transaction("record_schema_changes");
    ops_.push_back({"", [entries](State& s) { s.history.insert(s.history.end(), entries.begin(), entries.end()); }});
  }

  void backfill(const DestinationTable& table, const std::vector<Row>& rows, const std::vector<bool>& columns) override {
    if (!shared_->options.capabilities.backfill) return DestinationWriter::backfill(table, rows, columns);
    enter("backfill");
    need_transaction("backfill");
    ops_.push_back({name_of(table), [table, rows, columns](State& s) {
                      Table& t = table_in(s, table);
                      for (const auto& r : rows) {
                        Row stored = to_stored(t, table, r);
                        auto it = t.keyed.find(t.key_of_stored(stored));
                        if (it == t.keyed.end()) continue;  // never inserted
                        for (std::size_t i = 0; i < columns.size() && i < table.schema.columns.size(); ++i) {
                          if (!columns[i]) continue;
                          int at = t.schema.index_of(table.schema.columns[i].name);
                          if (at >= 0) it->second[static_cast<std::size_t>(at)] = stored[static_cast<std::size_t>(at)];
                        }
                      }
                    }});
  }

  // Evaluates the selection over the committed-so-far state at commit, in order with the other
  // operations of the transaction (deeper levels read the rows the level above selects).
  void apply_cascade(const cdc::CascadeChange& change) override {
    if (!shared_->options.capabilities.cascades) return DestinationWriter::apply_cascade(change);
    enter("apply_cascade");
    need_transaction("apply_cascade");
    // The tables a deeper selection reads come into the transaction too (commit copies what ops name).
    for (auto sel = change.rows.parent; sel; sel = sel->parent) ops_.push_back({name_of(sel->table), [](State&) {}});
    ops_.push_back({name_of(change.rows.table), [change](State& s) {
                      Table& t = table_in(s, change.rows.table);
                      std::set<Row, RowLess> matches = select(s, change.rows);
                      std::vector<int> set_at;
                      for (const auto& c : change.set_columns) set_at.push_back(t.schema.index_of(c));
                      const int flag = change.rows.table.deletes.strategy == cdc::DeleteStrategy::Soft
                                           ? t.schema.index_of(change.rows.table.deletes.column)
                                           : -1;
                      for (auto it = t.keyed.begin(); it != t.keyed.end();) {
                        if (!matches.count(it->first)) {
                          ++it;
                          continue;
                        }
                        if (change.action == cdc::CascadeChange::Action::Delete && flag < 0) {
                          it = t.keyed.erase(it);
                          continue;
                        }
                        Row& row = it->second;
                        if (change.action == cdc::CascadeChange::Action::Delete) row[static_cast<std::size_t>(flag)] = cdc::Value::boolean(true);
                        for (std::size_t i = 0; i < set_at.size(); ++i)
                          if (set_at[i] >= 0)
                            row[static_cast<std::size_t>(set_at[i])] = change.action == cdc::CascadeChange::Action::Update && i < change.set_values.size()
                                                                            ? change.set_values[i]
                                                                            : cdc::Value();
                        ++it;
                      }
                    }});
  }

  // The keys of the rows a selection picks, in the state as it is (keyed tables only).
  static std::set<Row, RowLess> select(State& s, const cdc::RowSelection& sel) {
    Table& t = table_in(s, sel.table);
    std::vector<int> at;
    for (const auto& c : sel.columns) at.push_back(t.schema.index_of(c));
    std::set<Row, RowLess> wanted(sel.keys.begin(), sel.keys.end());
    if (sel.parent) {
      Table& p = table_in(s, sel.parent->table);
      std::vector<int> pat;
      for (const auto& c : sel.parent_columns) pat.push_back(p.schema.index_of(c));
      for (const auto& key : select(s, *sel.parent)) {
        const Row& prow = p.keyed.at(key);
        Row values;
        for (int i : pat) values.push_back(i >= 0 ? prow[static_cast<std::size_t>(i)] : cdc::Value());
        wanted.insert(values);
      }
    }
    std::set<Row, RowLess> out;
    for (const auto& [key, row] : t.keyed) {
      Row values;
      for (int i : at) values.push_back(i >= 0 ? row[static_cast<std::size_t>(i)] : cdc::Value());
      if (wanted.count(values)) out.insert(key);
    }
    return out;
  }

  void stage_keys(const DestinationTable& table, const std::string& set, const std::vector<Row>& rows) override {
    if (!shared_->options.capabilities.resync_sweep) return DestinationWriter::stage_keys(table, set, rows);
    enter("stage_keys");
    need_transaction("stage_keys");
    ops_.push_back({name_of(table), [table, set, rows](State& s) {
                      Table& t = table_in(s, table);
                      auto& keys = s.key_sets[set_key(table, set)];
                      for (const auto& r : rows) keys.insert(t.key_of_stored(to_stored(t, table, r)));
                    }});
  }

  std::int64_t sweep_unstaged(const DestinationTable& table, const std::string& set) override {
    if (!shared_->options.capabilities.resync_sweep) return DestinationWriter::sweep_unstaged(table, set);
    enter("sweep_unstaged");
    need_transaction("sweep_unstaged");
    auto op = [table, set](State& s) {
      Table& t = table_in(s, table);
      auto it = s.key_sets.find(set_key(table, set));
      std::int64_t n = sweep(t, table, it == s.key_sets.end() ? std::set<Row, RowLess>{} : it->second);
      if (it != s.key_sets.end()) s.key_sets.erase(it);
      return n;
    };
    State scratch = simulate();
    std::int64_t removed = op(scratch);
    ops_.push_back({name_of(table), [op](State& s) { op(s); }});
    return removed;
  }

  void drop_key_set(const DestinationTable& table, const std::string& set) override {
    if (!shared_->options.capabilities.resync_sweep) return DestinationWriter::drop_key_set(table, set);
    enter("drop_key_set");
    need_transaction("drop_key_set");
    ops_.push_back({"", [table, set](State& s) { s.key_sets.erase(set_key(table, set)); }});
  }

 private:
  void enter(const char* method) { shared_->failures.enter(method); }

  void need_transaction(const char* method) const {
    if (!open_) throw cdc::Error(cdc::ErrorKind::Internal, std::string(method) + " outside a transaction (call begin() first)");
  }

  // The committed state with this transaction's operations applied (what it sees so far).
  State simulate() const {
    State s;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      s = shared_->state;
    }
    for (const auto& op : ops_) op.run(s);
    return s;
  }

  std::shared_ptr<MemoryDestination::Shared> shared_;
  std::vector<Operation> ops_;
  bool open_ = false;
};

class MemoryLease final : public cdc::SessionLease {
 public:
  MemoryLease(std::weak_ptr<MemoryDestination::Shared> shared, std::string session)
      : shared_(std::move(shared)), session_(std::move(session)) {}
  ~MemoryLease() override {
    if (auto s = shared_.lock()) {
      std::lock_guard<std::mutex> lock(s->mu);
      s->leases.erase(session_);
    }
  }

 private:
  std::weak_ptr<MemoryDestination::Shared> shared_;
  std::string session_;
};

}  // namespace

// ---- MemoryDestination -----------------------------------------------------------------------------

cdc::DestinationCapabilities MemoryDestination::all_capabilities() {
  cdc::DestinationCapabilities c;
  c.ddl = true;
  c.atomic_checkpoints = true;
  c.quarantine = true;
  c.schema_evolution = true;
  c.schema_history = true;
  c.transactional_ddl = true;
  c.backfill = true;
  c.resync_sweep = true;
  c.cascades = true;
  return c;
}

MemoryDestination::MemoryDestination() : MemoryDestination(Options{}) {}

MemoryDestination::MemoryDestination(Options options) : shared_(std::make_shared<Shared>()) {
  shared_->options = std::move(options);
  store_ = std::make_shared<MemoryCheckpointStore>(shared_);
}

MemoryDestination::~MemoryDestination() = default;

std::vector<std::string> MemoryDestination::tables() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  std::vector<std::string> out;
  for (const auto& [name, t] : shared_->state.tables) out.push_back(name);
  return out;
}

bool MemoryDestination::has_table(const std::string& table) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->state.tables.count(table) > 0;
}

namespace {
const Table& find_table(const State& s, const std::string& name) {
  auto it = s.tables.find(name);
  if (it == s.tables.end()) throw std::logic_error("MemoryDestination: no table " + name);
  return it->second;
}
}  // namespace

cdc::TableSchema MemoryDestination::schema(const std::string& table) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return find_table(shared_->state, table).schema;
}

std::vector<cdc::Row> MemoryDestination::rows(const std::string& table) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return find_table(shared_->state, table).all();
}

std::optional<cdc::Row> MemoryDestination::row(const std::string& table, const cdc::Row& key) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  const Table& t = find_table(shared_->state, table);
  auto it = t.keyed.find(key);
  if (it == t.keyed.end()) return std::nullopt;
  return it->second;
}

std::vector<cdc::QuarantinedRow> MemoryDestination::quarantine() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->state.quarantine;
}

std::vector<cdc::SchemaHistoryEntry> MemoryDestination::schema_history() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->state.history;
}

std::map<std::string, std::string> MemoryDestination::checkpoints(const std::string& session) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  auto it = shared_->state.checkpoints.find(session);
  return it == shared_->state.checkpoints.end() ? std::map<std::string, std::string>{} : it->second;
}

std::vector<std::string> MemoryDestination::statements() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->state.statements;
}

std::vector<std::string> MemoryDestination::key_sets(const std::string& table) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  std::vector<std::string> out;
  for (const auto& [key, keys] : shared_->state.key_sets)
    if (key.first == table) out.push_back(key.second);
  return out;
}

int MemoryDestination::commits() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->commits;
}

std::shared_ptr<MemoryCheckpointStore> MemoryDestination::store() const { return store_; }

FailureInjector& MemoryDestination::failures() { return shared_->failures; }

std::string MemoryDestination::dialect() const { return shared_->options.dialect; }

cdc::DestinationCapabilities MemoryDestination::capabilities() const { return shared_->options.capabilities; }

std::string MemoryDestination::render_ddl(const cdc::DestinationTable& table) const {
  return shared_->options.capabilities.ddl ? render_create(table.schema) : std::string();
}

void MemoryDestination::prepare_table(const cdc::DestinationTable& table) {
  shared_->failures.enter("prepare_table");
  std::lock_guard<std::mutex> lock(shared_->mu);
  State& s = shared_->state;
  const std::string name = table.schema.id.to_string();
  auto it = s.tables.find(name);
  if (it == s.tables.end()) {
    Table t;
    t.schema = table.schema;
    s.tables.emplace(name, std::move(t));
    s.statements.push_back(render_create(table.schema));
    return;
  }
  // Add the columns the table lacks (never dropping any), like a SQL destination.
  for (const auto& c : table.schema.columns) {
    if (it->second.schema.index_of(c.name) >= 0) continue;
    cdc::TargetColumnChange add;
    add.kind = cdc::ColumnChangeKind::Added;
    add.column = c.name;
    add.target = c;
    s.statements.push_back(evolve_one(it->second, add));
  }
}

std::unique_ptr<cdc::DestinationWriter> MemoryDestination::open_writer() {
  shared_->failures.enter("open_writer");
  return std::make_unique<MemoryWriter>(shared_);
}

std::shared_ptr<cdc::CheckpointStore> MemoryDestination::checkpoint_store() {
  if (!shared_->options.capabilities.atomic_checkpoints) return nullptr;
  return store_;
}

std::size_t MemoryDestination::max_identifier_length() const { return shared_->options.max_identifier_length; }

// ---- MemoryCheckpointStore --------------------------------------------------------------------------

MemoryCheckpointStore::MemoryCheckpointStore() : shared_(std::make_shared<MemoryDestination::Shared>()) {}

MemoryCheckpointStore::MemoryCheckpointStore(std::shared_ptr<MemoryDestination::Shared> shared) : shared_(std::move(shared)) {}

std::map<std::string, std::string> MemoryCheckpointStore::load(const std::string& session) {
  shared_->failures.enter("load");
  std::lock_guard<std::mutex> lock(shared_->mu);
  auto it = shared_->state.checkpoints.find(session);
  return it == shared_->state.checkpoints.end() ? std::map<std::string, std::string>{} : it->second;
}

void MemoryCheckpointStore::put(const std::string& session, const std::vector<cdc::CheckpointEntry>& entries) {
  shared_->failures.enter("put");
  std::lock_guard<std::mutex> lock(shared_->mu);
  auto& cp = shared_->state.checkpoints[session];
  for (const auto& e : entries) {
    if (e.value.empty()) cp.erase(e.key);
    else cp[e.key] = e.value;
  }
  if (cp.empty()) shared_->state.checkpoints.erase(session);
}

void MemoryCheckpointStore::clear(const std::string& session) {
  shared_->failures.enter("clear");
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->state.checkpoints.erase(session);
}

std::vector<std::string> MemoryCheckpointStore::sessions() {
  shared_->failures.enter("sessions");
  std::lock_guard<std::mutex> lock(shared_->mu);
  std::vector<std::string> out;
  for (const auto& [name, entries] : shared_->state.checkpoints) out.push_back(name);
  return out;
}

std::unique_ptr<cdc::SessionLease> MemoryCheckpointStore::acquire_lease(const std::string& session, const std::string& holder) {
  shared_->failures.enter("acquire_lease");
  std::lock_guard<std::mutex> lock(shared_->mu);
  auto [it, inserted] = shared_->leases.emplace(session, holder);
  if (!inserted) throw cdc::detail::lease_refused(session, it->second);
  return std::make_unique<MemoryLease>(shared_, session);
}

std::optional<std::string> MemoryCheckpointStore::lease_holder(const std::string& session) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  auto it = shared_->leases.find(session);
  if (it == shared_->leases.end()) return std::nullopt;
  return it->second;
}

}  // namespace cdc_test
