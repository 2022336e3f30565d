// SQLite destination: DDL, table preparation and writers. The database runs in WAL mode with
// synchronous=NORMAL, which survives process kills (not power loss) and keeps commits cheap.
// Change batches are reduced to one final state per key (core/writer/change_reducer.h) and
// applied with prepared statements; backfills, resync key sets (`_cdc_keys_...` tables) and DDL
// run in the writer's transaction, so they commit with the data and the checkpoint.
// The connector holds one admin connection behind a mutex; every writer has its own connection
// and caches its prepared statements per table.
#include "sqlite/sqlite_connectors.h"
#include "sqlite/sqlite_db.h"

#include "core/logging.h"
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
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <optional>

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

bool is_integer_type(TypeId id) {
  return id == TypeId::Int8 || id == TypeId::Int16 || id == TypeId::Int24 || id == TypeId::Int32 || id == TypeId::Int64;
}

// SQLite can add neither a CHECK nor a foreign key to a table once it exists: both are part of
// CREATE TABLE. SQLite checks foreign keys only on connections with PRAGMA foreign_keys = ON
// (cdc's writers leave it off) and cdc's writers ignore CHECKs (the source checked the rows);
// finish() counts the rows that break either.
std::string render(const DestinationTable& table) {
  const TableSchema& s = table.schema;
  std::string sql = "CREATE TABLE IF NOT EXISTS " + quote_ident(s.id.name) + " (";
  for (std::size_t i = 0; i < s.columns.size(); ++i) {
    const Column& c = s.columns[i];
    // An identity column that is the whole key is the rowid: INTEGER, so a row inserted without
    // it gets the next value past the highest present.
    const bool rowid = c.identity && is_integer_type(c.type.id) && s.primary_key.size() == 1 && s.primary_key[0] == c.name;
    std::string def = quote_ident(c.name);
    std::string type = rowid ? std::string("INTEGER") : column_type(c);
    if (!type.empty()) def += " " + type;
    if (!c.generated.empty()) def += " GENERATED ALWAYS AS (" + c.generated + ")" + (c.generated_stored ? " STORED" : " VIRTUAL");
    if (!c.nullable) def += " NOT NULL";
    if (c.default_expr && c.generated.empty()) def += " DEFAULT " + *c.default_expr;
    sql += (i ? ", " : "") + def;
  }
  if (!s.primary_key.empty()) {
    sql += ", PRIMARY KEY (";
    for (std::size_t i = 0; i < s.primary_key.size(); ++i) sql += (i ? ", " : "") + quote_ident(s.primary_key[i]);
    sql += ")";
  }
  for (const auto& ck : s.checks) sql += ", CONSTRAINT " + quote_ident(ck.name) + " CHECK (" + ck.expression + ")";
  for (const auto& fk : s.foreign_keys)
    sql += fmt::format(", CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {}", quote_ident(fk.name),
                       detail::join_quoted(fk.columns, "sqlite"), quote_ident(fk.references.name), detail::join_quoted(fk.referenced_columns, "sqlite"),
                       detail::action_sql(fk.on_delete), detail::action_sql(fk.on_update));
  sql += ")";
  return sql;
}

// A value as an SQLite literal for DDL (a column's DEFAULT), rendered as Stmt::bind would store it:
// text in single quotes with quotes doubled, blobs as X'..'. Nothing for text holding NUL, which
// only a cast could spell, and ADD COLUMN takes no expression as its default.
std::optional<std::string> sqlite_literal(const Value& v) {
  auto hex = [](const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out = "X'";
    for (unsigned char c : bytes) {
      out += digits[c >> 4];
      out += digits[c & 15];
    }
    return out + "'";
  };
  switch (v.kind()) {
    case ValueKind::Null: return "NULL";
    case ValueKind::Bool: return v.as_bool() ? "1" : "0";
    case ValueKind::Int: return std::to_string(v.as_int());
    case ValueKind::UInt: {
      std::uint64_t u = v.as_uint();
      if (u <= std::uint64_t(std::numeric_limits<std::int64_t>::max())) return std::to_string(u);
      return "'" + std::to_string(u) + "'";
    }
    case ValueKind::Double: {
      double d = v.as_double();
      if (std::isnan(d)) return "NULL";  // SQLite stores NaN as NULL
      if (std::isinf(d)) return d > 0 ? "9e999" : "-9e999";
      return fmt::format("{}", d);  // shortest form that reads back as the same double
    }
    case ValueKind::Bytes: return hex(v.text());
    default: {
      const std::string& t = v.text();
      if (t.find('\0') != std::string::npos) return std::nullopt;
      std::string out = "'";
      for (char c : t) {
        if (c == '\'') out += '\'';
        out += c;
      }
      return out + "'";
    }
  }
}

