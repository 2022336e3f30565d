// SQLite source: discovery, snapshot chunks (rowid ranges or key tuples), chunk and incremental
// readers. Every call opens its own read-only connection, so the connector holds no shared state
// but the file path and is safe to call from many threads.
#include "sqlite/sqlite_capture.h"
#include "sqlite/sqlite_connectors.h"
#include "sqlite/sqlite_db.h"

#include "core/batch_reader.h"
#include "core/logging.h"
#include "core/sql_expr.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>
#include <system_error>

namespace cdc::sqlite {

namespace {

constexpr int kReadFlags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
constexpr int kBusyTimeoutMs = 30000;

std::string where_of(const TableId& t) { return "table " + t.to_string(); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// The name under which a rowid table's rowid is reachable, or "" when every alias is shadowed by a
// column (or the table has no rowid).
std::string rowid_name(const TableInfo& info) {
  if (info.without_rowid || info.view) return {};
  for (const char* cand : {"rowid", "_rowid_", "oid"}) {
    bool shadowed = std::any_of(info.columns.begin(), info.columns.end(),
                                [&](const Column& c) { return iequals(c.name, cand); });
    if (!shadowed) return cand;
  }
  return {};
}

std::string column_list(const std::vector<Column>& cols) {
  std::string out;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (i) out += ", ";
    out += quote_ident(cols[i].name);
  }
  return out;
}

std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += ", ";
    out += quote_ident(names[i]);
  }
  return out;
}

std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

// Streams the rows of one statement in batches. Owns its connection; optionally runs inside one
// read transaction that is committed at the end (rolled back if abandoned).
class SqliteRowReader final : public detail::BatchRowReader {
 public:
  SqliteRowReader(Db db, Stmt stmt, std::vector<int> result_columns, std::vector<TypeId> types,
                  std::int64_t batch_size, bool in_transaction, std::string position = {})
      : BatchRowReader(result_columns.size(), batch_size),
        db_(std::move(db)),
        stmt_(std::move(stmt)),
        map_(std::move(result_columns)),
        types_(std::move(types)),
        txn_(in_transaction),
        position_(std::move(position)) {}

  ~SqliteRowReader() override {
    stmt_.finalize();
    db_.rollback_quietly();
  }

  // The capture sequence read in the same transaction as the rows ("" without capture).
  Position position() const override { return Position(position_); }

 private:
  bool read_row(Row& row) override {
    if (!stmt_.step()) return false;
    for (std::size_t c = 0; c < map_.size(); ++c) row[c] = stmt_.column_value(map_[c], types_[c]);
    return true;
  }
  void finish() override {
    stmt_.finalize();
    if (txn_) db_.exec("COMMIT");
  }

  Db db_;
  Stmt stmt_;
  std::vector<int> map_;
  std::vector<TypeId> types_;
  bool txn_;
  std::string position_;
};

std::vector<int> identity_map(std::size_t n) {
  std::vector<int> m(n);
  for (std::size_t i = 0; i < n; ++i) m[i] = int(i);
  return m;
}

std::vector<TypeId> types_of(const TableSchema& s) {
  std::vector<TypeId> t;
  t.reserve(s.columns.size());
  for (auto& c : s.columns) t.push_back(c.type.id);
  return t;
}

