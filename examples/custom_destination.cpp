// custom_destination: a host-provided destination connector, and the worked example of
// docs/writing-a-connector.md.
// An in-memory destination ("tables" are maps from key to row) with an in-memory CheckpointStore,
// handed to ReplicationSession next to a source opened from the registry. It declares what it
// can do (DestinationCapabilities): checkpoints commit atomically with the data, and it implements
// backfill and the resync key sets; it has no DDL, quarantine or schema evolution. After the copy
// it prints the rows each table received, optionally writes them as JSON lines, and exits non-zero
// when a count differs from the source's count_rows().
//
//   custom_destination SOURCE.db [OUTPUT_DIR]
#include <cdc/cdc.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace {

// Checkpoints kept in memory; MemoryDestination writes them under its own mutex together with the
// data, which is what "commit data and checkpoint together" means for an in-process store.
class MemoryCheckpointStore final : public cdc::CheckpointStore {
 public:
  std::map<std::string, std::string> load(const std::string& session) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(session);
    return it == sessions_.end() ? std::map<std::string, std::string>{} : it->second;
  }
  void put(const std::string& session, const std::vector<cdc::CheckpointEntry>& entries) override {
    std::lock_guard<std::mutex> lock(mu_);
    put_locked(session, entries);
  }
  void clear(const std::string& session) override {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(session);
  }
  std::vector<std::string> sessions() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> names;
    for (const auto& [name, entries] : sessions_) names.push_back(name);
    return names;
  }
  std::mutex& mutex() { return mu_; }
  // Caller holds mutex().
  void put_locked(const std::string& session, const std::vector<cdc::CheckpointEntry>& entries) {
    auto& s = sessions_[session];
    for (const auto& e : entries) {
      if (e.value.empty()) s.erase(e.key);
      else s[e.key] = e.value;
    }
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> sessions_;
};

// The flag column's index when the table soft-deletes, else -1.
int flag_of(const cdc::DestinationTable& table) {
  return table.deletes.strategy == cdc::DeleteStrategy::Soft ? table.schema.index_of(table.deletes.column) : -1;
}

// Key text of a row: the key columns' display forms (without a key: every column but the flag,
// which a row may leave out).
std::string key_of(const cdc::DestinationTable& table, const cdc::Row& row) {
  std::string key;
  auto idx = table.schema.key_indexes();
  if (idx.empty())
    for (std::size_t i = 0; i < row.size(); ++i)
      if (static_cast<int>(i) != flag_of(table)) idx.push_back(static_cast<int>(i));
  for (int i : idx) key += row.at(static_cast<std::size_t>(i)).to_display(1 << 20) + '\x1f';
  return key;
}

// The rule every cdc destination applies: an update moves its row to another key when it has an
// old image and some key column's old value is non-NULL and differs. A NULL old value was not
// sent (PostgreSQL sends the old key only when it changed).
bool changes_key(const cdc::TableSchema& schema, const cdc::ChangeEvent& e) {
  if (e.op != cdc::ChangeOp::Update || e.before.empty()) return false;
  for (int k : schema.key_indexes()) {
    const auto i = static_cast<std::size_t>(k);
    if (!e.before[i].is_null() && e.before[i] != e.after[i]) return true;
  }
  return false;
}

struct MemoryTable {
  cdc::TableSchema schema;
  std::map<std::string, cdc::Row> rows;                       // by key text
  std::map<std::string, std::set<std::string>> key_sets;      // resync key sets, by set name
};

// One buffered operation of a writer's transaction.
enum class Op { Upsert, Delete, Truncate, Backfill, StageKeys, Sweep, DropKeySet };
struct Pending {
  Op op;
  cdc::DestinationTable table;
  cdc::Row row;                 // Upsert: the new image; Delete: the old image
  cdc::Row moved_from;          // Upsert that changed the key: the old image
  std::vector<bool> mask;       // Upsert: columns not sent; Backfill: columns to set
  std::string set;              // key-set operations
  std::vector<cdc::Row> rows;   // Backfill, StageKeys
};