// A writer's own state for one target table, beside its TableLayout (detail::LayoutCache): the
// table's names and its prepared statements.
struct SqTable {
  TableSchema schema;
  std::string name;                  // quoted table name
  std::vector<std::string> columns;  // quoted column names, in schema order
  std::vector<bool> writable;        // the columns a full row writes (generated ones left out)
  Stmt replace;                      // write_rows (keyed: INSERT OR REPLACE; else INSERT)
  std::map<std::vector<bool>, Stmt> upserts;    // apply, by the columns written
  std::map<std::vector<bool>, Stmt> backfills;  // backfill, by the columns set
  Stmt delete_key;                   // keyed: DELETE (or soft UPDATE) by key
  Stmt delete_one;                   // keyless: remove one row matching the whole image

  void reset() noexcept {
    replace.reset();
    delete_key.reset();
    delete_one.reset();
    for (auto& [m, s] : upserts) s.reset();
    for (auto& [m, s] : backfills) s.reset();
  }
};
using TableEntry = detail::LayoutCache<SqTable>::Entry;

class SqliteWriter final : public DestinationWriter {
 public:
  explicit SqliteWriter(const std::string& path) : db_(path, kOpenFlags, kBusyTimeoutMs, ErrorKind::Destination) {
    db_.exec("PRAGMA synchronous=NORMAL");
    // The source checked its rows; chunks and changes of different tables arrive in their own
    // order. Foreign keys stay unchecked too (PRAGMA foreign_keys is off by default).
    db_.exec("PRAGMA ignore_check_constraints = ON");
  }

  ~SqliteWriter() override { rollback(); }

  void begin() override {
    if (db_.in_transaction())
      throw Error(ErrorKind::Internal, "SQLite writer: begin() while a transaction is open", false,
                  "sqlite file " + db_.path());
    db_.exec("BEGIN IMMEDIATE");
  }

  void write_rows(const DestinationTable& table, const std::vector<Row>& rows) override {
    TableEntry& t = info(table);
    Stmt& s = replace_stmt(t);
    for (const Row& row : rows) {
      detail::check_width(t.layout, row);
      bind_row(s, t, row, nullptr);
      step_reset(s);
    }
  }

  // Keyed tables: the batch reduced per key (detail::reduce_changes), then one prepared
  // statement per remaining delete and upsert. Tables without a key: in order.
  void apply(const DestinationTable& table, const std::vector<ChangeEvent>& changes) override {
    TableEntry& t = info(table);
    const TableSchema& s = t.state.schema;
    if (!t.layout.keyed()) {
      for (const ChangeEvent& e : changes)
        detail::applying(
            t.layout.name,
            [&] { return e.op == ChangeOp::Truncate ? std::string("truncate") : detail::change_text(e.op, s, e.before.empty() ? e.after : e.before); },
            [&] { apply_keyless(t, e); });
      return;
    }
    detail::SegmentSink sink;
    sink.truncate = [&] { truncate_rows(t, true); };
    sink.move = [&](const detail::KeyMove& m) { move_row(t, m); };
    sink.deletes = [&](const std::vector<detail::ReducedRow>& rows) {
      for (const auto& d : rows)
        detail::applying(t.layout.name, [&] { return detail::change_text(ChangeOp::Delete, s, d.row()); }, [&] { remove_key(t, d.row()); });
    };
    sink.upserts = [&](const detail::UpsertGroup& g) {
      Stmt& st = upsert_stmt(t, g.written);
      const bool all = g.all_written();
      for (const auto& r : g.rows)
        detail::applying(t.layout.name, [&] { return detail::change_text(r.event->op, s, r.row()); }, [&] {
          bind_row(st, t, r.row(), all ? nullptr : &g.written);
          step_reset(st);
        });
    };
    detail::apply_reduced(t.layout, s, changes, sink);
  }

  void truncate(const DestinationTable& table) override { truncate_rows(info(table), false); }

