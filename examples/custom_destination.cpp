// custom_destination: a host-provided destination connector.
// An in-memory destination ("tables" are maps from key to row) with an in-memory CheckpointStore,
// handed to ReplicationSession next to a source opened from the registry. After the copy it prints
// the rows each table received, optionally writes them as JSON lines, and exits non-zero when a
// count differs from the source's count_rows().
//
//   custom_destination SOURCE.db [OUTPUT_DIR]
#include <cdc/cdc.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
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

// Key text of a row: the key columns' display forms (all columns when the table has no key).
std::string key_of(const cdc::TableSchema& schema, const cdc::Row& row, bool row_is_key_only = false) {
  std::string key;
  auto idx = schema.key_indexes();
  if (row_is_key_only || idx.empty()) {
    for (const auto& v : row) key += v.to_display(1 << 20) + '\x1f';
    return key;
  }
  for (int i : idx) key += row.at(static_cast<std::size_t>(i)).to_display(1 << 20) + '\x1f';
  return key;
}

struct MemoryTable {
  cdc::TableSchema schema;
  std::map<std::string, cdc::Row> rows;  // by key text
};

class MemoryDestination;

// One transaction: operations are buffered and applied on commit, dropped on rollback.
class MemoryWriter final : public cdc::DestinationWriter {
 public:
  explicit MemoryWriter(MemoryDestination& dest) : dest_(dest) {}
  void begin() override { ops_.clear(); }
  void write_rows(const cdc::DestinationTable& table, const std::vector<cdc::Row>& rows) override {
    for (const auto& r : rows) ops_.push_back({Op::Upsert, table.schema, r, {}});
  }
  void apply(const cdc::DestinationTable& table, const std::vector<cdc::ChangeEvent>& changes) override {
    for (const auto& c : changes) {
      switch (c.op) {
        case cdc::ChangeOp::Insert:
        case cdc::ChangeOp::Update:
          // An update that changed the key moves the row.
          if (c.op == cdc::ChangeOp::Update && c.before.size() == table.schema.columns.size() &&
              key_of(table.schema, c.before) != key_of(table.schema, c.after))
            ops_.push_back({Op::Delete, table.schema, c.before, {}});
          ops_.push_back({Op::Upsert, table.schema, c.after, c.unchanged});
          break;
        case cdc::ChangeOp::Delete: ops_.push_back({Op::Delete, table.schema, c.before, {}}); break;
        case cdc::ChangeOp::Truncate: ops_.push_back({Op::Truncate, table.schema, {}, {}}); break;
      }
    }
  }
  void truncate(const cdc::DestinationTable& table) override { ops_.push_back({Op::Truncate, table.schema, {}, {}}); }
  void commit(const std::string& session, const std::vector<cdc::CheckpointEntry>& checkpoint) override;
  void rollback() noexcept override { ops_.clear(); }

  enum class Op { Upsert, Delete, Truncate };
  struct Pending {
    Op op;
    cdc::TableSchema schema;
    cdc::Row row;
    std::vector<bool> unchanged;
  };

 private:
  MemoryDestination& dest_;
  std::vector<Pending> ops_;
};

class MemoryDestination final : public cdc::DestinationConnector {
 public:
  MemoryDestination() : store_(std::make_shared<MemoryCheckpointStore>()) {}

  std::string dialect() const override { return "memory"; }
  std::string render_ddl(const cdc::DestinationTable& table) const override {
    std::string ddl = "-- in-memory table " + table.schema.id.to_string() + " (";
    for (std::size_t i = 0; i < table.schema.columns.size(); ++i)
      ddl += (i ? ", " : "") + table.schema.columns[i].name + " " + table.schema.columns[i].type.to_string();
    return ddl + ")";
  }
  void prepare_table(const cdc::DestinationTable& table) override {
    std::lock_guard<std::mutex> lock(store_->mutex());
    auto& t = tables_[table.schema.id.to_string()];
    t.schema = table.schema;
  }
  std::unique_ptr<cdc::DestinationWriter> open_writer() override { return std::make_unique<MemoryWriter>(*this); }
  std::shared_ptr<cdc::CheckpointStore> checkpoint_store() override { return store_; }
  cdc::DestinationCapabilities capabilities() const override {
    cdc::DestinationCapabilities c;
    c.atomic_checkpoints = true;  // commit() writes the checkpoint entries with the data
    return c;
  }

  // Applies a writer's operations and its checkpoint entries at once.
  void commit(const std::vector<MemoryWriter::Pending>& ops, const std::string& session,
              const std::vector<cdc::CheckpointEntry>& checkpoint) {
    std::lock_guard<std::mutex> lock(store_->mutex());
    for (const auto& op : ops) {
      auto& t = tables_[op.schema.id.to_string()];
      if (t.schema.columns.empty()) t.schema = op.schema;
      switch (op.op) {
        case MemoryWriter::Op::Truncate: t.rows.clear(); break;
        case MemoryWriter::Op::Delete: {
          bool key_only = op.row.size() != op.schema.columns.size();
          t.rows.erase(key_of(op.schema, op.row, key_only));
          break;
        }
        case MemoryWriter::Op::Upsert: {
          auto& slot = t.rows[key_of(op.schema, op.row)];
          if (op.unchanged.empty() || slot.empty()) {
            slot = op.row;
          } else {
            for (std::size_t i = 0; i < op.row.size(); ++i)
              if (i >= op.unchanged.size() || !op.unchanged[i]) slot[i] = op.row[i];
          }
          break;
        }
      }
    }
    store_->put_locked(session, checkpoint);
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
  dest_.commit(ops_, session, checkpoint);
  ops_.clear();
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
