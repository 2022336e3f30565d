// MariaDB/MySQL destination: DDL from the mapped schema (utf8mb4, InnoDB), snapshot loads as
// multi-row INSERTs sized by bytes, change batches as multi-row INSERT ... ON DUPLICATE KEY
// UPDATE and batched DELETEs in source order (a run of upserts or deletes is one statement, so
// per-key order holds), and the checkpoint rows in the same transaction (_cdc_checkpoints).
// Values reach SQL text only through the driver's escaping (mysql_real_escape_string).
// The connector holds one admin connection behind a mutex; every writer has its own connection.
#include "mysql/mysql_conn.h"
#include "mysql/mysql_connectors.h"
#include "mysql/mysql_lease.h"
#include "mysql/mysql_types.h"

#include "core/logging.h"
#include "core/text_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace cdc::mysql {

std::string checkpoint_table_ddl() {
  return fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (session VARCHAR(191) NOT NULL, `key` VARCHAR(512) NOT NULL, value LONGTEXT NOT NULL, "
      "updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (session, `key`)) "
      "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
      quote_ident(kCheckpointTable));
}

// Rows that could not be converted (Config::on_conversion_error: quarantine), with the reason.
// Created with the destination, never inside a writer's transaction (DDL would commit it).
std::string quarantine_table_ddl() {
  return fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, session VARCHAR(191) NOT NULL, "
      "source_table VARCHAR(512) NOT NULL, row_key LONGTEXT, column_name VARCHAR(255), raw_value LONGTEXT, error LONGTEXT NOT NULL, "
      "position VARCHAR(255), at DATETIME(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
      quote_ident(kQuarantineTable));
}

// Source schema changes seen by the stream and what was done about them.
std::string schema_history_table_ddl() {
  return fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, session VARCHAR(191) NOT NULL, "
      "source_table VARCHAR(512) NOT NULL, target_table VARCHAR(512) NOT NULL, kind VARCHAR(32) NOT NULL, "
      "column_name VARCHAR(255) NOT NULL, old_column VARCHAR(255), old_type VARCHAR(255), new_type VARCHAR(255), "
      "action VARCHAR(32) NOT NULL, ddl LONGTEXT, position VARCHAR(255), at DATETIME(6) NOT NULL) "
      "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
      quote_ident(kSchemaHistoryTable));
}

namespace {

std::string where_of(const TableSchema& s) { return "table " + s.id.to_string(); }

int key_chars_for(const TableSchema& s, const std::string& column) {
  if (std::find(s.primary_key.begin(), s.primary_key.end(), column) == s.primary_key.end()) return 0;
  return std::max<int>(32, 768 / int(std::max<std::size_t>(1, s.primary_key.size())));
}

std::string render(const DestinationTable& table, const std::string& name) {
  const TableSchema& s = table.schema;
  std::string sql = "CREATE TABLE IF NOT EXISTS " + name + " (";
  for (std::size_t i = 0; i < s.columns.size(); ++i) {
    const Column& c = s.columns[i];
    sql += (i ? ", " : "") + quote_ident(c.name) + " " + render_column_type(c, key_chars_for(s, c.name));
    if (!c.nullable || key_chars_for(s, c.name) > 0) sql += " NOT NULL";
  }
  if (!s.primary_key.empty()) {
    sql += ", PRIMARY KEY (";
    for (std::size_t i = 0; i < s.primary_key.size(); ++i) sql += (i ? ", " : "") + quote_ident(s.primary_key[i]);
    sql += ")";
  }
  sql += ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
  return sql;
}

// Statement size at which a multi-row statement is sent: big enough to amortise round trips,
// well under max_allowed_packet.
constexpr std::size_t kDefaultStatementBytes = 4u << 20;

struct TableWriter {
  std::string signature;
  std::string name;  // `db`.`table`
  std::string where;
  std::size_t ncols = 0;
  int flag = -1;
  std::string flag_col;  // quoted soft-delete column
  std::vector<int> key;
  std::string insert_head;  // INSERT INTO t (cols) VALUES
  std::string upsert_tail;  // ON DUPLICATE KEY UPDATE ... (empty for keyless tables)
};

class MysqlWriter final : public DestinationWriter {
 public:
  explicit MysqlWriter(const ConnParams& params) : conn_(params, ErrorKind::Destination), db_(params.database) {
    conn_.exec("SET SESSION foreign_key_checks = 0, SESSION unique_checks = 1");
    auto packet = conn_.scalar("SELECT @@max_allowed_packet");
    if (packet) max_bytes_ = std::min<std::size_t>(kDefaultStatementBytes, std::size_t(std::stoull(*packet)) / 2);
  }