  void commit(const std::string& session, const std::vector<CheckpointEntry>& checkpoint) override {
    open_txn();
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
    open_txn();
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
    open_txn();
    TableInfo info = read_table_info(db_, s.id.name);
    auto has = [&](const std::string& c) {
      return std::any_of(info.columns.begin(), info.columns.end(),
                         [&](const Column& x) { return sqlite3_stricmp(x.name.c_str(), c.c_str()) == 0; });
    };
    const std::string name = quote_ident(s.id.name);
    std::vector<std::string> out;
    for (const auto& ch : changes) {
      const std::string where = where_of(s) + " column " + ch.column;
      std::string sql;
      if (ch.kind == ColumnChangeKind::Added && !has(ch.column)) {
        // Existing rows read the default: the value the source gave them. A value without a
        // literal form is set by an UPDATE instead, bound as the writer binds values.
        const bool filled = ch.fill && !ch.fill->is_null();
        const std::optional<std::string> literal = filled ? sqlite_literal(*ch.fill) : std::nullopt;
        sql = fmt::format("ALTER TABLE {} ADD COLUMN {}{}", name, column_def(ch.target, false), literal ? " DEFAULT " + *literal : "");
        db_.exec(sql, where);
        if (filled && !literal) {
          const std::string update = fmt::format("UPDATE {} SET {} = ?1", name, quote_ident(ch.column));
          Stmt fill(db_, update, where);
          fill.bind(1, *ch.fill);
          fill.run();
          sql += "; " + update;
        }
      } else if (ch.kind == ColumnChangeKind::Renamed && !(has(ch.column) && !has(ch.old_name))) {
        sql = fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", name, quote_ident(ch.old_name), quote_ident(ch.column));
        db_.exec(sql, where);
      }
      out.push_back(sql);
    }
    tables_.forget(s.id.name);
    return out;
  }

  void record_schema_changes(const std::string& session, const std::vector<SchemaHistoryEntry>& entries) override {
    open_txn();
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

  // One statement per derived cascade (detail::cascade_statement), values bound to numbered
  // parameters (the SET clause comes before the WHERE in the text, but after it in binding order).
  void apply_cascade(const CascadeChange& change) override {
    open_txn();
    std::vector<Value> params;
    detail::CascadeDialect d;
    d.quote_ident = [](const std::string& n) { return quote_ident(n); };
    d.table_name = [](const TableSchema& s) { return quote_ident(s.id.name); };
    d.value = [&](const Value& v, const Column&) {
      params.push_back(v);
      return "?" + std::to_string(params.size());
    };
    d.true_literal = "1";
    const std::string sql = detail::cascade_statement(change, d);
    const std::string where = "table " + change.rows.table.schema.id.to_string();
    detail::applying(change.rows.table.schema.id.name, [&] { return std::string("a foreign key cascade"); }, [&] {
      Stmt st(db_, sql, where);
      for (std::size_t i = 0; i < params.size(); ++i) st.bind(static_cast<int>(i) + 1, params[i]);
      st.step();
    });
  }

  // One prepared UPDATE per row: a key the target lacks matches nothing, so nothing is inserted.
  void backfill(const DestinationTable& table, const std::vector<Row>& rows, const std::vector<bool>& columns) override {
    open_txn();
    TableEntry& t = info(table);
    require_key(t, "a backfill");
    if (columns.size() != t.layout.ncols)
      throw Error(ErrorKind::Internal, fmt::format("backfill marks {} columns, table {} has {}", columns.size(), t.layout.name, t.layout.ncols),
                  false, t.layout.where);
    std::vector<bool> marked = columns;
    for (std::size_t i = 0; i < t.layout.ncols; ++i)
      if (t.layout.is_computed(i)) marked[i] = false;  // the target computes it
    std::string set;
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (!marked[i]) continue;
      if (t.layout.is_key(i) || t.layout.is_flag(i))
        throw Error(ErrorKind::Internal, fmt::format("backfill may not set key or soft-delete column {} of table {}",
                                                     t.state.schema.columns[i].name, t.layout.name),
                    false, t.layout.where);
      set += (set.empty() ? "" : ", ") + t.state.columns[i] + " = ?";
    }
    if (set.empty()) return;
    auto it = t.state.backfills.find(marked);
    if (it == t.state.backfills.end())
      it = t.state.backfills.emplace(marked, Stmt(db_, fmt::format("UPDATE {} SET {} WHERE {}", t.state.name, set, key_cond(t, "")), t.layout.where)).first;
    Stmt& st = it->second;
    for (const Row& row : rows)
      detail::applying(t.layout.name, [&] { return "a backfill of key " + detail::row_key_text(t.state.schema, row); },
                       [&] {
                         detail::check_width(t.layout, row);
                         int p = 1;
                         for (std::size_t i = 0; i < t.layout.ncols; ++i)
                           if (marked[i]) st.bind(p++, row[i]);
                         for (int k : t.layout.key) st.bind(p++, row[static_cast<std::size_t>(k)]);
                         step_reset(st);
                       });
  }

