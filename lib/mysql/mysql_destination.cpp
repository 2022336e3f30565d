// MariaDB/MySQL destination: DDL from the mapped schema (utf8mb4, InnoDB), snapshot loads as
// multi-row INSERTs sized by bytes, change batches reduced to one final state per key
// (core/writer/change_reducer.h) and applied as batched DELETEs and multi-row INSERT ... ON
// DUPLICATE KEY UPDATE, backfills through a TEMPORARY table and UPDATE ... JOIN, resync key sets
// in `_cdc_keys_...` tables, and the checkpoint rows in the same transaction (_cdc_checkpoints).
// DDL commits implicitly in MariaDB, so none runs inside a writer's transaction: evolve() commits
// first, key sets are created on a second connection and dropped after the commit.
// Values reach SQL text only through the driver's escaping (mysql_real_escape_string).
// The connector holds one admin connection behind a mutex; every writer has its own connection.
#include "mysql/mysql_conn.h"
#include "mysql/mysql_connectors.h"
#include "mysql/mysql_lease.h"
#include "mysql/mysql_types.h"

#include "core/logging.h"
#include "core/run_history.h"
#include "core/sql_expr.h"
#include "core/text_util.h"
#include "core/writer/cascade_sql.h"
#include "core/writer/change_reducer.h"
#include "core/writer/error_context.h"
#include "core/writer/key_set.h"
#include "core/writer/table_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <strings.h>

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

constexpr std::size_t kMaxIdentifier = 64;

// CHECKs are not checked on this connection (MariaDB's check_constraint_checks; MySQL has no such
// setting and checks them).
void skip_checks(Conn& c) {
  try {
    c.exec("SET SESSION check_constraint_checks = 0");
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::Connection) throw;
  }
}

int key_chars_for(const TableSchema& s, const std::string& column) {
  if (std::find(s.primary_key.begin(), s.primary_key.end(), column) == s.primary_key.end()) return 0;
  return std::max<int>(32, 768 / int(std::max<std::size_t>(1, s.primary_key.size())));
}

// Text as a string literal in DDL (comments): quotes and backslashes doubled, as MariaDB reads
// them without NO_BACKSLASH_ESCAPES; a NUL byte as its escape.
std::string ddl_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\0') {
      out += "\\0";
      continue;
    }
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  return out + "'";
}

bool is_integer_type(TypeId id) {
  return id == TypeId::Int8 || id == TypeId::Int16 || id == TypeId::Int24 || id == TypeId::Int32 || id == TypeId::Int64;
}

// AUTO_INCREMENT goes into CREATE TABLE when the column leads the primary key (InnoDB wants it
// first in some index; secondary indexes come after the load).
bool auto_increment_in_create(const TableSchema& s, const Column& c) {
  return c.identity && is_integer_type(c.type.id) && !s.primary_key.empty() && s.primary_key[0] == c.name;
}

std::string render(const DestinationTable& table, const std::string& name) {
  const TableSchema& s = table.schema;
  std::string sql = "CREATE TABLE IF NOT EXISTS " + name + " (";
  for (std::size_t i = 0; i < s.columns.size(); ++i) {
    const Column& c = s.columns[i];
    sql += (i ? ", " : "") + quote_ident(c.name) + " " + render_column_type(c, key_chars_for(s, c.name));
    if (!c.generated.empty()) {
      // Generated where the expression translated (planning left it plain otherwise); MariaDB
      // takes no NOT NULL or DEFAULT on such a column.
      sql += " GENERATED ALWAYS AS (" + c.generated + ")" + (c.generated_stored ? " STORED" : " VIRTUAL");
    } else {
      if (!c.nullable || key_chars_for(s, c.name) > 0) sql += " NOT NULL";
      // In MariaDB's terms: the source's text within one dialect, a translation from another.
      if (c.default_expr) sql += " DEFAULT " + *c.default_expr;
      if (!c.on_update.empty()) sql += " ON UPDATE " + c.on_update;
      if (auto_increment_in_create(s, c)) sql += " AUTO_INCREMENT";
    }
    if (!c.comment.empty()) sql += " COMMENT " + ddl_literal(c.comment);
  }
  if (!s.primary_key.empty()) {
    sql += ", PRIMARY KEY (";
    for (std::size_t i = 0; i < s.primary_key.size(); ++i) sql += (i ? ", " : "") + quote_ident(s.primary_key[i]);
    sql += ")";
  }
  sql += ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
  if (!s.comment.empty()) sql += " COMMENT=" + ddl_literal(s.comment);
  return sql;
}

// Statement size at which a multi-row statement is sent: big enough to amortise round trips,
// well under max_allowed_packet.
constexpr std::size_t kDefaultStatementBytes = 4u << 20;
// A binary value larger than this is sent to LOAD DATA as hex from the row, in pieces.
constexpr std::size_t kStreamedHexBytes = 64u << 10;

// A writer's own state for one target table, beside its TableLayout (detail::LayoutCache).
struct MyTable {
  TableSchema schema;                // the mapped schema (column types for literals)
  std::string name;                  // `db`.`table`
  std::vector<std::string> columns;  // quoted column names, in schema order
  std::string insert_head;           // INSERT INTO t (cols) VALUES (every column but generated ones)
  std::string upsert_tail;           // ON DUPLICATE KEY UPDATE ... (empty for keyless tables)
  std::vector<bool> writable;        // the columns a full row writes
  std::string load_head;             // LOAD DATA LOCAL INFILE ... INTO TABLE t (cols) SET ...
  std::vector<LoadForm> load_forms;  // per column
  int load_fallbacks = 0;            // batches LOAD DATA handed back to INSERT
};
using TableEntry = detail::LayoutCache<MyTable>::Entry;

class MysqlWriter final : public DestinationWriter {
 public:
  explicit MysqlWriter(const ConnParams& params)
      : params_(params), conn_(with_local_infile(params), ErrorKind::Destination), db_(params.database) {
    // Changes arrive in the source's order per table, not across tables (and a snapshot's chunks
    // read at different moments): the source checked its foreign keys and CHECKs, so the target
    // does not check them again, nor cascade. An id of 0 is an id, not "the next one", in a
    // column that is AUTO_INCREMENT.
    conn_.exec("SET SESSION foreign_key_checks = 0, SESSION unique_checks = 1");
    conn_.exec("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')");
    skip_checks(conn_);
    auto packet = conn_.scalar("SELECT @@max_allowed_packet");
    if (packet) max_bytes_ = std::min<std::size_t>(kDefaultStatementBytes, std::size_t(std::stoull(*packet)) / 2);
  }

  ~MysqlWriter() override { rollback(); }

  void begin() override {
    // START TRANSACTION would commit the open one implicitly.
    if (open_) throw Error(ErrorKind::Internal, "MariaDB writer: begin() inside a transaction", false, params_.redacted);
    conn_.exec("START TRANSACTION");
    open_ = true;
  }