  ~MysqlWriter() override { rollback(); }

  void begin() override {
    conn_.exec("START TRANSACTION");
    open_ = true;
  }

  void write_rows(const DestinationTable& table, const std::vector<Row>& rows) override {
    TableWriter& w = writer_for(table);
    std::string sql;
    for (const Row& row : rows) {
      check_width(w, row);
      if (sql.empty()) sql = w.insert_head;
      else sql += ',';
      append_row(sql, w, table.schema, row, nullptr);
      if (sql.size() >= max_bytes_) {
        run(sql + w.upsert_tail, w);
        sql.clear();
      }
    }
    if (!sql.empty()) run(sql + w.upsert_tail, w);
  }

  void apply(const DestinationTable& table, const std::vector<ChangeEvent>& changes) override {
    TableWriter& w = writer_for(table);
    const TableSchema& s = table.schema;
    Batch b;
    for (const ChangeEvent& e : changes) {
      try {
        switch (e.op) {
          case ChangeOp::Insert:
          case ChangeOp::Update: {
            check_width(w, e.after);
            if (w.key.empty()) {
              flush(b, w, s);
              if (e.op == ChangeOp::Update && !e.before.empty()) remove_one(w, s, e.before);
              std::string sql = w.insert_head;
              append_row(sql, w, s, e.after, nullptr);
              run(sql, w);
              break;
            }
            if (e.op == ChangeOp::Update && !e.before.empty()) {
              check_width(w, e.before);
              bool key_changed = false;
              for (int k : w.key)
                if (e.before[std::size_t(k)] != e.after[std::size_t(k)]) key_changed = true;
              if (key_changed) add_delete(b, w, s, e.before);
            }
            bool masked = std::find(e.unchanged.begin(), e.unchanged.end(), true) != e.unchanged.end();
            if (masked) {
              flush(b, w, s);
              upsert_masked(w, s, e);
              break;
            }
            if (b.kind != Batch::Upsert) flush(b, w, s);
            b.kind = Batch::Upsert;
            if (b.sql.empty()) b.sql = w.insert_head;
            else b.sql += ',';
            append_row(b.sql, w, s, e.after, nullptr);
            if (b.sql.size() >= max_bytes_) flush(b, w, s);
            break;
          }
          case ChangeOp::Delete:
            if (e.before.empty()) throw Error(ErrorKind::Destination, "delete event without a before image", false, w.where);
            check_width(w, e.before);
            if (w.key.empty()) {
              flush(b, w, s);
              remove_one(w, s, e.before);
            } else {
              add_delete(b, w, s, e.before);
            }
            break;
          case ChangeOp::Truncate:
            flush(b, w, s);
            truncate_rows(w, table.deletes.strategy == DeleteStrategy::Soft);
            break;
        }
      } catch (const Error& err) {
        const Row& r = e.before.empty() ? e.after : e.before;
        throw Error(err.kind(), fmt::format("{} (applying {} of key {})", err.message(), to_string(e.op), detail::row_key_text(table.schema, r)),
                    err.retryable(), err.where());
      }
    }
    flush(b, w, s);
  }

  void truncate(const DestinationTable& table) override { truncate_rows(writer_for(table), false); }

  void commit(const std::string& session, const std::vector<CheckpointEntry>& checkpoint) override {
    if (!open_) begin();
    std::string up, del;
    for (auto& e : checkpoint) {
      if (e.value.empty()) {
        del += del.empty() ? "" : ",";
        conn_.append_quoted(del, e.key);
      } else {
        up += up.empty() ? "" : ",";
        up += "(";
        conn_.append_quoted(up, session);
        up += ",";
        conn_.append_quoted(up, e.key);
        up += ",";
        conn_.append_quoted(up, e.value);
        up += ",CURRENT_TIMESTAMP(6))";
      }
    }
    const std::string t = quote_ident(db_) + "." + quote_ident(kCheckpointTable);
    if (!del.empty()) conn_.exec(fmt::format("DELETE FROM {} WHERE session = {} AND `key` IN ({})", t, conn_.quoted(session), del), "checkpoint table");
    if (!up.empty())
      conn_.exec(fmt::format("INSERT INTO {} (session, `key`, value, updated_at) VALUES {} ON DUPLICATE KEY UPDATE "
                             "value = VALUES(value), updated_at = VALUES(updated_at)",
                             t, up),
                 "checkpoint table");
    conn_.exec("COMMIT");
    open_ = false;
  }