// Applies one operation to a table. Used on commit, and to count what a sweep will remove.
void apply_op(MemoryTable& t, const Pending& op) {
  const cdc::TableSchema& schema = op.table.schema;
  auto key = [&](const cdc::Row& row) { return key_of(op.table, row); };
  const int flag = flag_of(op.table);
  switch (op.op) {
    case Op::Truncate:
      if (flag < 0) t.rows.clear();
      else
        for (auto& [key, row] : t.rows) row[static_cast<std::size_t>(flag)] = cdc::Value::boolean(true);
      return;
    case Op::Delete: {
      auto it = t.rows.find(key(op.row));
      if (it == t.rows.end()) return;  // gone already: a replay
      if (flag < 0) t.rows.erase(it);
      else it->second[static_cast<std::size_t>(flag)] = cdc::Value::boolean(true);
      return;
    }
    case Op::Upsert: {
      cdc::Row old;
      if (!op.moved_from.empty()) {  // the row moves: unsent values come with it
        auto it = t.rows.find(key(op.moved_from));
        if (it != t.rows.end()) {
          old = it->second;
          t.rows.erase(it);
        }
      }
      cdc::Row& slot = t.rows[key(op.row)];
      if (!old.empty()) slot = old;
      cdc::Row row = op.row;
      // Rows may arrive without the trailing soft-delete flag: that means live.
      if (flag >= 0) {
        row.resize(schema.columns.size());
        row[static_cast<std::size_t>(flag)] = cdc::Value::boolean(false);
      }
      if (op.mask.empty() || slot.empty()) {
        slot = row;
      } else {
        for (std::size_t i = 0; i < row.size(); ++i)
          if (i >= op.mask.size() || !op.mask[i]) slot[i] = row[i];
      }
      return;
    }
    case Op::Backfill:
      for (const auto& row : op.rows) {
        auto it = t.rows.find(key(row));
        if (it == t.rows.end()) continue;  // never inserted
        for (std::size_t i = 0; i < op.mask.size() && i < row.size(); ++i)
          if (op.mask[i]) it->second[i] = row[i];
      }
      return;
    case Op::StageKeys: {
      auto& keys = t.key_sets[op.set];  // made on first use, even without rows
      for (const auto& row : op.rows) keys.insert(key(row));
      return;
    }
    case Op::Sweep: {
      auto set = t.key_sets.find(op.set);
      if (set == t.key_sets.end()) return;  // swept before a crash: a replay does nothing
      for (auto it = t.rows.begin(); it != t.rows.end();) {
        if (set->second.count(it->first)) {
          ++it;
        } else if (flag >= 0) {
          it->second[static_cast<std::size_t>(flag)] = cdc::Value::boolean(true);
          ++it;
        } else {
          it = t.rows.erase(it);
        }
      }
      t.key_sets.erase(set);
      return;
    }
    case Op::DropKeySet: t.key_sets.erase(op.set); return;
  }
}

class MemoryDestination;

// One transaction: operations are buffered and applied on commit, dropped on rollback.
class MemoryWriter final : public cdc::DestinationWriter {
 public:
  explicit MemoryWriter(MemoryDestination& dest) : dest_(dest) {}
  void begin() override {
    if (open_) throw cdc::Error(cdc::ErrorKind::Internal, "memory writer: begin() inside a transaction");
    open_ = true;
  }
  void write_rows(const cdc::DestinationTable& table, const std::vector<cdc::Row>& rows) override {
    for (const auto& r : rows) ops_.push_back({Op::Upsert, table, r, {}, {}, {}, {}});
  }
  void apply(const cdc::DestinationTable& table, const std::vector<cdc::ChangeEvent>& changes) override {
    for (const auto& c : changes) {
      switch (c.op) {
        case cdc::ChangeOp::Insert:
        case cdc::ChangeOp::Update:
          ops_.push_back({Op::Upsert, table, c.after, changes_key(table.schema, c) ? c.before : cdc::Row{}, c.unchanged, {}, {}});
          break;
        case cdc::ChangeOp::Delete: ops_.push_back({Op::Delete, table, c.before, {}, {}, {}, {}}); break;
        case cdc::ChangeOp::Truncate: ops_.push_back({Op::Truncate, table, {}, {}, {}, {}, {}}); break;
      }
    }
  }
  void truncate(const cdc::DestinationTable& table) override {
    cdc::DestinationTable hard = table;  // truncate() empties the table whatever its delete strategy
    hard.deletes.strategy = cdc::DeleteStrategy::Hard;
    ops_.push_back({Op::Truncate, hard, {}, {}, {}, {}, {}});
  }
  void commit(const std::string& session, const std::vector<cdc::CheckpointEntry>& checkpoint) override;
  void rollback() noexcept override {
    ops_.clear();
    open_ = false;
  }