  void write_rows(const DestinationTable& table, const std::vector<Row>& rows) override {
    TableEntry& t = info(table);
    for (const Row& row : rows) detail::check_width(t.layout, row);
    if (load_rows(t, rows)) return;
    run_rows(t, rows.size(), t.state.insert_head, ",", t.state.upsert_tail,
             [&](std::size_t i, std::string& sql) { append_row(sql, t, rows[i], nullptr); },
             [&](std::size_t i) { return detail::change_text(ChangeOp::Insert, t.state.schema, rows[i]); });
  }

  // Keyed tables: the batch reduced per key (detail::reduce_changes); each segment's deletes go
  // as batched DELETEs (or flag UPDATEs), its upserts as multi-row INSERT ... ON DUPLICATE KEY
  // UPDATE per group of written columns. Tables without a key: in order.
  void apply(const DestinationTable& table, const std::vector<ChangeEvent>& changes) override {
    TableEntry& t = info(table);
    const TableSchema& s = t.state.schema;
    if (!t.layout.keyed()) {
      apply_keyless(t, changes);
      return;
    }
    detail::SegmentSink sink;
    sink.truncate = [&] { truncate_rows(t, true); };
    sink.move = [&](const detail::KeyMove& m) { move_row(t, m); };
    sink.deletes = [&](const std::vector<detail::ReducedRow>& rows) { delete_rows(t, rows); };
    sink.upserts = [&](const detail::UpsertGroup& g) { upsert_rows(t, g); };
    detail::apply_reduced(t.layout, s, changes, sink);
  }

  void truncate(const DestinationTable& table) override { truncate_rows(info(table), false); }

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
    drop_pending_key_sets();
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
    drop_pending_key_sets();
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
          // Existing rows get the value the source gave them (MariaDB fills them from the default).
          if (ch.fill && !ch.fill->is_null()) {
            sql += " DEFAULT ";
            append_literal(conn_, sql, *ch.fill, ch.target);
          }
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
    tables_.forget(s.id.name);
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

  // One statement per derived cascade (detail::cascade_statement), values escaped by the driver;
  // subqueries materialised (MariaDB refuses one on the table a statement changes otherwise).
  void apply_cascade(const CascadeChange& change) override {
    if (!open_) begin();
    detail::CascadeDialect d;
    d.quote_ident = [](const std::string& n) { return quote_ident(n); };
    d.table_name = [&](const TableSchema& s) { return quote_ident(db_) + "." + quote_ident(s.id.name); };
    d.value = [&](const Value& v, const Column& c) {
      std::string text;
      append_literal(conn_, text, v, c);
      return text;
    };
    d.true_literal = "1";
    d.materialise_subqueries = true;
    const std::string sql = detail::cascade_statement(change, d);
    const std::string where = "table " + change.rows.table.schema.id.to_string();
    detail::applying(change.rows.table.schema.id.name, [&] { return std::string("a foreign key cascade"); },
                     [&] { conn_.exec(sql, where); });
  }

