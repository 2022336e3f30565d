// SQLite destination: DDL, table preparation and writers. The database runs in WAL mode with
// synchronous=NORMAL, which survives process kills (not power loss) and keeps commits cheap.
// The connector holds one admin connection behind a mutex; every writer has its own connection
// and caches its prepared statements per table.
#include "sqlite/sqlite_connectors.h"
#include "sqlite/sqlite_db.h"

#include "core/logging.h"
#include "core/text_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace cdc::sqlite {

namespace {

constexpr int kOpenFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
constexpr int kBusyTimeoutMs = 60000;

std::string where_of(const TableSchema& s) { return "table " + s.id.to_string(); }

std::string column_type(const Column& c) {
  return c.source_type.empty() ? declared_type_for(c.type) : c.source_type;
}

std::string column_def(const Column& c, bool with_not_null) {
  std::string def = quote_ident(c.name);
  std::string type = column_type(c);
  if (!type.empty()) def += " " + type;
  if (with_not_null && !c.nullable) def += " NOT NULL";
  return def;
}

std::string render(const DestinationTable& table) {
  const TableSchema& s = table.schema;
  std::string sql = "CREATE TABLE IF NOT EXISTS " + quote_ident(s.id.name) + " (";
  for (std::size_t i = 0; i < s.columns.size(); ++i) sql += (i ? ", " : "") + column_def(s.columns[i], true);
  if (!s.primary_key.empty()) {
    sql += ", PRIMARY KEY (";
    for (std::size_t i = 0; i < s.primary_key.size(); ++i) sql += (i ? ", " : "") + quote_ident(s.primary_key[i]);
    sql += ")";
  }
  sql += ")";
  return sql;
}

// How rows of one table are laid out and bound, plus the table's cached statements.
struct TableWriter {
  std::string signature;
  std::string name;      // quoted table name
  std::string where;     // "table x" for errors
  std::size_t ncols = 0;
  int flag = -1;         // soft-delete flag column, -1 = hard deletes
  std::string flag_col;  // its quoted name
  std::vector<int> key;  // key column indexes
  Stmt replace;          // write_rows (keyed: INSERT OR REPLACE; else INSERT)
  Stmt upsert;           // apply, all columns
  std::unordered_map<std::string, Stmt> upsert_masked;  // apply, some columns unchanged
  Stmt delete_key;       // keyed: DELETE (or soft UPDATE) by key
  Stmt delete_one;       // keyless: remove one row matching the whole image
};

class SqliteWriter final : public DestinationWriter {
 public:
  explicit SqliteWriter(const std::string& path) : db_(path, kOpenFlags, kBusyTimeoutMs, ErrorKind::Destination) {
    db_.exec("PRAGMA synchronous=NORMAL");
  }

  ~SqliteWriter() override { rollback(); }

  void begin() override {
    if (db_.in_transaction())
      throw Error(ErrorKind::Internal, "SQLite writer: begin() while a transaction is open", false,
                  "sqlite file " + db_.path());
    db_.exec("BEGIN IMMEDIATE");
  }

  void write_rows(const DestinationTable& table, const std::vector<Row>& rows) override {
    TableWriter& w = writer_for(table);
    if (!w.replace) {
      std::string sql = fmt::format("{} INTO {} ({}) VALUES ({})", w.key.empty() ? "INSERT" : "INSERT OR REPLACE",
                                    w.name, columns_sql(table.schema, {}), placeholders(w.ncols));
      w.replace = Stmt(db_, sql, w.where);
    }
    for (const Row& row : rows) {
      check_width(w, row);
      bind_row(w.replace, w, row, nullptr);
      step_reset(w.replace);
    }
  }