  void quarantine(const std::string& session, const std::vector<QuarantinedRow>& rows) override {
    if (rows.empty()) return;
    if (!open_) begin();
    std::string values;
    for (const auto& q : rows) {
      values += values.empty() ? "(" : ",(";
      for (const std::string* f : {&session, &q.table, &q.key, &q.column, &q.value, &q.error, &q.position}) {
        conn_.append_quoted(values, *f);
        values += ",";
      }
      values += fmt::format("FROM_UNIXTIME({}.{:06})", q.at_us / 1000000, q.at_us % 1000000);
      values += ")";
    }
    conn_.exec(fmt::format("INSERT INTO {}.{} (session, source_table, row_key, column_name, raw_value, error, position, at) "
                           "VALUES {}",
                           quote_ident(db_), quote_ident(kQuarantineTable), values),
               "quarantine table");
  }

  // MariaDB commits implicitly around DDL: the ALTERs run on their own, and a fresh transaction
  // then carries the schema history and the checkpoint.
  std::vector<std::string> evolve(const DestinationTable& table, const std::vector<TargetColumnChange>& changes) override {
    const TableSchema& s = table.schema;
    const std::string name = quote_ident(db_) + "." + quote_ident(s.id.name);
    if (open_) conn_.exec("COMMIT");
    open_ = false;
    auto cols = conn_.rows(fmt::format("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                                       conn_.quoted(db_), conn_.quoted(s.id.name)),
                           where_of(s));
    auto has = [&](const std::string& c) {
      return std::any_of(cols.begin(), cols.end(), [&](const auto& r) { return r[0] && strcasecmp(r[0]->c_str(), c.c_str()) == 0; });
    };
    std::vector<std::string> out;
    for (const auto& ch : changes) {
      const std::string col = quote_ident(ch.column);
      const int key_chars = key_chars_for(s, ch.column);
      const bool not_null = key_chars > 0 || (!ch.target.nullable && ch.kind != ColumnChangeKind::Added);
      std::string sql;
      switch (ch.kind) {
        case ColumnChangeKind::Added:
          if (has(ch.column)) break;
          sql = fmt::format("ALTER TABLE {} ADD COLUMN {} {}", name, col, render_column_type(ch.target, 0));
          break;
        case ColumnChangeKind::Dropped:
          sql = fmt::format("ALTER TABLE {} MODIFY COLUMN {} {} NULL", name, col, render_column_type(ch.target, 0));
          break;
        case ColumnChangeKind::Widened:
        case ColumnChangeKind::Incompatible:
          sql = fmt::format("ALTER TABLE {} MODIFY COLUMN {} {}{}", name, col, render_column_type(ch.target, key_chars),
                            not_null ? " NOT NULL" : "");
          break;
        case ColumnChangeKind::Renamed:
          if (!has(ch.old_name) && has(ch.column)) break;
          sql = fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", name, quote_ident(ch.old_name), col);
          break;
      }
      if (!sql.empty()) conn_.exec(sql, where_of(s) + " column " + ch.column);
      out.push_back(sql);
    }
    tables_.erase(s.id.name);
    begin();
    return out;
  }

  void record_schema_changes(const std::string& session, const std::vector<SchemaHistoryEntry>& entries) override {
    if (entries.empty()) return;
    if (!open_) begin();
    std::string values;
    for (const auto& h : entries) {
      values += values.empty() ? "(" : ",(";
      for (const std::string* f : {&session, &h.table, &h.target, &h.kind, &h.column}) {
        conn_.append_quoted(values, *f);
        values += ",";
      }
      for (const std::string* f : {&h.old_column, &h.old_type, &h.new_type}) {
        if (f->empty()) values += "NULL";
        else conn_.append_quoted(values, *f);
        values += ",";
      }
      conn_.append_quoted(values, h.action);
      values += ",";
      if (h.ddl.empty()) values += "NULL";
      else conn_.append_quoted(values, h.ddl);
      values += ",";
      conn_.append_quoted(values, h.position);
      values += fmt::format(",FROM_UNIXTIME({}.{:06}))", h.at_us / 1000000, h.at_us % 1000000);
    }
    conn_.exec(fmt::format("INSERT INTO {}.{} (session, source_table, target_table, kind, column_name, old_column, old_type, "
                           "new_type, action, ddl, position, at) VALUES {}",
                           quote_ident(db_), quote_ident(kSchemaHistoryTable), values),
               "schema history table");
  }

  void rollback() noexcept override {
    if (open_) conn_.rollback_quietly();
    open_ = false;
  }

 private:
  struct Batch {
    enum Kind { None, Upsert, Delete } kind = None;
    std::string sql;
  };

  void run(const std::string& sql, const TableWriter& w) { conn_.exec(sql, w.where); }

  TableWriter& writer_for(const DestinationTable& table) {
    const TableSchema& s = table.schema;
    std::string sig = shape_signature(table);
    TableWriter& w = tables_[s.id.name];
    if (w.signature == sig && !sig.empty()) return w;
    w = TableWriter{};
    w.signature = sig;
    w.name = quote_ident(db_) + "." + quote_ident(s.id.name);
    w.where = where_of(s);
    w.ncols = s.columns.size();
    WriteLayout layout = write_layout(table);
    w.key = std::move(layout.key);
    w.flag = layout.soft_delete;
    if (w.flag >= 0) w.flag_col = quote_ident(table.deletes.column);
    std::string cols;
    for (std::size_t i = 0; i < s.columns.size(); ++i) cols += (i ? ", " : "") + quote_ident(s.columns[i].name);
    w.insert_head = fmt::format("INSERT INTO {} ({}) VALUES ", w.name, cols);
    if (!w.key.empty()) w.upsert_tail = upsert_tail(s, w, {});
    return w;
  }

  static std::string upsert_tail(const TableSchema& s, const TableWriter& w, const std::vector<bool>& include) {
    std::string set;
    for (std::size_t i = 0; i < s.columns.size(); ++i) {
      if (!include.empty() && !include[i]) continue;
      if (std::find(w.key.begin(), w.key.end(), int(i)) != w.key.end()) continue;
      std::string c = quote_ident(s.columns[i].name);
      set += (set.empty() ? "" : ", ") + c + " = VALUES(" + c + ")";
    }
    if (set.empty()) {  // key-only table: a no-op update keeps the statement idempotent
      std::string c = quote_ident(s.columns[std::size_t(w.key[0])].name);
      set = c + " = " + c;
    }
    return " ON DUPLICATE KEY UPDATE " + set;
  }

  static void check_width(const TableWriter& w, const Row& row) {
    if (row.size() == w.ncols) return;
    if (w.flag >= 0 && std::size_t(w.flag) == w.ncols - 1 && row.size() == w.ncols - 1) return;
    throw Error(ErrorKind::Internal, fmt::format("row has {} values, table has {} columns", row.size(), w.ncols), false, w.where);
  }

  void append_row(std::string& sql, const TableWriter& w, const TableSchema& s, const Row& row,
                  const std::vector<bool>* include) {
    sql += '(';
    bool first = true;
    for (std::size_t i = 0; i < w.ncols; ++i) {
      if (include && !(*include)[i]) continue;
      if (!first) sql += ',';
      first = false;
      if (int(i) == w.flag) sql += '0';
      else append_literal(conn_, sql, row[i], s.columns[i]);
    }
    sql += ')';
  }

  std::string key_condition(const TableWriter& w, const TableSchema& s, const Row& image) {
    std::string c = w.key.size() > 1 ? "(" : "";
    for (std::size_t i = 0; i < w.key.size(); ++i) {
      std::size_t k = std::size_t(w.key[i]);
      c += (i ? " AND " : "") + quote_ident(s.columns[k].name) + " = ";
      append_literal(conn_, c, image[k], s.columns[k]);
    }
    return c + (w.key.size() > 1 ? ")" : "");
  }

  void add_delete(Batch& b, const TableWriter& w, const TableSchema& s, const Row& image) {
    if (b.kind != Batch::Delete) flush(b, w, s);
    b.kind = Batch::Delete;
    if (w.key.size() == 1) {
      std::size_t k = std::size_t(w.key[0]);
      b.sql += b.sql.empty() ? "" : ",";
      append_literal(conn_, b.sql, image[k], s.columns[k]);
    } else {
      b.sql += (b.sql.empty() ? "" : " OR ") + key_condition(w, s, image);
    }
    if (b.sql.size() >= max_bytes_) flush(b, w, s);
  }

  void flush(Batch& b, const TableWriter& w, const TableSchema& s) {
    if (b.kind == Batch::Upsert && !b.sql.empty()) {
      run(b.sql + w.upsert_tail, w);
    } else if (b.kind == Batch::Delete && !b.sql.empty()) {
      std::string cond = w.key.size() == 1
                             ? quote_ident(s.columns[std::size_t(w.key[0])].name) + " IN (" + b.sql + ")"
                             : b.sql;
      if (w.flag >= 0)
        run(fmt::format("UPDATE {} SET {} = 1 WHERE {}", w.name, quote_ident(s.columns[std::size_t(w.flag)].name), cond), w);
      else
        run(fmt::format("DELETE FROM {} WHERE {}", w.name, cond), w);
    }
    b.kind = Batch::None;
    b.sql.clear();
  }

  void upsert_masked(const TableWriter& w, const TableSchema& s, const ChangeEvent& e) {
    std::vector<bool> include(w.ncols, true);
    for (std::size_t i = 0; i < w.ncols && i < e.unchanged.size(); ++i)
      if (e.unchanged[i] && std::find(w.key.begin(), w.key.end(), int(i)) == w.key.end() && int(i) != w.flag)
        include[i] = false;
    std::string cols;
    for (std::size_t i = 0; i < w.ncols; ++i)
      if (include[i]) cols += (cols.empty() ? "" : ", ") + quote_ident(s.columns[i].name);
    std::string sql = fmt::format("INSERT INTO {} ({}) VALUES ", w.name, cols);
    append_row(sql, w, s, e.after, &include);
    run(sql + upsert_tail(s, w, include), w);
  }

  // Keyless tables: one row equal to the whole image goes (or is flagged).
  void remove_one(const TableWriter& w, const TableSchema& s, const Row& image) {
    std::string cond;
    for (std::size_t i = 0; i < w.ncols; ++i) {
      if (int(i) == w.flag) continue;
      cond += (cond.empty() ? "" : " AND ") + quote_ident(s.columns[i].name) + " <=> ";
      append_literal(conn_, cond, image[i], s.columns[i]);
    }
    if (w.flag >= 0) {
      std::string f = quote_ident(s.columns[std::size_t(w.flag)].name);
      run(fmt::format("UPDATE {} SET {} = 1 WHERE {} AND {} = 0 LIMIT 1", w.name, f, cond.empty() ? "1" : cond, f), w);
    } else {
      run(fmt::format("DELETE FROM {} WHERE {} LIMIT 1", w.name, cond.empty() ? "1" : cond), w);
    }
  }

  void truncate_rows(const TableWriter& w, bool soft) {
    if (soft && w.flag >= 0)
      run(fmt::format("UPDATE {} SET {} = 1", w.name, w.flag_col), w);
    else
      run("DELETE FROM " + w.name, w);
  }

  Conn conn_;
  std::string db_;
  std::size_t max_bytes_ = kDefaultStatementBytes;
  bool open_ = false;
  std::unordered_map<std::string, TableWriter> tables_;
};

class MysqlCheckpointStore final : public CheckpointStore {
 public:
  explicit MysqlCheckpointStore(ConnParams params) : params_(std::move(params)) {
    std::lock_guard lock(mu_);
    ensure_open();
  }