  // The rows go into a TEMPORARY table (whose CREATE and DROP do not commit the transaction),
  // then one UPDATE ... JOIN sets the marked columns of the keys the target has. Nothing is
  // inserted into the target.
  void backfill(const DestinationTable& table, const std::vector<Row>& rows, const std::vector<bool>& columns) override {
    if (!open_) begin();
    TableEntry& t = info(table);
    const std::vector<bool> include = backfill_columns(t, columns);
    const MyTable& m = t.state;
    std::string cols, set, on;
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (!include[i]) continue;
      cols += (cols.empty() ? "" : ", ") + m.columns[i];
      if (t.layout.is_key(i)) on += (on.empty() ? "" : " AND ") + fmt::format("d.{0} = s.{0}", m.columns[i]);
      else set += (set.empty() ? "" : ", ") + fmt::format("d.{0} = s.{0}", m.columns[i]);
    }
    if (set.empty() || rows.empty()) return;
    for (const Row& row : rows) detail::check_width(t.layout, row);
    const std::string fill = quote_ident("_cdc_fill");
    conn_.exec("DROP TEMPORARY TABLE IF EXISTS " + fill, t.layout.where);
    conn_.exec(fmt::format("CREATE TEMPORARY TABLE {} ENGINE=InnoDB AS SELECT {} FROM {} LIMIT 0", fill, cols, m.name), t.layout.where);
    try {
      run_rows(t, rows.size(), fmt::format("INSERT INTO {} ({}) VALUES ", fill, cols), ",", "",
               [&](std::size_t i, std::string& sql) { append_row(sql, t, rows[i], &include); },
               [&](std::size_t i) { return "a backfill of key " + detail::row_key_text(t.state.schema, rows[i]); });
      detail::applying(t.layout.name, [&] { return fmt::format("a backfill of {} rows", rows.size()); },
                       [&] { conn_.exec(fmt::format("UPDATE {} AS d JOIN {} AS s ON {} SET {}", m.name, fill, on, set), t.layout.where); });
    } catch (...) {
      drop_temporary(fill);
      throw;
    }
    drop_temporary(fill);
  }

  void stage_keys(const DestinationTable& table, const std::string& set, const std::vector<Row>& rows) override {
    if (!open_) begin();
    TableEntry& t = info(table);
    require_key(t, "a resync sweep");
    const std::string keys = key_set_table(table.schema, set);
    ensure_key_set(t, keys);
    if (rows.empty()) return;
    for (const Row& row : rows) detail::check_width(t.layout, row);
    std::vector<bool> key_only(t.layout.ncols, false);
    for (int k : t.layout.key) key_only[static_cast<std::size_t>(k)] = true;
    const std::string first = t.state.columns[static_cast<std::size_t>(t.layout.key[0])];
    run_rows(t, rows.size(), fmt::format("INSERT INTO {}.{} ({}) VALUES ", quote_ident(db_), quote_ident(keys), key_list(t)), ",",
             fmt::format(" ON DUPLICATE KEY UPDATE {0} = {0}", first),
             [&](std::size_t i, std::string& sql) { append_row(sql, t, rows[i], &key_only); },
             [&](std::size_t i) { return "staging key " + detail::row_key_text(t.state.schema, rows[i]) + " in set " + set; });
  }

  std::int64_t sweep_unstaged(const DestinationTable& table, const std::string& set) override {
    if (!open_) begin();
    TableEntry& t = info(table);
    require_key(t, "a resync sweep");
    const std::string keys = key_set_table(table.schema, set);
    if (!key_set_exists(t, keys)) {
      // Swept and dropped after a transaction that committed before a crash: nothing is left to do.
      detail::logf(LogLevel::Info, "mysql.destination", t.layout.name, "key set {} is gone: the sweep already ran", set);
      return 0;
    }
    const MyTable& m = t.state;
    const std::string qkeys = quote_ident(db_) + "." + quote_ident(keys);
    std::string cond;
    for (int k : t.layout.key) {
      const std::string& c = m.columns[static_cast<std::size_t>(k)];
      cond += (cond.empty() ? "" : " AND ") + fmt::format("{0}.{1} = {2}.{1}", qkeys, c, m.name);
    }
    const std::string unstaged = fmt::format("NOT EXISTS (SELECT 1 FROM {} WHERE {})", qkeys, cond);
    if (t.layout.soft_delete >= 0) {
      const std::string& f = m.columns[static_cast<std::size_t>(t.layout.soft_delete)];
      conn_.exec(fmt::format("UPDATE {} SET {} = 1 WHERE {} IS NOT TRUE AND {}", m.name, f, f, unstaged), t.layout.where);
    } else {
      conn_.exec(fmt::format("DELETE FROM {} WHERE {}", m.name, unstaged), t.layout.where);
    }
    // (Conn::exec drains results, which resets mysql_affected_rows; ROW_COUNT() still has it.)
    const std::int64_t removed = std::stoll(conn_.scalar("SELECT ROW_COUNT()", t.layout.where).value_or("0"));
    // DROP TABLE would commit the transaction: the set goes once it committed.
    pending_drops_.push_back(keys);
    return removed;
  }

  void drop_key_set(const DestinationTable& table, const std::string& set) override {
    const std::string keys = key_set_table(table.schema, set);
    if (open_) pending_drops_.push_back(keys);
    else conn_.exec(fmt::format("DROP TABLE IF EXISTS {}.{}", quote_ident(db_), quote_ident(keys)), where_of(table.schema));
  }

  void rollback() noexcept override {
    if (open_) conn_.rollback_quietly();
    open_ = false;
    pending_drops_.clear();
  }

 private:
  TableEntry& info(const DestinationTable& table) {
    const TableSchema& s = table.schema;
    bool rebuilt = false;
    TableEntry& t = tables_.get(s.id.name, table, s.id.to_string(), &rebuilt);
    if (rebuilt) {
      MyTable& m = t.state;
      m.schema = s;
      m.name = quote_ident(db_) + "." + quote_ident(s.id.name);
      // Generated columns as the target has them: MariaDB refuses values for them.
      std::vector<std::string> generated;
      for (auto& r : conn_.rows(fmt::format("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND "
                                            "TABLE_NAME = {} AND IS_GENERATED = 'ALWAYS'",
                                            conn_.quoted(db_), conn_.quoted(s.id.name)),
                                t.layout.where))
        if (r[0]) generated.push_back(*r[0]);
      t.layout.set_computed(table, generated, [](const std::string& a, const std::string& b) { return strcasecmp(a.c_str(), b.c_str()) == 0; });
      m.writable = t.layout.writable();
      for (const auto& c : s.columns) m.columns.push_back(quote_ident(c.name));
      std::string cols;
      for (std::size_t i = 0; i < m.columns.size(); ++i)
        if (m.writable[i]) cols += (cols.empty() ? "" : ", ") + m.columns[i];
      m.insert_head = fmt::format("INSERT INTO {} ({}) VALUES ", m.name, cols);
      if (t.layout.keyed()) m.upsert_tail = upsert_tail(t, {});
    }
    return t;
  }

  static std::string upsert_tail(const TableEntry& t, const std::vector<bool>& include) {
    std::string set;
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (include.empty() ? t.layout.is_computed(i) : !include[i]) continue;
      if (t.layout.is_key(i)) continue;
      const std::string& c = t.state.columns[i];
      set += (set.empty() ? "" : ", ") + c + " = VALUES(" + c + ")";
    }
    if (set.empty()) {  // key-only table: a no-op update keeps the statement idempotent
      const std::string& c = t.state.columns[static_cast<std::size_t>(t.layout.key[0])];
      set = c + " = " + c;
    }
    return " ON DUPLICATE KEY UPDATE " + set;
  }

  static void require_key(const TableEntry& t, const char* what) {
    if (!t.layout.keyed())
      throw Error(ErrorKind::Schema, fmt::format("table {} has no primary key, which {} needs", t.layout.name, what), false,
                  t.layout.where);
  }

  // Validates a backfill's column marks; the columns it writes into the temporary table (marked
  // ones and the key).
  static std::vector<bool> backfill_columns(const TableEntry& t, const std::vector<bool>& marked) {
    require_key(t, "a backfill");
    if (marked.size() != t.layout.ncols)
      throw Error(ErrorKind::Internal, fmt::format("backfill marks {} columns, table {} has {}", marked.size(), t.layout.name, t.layout.ncols),
                  false, t.layout.where);
    std::vector<bool> include(t.layout.ncols, false);
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (marked[i] && (t.layout.is_key(i) || t.layout.is_flag(i)))
        throw Error(ErrorKind::Internal, fmt::format("backfill may not set key or soft-delete column {} of table {}",
                                                     t.state.schema.columns[i].name, t.layout.name),
                    false, t.layout.where);
      include[i] = (marked[i] && !t.layout.is_computed(i)) || t.layout.is_key(i);
    }
    return include;
  }

  // Row `row` as `(v1,v2,...)`: the columns of `include`, or every column but generated ones.
  void append_row(std::string& sql, const TableEntry& t, const Row& row, const std::vector<bool>* include) {
    if (!include && t.layout.has_computed()) include = &t.state.writable;
    sql += '(';
    bool first = true;
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (include && !(*include)[i]) continue;
      if (!first) sql += ',';
      first = false;
      append_literal(conn_, sql, t.layout.value(row, i), t.state.schema.columns[i]);
    }
    sql += ')';
  }

  // `a = 1` or `(a = 1 AND b = 'x')`: the key of `image`.
  std::string key_condition(const TableEntry& t, const Row& image) {
    const bool several = t.layout.key.size() > 1;
    std::string c = several ? "(" : "";
    for (std::size_t i = 0; i < t.layout.key.size(); ++i) {
      const auto k = static_cast<std::size_t>(t.layout.key[i]);
      c += (i ? " AND " : "") + t.state.columns[k] + " = ";
      append_literal(conn_, c, image[k], t.state.schema.columns[k]);
    }
    return c + (several ? ")" : "");
  }

  std::string key_list(const TableEntry& t) const {
    std::string out;
    for (int k : t.layout.key) out += (out.empty() ? "" : ", ") + t.state.columns[static_cast<std::size_t>(k)];
    return out;
  }

  static ConnParams with_local_infile(ConnParams p) {
    p.local_infile = true;
    return p;
  }

  // Full rows by LOAD DATA LOCAL INFILE, fed from memory a field at a time as the client sends (no file,
  // no copy of the batch): InnoDB takes rows about twice as fast this way as by multi-row INSERT.
  // A keyed table's rows REPLACE what holds their key (the row becomes the source's image, as
  // the INSERT path's ON DUPLICATE KEY UPDATE makes it). LOAD DATA LOCAL turns a value the
  // server cannot take (and a duplicate in a table without a key) into a warning, not an error,
  // so the statement runs under a savepoint: any warning, an error that is not worth retrying, or
  // a value with no LOAD DATA field (append_load_field) rolls it back and returns false, and the
  // caller sends the batch as INSERTs, which store it exactly or name the row that fails. After
  // three such batches a table stays with INSERT; a server without local_infile, for good.
  bool load_rows(TableEntry& t, const std::vector<Row>& rows) {
    MyTable& m = t.state;
    if (!load_infile_ || !open_ || rows.empty() || m.load_fallbacks >= 3) return false;
    if (m.load_head.empty()) {
      // The file's format is LOAD DATA's default: fields split by tab, lines by newline,
      // backslash escapes, \N for NULL.
      std::string cols, set;
      m.load_forms.clear();
      for (std::size_t i = 0; i < t.layout.ncols; ++i) {
        m.load_forms.push_back(load_form(m.schema.columns[i]));
        if (!m.writable[i]) continue;
        cols += cols.empty() ? "" : ", ";
        if (m.load_forms[i] == LoadForm::Text) {
          cols += m.columns[i];
          continue;
        }
        const std::string var = fmt::format("@c{}", i);
        cols += var;
        set += fmt::format("{}{} = {}", set.empty() ? " SET " : ", ", m.columns[i],
                           m.load_forms[i] == LoadForm::Hex ? "UNHEX(" + var + ")" : "CAST(" + var + " AS UNSIGNED)");
      }
      m.load_head = fmt::format("LOAD DATA LOCAL INFILE 'cdc-rows' {}INTO TABLE {} CHARACTER SET utf8mb4 ({}){}",
                                t.layout.keyed() ? "REPLACE " : "", m.name, cols, set);
    }
    // The file, a field at a time: `piece` holds one field's text at most, and a large binary
    // value goes out as hex straight from the row, with no hex copy of it.
    struct Unfit {};
    std::string piece;
    std::string_view hex;
    std::size_t sent = 0, hexed = 0, row = 0, col = 0;
    bool first = true;
    auto fill = [&](char* buf, std::size_t len) {
      std::size_t n = 0;
      while (n < len) {
        if (sent < piece.size()) {
          const std::size_t k = std::min(len - n, piece.size() - sent);
          std::memcpy(buf + n, piece.data() + sent, k);
          n += k;
          sent += k;
          continue;
        }
        if (hexed < hex.size()) {
          const std::size_t k = std::min((len - n) / 2, hex.size() - hexed);
          if (k == 0) break;  // no room for a byte's two digits: the next call goes on
          write_hex(buf + n, hex.substr(hexed, k));
          n += 2 * k;
          hexed += k;
          continue;
        }
        if (row == rows.size()) break;
        piece.clear();
        sent = 0;
        hex = {};
        hexed = 0;
        while (col < t.layout.ncols && !m.writable[col]) ++col;
        if (col == t.layout.ncols) {  // the row's end
          piece = "\n";
          ++row;
          col = 0;
          first = true;
          continue;
        }
        if (!first) piece = "\t";
        first = false;
        const Value& v = t.layout.value(rows[row], col);
        if (m.load_forms[col] == LoadForm::Hex && v.kind() == ValueKind::Bytes && v.text().size() > kStreamedHexBytes)
          hex = v.text();
        else if (!append_load_field(piece, v, m.schema.columns[col], m.load_forms[col]))
          throw Unfit{};
        ++col;
      }
      return n;
    };
    conn_.exec("SAVEPOINT cdc_load", t.layout.where);
    try {
      const Conn::Loaded done = conn_.load_local(m.load_head, fill, t.layout.where);
      if (done.warnings == 0 && done.rows >= rows.size()) {
        conn_.exec("RELEASE SAVEPOINT cdc_load", t.layout.where);
        return true;
      }
    } catch (const Unfit&) {
    } catch (const Error& e) {
      if (e.retryable()) detail::rethrow_applying(e, fmt::format("{} rows, the first {}", rows.size(), detail::change_text(ChangeOp::Insert, m.schema, rows[0])), t.layout.name);
      // The server refuses LOAD DATA LOCAL (local_infile=OFF, MySQL's default).
      if (conn_.error_number() == 1148 || conn_.error_number() == 4166) {
        load_infile_ = false;
        detail::logf(LogLevel::Info, "mysql.destination", t.layout.name,
                     "the server refuses LOAD DATA LOCAL INFILE ({}): rows go as multi-row INSERTs, about half as fast; "
                     "SET GLOBAL local_infile = ON allows the bulk path",
                     e.message());
      }
    }
    conn_.exec("ROLLBACK TO SAVEPOINT cdc_load", t.layout.where);
    ++m.load_fallbacks;
    return false;
  }

  // Sends `n` rows as statements `head` row `sep` row ... `tail`, each about max_bytes_ at most;
  // `append(i, sql)` writes row i. A statement of several rows that fails for a reason that is not
  // worth retrying (InnoDB then undid that statement alone) is sent again row by row, so the
  // error names the row's key; `what(i)` says what row i is.
  template <typename Append, typename What>
  void run_rows(TableEntry& t, std::size_t n, const std::string& head, std::string_view sep, const std::string& tail,
                Append&& append, What&& what) {
    std::string sql;
    std::size_t first = 0;
    auto send = [&](std::size_t end) {
      if (sql.empty()) return;
      sql += tail;  // in place: a statement can hold a value of many MB
      try {
        conn_.exec(sql, t.layout.where);
      } catch (const Error& e) {
        if (end - first == 1) detail::rethrow_applying(e, what(first), t.layout.name);
        if (e.retryable()) detail::rethrow_applying(e, fmt::format("{} rows, the first {}", end - first, what(first)), t.layout.name);
        for (std::size_t i = first; i < end; ++i) {
          std::string one = head;
          append(i, one);
          detail::applying(t.layout.name, [&] { return what(i); }, [&] { conn_.exec(one + tail, t.layout.where); });
        }
      }
      sql.clear();
    };
    for (std::size_t i = 0; i < n; ++i) {
      if (sql.empty()) {
        sql = head;
        first = i;
      } else {
        sql += sep;
      }
      detail::applying(t.layout.name, [&] { return what(i); }, [&] { append(i, sql); });
      if (sql.size() >= max_bytes_) send(i + 1);
    }
    send(n);
  }

  void delete_rows(TableEntry& t, const std::vector<detail::ReducedRow>& rows) {
    if (rows.empty()) return;
    const MyTable& m = t.state;
    std::string head;
    if (t.layout.soft_delete >= 0)
      head = fmt::format("UPDATE {} SET {} = 1 WHERE ", m.name, m.columns[static_cast<std::size_t>(t.layout.soft_delete)]);
    else
      head = fmt::format("DELETE FROM {} WHERE ", m.name);
    const bool one_key = t.layout.key.size() == 1;
    if (one_key) head += m.columns[static_cast<std::size_t>(t.layout.key[0])] + " IN (";
    const auto k = static_cast<std::size_t>(t.layout.key[0]);
    run_rows(
        t, rows.size(), head, one_key ? "," : " OR ", one_key ? ")" : "",
        [&](std::size_t i, std::string& sql) {
          if (one_key) append_literal(conn_, sql, rows[i].row()[k], m.schema.columns[k]);
          else sql += key_condition(t, rows[i].row());
        },
        [&](std::size_t i) { return detail::change_text(ChangeOp::Delete, m.schema, rows[i].row()); });
  }

  void upsert_rows(TableEntry& t, const detail::UpsertGroup& g) {
    const MyTable& m = t.state;
    const bool all = g.all_written();
    std::string head = m.insert_head, tail = m.upsert_tail;
    if (!all) {
      std::string cols;
      for (std::size_t i = 0; i < t.layout.ncols; ++i)
        if (g.written[i]) cols += (cols.empty() ? "" : ", ") + m.columns[i];
      head = fmt::format("INSERT INTO {} ({}) VALUES ", m.name, cols);
      tail = upsert_tail(t, g.written);
    }
    run_rows(t, g.rows.size(), head, ",", tail,
             [&](std::size_t i, std::string& sql) { append_row(sql, t, g.rows[i].row(), all ? nullptr : &g.written); },
             [&](std::size_t i) { return detail::change_text(g.rows[i].event->op, m.schema, g.rows[i].row()); });
  }

  // A key-changing update whose new image lacks unsent values: the old row is updated in place.
  // A soft-deleted row holding the new key gives way; a live one means this move was already
  // applied (a replay), and the move is skipped instead of failing on the key.
  void move_row(TableEntry& t, const detail::KeyMove& mv) {
    const MyTable& m = t.state;
    const std::string new_key = key_condition(t, mv.after);
    if (t.layout.soft_delete >= 0)
      conn_.exec(fmt::format("DELETE FROM {} WHERE {} AND {} IS TRUE", m.name, new_key,
                             m.columns[static_cast<std::size_t>(t.layout.soft_delete)]),
                 t.layout.where);
    if (conn_.scalar(fmt::format("SELECT 1 FROM {} WHERE {} LIMIT 1", m.name, new_key), t.layout.where)) return;
    std::string set;
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (!mv.written[i]) continue;
      set += (set.empty() ? "" : ", ") + m.columns[i] + " = ";
      append_literal(conn_, set, t.layout.value(mv.after, i), m.schema.columns[i]);
    }
    conn_.exec(fmt::format("UPDATE {} SET {} WHERE {}", m.name, set, key_condition(t, mv.before)), t.layout.where);
  }

  // Tables without a key, in order: a run of inserts is one multi-row INSERT; a delete removes one
  // row equal to the whole image; an update is both.
  void apply_keyless(TableEntry& t, const std::vector<ChangeEvent>& changes) {
    const TableSchema& s = t.state.schema;
    std::size_t i = 0;
    while (i < changes.size()) {
      std::size_t end = i;
      while (end < changes.size() && changes[end].op == ChangeOp::Insert) detail::check_width(t.layout, changes[end++].after);
      if (end > i) {
        run_rows(t, end - i, t.state.insert_head, ",", "",
                 [&](std::size_t j, std::string& sql) { append_row(sql, t, changes[i + j].after, nullptr); },
                 [&](std::size_t j) { return detail::change_text(ChangeOp::Insert, s, changes[i + j].after); });
        i = end;
        continue;
      }
      const ChangeEvent& e = changes[i++];
      detail::applying(
          t.layout.name,
          [&] { return e.op == ChangeOp::Truncate ? std::string("truncate") : detail::change_text(e.op, s, e.before.empty() ? e.after : e.before); },
          [&] {
            if (e.op == ChangeOp::Truncate) return truncate_rows(t, true);
            if (e.before.empty()) {
              if (e.op == ChangeOp::Delete) throw Error(ErrorKind::Destination, "delete event without a before image", false, t.layout.where);
              throw Error(ErrorKind::Destination, "update of a table without a key arrived without its old row", false, t.layout.where);
            }
            detail::check_width(t.layout, e.before);
            remove_one(t, e.before);
            if (e.op == ChangeOp::Update) {
              detail::check_width(t.layout, e.after);
              std::string sql = t.state.insert_head;
              append_row(sql, t, e.after, nullptr);
              conn_.exec(sql, t.layout.where);
            }
          });
    }
  }

  // Keyless tables: one row equal to the whole image goes (or is flagged).
  void remove_one(const TableEntry& t, const Row& image) {
    const MyTable& m = t.state;
    std::string cond;
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (t.layout.is_flag(i) || t.layout.is_computed(i)) continue;
      cond += (cond.empty() ? "" : " AND ") + m.columns[i] + " <=> ";
      append_literal(conn_, cond, image[i], m.schema.columns[i]);
    }
    if (t.layout.soft_delete >= 0) {
      const std::string& f = m.columns[static_cast<std::size_t>(t.layout.soft_delete)];
      conn_.exec(fmt::format("UPDATE {} SET {} = 1 WHERE {} AND {} = 0 LIMIT 1", m.name, f, cond.empty() ? "1" : cond, f), t.layout.where);
    } else {
      conn_.exec(fmt::format("DELETE FROM {} WHERE {} LIMIT 1", m.name, cond.empty() ? "1" : cond), t.layout.where);
    }
  }

  void truncate_rows(const TableEntry& t, bool soft) {
    if (soft && t.layout.soft_delete >= 0)
      conn_.exec(fmt::format("UPDATE {} SET {} = 1", t.state.name, t.state.columns[static_cast<std::size_t>(t.layout.soft_delete)]),
                 t.layout.where);
    else
      conn_.exec("DELETE FROM " + t.state.name, t.layout.where);
  }

  void drop_temporary(const std::string& name) noexcept {
    try {
      conn_.exec("DROP TEMPORARY TABLE IF EXISTS " + name);
    } catch (const Error&) {
      // Gone with the connection, or dropped by the next backfill's DROP ... IF EXISTS.
    }
  }

  std::string key_set_table(const TableSchema& s, const std::string& set) const {
    return detail::key_set_table_name("_cdc_keys_", TableId(s.id.name), set, kMaxIdentifier);
  }

  bool key_set_exists(const TableEntry& t, const std::string& keys) {
    return conn_
        .scalar(fmt::format("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}", conn_.quoted(db_),
                            conn_.quoted(keys)),
                t.layout.where)
        .has_value();
  }

  // CREATE TABLE commits the transaction it runs in, so the key set is created on a connection of
  // its own: this transaction's chunk rows, keys and checkpoint still commit together. Its
  // columns are the target's key columns with their types and collations, so the sweep compares
  // keys as the target does.
  void ensure_key_set(const TableEntry& t, const std::string& keys) {
    if (key_set_exists(t, keys)) return;
    auto types = conn_.rows(fmt::format("SELECT COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME FROM "
                                        "information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                                        conn_.quoted(db_), conn_.quoted(t.state.schema.id.name)),
                            t.layout.where);
    std::string cols;
    for (int k : t.layout.key) {
      const std::string& name = t.state.schema.columns[static_cast<std::size_t>(k)].name;
      auto it = std::find_if(types.begin(), types.end(), [&](const auto& r) { return r[0] && strcasecmp(r[0]->c_str(), name.c_str()) == 0; });
      if (it == types.end() || !(*it)[1])
        throw Error(ErrorKind::Schema, fmt::format("key column {} is missing from table {}", name, t.layout.name), false, t.layout.where);
      cols += quote_ident(name) + " " + *(*it)[1];
      if ((*it)[2] && (*it)[3]) cols += " CHARACTER SET " + *(*it)[2] + " COLLATE " + *(*it)[3];
      cols += " NOT NULL, ";
    }
    // A connection of its own for one statement (sets are made once per resync; a connection kept
    // for them would sit idle long enough for the server to drop it).
    Conn ddl(params_, ErrorKind::Destination);
    ddl.exec(fmt::format("CREATE TABLE IF NOT EXISTS {}.{} ({}PRIMARY KEY ({})) ENGINE=InnoDB", quote_ident(db_), quote_ident(keys), cols,
                          key_list(t)),
              t.layout.where);
  }

  // Key sets swept (or dropped) in the transaction that just committed.
  void drop_pending_key_sets() noexcept {
    for (const auto& keys : pending_drops_) {
      try {
        conn_.exec(fmt::format("DROP TABLE IF EXISTS {}.{}", quote_ident(db_), quote_ident(keys)));
      } catch (const Error& e) {
        detail::logf(LogLevel::Warn, "mysql.destination", keys, "could not drop the swept key set: {}", e.what());
      }
    }
    pending_drops_.clear();
  }

  ConnParams params_;
  Conn conn_;
  std::string db_;
  std::size_t max_bytes_ = kDefaultStatementBytes;
  bool open_ = false;
  bool load_infile_ = true;  // the server takes LOAD DATA LOCAL (load_rows)
  std::vector<std::string> pending_drops_;  // key-set tables to drop once the transaction committed
  detail::LayoutCache<MyTable> tables_;
};