  void apply(const DestinationTable& table, const std::vector<ChangeEvent>& changes) override {
    TableWriter& w = writer_for(table);
    for (const ChangeEvent& e : changes) {
      try {
        switch (e.op) {
          case ChangeOp::Insert:
          case ChangeOp::Update: apply_upsert(table, w, e); break;
          case ChangeOp::Delete:
            if (e.before.empty())
              throw Error(ErrorKind::Destination, "delete event without a before image", false, w.where);
            check_width(w, e.before);
            remove(table, w, e.before);
            break;
          case ChangeOp::Truncate: truncate_rows(w, table.deletes.strategy == DeleteStrategy::Soft); break;
        }
      } catch (const Error& err) {
        const Row& r = e.before.empty() ? e.after : e.before;
        throw Error(err.kind(), fmt::format("{} (applying {} of key {})", err.message(), to_string(e.op), detail::row_key_text(table.schema, r)),
                    err.retryable(), err.where());
      }
    }
  }

  void truncate(const DestinationTable& table) override {
    TableWriter& w = writer_for(table);
    truncate_rows(w, false);
  }

  void commit(const std::string& session, const std::vector<CheckpointEntry>& checkpoint) override {
    if (!db_.in_transaction()) db_.exec("BEGIN IMMEDIATE");
    if (!checkpoint.empty()) {
      if (!cp_upsert_) {
        cp_upsert_ = Stmt(db_,
                          fmt::format("INSERT INTO {}(session, key, value, updated_at) VALUES(?1, ?2, ?3, "
                                      "strftime('%Y-%m-%d %H:%M:%f', 'now')) ON CONFLICT(session, key) DO UPDATE "
                                      "SET value = excluded.value, updated_at = excluded.updated_at",
                                      quote_ident(kCheckpointTable)),
                          "checkpoint table");
        cp_delete_ = Stmt(db_, fmt::format("DELETE FROM {} WHERE session = ?1 AND key = ?2", quote_ident(kCheckpointTable)),
                          "checkpoint table");
      }
      for (auto& entry : checkpoint) {
        Stmt& s = entry.value.empty() ? cp_delete_ : cp_upsert_;
        s.bind_text(1, session);
        s.bind_text(2, entry.key);
        if (!entry.value.empty()) s.bind_text(3, entry.value);
        step_reset(s);
      }
    }
    db_.exec("COMMIT");
  }

  void quarantine(const std::string& session, const std::vector<QuarantinedRow>& rows) override {
    if (!db_.in_transaction()) db_.exec("BEGIN IMMEDIATE");
    if (!quarantine_insert_) {
      db_.exec(quarantine_table_ddl(), "quarantine table");
      quarantine_insert_ = Stmt(db_,
                                fmt::format("INSERT INTO {}(session, source_table, row_key, column_name, raw_value, error, "
                                            "position, at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                                            "strftime('%Y-%m-%d %H:%M:%f', ?8 / 1000000.0, 'unixepoch'))",
                                            quote_ident(kQuarantineTable)),
                                "quarantine table");
    }
    Stmt& s = quarantine_insert_;
    for (const auto& q : rows) {
      s.bind_text(1, session);
      s.bind_text(2, q.table);
      s.bind_text(3, q.key);
      s.bind_text(4, q.column);
      s.bind_text(5, q.value);
      s.bind_text(6, q.error);
      s.bind_text(7, q.position);
      s.bind_int64(8, q.at_us);
      step_reset(s);
    }
  }