  std::map<std::string, std::string> load(const std::string& session) override {
    std::lock_guard lock(mu_);
    return with_conn([&] {
      std::map<std::string, std::string> out;
      for (auto& r : conn_.rows(fmt::format("SELECT `key`, value FROM {} WHERE session = {}", table(), conn_.quoted(session)),
                                where()))
        out.emplace(r[0].value_or(""), r[1].value_or(""));
      return out;
    });
  }

  void put(const std::string& session, const std::vector<CheckpointEntry>& entries) override {
    if (entries.empty()) return;
    std::lock_guard lock(mu_);
    with_conn([&] {
      conn_.exec("START TRANSACTION", where());
      try {
        for (auto& e : entries) {
          if (e.value.empty())
            conn_.exec(fmt::format("DELETE FROM {} WHERE session = {} AND `key` = {}", table(), conn_.quoted(session),
                                   conn_.quoted(e.key)),
                       where());
          else
            conn_.exec(fmt::format("INSERT INTO {} (session, `key`, value, updated_at) VALUES ({}, {}, {}, CURRENT_TIMESTAMP(6)) "
                                   "ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)",
                                   table(), conn_.quoted(session), conn_.quoted(e.key), conn_.quoted(e.value)),
                       where());
        }
        conn_.exec("COMMIT", where());
      } catch (...) {
        conn_.rollback_quietly();
        throw;
      }
      return 0;
    });
  }