// ---- schema objects (docs/schema-objects.md) ----

// A column MariaDB indexes only by a prefix (TEXT, BLOB and their kin).
bool prefix_only(const Column& c) {
  std::string t = c.source_type.empty() ? render_column_type(c, 0) : c.source_type;
  for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return t.find("text") != std::string::npos || t.find("blob") != std::string::npos || t == "json";
}

// The key list of an index: its expression (plain columns, with ASC/DESC), or its columns with
// their prefix lengths. `stand_in`: for the plain index that stands in for a unique one until
// finish, whose columns MariaDB may index only by a prefix.
std::string key_list(const TableSchema& s, const IndexDef& idx, bool stand_in = false) {
  if (!idx.expression.empty()) return idx.expression;
  std::string out;
  for (std::size_t i = 0; i < idx.columns.size(); ++i) {
    int prefix = i < idx.prefix_lengths.size() ? idx.prefix_lengths[i] : -1;
    const int ci = s.index_of(idx.columns[i]);
    if (stand_in && prefix <= 0 && ci >= 0 && prefix_only(s.columns[static_cast<std::size_t>(ci)])) prefix = 255;
    out += (out.empty() ? "" : ", ") + quote_ident(idx.columns[i]) + (prefix > 0 ? fmt::format("({})", prefix) : "");
  }
  return out;
}