  // SQLite is dynamically typed: widening needs no DDL, and a column cannot lose NOT NULL without
  // rebuilding the table, which cdc does not do (the change is recorded with no statement).
  std::vector<std::string> evolve(const DestinationTable& table, const std::vector<TargetColumnChange>& changes) override {
    const TableSchema& s = table.schema;
    if (!db_.in_transaction()) db_.exec("BEGIN IMMEDIATE");
    TableInfo info = read_table_info(db_, s.id.name);
    auto has = [&](const std::string& c) {
      return std::any_of(info.columns.begin(), info.columns.end(),
                         [&](const Column& x) { return sqlite3_stricmp(x.name.c_str(), c.c_str()) == 0; });
    };
    std::vector<std::string> out;
    for (const auto& ch : changes) {
      std::string sql;
      if (ch.kind == ColumnChangeKind::Added && !has(ch.column))
        sql = fmt::format("ALTER TABLE {} ADD COLUMN {}", quote_ident(s.id.name), column_def(ch.target, false));
      else if (ch.kind == ColumnChangeKind::Renamed && !(has(ch.column) && !has(ch.old_name)))
        sql = fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", quote_ident(s.id.name), quote_ident(ch.old_name),
                          quote_ident(ch.column));
      if (!sql.empty()) db_.exec(sql, where_of(s) + " column " + ch.column);
      out.push_back(sql);
    }
    tables_.erase(s.id.name);
    return out;
  }

  void record_schema_changes(const std::string& session, const std::vector<SchemaHistoryEntry>& entries) override {
    if (!db_.in_transaction()) db_.exec("BEGIN IMMEDIATE");
    db_.exec(schema_history_table_ddl(), "schema history table");
    Stmt s(db_,
           fmt::format("INSERT INTO {}(session, source_table, target_table, kind, column_name, old_column, old_type, new_type, "
                       "action, ddl, position, at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                       "strftime('%Y-%m-%d %H:%M:%f', ?12 / 1000000.0, 'unixepoch'))",
                       quote_ident(kSchemaHistoryTable)),
           "schema history table");
    for (const auto& h : entries) {
      int i = 1;
      for (const std::string* f : {&session, &h.table, &h.target, &h.kind, &h.column}) s.bind_text(i++, *f);
      for (const std::string* f : {&h.old_column, &h.old_type, &h.new_type, &h.action, &h.ddl, &h.position}) {
        if (f->empty() && f != &h.action) s.bind_null(i++);
        else s.bind_text(i++, *f);
      }
      s.bind_int64(i, h.at_us);
      step_reset(s);
    }
  }

  void rollback() noexcept override {
    for (auto& [name, w] : tables_) {
      w.replace.reset();
      w.upsert.reset();
      w.delete_key.reset();
      w.delete_one.reset();
    }
    db_.rollback_quietly();
  }

 private:
  static std::string placeholders(std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
    return out;
  }

  // Quoted column list; `include` empty = all columns.
  static std::string columns_sql(const TableSchema& s, const std::vector<bool>& include) {
    std::string out;
    bool first = true;
    for (std::size_t i = 0; i < s.columns.size(); ++i) {
      if (!include.empty() && !include[i]) continue;
      out += (first ? "" : ", ") + quote_ident(s.columns[i].name);
      first = false;
    }
    return out;
  }

  TableWriter& writer_for(const DestinationTable& table) {
    const TableSchema& s = table.schema;
    std::string sig = shape_signature(table);
    TableWriter& w = tables_[s.id.name];
    if (w.signature == sig && !sig.empty()) return w;
    w = TableWriter{};
    w.signature = sig;
    w.name = quote_ident(s.id.name);
    w.where = where_of(s);
    w.ncols = s.columns.size();
    WriteLayout layout = write_layout(table);
    w.key = std::move(layout.key);
    w.flag = layout.soft_delete;
    if (w.flag >= 0) w.flag_col = quote_ident(table.deletes.column);
    return w;
  }

  // Rows may omit a trailing soft-delete flag; it is written as 0 (live) by upserts anyway.
  static void check_width(const TableWriter& w, const Row& row) {
    if (row.size() == w.ncols) return;
    if (w.flag >= 0 && std::size_t(w.flag) == w.ncols - 1 && row.size() == w.ncols - 1) return;
    throw Error(ErrorKind::Internal, fmt::format("row has {} values, table has {} columns", row.size(), w.ncols), false,
                w.where);
  }

  // Binds the columns of `row` selected by `include` (all when null) in order; the flag binds 0.
  static void bind_row(Stmt& s, const TableWriter& w, const Row& row, const std::vector<bool>* include) {
    int p = 1;
    for (std::size_t i = 0; i < w.ncols; ++i) {
      if (include && !(*include)[i]) continue;
      if (int(i) == w.flag)
        s.bind_int64(p++, 0);
      else
        s.bind(p++, row[i]);
    }
  }

  static void step_reset(Stmt& s) {
    s.step();
    sqlite3_reset(s.get());
  }

  void apply_upsert(const DestinationTable& table, TableWriter& w, const ChangeEvent& e) {
    check_width(w, e.after);
    const TableSchema& s = table.schema;
    if (w.key.empty()) {
      // No key: an update replaces one row equal to the old image.
      if (e.op == ChangeOp::Update && !e.before.empty()) {
        check_width(w, e.before);
        remove(table, w, e.before);
      }
      if (!w.replace) write_rows(table, {});  // prepares the plain INSERT
      bind_row(w.replace, w, e.after, nullptr);
      step_reset(w.replace);
      return;
    }
    if (e.op == ChangeOp::Update && !e.before.empty()) {
      check_width(w, e.before);
      for (int k : w.key)
        if (e.before[std::size_t(k)] != e.after[std::size_t(k)]) {
          remove(table, w, e.before);  // the key changed: the old row goes
          break;
        }
    }
    bool masked = std::find(e.unchanged.begin(), e.unchanged.end(), true) != e.unchanged.end();
    if (!masked) {
      if (!w.upsert) w.upsert = Stmt(db_, upsert_sql(s, w, {}), w.where);
      bind_row(w.upsert, w, e.after, nullptr);
      step_reset(w.upsert);
      return;
    }
    std::vector<bool> include(w.ncols, true);
    std::string mask(w.ncols, '1');
    for (std::size_t i = 0; i < w.ncols && i < e.unchanged.size(); ++i)
      if (e.unchanged[i] && std::find(w.key.begin(), w.key.end(), int(i)) == w.key.end() && int(i) != w.flag) {
        include[i] = false;
        mask[i] = '0';
      }
    auto it = w.upsert_masked.find(mask);
    if (it == w.upsert_masked.end()) it = w.upsert_masked.emplace(mask, Stmt(db_, upsert_sql(s, w, include), w.where)).first;
    bind_row(it->second, w, e.after, &include);
    step_reset(it->second);
  }

  static std::string upsert_sql(const TableSchema& s, const TableWriter& w, const std::vector<bool>& include) {
    std::size_t n = 0;
    std::string set;
    for (std::size_t i = 0; i < w.ncols; ++i) {
      if (!include.empty() && !include[i]) continue;
      ++n;
      if (std::find(w.key.begin(), w.key.end(), int(i)) != w.key.end()) continue;
      std::string c = quote_ident(s.columns[i].name);
      set += (set.empty() ? "" : ", ") + c + " = excluded." + c;
    }
    std::string keys;
    for (std::size_t i = 0; i < s.primary_key.size(); ++i) keys += (i ? ", " : "") + quote_ident(s.primary_key[i]);
    return fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO {}", w.name, columns_sql(s, include),
                       placeholders(n), keys, set.empty() ? "NOTHING" : "UPDATE SET " + set);
  }

  // Deletes (or soft-deletes) the row identified by `image`: by key, or for keyless tables one row
  // equal to the whole image.
  void remove(const DestinationTable& table, TableWriter& w, const Row& image) {
    const TableSchema& s = table.schema;
    const std::string& flag = w.flag_col;
    if (!w.key.empty()) {
      if (!w.delete_key) {
        std::string cond;
        for (std::size_t i = 0; i < w.key.size(); ++i)
          cond += (i ? " AND " : "") + quote_ident(s.primary_key[i]) + " = ?";
        std::string sql = w.flag >= 0 ? fmt::format("UPDATE {} SET {} = 1 WHERE {}", w.name, flag, cond)
                                      : fmt::format("DELETE FROM {} WHERE {}", w.name, cond);
        w.delete_key = Stmt(db_, sql, w.where);
      }
      for (std::size_t i = 0; i < w.key.size(); ++i) w.delete_key.bind(int(i) + 1, image[std::size_t(w.key[i])]);
      step_reset(w.delete_key);
      return;
    }
    if (!w.delete_one) {
      std::string cond;
      for (std::size_t i = 0; i < w.ncols; ++i) {
        if (int(i) == w.flag) continue;
        cond += (cond.empty() ? "" : " AND ") + quote_ident(s.columns[i].name) + " IS ?";
      }
      if (w.flag >= 0) cond += (cond.empty() ? "" : " AND ") + flag + " = 0";
      std::string sql =
          w.flag >= 0
              ? fmt::format("UPDATE {0} SET {1} = 1 WHERE rowid = (SELECT rowid FROM {0} WHERE {2} LIMIT 1)", w.name, flag,
                            cond)
              : fmt::format("DELETE FROM {0} WHERE rowid = (SELECT rowid FROM {0} WHERE {1} LIMIT 1)", w.name, cond);
      w.delete_one = Stmt(db_, sql, w.where);
    }
    int p = 1;
    for (std::size_t i = 0; i < w.ncols; ++i) {
      if (int(i) == w.flag) continue;
      w.delete_one.bind(p++, image[i]);
    }
    step_reset(w.delete_one);
  }

  void truncate_rows(TableWriter& w, bool soft) {
    if (soft && w.flag >= 0)
      db_.exec(fmt::format("UPDATE {} SET {} = 1", w.name, w.flag_col), w.where);
    else
      db_.exec("DELETE FROM " + w.name, w.where);
  }

  Db db_;
  std::unordered_map<std::string, TableWriter> tables_;
  Stmt cp_upsert_, cp_delete_, quarantine_insert_;
};