  void stage_keys(const DestinationTable& table, const std::string& set, const std::vector<Row>& rows) override {
    open_txn();
    TableEntry& t = info(table);
    require_key(t, "a resync sweep");
    const std::string keys = quote_ident(key_set_table(table.schema, set));
    // SQLite has one writer at a time and transactional DDL: the set is created in this transaction.
    TableInfo target = read_table_info(db_, t.state.schema.id.name);
    std::string cols;
    for (int k : t.layout.key) {
      const std::string& name = t.state.schema.columns[static_cast<std::size_t>(k)].name;
      auto c = std::find_if(target.columns.begin(), target.columns.end(),
                            [&](const Column& x) { return sqlite3_stricmp(x.name.c_str(), name.c_str()) == 0; });
      cols += quote_ident(name) + (c == target.columns.end() || c->source_type.empty() ? "" : " " + c->source_type) + ", ";
    }
    db_.exec(fmt::format("CREATE TABLE IF NOT EXISTS {} ({}PRIMARY KEY ({}))", keys, cols, key_list(t)), t.layout.where);
    if (rows.empty()) return;
    std::string marks;
    for (std::size_t i = 0; i < t.layout.key.size(); ++i) marks += i ? ", ?" : "?";
    Stmt st(db_, fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING", keys, key_list(t), marks), t.layout.where);
    for (const Row& row : rows)
      detail::applying(t.layout.name, [&] { return "staging key " + detail::row_key_text(t.state.schema, row) + " in set " + set; },
                       [&] {
                         detail::check_width(t.layout, row);
                         int p = 1;
                         for (int k : t.layout.key) st.bind(p++, row[static_cast<std::size_t>(k)]);
                         step_reset(st);
                       });
  }

  std::int64_t sweep_unstaged(const DestinationTable& table, const std::string& set) override {
    open_txn();
    TableEntry& t = info(table);
    require_key(t, "a resync sweep");
    const std::string name = key_set_table(table.schema, set);
    {
      Stmt exists(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", t.layout.where);
      exists.bind_text(1, name);
      if (!exists.step()) {
        // Swept and dropped by a transaction that committed before a crash: nothing is left to do.
        detail::logf(LogLevel::Info, "sqlite.destination", t.layout.name, "key set {} is gone: the sweep already ran", set);
        return 0;
      }
    }
    const std::string keys = quote_ident(name);
    std::string cond;
    for (int k : t.layout.key) {
      const std::string& c = t.state.columns[static_cast<std::size_t>(k)];
      cond += (cond.empty() ? "" : " AND ") + fmt::format("{0}.{1} = {2}.{1}", keys, c, t.state.name);
    }
    const std::string unstaged = fmt::format("NOT EXISTS (SELECT 1 FROM {} WHERE {})", keys, cond);
    if (t.layout.soft_delete >= 0) {
      const std::string& f = t.state.columns[static_cast<std::size_t>(t.layout.soft_delete)];
      db_.exec(fmt::format("UPDATE {} SET {} = 1 WHERE {} IS NOT 1 AND {}", t.state.name, f, f, unstaged), t.layout.where);
    } else {
      db_.exec(fmt::format("DELETE FROM {} WHERE {}", t.state.name, unstaged), t.layout.where);
    }
    const std::int64_t removed = sqlite3_changes(db_.get());
    db_.exec("DROP TABLE " + keys, t.layout.where);
    return removed;
  }

  void drop_key_set(const DestinationTable& table, const std::string& set) override {
    open_txn();
    db_.exec("DROP TABLE IF EXISTS " + quote_ident(key_set_table(table.schema, set)), where_of(table.schema));
  }

  void rollback() noexcept override {
    tables_.for_each([](TableEntry& t) { t.state.reset(); });
    db_.rollback_quietly();
  }

 private:
  // The optional operations run in the current transaction, opening one when none is.
  void open_txn() {
    if (!db_.in_transaction()) db_.exec("BEGIN IMMEDIATE");
  }

  static std::string placeholders(std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
    return out;
  }

  static std::string key_set_table(const TableSchema& s, const std::string& set) {
    return detail::key_set_table_name("_cdc_keys_", TableId(s.id.name), set, 0);
  }

  static void require_key(const TableEntry& t, const char* what) {
    if (!t.layout.keyed())
      throw Error(ErrorKind::Schema, fmt::format("table {} has no primary key, which {} needs", t.layout.name, what), false,
                  t.layout.where);
  }

  TableEntry& info(const DestinationTable& table) {
    const TableSchema& s = table.schema;
    bool rebuilt = false;
    TableEntry& t = tables_.get(s.id.name, table, s.id.to_string(), &rebuilt);
    if (rebuilt) {
      t.state.schema = s;
      t.state.name = quote_ident(s.id.name);
      for (const auto& c : s.columns) t.state.columns.push_back(quote_ident(c.name));
      // Generated columns as the target has them: SQLite refuses values for them.
      std::vector<std::string> generated;
      for (const auto& [name, stored] : read_table_info(db_, s.id.name).generated) generated.push_back(name);
      t.layout.set_computed(table, generated, [](const std::string& a, const std::string& b) { return sqlite3_stricmp(a.c_str(), b.c_str()) == 0; });
      t.state.writable = t.layout.writable();
    }
    return t;
  }

  // Quoted column list; `include` empty = all columns.
  static std::string columns_sql(const TableEntry& t, const std::vector<bool>& include) {
    std::string out;
    for (std::size_t i = 0; i < t.state.columns.size(); ++i) {
      if (!include.empty() && !include[i]) continue;
      out += (out.empty() ? "" : ", ") + t.state.columns[i];
    }
    return out;
  }

  static std::string key_list(const TableEntry& t) {
    std::string out;
    for (int k : t.layout.key) out += (out.empty() ? "" : ", ") + t.state.columns[static_cast<std::size_t>(k)];
    return out;
  }

  // `k1 = ? AND k2 = ?` (each column prefixed by `prefix`).
  static std::string key_cond(const TableEntry& t, const std::string& prefix) {
    std::string cond;
    for (int k : t.layout.key) cond += (cond.empty() ? "" : " AND ") + prefix + t.state.columns[static_cast<std::size_t>(k)] + " = ?";
    return cond;
  }

  Stmt& replace_stmt(TableEntry& t) {
    if (!t.state.replace)
      t.state.replace = Stmt(db_,
                             fmt::format("{} INTO {} ({}) VALUES ({})", t.layout.keyed() ? "INSERT OR REPLACE" : "INSERT", t.state.name,
                                         columns_sql(t, t.state.writable),
                                         placeholders(static_cast<std::size_t>(
                                             std::count(t.state.writable.begin(), t.state.writable.end(), true)))),
                             t.layout.where);
    return t.state.replace;
  }

  Stmt& upsert_stmt(TableEntry& t, const std::vector<bool>& written) {
    auto it = t.state.upserts.find(written);
    if (it != t.state.upserts.end()) return it->second;
    std::size_t n = 0;
    std::string set;
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (!written[i]) continue;
      ++n;
      if (t.layout.is_key(i)) continue;
      const std::string& c = t.state.columns[i];
      set += (set.empty() ? "" : ", ") + c + " = excluded." + c;
    }
    std::string sql = fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO {}", t.state.name, columns_sql(t, written),
                                  placeholders(n), key_list(t), set.empty() ? "NOTHING" : "UPDATE SET " + set);
    return t.state.upserts.emplace(written, Stmt(db_, sql, t.layout.where)).first->second;
  }