std::string index_text(const TableSchema& s, const IndexDef& idx) {
  std::string kind = idx.method == "fulltext" ? "FULLTEXT " : idx.method == "spatial" ? "SPATIAL " : "";
  return fmt::format("{}{}index {} on {} ({})", kind, idx.unique ? "unique " : "", idx.name, s.id.name,
                     idx.expression.empty() ? detail::join_names(idx.columns) : idx.expression);
}

std::string fk_text(const TableSchema& s, const ForeignKeyDef& fk) {
  return fmt::format("foreign key {} on {} ({}) -> {} ({}) ON DELETE {} ON UPDATE {}", fk.name, s.id.name, detail::join_names(fk.columns),
                     fk.references.name, detail::join_names(fk.referenced_columns), detail::action_sql(fk.on_delete), detail::action_sql(fk.on_update));
}

// The schema objects of target tables, on a connection of their own: MariaDB's DDL commits by
// itself, and index builds take long. The connection neither checks foreign keys nor CHECKs
// (see MysqlWriter): objects are added over rows the source already checked, and finish() counts
// the rows that break them.
class MyObjects {
 public:
  explicit MyObjects(const ConnParams& params) : c_(params, ErrorKind::Destination), db_(params.database) {
    c_.exec("SET SESSION foreign_key_checks = 0");
    skip_checks(c_);
  }