class SqliteSource final : public SourceConnector {
 public:
  explicit SqliteSource(std::string path) : path_(std::move(path)) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path_, ec))
      throw Error(ErrorKind::Config, fmt::format("SQLite source database \"{}\" does not exist", path_), false,
                  "source");
  }

  std::string dialect() const override { return "sqlite"; }

  std::vector<TableSchema> discover(const std::function<bool(const TableId&)>& wanted) override {
    Db db = open_read();
    std::vector<std::pair<std::string, bool>> names;  // name, view
    {
      Stmt s(db,
             "SELECT s.name, s.type = 'view' FROM sqlite_schema s JOIN pragma_table_list l ON l.schema = 'main' AND l.name = s.name "
             "WHERE s.type IN ('table', 'view') AND l.type = s.type AND lower(substr(s.name, 1, 7)) <> 'sqlite_' "
             "AND substr(s.name, 1, 5) <> '_cdc_' ORDER BY s.name");
      while (s.step()) names.emplace_back(s.column_text(0), s.column_int64(1) != 0);
    }
    std::vector<TableSchema> out;
    for (auto& [name, is_view] : names) {
      TableId id(name);
      if (wanted && !wanted(id)) continue;
      TableInfo info;
      try {
        info = read_table_info(db, name);
      } catch (const Error& err) {
        if (!is_view) throw;
        // A view whose query no longer compiles (a table it reads was dropped) has no columns.
        detail::logf(LogLevel::Warn, "sqlite.source", name, "view skipped: {}", err.what());
        continue;
      }
      if (!info.exists) continue;
      TableSchema t;
      t.id = id;
      t.columns = std::move(info.columns);
      t.primary_key = std::move(info.primary_key);
      if (info.view) {
        // Columns that are expressions have no declared type (TypeId::Unknown: every value kept
        // as SQLite stores it where the target allows, see docs/schema-objects.md).
        t.view = true;
        out.push_back(std::move(t));
        continue;
      }
      read_objects(db, info, t);
      Stmt c(db, "SELECT count(*) FROM " + quote_ident(name), where_of(id));
      c.step();
      t.estimated_rows = c.column_int64(0);
      out.push_back(std::move(t));
    }
    return out;
  }

  std::vector<SnapshotChunk> plan_snapshot(const TableSchema& table, const SnapshotPlanOptions& options) override {
    Db db = open_read();
    TableInfo info = table_info(db, table.id);
    if (info.view) info.primary_key = table.primary_key;  // its configured key, if any
    const std::string t = quote_ident(table.id.name);
    std::string rid = rowid_name(info);
    const std::int64_t chunk_rows =
        options.whole_table ? std::numeric_limits<std::int64_t>::max() : std::max<std::int64_t>(1, options.chunk_rows);
    const int min_chunks = options.whole_table ? 1 : std::max(1, options.min_chunks);
    db.exec("BEGIN");
    std::vector<SnapshotChunk> chunks;
    if (!rid.empty()) {
      Stmt s(db, fmt::format("SELECT min({0}), max({0}), count(*) FROM {1}", rid, t), where_of(table.id));
      s.step();
      std::int64_t count = s.column_int64(2);
      if (count > 0) {
        std::int64_t lo = s.column_int64(0), hi = s.column_int64(1);
        long double range = (long double)(std::uint64_t(hi) - std::uint64_t(lo)) + 1.0L;
        std::int64_t n = std::max<std::int64_t>(min_chunks, count / chunk_rows + (count % chunk_rows != 0));
        n = std::min<std::int64_t>(n, count);
        if ((long double)n > range) n = std::int64_t(range);
        std::vector<std::string> bounds;
        for (std::int64_t i = 1; i < n; ++i) {
          auto off = std::uint64_t(range * (long double)i / (long double)n);
          bounds.push_back(std::to_string(std::int64_t(std::uint64_t(lo) + off)));
        }
        chunks = make_chunks(bounds, count);
      }
    } else if (!info.primary_key.empty()) {
      Stmt c(db, "SELECT count(*) FROM " + t, where_of(table.id));
      c.step();
      std::int64_t count = c.column_int64(0);
      std::int64_t n = std::min<std::int64_t>(std::max<std::int64_t>(min_chunks, count / chunk_rows + (count % chunk_rows != 0)),
                                              count);
      std::vector<std::string> bounds;
      if (n > 1) {
        std::int64_t size = count / n;
        std::string keys = name_list(info.primary_key);
        Stmt s(db, fmt::format("SELECT {0} FROM {1} ORDER BY {0}", keys, t), where_of(table.id));
        std::int64_t row = 0;
        while (s.step() && std::int64_t(bounds.size()) < n - 1) {
          if (row > 0 && row % size == 0) {
            std::vector<Value> key;
            for (int k = 0; k < s.column_count(); ++k) key.push_back(s.column_value(k));
            bounds.push_back(encode_key(key));
          }
          ++row;
        }
      }
      if (count > 0) chunks = make_chunks(bounds, count);
    }
    db.exec("COMMIT");
    if (chunks.empty()) chunks.push_back(SnapshotChunk{0, 1, "", "", 0});
    detail::logf(LogLevel::Debug, "sqlite.source", table.id.to_string(), "planned {} chunk(s)", chunks.size());
    return chunks;
  }

  std::unique_ptr<RowReader> read_chunk(const ReadRequest& req) override {
    const TableSchema& schema = req.schema;
    Db db = open_read();
    TableInfo info = table_info(db, schema.id);
    if (info.view) info.primary_key = schema.primary_key;  // its configured key, if any
    std::string rid = rowid_name(info);
    std::string sql = fmt::format("SELECT {} FROM {}", column_list(schema.columns), quote_ident(schema.id.name));
    std::vector<std::string> conds;
    std::vector<Value> params;
    std::string order;
    if (!rid.empty()) {
      order = rid;
      for (auto [text, op] : {std::pair{&req.chunk.lower, ">="}, std::pair{&req.chunk.upper, "<"}}) {
        if (text->empty()) continue;
        std::int64_t v;
        if (!parse_int64(*text, v))
          throw Error(ErrorKind::State, fmt::format("bad rowid chunk bound \"{}\" for table {}", *text, schema.id.to_string()),
                      false, where_of(schema.id));
        conds.push_back(fmt::format("{} {} ?", rid, op));
        params.push_back(Value::int64(v));
      }
    } else if (!info.primary_key.empty()) {
      std::string keys = name_list(info.primary_key);
      order = keys;
      for (auto [text, op] : {std::pair{&req.chunk.lower, ">="}, std::pair{&req.chunk.upper, "<"}}) {
        if (text->empty()) continue;
        std::vector<Value> key = decode_key(*text);
        if (key.size() != info.primary_key.size())
          throw Error(ErrorKind::State, fmt::format("chunk bound \"{}\" does not match the key of table {}", *text,
                                                    schema.id.to_string()),
                      false, where_of(schema.id));
        conds.push_back(fmt::format("({}) {} ({})", keys, op, placeholders(key.size())));
        for (auto& v : key) params.push_back(std::move(v));
      }
    }
    if (!req.where.empty()) conds.push_back("(" + req.where + ")");
    for (std::size_t i = 0; i < conds.size(); ++i) sql += (i ? " AND " : " WHERE ") + conds[i];
    if (!order.empty()) sql += " ORDER BY " + order;
    db.exec("BEGIN");
    // Read first in the transaction: it fixes the snapshot the rows come from (WAL) or holds the
    // shared lock that keeps writers out until COMMIT (rollback journal).
    std::string position = capture_position(db);
    Stmt stmt(db, sql, where_of(schema.id));
    bind_all(stmt, params);
    auto reader = std::make_unique<SqliteRowReader>(std::move(db), std::move(stmt), identity_map(schema.columns.size()),
                                                    types_of(schema), req.batch_size, true, std::move(position));
    return reader;
  }

  std::unique_ptr<RowReader> read_incremental(const IncrementalRequest& req) override {
    const TableSchema& schema = req.schema;
    Db db = open_read();
    if (req.query.empty()) {
      if (schema.index_of(req.watermark_column) < 0)
        throw Error(ErrorKind::Config,
                    fmt::format("watermark column \"{}\" is not among the columns read from table {}",
                                req.watermark_column, schema.id.to_string()),
                    false, where_of(schema.id));
      std::string wm = quote_ident(req.watermark_column);
      std::string sql = fmt::format("SELECT {} FROM {}", column_list(schema.columns), quote_ident(schema.id.name));
      std::vector<std::string> conds;
      if (req.last_value && !req.last_value->is_null()) conds.push_back(wm + " > ?");
      if (!req.where.empty()) conds.push_back("(" + req.where + ")");
      for (std::size_t i = 0; i < conds.size(); ++i) sql += (i ? " AND " : " WHERE ") + conds[i];
      sql += " ORDER BY " + wm;
      db.exec("BEGIN");
      Stmt stmt(db, sql, where_of(schema.id));
      if (req.last_value && !req.last_value->is_null()) bind_owned(stmt, 1, *req.last_value);
      return std::make_unique<SqliteRowReader>(std::move(db), std::move(stmt), identity_map(schema.columns.size()),
                                               types_of(schema), req.batch_size, true);
    }
    // Custom query: the author's SQL, `:last_value` bound (NULL without a last value); result
    // columns are matched to the requested columns by name.
    db.exec("BEGIN");
    Stmt stmt(db, req.query, where_of(schema.id) + " (custom query)");
    for (const char* name : {":last_value", "@last_value", "$last_value"}) {
      int idx = stmt.parameter_index(name);
      if (idx <= 0) continue;
      if (req.last_value)
        bind_owned(stmt, idx, *req.last_value);
      else
        stmt.bind_null(idx);
    }
    std::vector<int> map;
    for (auto& col : schema.columns) {
      int found = -1;
      for (int i = 0; i < stmt.column_count() && found < 0; ++i)
        if (stmt.column_name(i) == col.name) found = i;
      for (int i = 0; i < stmt.column_count() && found < 0; ++i)
        if (iequals(stmt.column_name(i), col.name)) found = i;
      if (found < 0)
        throw Error(ErrorKind::Schema,
                    fmt::format("the custom query of table {} does not return column \"{}\"", schema.id.to_string(),
                                col.name),
                    false, fmt::format("column {}.{}", schema.id.to_string(), col.name));
      map.push_back(found);
    }
    return std::make_unique<SqliteRowReader>(std::move(db), std::move(stmt), std::move(map), types_of(schema),
                                             req.batch_size, true);
  }

  std::int64_t count_rows(const TableId& table, const std::string& where) override {
    Db db = open_read();
    std::string sql = "SELECT count(*) FROM " + quote_ident(table.name);
    if (!where.empty()) sql += " WHERE (" + where + ")";
    Stmt s(db, sql, where_of(table));
    s.step();
    return s.column_int64(0);
  }

  bool supports_stream() const override { return true; }
  StreamStart prepare_stream(const std::vector<StreamTable>& tables) override { return prepare_capture(path_, tables); }
  std::unique_ptr<ChangeStream> open_stream(const std::vector<StreamTable>& tables, const Position& from) override {
    return open_capture_stream(path_, tables, from);
  }
  int compare_positions(const Position& a, const Position& b) const override {
    return compare_capture_positions(a, b);
  }
  std::vector<std::string> teardown() override { return teardown_capture(path_); }

  // The capture log is written inside the writing transaction and SQLite has one writer at a
  // time: a read transaction sees exactly the entries of the transactions committed before it,
  // and a later commit takes a larger sequence (AUTOINCREMENT never reuses one).
  Position current_position() override {
    Db db = open_read();
    db.exec("BEGIN");
    std::string seq = capture_position(db);
    db.exec("COMMIT");
    return Position(seq);
  }

  // Installs the triggers and image tables of new tables, and installs them again for tables
  // whose columns changed (from then on the new columns are logged).
  void extend_capture(const std::vector<StreamTable>& tables) override {
    if (!tables.empty()) prepare_capture(path_, tables);
  }

 private:
  Db open_read() const { return Db(path_, kReadFlags, kBusyTimeoutMs, ErrorKind::Source); }

  // What the table's CREATE statement and pragmas say beyond columns and key: generated
  // expressions, CHECKs, the rowid alias (identity), indexes and foreign keys.
  static void read_objects(Db& db, const TableInfo& info, TableSchema& t) {
    const std::string where = where_of(t.id);
    auto statement = [&](const char* type, const std::string& name) {
      Stmt s(db, "SELECT sql FROM sqlite_schema WHERE type = ?1 AND name = ?2", where);
      s.bind_text(1, type);
      s.bind_text(2, name);
      return s.step() && !s.column_is_null(0) ? s.column_text(0) : std::string();
    };
    detail::SqliteTableSql sql = detail::parse_sqlite_create_table(statement("table", t.id.name));
    for (auto& c : t.columns) {
      auto g = info.generated.find(c.name);
      if (g == info.generated.end()) continue;
      for (const auto& [name, gen] : sql.generated)
        if (iequals(name, c.name)) c.generated = gen.expression;
      c.generated_stored = g->second;
    }
    t.checks = sql.checks;
    // A rowid table's lone INTEGER PRIMARY KEY is the rowid: a row inserted without it gets one.
    if (!info.without_rowid && t.primary_key.size() == 1)
      for (auto& c : t.columns)
        if (c.name == t.primary_key[0] && iequals(c.source_type, "INTEGER")) c.identity = true;

    struct Listed {
      std::string name;
      bool unique;
      std::string origin;
      bool partial;
    };
    std::vector<Listed> listed;
    {
      Stmt s(db, "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1) ORDER BY name", where);
      s.bind_text(1, t.id.name);
      while (s.step()) listed.push_back({s.column_text(0), s.column_int64(1) != 0, s.column_text(2), s.column_int64(3) != 0});
    }
    for (const auto& l : listed) {
      if (l.origin == "pk") continue;
      IndexDef d;
      d.name = l.name;
      d.unique = l.unique;
      bool plain = !l.partial;
      Stmt x(db, "SELECT cid, name, \"desc\", coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno", where);
      x.bind_text(1, l.name);
      while (x.step()) {
        if (x.column_int64(0) < 0 || x.column_int64(2) != 0 || !iequals(x.column_text(3), "BINARY")) plain = false;
        if (x.column_int64(0) >= 0) d.columns.push_back(x.column_text(1));
      }
      if (!plain) {
        detail::SqliteIndexSql isql = detail::parse_sqlite_create_index(statement("index", l.name));
        if (isql.keys.empty()) continue;  // no statement to read it from
        d.expression = isql.keys;
        d.where = isql.where;
        d.columns.clear();
      }
      // A UNIQUE constraint's index has an internal name (sqlite_autoindex_t_1): named as
      // PostgreSQL names such keys.
      if (l.origin == "u") {
        std::string name = t.id.name;
        for (const auto& c : d.columns) name += "_" + c;
        d.name = name + "_key";
      }
      t.indexes.push_back(std::move(d));
    }

    auto action = [](const std::string& a) {
      if (iequals(a, "CASCADE")) return ForeignKeyAction::Cascade;
      if (iequals(a, "SET NULL")) return ForeignKeyAction::SetNull;
      if (iequals(a, "SET DEFAULT")) return ForeignKeyAction::SetDefault;
      if (iequals(a, "RESTRICT")) return ForeignKeyAction::Restrict;
      return ForeignKeyAction::NoAction;
    };
    Stmt f(db, "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?1) ORDER BY id, seq", where);
    f.bind_text(1, t.id.name);
    std::int64_t current = -1;
    bool to_key = false;  // the foreign key names no parent columns: it references the parent's key
    // Names as the tables spell them (a REFERENCES clause may spell them in another case).
    auto spelled = [](const std::vector<Column>& columns, std::vector<std::string>& names) {
      for (auto& n : names)
        for (const auto& c : columns)
          if (iequals(c.name, n)) n = c.name;
    };
    auto finish = [&] {
      if (t.foreign_keys.empty()) return;
      ForeignKeyDef& fk = t.foreign_keys.back();
      Stmt real(db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE", where);
      real.bind_text(1, fk.references.name);
      if (real.step()) fk.references = TableId(real.column_text(0));
      TableInfo parent = read_table_info(db, fk.references.name);
      if (to_key) fk.referenced_columns = parent.primary_key;
      spelled(parent.columns, fk.referenced_columns);
      spelled(t.columns, fk.columns);
    };
    while (f.step()) {
      if (f.column_int64(0) != current) {
        finish();
        current = f.column_int64(0);
        ForeignKeyDef fk;
        fk.references = TableId(f.column_text(1));
        fk.on_update = action(f.column_text(4));
        fk.on_delete = action(f.column_text(5));
        t.foreign_keys.push_back(std::move(fk));
        to_key = f.column_is_null(3);
      }
      t.foreign_keys.back().columns.push_back(f.column_text(2));
      if (!f.column_is_null(3)) t.foreign_keys.back().referenced_columns.push_back(f.column_text(3));
    }
    finish();
  }

  static TableInfo table_info(Db& db, const TableId& id) {
    TableInfo info = read_table_info(db, id.name);
    if (!info.exists)
      throw Error(ErrorKind::Schema, fmt::format("table {} does not exist in the SQLite source", id.to_string()), false,
                  where_of(id));
    return info;
  }

  static std::vector<SnapshotChunk> make_chunks(const std::vector<std::string>& bounds, std::int64_t count) {
    std::vector<SnapshotChunk> chunks;
    int n = int(bounds.size()) + 1;
    for (int i = 0; i < n; ++i) {
      SnapshotChunk c;
      c.index = i;
      c.count = n;
      c.lower = i == 0 ? "" : bounds[std::size_t(i - 1)];
      c.upper = i == n - 1 ? "" : bounds[std::size_t(i)];
      c.estimated_rows = count / n;
      chunks.push_back(std::move(c));
    }
    return chunks;
  }

  static void bind_owned(Stmt& s, int idx, const Value& v) { s.bind_copy(idx, v); }
  static void bind_all(Stmt& s, const std::vector<Value>& params) {
    for (std::size_t i = 0; i < params.size(); ++i) bind_owned(s, int(i) + 1, params[i]);
  }

  std::string path_;
};

}  // namespace

std::shared_ptr<SourceConnector> make_source(const std::string& path) { return std::make_shared<SqliteSource>(path); }

}  // namespace cdc::sqlite