  // Binds the columns of `row` selected by `include` (all when null) in order.
  static void bind_row(Stmt& s, const TableEntry& t, const Row& row, const std::vector<bool>* include) {
    if (!include && t.layout.has_computed()) include = &t.state.writable;
    int p = 1;
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (include && !(*include)[i]) continue;
      s.bind(p++, t.layout.value(row, i));
    }
  }

  static void step_reset(Stmt& s) {
    s.step();
    sqlite3_reset(s.get());
  }

  // Deletes (or soft-deletes) the row with the key of `image`.
  void remove_key(TableEntry& t, const Row& image) {
    if (!t.state.delete_key) {
      std::string sql = t.layout.soft_delete >= 0
                            ? fmt::format("UPDATE {} SET {} = 1 WHERE {}", t.state.name,
                                          t.state.columns[static_cast<std::size_t>(t.layout.soft_delete)], key_cond(t, ""))
                            : fmt::format("DELETE FROM {} WHERE {}", t.state.name, key_cond(t, ""));
      t.state.delete_key = Stmt(db_, sql, t.layout.where);
    }
    int p = 1;
    for (int k : t.layout.key) t.state.delete_key.bind(p++, image[static_cast<std::size_t>(k)]);
    step_reset(t.state.delete_key);
  }

  // A key-changing update whose new image lacks unsent values: the old row is updated in place.
  // A soft-deleted row holding the new key gives way; a live one means this move was already
  // applied (a replay), and the move is skipped instead of failing on the key.
  void move_row(TableEntry& t, const detail::KeyMove& m) {
    const SqTable& q = t.state;
    if (t.layout.soft_delete >= 0) {
      Stmt del(db_, fmt::format("DELETE FROM {} WHERE {} AND {} IS 1", q.name, key_cond(t, ""),
                                q.columns[static_cast<std::size_t>(t.layout.soft_delete)]),
               t.layout.where);
      int p = 1;
      for (int k : t.layout.key) del.bind(p++, m.after[static_cast<std::size_t>(k)]);
      del.run();
    }
    std::string set;
    for (std::size_t i = 0; i < t.layout.ncols; ++i)
      if (m.written[i]) set += (set.empty() ? "" : ", ") + q.columns[i] + " = ?";
    Stmt up(db_, fmt::format("UPDATE {0} SET {1} WHERE {2} AND NOT EXISTS (SELECT 1 FROM {0} WHERE {2})", q.name, set, key_cond(t, "")),
            t.layout.where);
    int p = 1;
    for (std::size_t i = 0; i < t.layout.ncols; ++i)
      if (m.written[i]) up.bind(p++, t.layout.value(m.after, i));
    for (int k : t.layout.key) up.bind(p++, m.before[static_cast<std::size_t>(k)]);
    for (int k : t.layout.key) up.bind(p++, m.after[static_cast<std::size_t>(k)]);
    up.run();
  }

  // Tables without a key: inserts append; a delete removes one row equal to the whole image; an
  // update is both.
  void apply_keyless(TableEntry& t, const ChangeEvent& e) {
    if (e.op == ChangeOp::Truncate) return truncate_rows(t, true);
    if (e.op != ChangeOp::Insert) {
      if (e.before.empty()) {
        if (e.op == ChangeOp::Delete) throw Error(ErrorKind::Destination, "delete event without a before image", false, t.layout.where);
        throw Error(ErrorKind::Destination, "update of a table without a key arrived without its old row", false, t.layout.where);
      }
      detail::check_width(t.layout, e.before);
      remove_one(t, e.before);
      if (e.op == ChangeOp::Delete) return;
    }
    detail::check_width(t.layout, e.after);
    Stmt& s = replace_stmt(t);
    bind_row(s, t, e.after, nullptr);
    step_reset(s);
  }

  void remove_one(TableEntry& t, const Row& image) {
    SqTable& q = t.state;
    if (!q.delete_one) {
      std::string cond;
      for (std::size_t i = 0; i < t.layout.ncols; ++i) {
        if (t.layout.is_flag(i) || t.layout.is_computed(i)) continue;
        cond += (cond.empty() ? "" : " AND ") + q.columns[i] + " IS ?";
      }
      std::string sql;
      if (t.layout.soft_delete >= 0) {
        const std::string& flag = q.columns[static_cast<std::size_t>(t.layout.soft_delete)];
        cond += (cond.empty() ? "" : " AND ") + flag + " = 0";
        sql = fmt::format("UPDATE {0} SET {1} = 1 WHERE rowid = (SELECT rowid FROM {0} WHERE {2} LIMIT 1)", q.name, flag, cond);
      } else {
        sql = fmt::format("DELETE FROM {0} WHERE rowid = (SELECT rowid FROM {0} WHERE {1} LIMIT 1)", q.name, cond);
      }
      q.delete_one = Stmt(db_, sql, t.layout.where);
    }
    int p = 1;
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (t.layout.is_flag(i) || t.layout.is_computed(i)) continue;
      q.delete_one.bind(p++, image[i]);
    }
    step_reset(q.delete_one);
  }

  void truncate_rows(TableEntry& t, bool soft) {
    if (soft && t.layout.soft_delete >= 0)
      db_.exec(fmt::format("UPDATE {} SET {} = 1", t.state.name, t.state.columns[static_cast<std::size_t>(t.layout.soft_delete)]),
               t.layout.where);
    else
      db_.exec("DELETE FROM " + t.state.name, t.layout.where);
  }

  Db db_;
  detail::LayoutCache<SqTable> tables_;
  Stmt cp_upsert_, cp_delete_, quarantine_insert_;
};