  void table_objects(const DestinationTable& table, const SchemaSettings& settings, SchemaObjectReport& report) {
    const TableSchema& s = table.schema;
    const std::string name = qualified(s.id.name);
    const std::string where = where_of(s);
    report.skipped.insert(report.skipped.end(), table.not_carried.begin(), table.not_carried.end());
    if (!exists(s.id.name, where)) {
      report.skipped.push_back(fmt::format("schema objects of {}: the table does not exist", s.id.name));
      return;
    }
    if (settings.indexes)
      for (const auto& idx : s.indexes) {
        if (index_unique(s.id.name, idx.name, where)) continue;
        const std::string what = index_text(s, idx);
        const bool special = idx.method == "fulltext" || idx.method == "spatial";
        // A unique key cannot be deferred in MariaDB: until finish() a plain index stands in for it.
        const std::string kind = idx.method == "fulltext" ? "FULLTEXT " : idx.method == "spatial" ? "SPATIAL " : "";
        const bool stand_in = idx.unique && !special;
        if (run(fmt::format("ALTER TABLE {} ADD {}{}INDEX {} ({})", name, kind, idx.unique && special ? "UNIQUE " : "",
                            quote_ident(idx.name), key_list(s, idx, stand_in)),
                what, report, where)) {
          if (stand_in)
            report.created.push_back(what + ": a plain index until finish makes it unique (MariaDB cannot defer a unique check, "
                                            "and a batch that reorders values could be refused)");
          else
            report.created.push_back(what);
        }
      }
    if (settings.constraints)
      for (const auto& ck : s.checks) {
        if (check_exists(s.id.name, ck.name, where)) continue;
        const std::string what = fmt::format("CHECK {} on {} ({})", ck.name, s.id.name, ck.expression);
        if (run(fmt::format("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({})", name, quote_ident(ck.name), ck.expression), what, report, where))
          report.created.push_back(what + ", rows already copied not checked yet (finish counts them)");
      }
    if (settings.sequences)
      for (const auto& c : s.columns) {
        if (!c.identity || !is_integer_type(c.type.id) || auto_increment_in_create(s, c)) continue;
        auto extra = c_.scalar(fmt::format("SELECT EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} AND "
                                           "COLUMN_NAME = {}",
                                           c_.quoted(db_), c_.quoted(s.id.name), c_.quoted(c.name)),
                               where);
        if (!extra || extra->find("auto_increment") != std::string::npos) continue;
        const std::string what = fmt::format("AUTO_INCREMENT of column {}.{}", s.id.name, c.name);
        std::string def = render_column_type(c, key_chars_for(s, c.name)) + " NOT NULL AUTO_INCREMENT";
        if (!c.comment.empty()) def += " COMMENT " + ddl_literal(c.comment);
        if (run(fmt::format("ALTER TABLE {} MODIFY COLUMN {} {}", name, quote_ident(c.name), def), what, report, where))
          report.created.push_back(what);
      }
  }