class SqliteDestination final : public DestinationConnector {
 public:
  explicit SqliteDestination(std::string path)
      : path_(std::move(path)), admin_(path_, kOpenFlags, kBusyTimeoutMs, ErrorKind::Destination) {
    Stmt wal(admin_, "PRAGMA journal_mode=WAL");
    wal.step();
    wal.finalize();
    admin_.exec(checkpoint_table_ddl());
  }

  std::string dialect() const override { return "sqlite"; }

  DestinationCapabilities capabilities() const override {
    DestinationCapabilities c;
    c.ddl = c.atomic_checkpoints = c.quarantine = c.schema_evolution = c.schema_history = c.transactional_ddl = true;
    return c;
  }

  std::string render_ddl(const DestinationTable& table) const override { return render(table); }

  void prepare_table(const DestinationTable& table) override {
    const TableSchema& s = table.schema;
    std::lock_guard lock(mu_);
    admin_.exec("BEGIN IMMEDIATE", where_of(s));
    try {
      TableInfo info = read_table_info(admin_, s.id.name);
      if (!info.exists) {
        admin_.exec(render(table), where_of(s));
        detail::logf(LogLevel::Info, "sqlite.destination", s.id.to_string(), "created table");
      } else {
        for (auto& c : s.columns) {
          bool have = std::any_of(info.columns.begin(), info.columns.end(),
                                  [&](const Column& x) { return sqlite3_stricmp(x.name.c_str(), c.name.c_str()) == 0; });
          if (have) continue;
          // ADD COLUMN cannot add NOT NULL without a default; existing rows hold NULL.
          admin_.exec(fmt::format("ALTER TABLE {} ADD COLUMN {}", quote_ident(s.id.name), column_def(c, false)),
                      where_of(s));
          detail::logf(LogLevel::Info, "sqlite.destination", s.id.to_string(), "added column {}", c.name);
        }
      }
      admin_.exec("COMMIT", where_of(s));
    } catch (...) {
      admin_.rollback_quietly();
      throw;
    }
  }

  std::unique_ptr<DestinationWriter> open_writer() override { return std::make_unique<SqliteWriter>(path_); }

  std::shared_ptr<CheckpointStore> checkpoint_store() override {
    std::lock_guard lock(mu_);
    if (!store_) store_ = make_checkpoint_store(path_);
    return store_;
  }

 private:
  std::mutex mu_;
  std::string path_;
  Db admin_;
  std::shared_ptr<CheckpointStore> store_;
};

}  // namespace

std::shared_ptr<DestinationConnector> make_destination(const std::string& path) {
  return std::make_shared<SqliteDestination>(path);
}

}  // namespace cdc::sqlite