// ---- schema objects (docs/schema-objects.md) ----

std::string index_text(const TableSchema& s, const IndexDef& idx) {
  return fmt::format("{}index {} on {} ({})", idx.unique ? "unique " : "", idx.name, s.id.name,
                     idx.expression.empty() ? detail::join_names(idx.columns) : idx.expression);
}

std::string fk_text(const TableSchema& s, const ForeignKeyDef& fk) {
  return fmt::format("foreign key {} on {} ({}) -> {} ({}) ON DELETE {} ON UPDATE {}", fk.name, s.id.name, detail::join_names(fk.columns),
                     fk.references.name, detail::join_names(fk.referenced_columns), detail::action_sql(fk.on_delete), detail::action_sql(fk.on_update));
}

// The schema objects of target tables, on a connection of their own.
class SqObjects {
 public:
  explicit SqObjects(const std::string& path) : db_(path, kOpenFlags, kBusyTimeoutMs, ErrorKind::Destination) {}

  void table_objects(const DestinationTable& table, const SchemaSettings& settings, SchemaObjectReport& report) {
    const TableSchema& s = table.schema;
    const std::string where = where_of(s);
    report.skipped.insert(report.skipped.end(), table.not_carried.begin(), table.not_carried.end());
    const std::string sql = statement("table", s.id.name);
    if (sql.empty()) {
      report.skipped.push_back(fmt::format("schema objects of {}: the table does not exist", s.id.name));
      return;
    }
    if (settings.indexes)
      for (const auto& idx : s.indexes) {
        const std::string what = index_text(s, idx);
        auto on = index_table(idx.name);
        if (on) {
          if (sqlite3_stricmp(on->c_str(), s.id.name.c_str()) != 0)
            report.skipped.push_back(fmt::format("{}: the name is taken by an index on {}", what, *on));
          continue;
        }
        // A unique index would make INSERT OR REPLACE (a snapshot's rows) remove the row in its
        // way: until finish a plain index stands in for it.
        if (run(create_index_sql(s, idx, false), what, report, where)) {
          if (idx.unique)
            report.created.push_back(what + ": a plain index until finish makes it unique (a unique index could make a reordered "
                                            "batch remove or refuse a row)");
          else
            report.created.push_back(what);
        }
      }
    if (settings.constraints && !s.checks.empty()) {
      auto have = detail::parse_sqlite_create_table(sql).checks;
      for (const auto& ck : s.checks) {
        const std::string what = fmt::format("CHECK {} on {} ({})", ck.name, s.id.name, ck.expression);
        bool present = std::any_of(have.begin(), have.end(), [&](const CheckDef& h) { return sqlite3_stricmp(h.name.c_str(), ck.name.c_str()) == 0; });
        if (present) report.created.push_back(what + ", in the table's definition (cdc's writers ignore it; finish counts the rows "
                                                     "that break it)");
        else report.skipped.push_back(what + ": SQLite cannot add a CHECK to a table that exists (it was created without it)");
      }
    }
  }