  void foreign_keys(const std::vector<DestinationTable>& tables, SchemaObjectReport& report) {
    for (const auto& t : tables) {
      report.skipped.insert(report.skipped.end(), t.not_carried_foreign_keys.begin(), t.not_carried_foreign_keys.end());
      const TableSchema& s = t.schema;
      const std::string where = where_of(s);
      for (const auto& fk : s.foreign_keys) {
        const std::string what = fk_text(s, fk);
        if (!exists(s.id.name, where)) {
          report.skipped.push_back(what + ": the table does not exist");
          continue;
        }
        if (fk_exists(s.id.name, fk.name, where)) continue;
        // Added with foreign_key_checks = 0: MariaDB checks no existing row (finish counts the
        // rows without a parent), and the writers' sessions neither check nor cascade.
        if (run(fmt::format("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {}",
                            qualified(s.id.name), quote_ident(fk.name), detail::join_quoted(fk.columns, "mysql"), qualified(fk.references.name),
                            detail::join_quoted(fk.referenced_columns, "mysql"), detail::action_sql(fk.on_delete), detail::action_sql(fk.on_update)),
                what, report, where))
          report.created.push_back(what + ", rows already copied not checked yet (finish counts them)");
      }
    }
  }

  void finish(const std::vector<DestinationTable>& tables, const SchemaSettings& settings, SchemaObjectReport& report) {
    for (const auto& t : tables) {
      const TableSchema& s = t.schema;
      const std::string name = qualified(s.id.name);
      const std::string where = where_of(s);
      if (!exists(s.id.name, where)) continue;
      if (settings.indexes)
        for (const auto& idx : s.indexes) {
          if (!idx.unique || idx.method == "fulltext" || idx.method == "spatial") continue;
          if (index_unique(s.id.name, idx.name, where, true)) continue;
          const std::string what = index_text(s, idx);
          const bool present = index_unique(s.id.name, idx.name, where);
          if (run(fmt::format("ALTER TABLE {} {}ADD UNIQUE INDEX {} ({}){}", name,
                              present ? "DROP INDEX " + quote_ident(idx.name) + ", " : "", quote_ident(idx.name), key_list(s, idx),
                              idx.method == "hash" ? " USING HASH" : ""),
                  what + ": could not be made unique", report, where))
            report.created.push_back(what + ": made unique");
        }
      if (settings.foreign_keys)
        for (const auto& fk : s.foreign_keys) {
          if (!fk_exists(s.id.name, fk.name, where)) continue;
          std::string present, match;
          for (std::size_t i = 0; i < fk.columns.size(); ++i) {
            present += fmt::format(" AND c.{} IS NOT NULL", quote_ident(fk.columns[i]));
            match += fmt::format("{}p.{} = c.{}", i ? " AND " : "", quote_ident(fk.referenced_columns[i]), quote_ident(fk.columns[i]));
          }
          auto n = c_.scalar(fmt::format("SELECT COUNT(*) FROM {} c WHERE 1 = 1{} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {})", name,
                                         present, qualified(fk.references.name), match),
                             where);
          count_report(n, fmt::format("foreign key {} on {}", fk.name, s.id.name), fmt::format("rows reference no row of {}", fk.references.name),
                       "every row has its parent", report);
        }
      if (settings.constraints)
        for (const auto& ck : s.checks) {
          if (!check_exists(s.id.name, ck.name, where)) continue;
          auto n = c_.scalar(fmt::format("SELECT COUNT(*) FROM {} WHERE NOT ({})", name, ck.expression), where);
          count_report(n, fmt::format("CHECK {} on {}", ck.name, s.id.name), "rows break it", "every row passes", report);
        }
      if (settings.sequences)
        for (const auto& c : s.columns) {
          if (!c.identity || !is_integer_type(c.type.id)) continue;
          auto max = c_.scalar(fmt::format("SELECT MAX({}) FROM {}", quote_ident(c.name), name), where);
          if (!max) continue;
          // InnoDB moves the counter past every value written; said explicitly at the cut-over.
          auto next = c_.scalar(fmt::format("SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                                            c_.quoted(db_), c_.quoted(s.id.name)),
                                where);
          const std::string what = fmt::format("AUTO_INCREMENT of column {}.{}", s.id.name, c.name);
          if (!next || std::stoll(*next) <= std::stoll(*max))
            run(fmt::format("ALTER TABLE {} AUTO_INCREMENT = {}", name, std::stoll(*max) + 1), what, report, where);
          report.created.push_back(fmt::format("{}: continues after {}", what, *max));
        }
    }
  }

 private:
  std::string qualified(const std::string& table) const { return quote_ident(db_) + "." + quote_ident(table); }

  bool run(const std::string& sql, const std::string& what, SchemaObjectReport& report, const std::string& where) {
    try {
      c_.exec(sql, where);
      return true;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Connection) throw;
      report.skipped.push_back(fmt::format("{}: {}", what, e.message()));
      return false;
    }
  }

  void count_report(const std::optional<std::string>& n, const std::string& what, const std::string& bad, const std::string& good,
                    SchemaObjectReport& report) {
    const long long count = n ? std::stoll(*n) : 0;
    if (count > 0) report.skipped.push_back(fmt::format("{}: {} {}", what, count, bad));
    else report.created.push_back(fmt::format("{}: checked, {}", what, good));
  }