  // capabilities().backfill
  void backfill(const cdc::DestinationTable& table, const std::vector<cdc::Row>& rows, const std::vector<bool>& columns) override {
    ops_.push_back({Op::Backfill, table, {}, {}, columns, {}, rows});
  }
  // capabilities().resync_sweep
  void stage_keys(const cdc::DestinationTable& table, const std::string& set, const std::vector<cdc::Row>& rows) override {
    ops_.push_back({Op::StageKeys, table, {}, {}, {}, set, rows});
  }
  std::int64_t sweep_unstaged(const cdc::DestinationTable& table, const std::string& set) override;
  void drop_key_set(const cdc::DestinationTable& table, const std::string& set) override {
    ops_.push_back({Op::DropKeySet, table, {}, {}, {}, set, {}});
  }

 private:
  MemoryDestination& dest_;
  std::vector<Pending> ops_;
  bool open_ = false;
};

class MemoryDestination final : public cdc::DestinationConnector {
 public:
  MemoryDestination() : store_(std::make_shared<MemoryCheckpointStore>()) {}

  std::string dialect() const override { return "memory"; }

  // No DDL (render_ddl keeps the base class's empty answer), no quarantine table, no schema
  // evolution or history: the session treats those as things this destination cannot do.
  cdc::DestinationCapabilities capabilities() const override {
    cdc::DestinationCapabilities c;
    c.atomic_checkpoints = true;  // commit() applies data and checkpoint under one lock
    c.backfill = true;
    c.resync_sweep = true;
    return c;
  }

  void prepare_table(const cdc::DestinationTable& table) override {
    std::lock_guard<std::mutex> lock(store_->mutex());
    tables_[table.schema.id.to_string()].schema = table.schema;
  }
  std::unique_ptr<cdc::DestinationWriter> open_writer() override { return std::make_unique<MemoryWriter>(*this); }
  std::shared_ptr<cdc::CheckpointStore> checkpoint_store() override { return store_; }
  // Applies a writer's operations and its checkpoint entries at once.
  void commit(const std::vector<Pending>& ops, const std::string& session, const std::vector<cdc::CheckpointEntry>& checkpoint) {
    std::lock_guard<std::mutex> lock(store_->mutex());
    for (const auto& op : ops) {
      auto& t = tables_[op.table.schema.id.to_string()];
      if (t.schema.columns.empty()) t.schema = op.table.schema;
      apply_op(t, op);
    }
    store_->put_locked(session, checkpoint);
  }

  // How many rows a sweep of `set` would remove now, after `ops` (the writer's transaction so far).
  std::int64_t count_unstaged(const std::vector<Pending>& ops, const cdc::DestinationTable& table, const std::string& set) {
    const std::string name = table.schema.id.to_string();
    MemoryTable t;
    {
      std::lock_guard<std::mutex> lock(store_->mutex());
      t = tables_[name];
    }
    for (const auto& op : ops)
      if (op.table.schema.id.to_string() == name) apply_op(t, op);
    auto keys = t.key_sets.find(set);
    if (keys == t.key_sets.end()) return 0;
    const int flag = flag_of(table);
    std::int64_t n = 0;
    for (const auto& [key, row] : t.rows) {
      if (keys->second.count(key)) continue;
      if (flag >= 0 && row[static_cast<std::size_t>(flag)] == cdc::Value::boolean(true)) continue;  // flagged already
      ++n;
    }
    return n;
  }