  void foreign_keys(const std::vector<DestinationTable>& tables, SchemaObjectReport& report) {
    for (const auto& t : tables) {
      report.skipped.insert(report.skipped.end(), t.not_carried_foreign_keys.begin(), t.not_carried_foreign_keys.end());
      const TableSchema& s = t.schema;
      for (const auto& fk : s.foreign_keys) {
        const std::string what = fk_text(s, fk);
        if (has_foreign_key(s.id.name, fk))
          report.created.push_back(what + ", in the table's definition (SQLite checks it on connections with PRAGMA "
                                          "foreign_keys = ON)");
        else
          report.skipped.push_back(what + ": SQLite cannot add a foreign key to a table that exists (it was created without it)");
      }
    }
  }

  void finish(const std::vector<DestinationTable>& tables, const SchemaSettings& settings, SchemaObjectReport& report) {
    for (const auto& t : tables) {
      const TableSchema& s = t.schema;
      const std::string where = where_of(s);
      if (statement("table", s.id.name).empty()) continue;
      if (settings.indexes)
        for (const auto& idx : s.indexes) {
          if (!idx.unique) continue;
          Stmt u(db_, "SELECT \"unique\" FROM pragma_index_list(?1) WHERE name = ?2", where);
          u.bind_text(1, s.id.name);
          u.bind_text(2, idx.name);
          if (!u.step() || u.column_int64(0) != 0) continue;
          u.finalize();
          const std::string what = index_text(s, idx);
          if (run("BEGIN IMMEDIATE; DROP INDEX " + quote_ident(idx.name) + "; " + create_index_sql(s, idx, true) + "; COMMIT",
                  what + ": could not be made unique", report, where))
            report.created.push_back(what + ": made unique");
          else
            db_.rollback_quietly();
        }
      if (settings.foreign_keys && !s.foreign_keys.empty()) {
        Stmt v(db_, "SELECT count(*) FROM pragma_foreign_key_check(?1)", where);
        v.bind_text(1, s.id.name);
        v.step();
        const std::int64_t n = v.column_int64(0);
        if (n > 0) report.skipped.push_back(fmt::format("foreign keys of {}: {} rows reference no parent row", s.id.name, n));
        else report.created.push_back(fmt::format("foreign keys of {}: checked, every row has its parent", s.id.name));
      }
      if (settings.constraints)
        for (const auto& ck : s.checks) {
          try {
            Stmt v(db_, fmt::format("SELECT count(*) FROM {} WHERE NOT ({})", quote_ident(s.id.name), ck.expression), where);
            v.step();
            const std::int64_t n = v.column_int64(0);
            if (n > 0) report.skipped.push_back(fmt::format("CHECK {} on {}: {} rows break it", ck.name, s.id.name, n));
            else report.created.push_back(fmt::format("CHECK {} on {}: checked, every row passes", ck.name, s.id.name));
          } catch (const Error& e) {
            report.skipped.push_back(fmt::format("CHECK {} on {}: {}", ck.name, s.id.name, e.message()));
          }
        }
      if (settings.sequences)
        for (const auto& c : s.columns) {
          if (!c.identity || s.primary_key.size() != 1 || s.primary_key[0] != c.name) continue;
          Stmt m(db_, fmt::format("SELECT max({}) FROM {}", quote_ident(c.name), quote_ident(s.id.name)), where);
          if (m.step() && !m.column_is_null(0))
            report.created.push_back(fmt::format("identity column {}.{}: a row inserted without it gets the next value after {}",
                                                 s.id.name, c.name, m.column_int64(0)));
        }
    }
  }