  void clear(const std::string& session) override {
    std::lock_guard lock(mu_);
    with_conn([&] {
      conn_.exec(fmt::format("DELETE FROM {} WHERE session = {}", table(), conn_.quoted(session)), where());
      return 0;
    });
  }

  std::vector<std::string> sessions() override {
    std::lock_guard lock(mu_);
    return with_conn([&] {
      std::vector<std::string> out;
      for (auto& r : conn_.rows(fmt::format("SELECT DISTINCT session FROM {} ORDER BY session", table()), where()))
        out.push_back(r[0].value_or(""));
      return out;
    });
  }

  std::unique_ptr<SessionLease> acquire_lease(const std::string& session, const std::string& holder) override {
    return mysql::acquire_lease(params_, session, holder);
  }

  std::optional<std::string> lease_holder(const std::string& session) override { return mysql::lease_holder(params_, session); }

 private:
  std::string table() const { return quote_ident(params_.database) + "." + quote_ident(kCheckpointTable); }
  std::string where() const { return "checkpoint store " + params_.redacted; }

  void ensure_open() {
    if (conn_) return;
    Conn c(params_, ErrorKind::State);
    c.exec(checkpoint_table_ddl(), where());
    conn_ = std::move(c);
  }

  // Runs `f` on the connection, reconnecting once when the connection was lost.
  template <typename F>
  auto with_conn(F&& f) -> decltype(f()) {
    ensure_open();
    try {
      return f();
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Connection) throw;
      conn_ = Conn();
      ensure_open();
      return f();
    }
  }