  std::size_t rows_in(const std::string& table) {
    std::lock_guard<std::mutex> lock(store_->mutex());
    auto it = tables_.find(table);
    return it == tables_.end() ? 0 : it->second.rows.size();
  }

  // Writes each table as <dir>/<table>.jsonl, one JSON object per row.
  void dump(const std::string& dir) {
    std::lock_guard<std::mutex> lock(store_->mutex());
    for (const auto& [name, t] : tables_) {
      std::ofstream out(dir + "/" + name + ".jsonl", std::ios::binary | std::ios::trunc);
      for (const auto& [key, row] : t.rows) {
        out << '{';
        for (std::size_t i = 0; i < row.size() && i < t.schema.columns.size(); ++i)
          out << (i ? "," : "") << json_string(t.schema.columns[i].name) << ':' << json_value(row[i]);
        out << "}\n";
      }
    }
  }

 private:
  static std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
    }
    return out + "\"";
  }
  static std::string json_value(const cdc::Value& v) {
    switch (v.kind()) {
      case cdc::ValueKind::Null: return "null";
      case cdc::ValueKind::Bool: return v.as_bool() ? "true" : "false";
      case cdc::ValueKind::Int: return std::to_string(v.as_int());
      case cdc::ValueKind::UInt: return std::to_string(v.as_uint());
      case cdc::ValueKind::Double: return json_string(v.to_display());
      case cdc::ValueKind::Json: return v.text();
      case cdc::ValueKind::Bytes: return json_string(v.to_display(1 << 20));  // \x hex
      default: return json_string(v.text());
    }
  }

  std::shared_ptr<MemoryCheckpointStore> store_;
  std::map<std::string, MemoryTable> tables_;  // guarded by store_->mutex()
};

void MemoryWriter::commit(const std::string& session, const std::vector<cdc::CheckpointEntry>& checkpoint) {
  // Without begin(), this commits just the checkpoint entries (ops_ is empty then).
  dest_.commit(ops_, session, checkpoint);
  ops_.clear();
  open_ = false;
}

std::int64_t MemoryWriter::sweep_unstaged(const cdc::DestinationTable& table, const std::string& set) {
  std::int64_t n = dest_.count_unstaged(ops_, table, set);
  ops_.push_back({Op::Sweep, table, {}, {}, {}, set, {}});
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s SOURCE.db [OUTPUT_DIR]\n", argv[0]);
    return 2;
  }
  try {
    cdc::Config config;
    config.name = "custom-destination-example";
    config.source = std::string("sqlite://") + argv[1];
    config.destination = "memory://example";  // descriptive only: the connector instance is handed over below
    config.parallel_tables = 2;

    auto source = cdc::ConnectorRegistry::instance().open_source(config.source);
    auto destination = std::make_shared<MemoryDestination>();

    cdc::SessionOptions options;
    options.snapshot_only = true;
    cdc::ReplicationSession session(config, source, destination, options);
    cdc::SessionStatus status = session.run();

    // Compare what arrived with the source's exact counts.
    std::map<std::string, cdc::TableId> ids;
    for (const auto& t : source->discover([](const cdc::TableId&) { return true; })) ids[t.id.to_string()] = t.id;
    int mismatches = 0;
    for (const auto& t : status.tables) {
      auto received = static_cast<std::int64_t>(destination->rows_in(t.target));
      auto it = ids.find(t.source);
      std::int64_t expected = it == ids.end() ? -1 : source->count_rows(it->second, "");
      bool ok = received == expected && t.phase != cdc::TablePhase::Failed;
      if (!ok) ++mismatches;
      std::printf("%-20s received %8lld rows, source has %8lld  %s\n", t.source.c_str(),
                  static_cast<long long>(received), static_cast<long long>(expected), ok ? "OK" : "MISMATCH");
    }
    if (argc == 3) destination->dump(argv[2]);
    if (status.tables.empty()) {
      std::fprintf(stderr, "no tables copied\n");
      return 1;
    }
    return mismatches == 0 ? 0 : 1;
  } catch (const cdc::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.kind() == cdc::ErrorKind::Config ? 2 : 1;
  }
}