 private:
  std::string statement(const char* type, const std::string& name) {
    Stmt st(db_, "SELECT sql FROM sqlite_schema WHERE type = ?1 AND name = ?2 COLLATE NOCASE", "sqlite schema");
    st.bind_text(1, type);
    st.bind_text(2, name);
    return st.step() && !st.column_is_null(0) ? st.column_text(0) : std::string();
  }

  std::optional<std::string> index_table(const std::string& name) {
    Stmt st(db_, "SELECT tbl_name FROM sqlite_schema WHERE type = 'index' AND name = ?1 COLLATE NOCASE", "sqlite schema");
    st.bind_text(1, name);
    if (!st.step()) return std::nullopt;
    return st.column_text(0);
  }

  bool has_foreign_key(const std::string& table, const ForeignKeyDef& fk) {
    Stmt st(db_, "SELECT id, \"table\", \"from\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq", "table " + table);
    st.bind_text(1, table);
    std::map<std::int64_t, std::pair<std::string, std::vector<std::string>>> keys;
    while (st.step()) {
      auto& k = keys[st.column_int64(0)];
      k.first = st.column_text(1);
      k.second.push_back(st.column_text(2));
    }
    for (const auto& [id, k] : keys) {
      if (sqlite3_stricmp(k.first.c_str(), fk.references.name.c_str()) != 0 || k.second.size() != fk.columns.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < k.second.size(); ++i)
        if (sqlite3_stricmp(k.second[i].c_str(), fk.columns[i].c_str()) != 0) same = false;
      if (same) return true;
    }
    return false;
  }

  static std::string create_index_sql(const TableSchema& s, const IndexDef& idx, bool unique) {
    std::string keys = idx.expression.empty() ? detail::join_quoted(idx.columns, "sqlite") : idx.expression;
    std::string sql = fmt::format("CREATE {}INDEX {}{} ON {} ({})", unique ? "UNIQUE " : "", unique ? "" : "IF NOT EXISTS ",
                                  quote_ident(idx.name), quote_ident(s.id.name), keys);
    if (!idx.where.empty()) sql += " WHERE " + idx.where;
    return sql;
  }

  bool run(const std::string& sql, const std::string& what, SchemaObjectReport& report, const std::string& where) {
    try {
      db_.exec(sql, where);
      return true;
    } catch (const Error& e) {
      report.skipped.push_back(fmt::format("{}: {}", what, e.message()));
      return false;
    }
  }

  Db db_;
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
    c.ddl = c.atomic_checkpoints = c.quarantine = c.schema_evolution = c.schema_history = true;
    c.transactional_ddl = c.backfill = c.resync_sweep = c.cascades = c.schema_objects = true;
    return c;
  }

  SchemaObjectReport create_table_objects(const DestinationTable& table, const std::string&, const SchemaSettings& settings) override {
    SchemaObjectReport report;
    SqObjects(path_).table_objects(table, settings, report);
    return report;
  }

  SchemaObjectReport create_foreign_keys(const std::vector<DestinationTable>& tables, const std::string&,
                                         const SchemaSettings& settings) override {
    SchemaObjectReport report;
    if (settings.foreign_keys) SqObjects(path_).foreign_keys(tables, report);
    return report;
  }

  SchemaObjectReport finish(const std::vector<DestinationTable>& tables, const std::string&, const SchemaSettings& settings) override {
    SchemaObjectReport report;
    SqObjects objects(path_);
    for (const auto& t : tables) objects.table_objects(t, settings, report);
    if (settings.foreign_keys) objects.foreign_keys(tables, report);
    objects.finish(tables, settings, report);
    return report;
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