  std::mutex mu_;
  ConnParams params_;
  Conn conn_;
};

class MysqlDestination final : public DestinationConnector {
 public:
  explicit MysqlDestination(ConnParams params) : params_(std::move(params)), admin_(params_, ErrorKind::Destination) {
    admin_.exec(checkpoint_table_ddl(), "checkpoint table");
    admin_.exec(quarantine_table_ddl(), "quarantine table");
    admin_.exec(schema_history_table_ddl(), "schema history table");
  }

  std::string dialect() const override { return "mysql"; }

  std::string render_ddl(const DestinationTable& table) const override {
    return render(table, quote_ident(params_.database) + "." + quote_ident(table.schema.id.name));
  }

  void prepare_table(const DestinationTable& table) override {
    const TableSchema& s = table.schema;
    std::lock_guard lock(mu_);
    auto cols = admin_.rows(fmt::format("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND "
                                        "TABLE_NAME = {}",
                                        admin_.quoted(params_.database), admin_.quoted(s.id.name)),
                            where_of(s));
    std::string name = quote_ident(params_.database) + "." + quote_ident(s.id.name);
    if (cols.empty()) {
      admin_.exec(render_ddl(table), where_of(s));
      detail::logf(LogLevel::Info, "mysql.destination", s.id.to_string(), "created table");
      return;
    }
    for (auto& c : s.columns) {
      bool have = std::any_of(cols.begin(), cols.end(),
                              [&](const auto& r) { return r[0] && strcasecmp(r[0]->c_str(), c.name.c_str()) == 0; });
      if (have) continue;
      admin_.exec(fmt::format("ALTER TABLE {} ADD COLUMN {} {}", name, quote_ident(c.name), render_column_type(c, 0)),
                  where_of(s));
      detail::logf(LogLevel::Info, "mysql.destination", s.id.to_string(), "added column {}", c.name);
    }
  }

  std::unique_ptr<DestinationWriter> open_writer() override { return std::make_unique<MysqlWriter>(params_); }

  std::shared_ptr<CheckpointStore> checkpoint_store() override {
    std::lock_guard lock(mu_);
    if (!store_) store_ = std::make_shared<MysqlCheckpointStore>(params_);
    return store_;
  }

  std::size_t max_identifier_length() const override { return 64; }

 private:
  std::mutex mu_;
  ConnParams params_;
  Conn admin_;
  std::shared_ptr<CheckpointStore> store_;
};

}  // namespace

std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url) {
  return std::make_shared<MysqlDestination>(ConnParams::from_url(url, "destination"));
}

std::shared_ptr<CheckpointStore> make_checkpoint_store(const ConnectorUrl& url) {
  return std::make_shared<MysqlCheckpointStore>(ConnParams::from_url(url, "checkpoint"));
}

}  // namespace cdc::mysql