  bool exists(const std::string& table, const std::string& where) {
    return c_.scalar(fmt::format("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}", c_.quoted(db_),
                                 c_.quoted(table)),
                     where)
        .has_value();
  }

  // Whether index `name` exists (and, with `unique`, is unique).
  bool index_unique(const std::string& table, const std::string& name, const std::string& where, bool unique = false) {
    return c_.scalar(fmt::format("SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} AND "
                                 "INDEX_NAME = {}{}",
                                 c_.quoted(db_), c_.quoted(table), c_.quoted(name), unique ? " AND NON_UNIQUE = 0" : ""),
                     where)
        .has_value();
  }

  bool check_exists(const std::string& table, const std::string& name, const std::string& where) {
    return c_.scalar(fmt::format("SELECT 1 FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {} AND TABLE_NAME = {} "
                                 "AND CONSTRAINT_NAME = {}",
                                 c_.quoted(db_), c_.quoted(table), c_.quoted(name)),
                     where)
        .has_value();
  }

  bool fk_exists(const std::string& table, const std::string& name, const std::string& where) {
    return c_.scalar(fmt::format("SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {} AND "
                                 "TABLE_NAME = {} AND CONSTRAINT_NAME = {}",
                                 c_.quoted(db_), c_.quoted(table), c_.quoted(name)),
                     where)
        .has_value();
  }

  Conn c_;
  std::string db_;
};

// _cdc_runs and _cdc_errors (CheckpointStore's run history), in the database of the checkpoints.
detail::SqlHistory::Dialect history_dialect(const std::string& database) {
  detail::SqlHistory::Dialect d;
  d.runs = quote_ident(database) + "." + quote_ident("_cdc_runs");
  d.errors = quote_ident(database) + "." + quote_ident("_cdc_errors");
  const char* tail = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
  d.create_runs = fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (session VARCHAR(191) NOT NULL, run BIGINT NOT NULL, kind VARCHAR(32) NOT NULL, "
      "started_at DATETIME(6) NOT NULL, ended_at DATETIME(6) NULL, outcome VARCHAR(32) NOT NULL, rows_copied BIGINT NOT NULL, "
      "changes_applied BIGINT NOT NULL, version VARCHAR(64) NOT NULL, holder VARCHAR(512) NOT NULL, error LONGTEXT, "
      "PRIMARY KEY (session, run)){}",
      d.runs, tail);
  d.create_errors = fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, session VARCHAR(191) NOT NULL, "
      "run BIGINT NOT NULL, at DATETIME(6) NOT NULL, source_table VARCHAR(512) NOT NULL, kind VARCHAR(32) NOT NULL, "
      "message LONGTEXT NOT NULL, position VARCHAR(255), KEY (session, id)){}",
      d.errors, tail);
  d.now = "UTC_TIMESTAMP(6)";
  d.time_value = "?";
  d.time_text = "DATE_FORMAT({}, '%Y-%m-%d %H:%i:%s.%f')";
  return d;
}

class MysqlCheckpointStore final : public detail::HistoryCheckpointStore {
 public:
  explicit MysqlCheckpointStore(ConnParams params)
      : HistoryCheckpointStore(history_dialect(params.database)), params_(std::move(params)) {
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
    history_.forget_tables();
  }

  // The run history's statements, their `?` replaced by quoted literals (this client has no
  // server-side parameters).
  void with_query(const std::function<void(const detail::SqlHistory::Query&)>& f) override {
    std::lock_guard lock(mu_);
    with_conn([&] {
      f([this](const std::string& sql, const detail::SqlHistory::Params& params) {
        std::string text = detail::number_placeholders(sql, [&](int n) {
          const auto& v = params.at(static_cast<std::size_t>(n - 1));
          return v ? conn_.quoted(*v) : std::string("NULL");
        });
        if (text.rfind("SELECT", 0) == 0) return conn_.rows(text, "run history");
        conn_.exec(text, "run history");
        return detail::SqlHistory::Rows{};
      });
      return 0;
    });
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

  // Everything but transactional DDL: MariaDB commits implicitly around ALTER TABLE.
  DestinationCapabilities capabilities() const override {
    DestinationCapabilities c;
    c.ddl = c.atomic_checkpoints = c.quarantine = c.schema_evolution = c.schema_history = true;
    c.backfill = c.resync_sweep = c.cascades = c.schema_objects = true;
    return c;
  }

  SchemaObjectReport create_table_objects(const DestinationTable& table, const std::string&, const SchemaSettings& settings) override {
    SchemaObjectReport report;
    MyObjects(params_).table_objects(table, settings, report);
    return report;
  }

  SchemaObjectReport create_foreign_keys(const std::vector<DestinationTable>& tables, const std::string&,
                                         const SchemaSettings& settings) override {
    SchemaObjectReport report;
    if (settings.foreign_keys) MyObjects(params_).foreign_keys(tables, report);
    return report;
  }

  SchemaObjectReport finish(const std::vector<DestinationTable>& tables, const std::string&, const SchemaSettings& settings) override {
    SchemaObjectReport report;
    MyObjects objects(params_);
    for (const auto& t : tables) objects.table_objects(t, settings, report);
    if (settings.foreign_keys) objects.foreign_keys(tables, report);
    objects.finish(tables, settings, report);
    return report;
  }

  std::string render_ddl(const DestinationTable& table) const override {
    return render(table, quote_ident(params_.database) + "." + quote_ident(table.schema.id.name));
  }

  void prepare_table(const DestinationTable& table) override {
    const TableSchema& s = table.schema;
    std::lock_guard lock(mu_);
    Conn& admin = this->admin();
    auto cols = admin.rows(fmt::format("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND "
                                       "TABLE_NAME = {}",
                                       admin.quoted(params_.database), admin.quoted(s.id.name)),
                           where_of(s));
    std::string name = quote_ident(params_.database) + "." + quote_ident(s.id.name);
    if (cols.empty()) {
      admin.exec(render_ddl(table), where_of(s));
      detail::logf(LogLevel::Info, "mysql.destination", s.id.to_string(), "created table");
      return;
    }
    for (auto& c : s.columns) {
      bool have = std::any_of(cols.begin(), cols.end(),
                              [&](const auto& r) { return r[0] && strcasecmp(r[0]->c_str(), c.name.c_str()) == 0; });
      if (have) continue;
      admin.exec(fmt::format("ALTER TABLE {} ADD COLUMN {} {}", name, quote_ident(c.name), render_column_type(c, 0)),
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

  std::size_t max_identifier_length() const override { return kMaxIdentifier; }

 private:
  // The admin connection, connected again when the server dropped it (a restart): a table
  // prepared after that (one added by a reload, a resync) would otherwise fail on every retry.
  // Caller holds mu_.
  Conn& admin() {
    if (!admin_ || mysql_ping(admin_.get()) != 0) admin_ = Conn(params_, ErrorKind::Destination);
    return admin_;
  }

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
