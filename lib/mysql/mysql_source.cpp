// MariaDB/MySQL source: discovery from information_schema, PK-range snapshot chunks (integer
// keys split by value, other and composite keys by walking the index), chunk readers each in its
// own consistent-snapshot transaction whose binlog position they report, incremental readers,
// and the binlog stream (binlog_stream.cpp). Every reader opens its own connection; the
// connector holds only the connection settings, so every method is safe to call concurrently.
#include "mysql/binlog_stream.h"
#include "mysql/mysql_conn.h"
#include "mysql/mysql_connectors.h"
#include "mysql/mysql_types.h"

#include "core/batch_reader.h"
#include "core/logging.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

namespace cdc::mysql {

namespace {

std::string where_of(const TableId& t) { return "table " + t.to_string(); }

std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string unhex(std::string_view s) {
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (s.size() % 2) throw Error(ErrorKind::State, "bad chunk bound (odd hex length)");
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    int a = v(s[i]), b = v(s[i + 1]);
    if (a < 0 || b < 0) throw Error(ErrorKind::State, "bad chunk bound (not hex)");
    out += char(a * 16 + b);
  }
  return out;
}

}  // namespace

std::string encode_key(const std::vector<Value>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    if (i) out += ',';
    out += std::to_string(int(v.kind()));
    out += ':';
    switch (v.kind()) {
      case ValueKind::Null: break;
      case ValueKind::Bool: out += v.as_bool() ? "1" : "0"; break;
      case ValueKind::Int: out += std::to_string(v.as_int()); break;
      case ValueKind::UInt: out += std::to_string(v.as_uint()); break;
      case ValueKind::Double: out += hex(fmt::format("{}", v.as_double())); break;
      default: out += hex(v.text()); break;
    }
  }
  return out;
}

std::vector<Value> decode_key(std::string_view text) {
  std::vector<Value> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t comma = text.find(',', pos);
    std::string_view part = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    std::size_t colon = part.find(':');
    if (colon == std::string_view::npos) throw Error(ErrorKind::State, fmt::format("bad chunk bound \"{}\"", text));
    int kind = std::stoi(std::string(part.substr(0, colon)));
    std::string_view body = part.substr(colon + 1);
    auto k = static_cast<ValueKind>(kind);
    switch (k) {
      case ValueKind::Null: out.emplace_back(); break;
      case ValueKind::Bool: out.push_back(Value::boolean(body == "1")); break;
      case ValueKind::Int: out.push_back(Value::int64(std::stoll(std::string(body)))); break;
      case ValueKind::UInt: out.push_back(Value::uint64(std::stoull(std::string(body)))); break;
      case ValueKind::Double: out.push_back(Value::float64(std::stod(unhex(body)))); break;
      default:
        if (kind < 0 || kind > int(ValueKind::Uuid)) throw Error(ErrorKind::State, fmt::format("bad chunk bound \"{}\"", text));
        out.push_back(Value::of_text(k, unhex(body)));
        break;
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

namespace {

std::int64_t to_i64(const std::optional<std::string>& s) {
  if (!s || s->empty()) return -1;
  try {
    return std::stoll(*s);
  } catch (...) {
    return -1;
  }
}

std::string column_list(const std::vector<Column>& cols) {
  std::string out;
  for (std::size_t i = 0; i < cols.size(); ++i) out += (i ? ", " : "") + quote_ident(cols[i].name);
  return out;
}

// The select list of a read: the columns, FLOAT ones as the DOUBLE that holds them exactly.
// MariaDB prints a FLOAT with 6 significant digits (16777217 is stored as 16777216 and printed
// "16777200"), which is not the stored value; as a DOUBLE it prints every digit, and the reader
// takes the float back from that text (canonical_float), as the binlog's binary FLOAT is taken.
std::string select_list(const std::vector<Column>& cols) {
  std::string out;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    const std::string name = quote_ident(cols[i].name);
    out += i ? ", " : "";
    out += cols[i].type.id == TypeId::Float32 ? fmt::format("CAST({0} AS DOUBLE) AS {0}", name) : name;
  }
  return out;
}

// Lexicographic comparison of a key tuple against literal values, spelled out as OR/AND so the
// range optimizer uses the primary key: (a, b) >= (1, 2) -> a > 1 OR (a = 1 AND b >= 2).
std::string tuple_condition(const Conn& conn, const std::vector<Column>& keys, const std::vector<Value>& values,
                            const char* op) {
  std::string strict = op[0] == '>' ? ">" : "<";
  bool inclusive = std::string_view(op).size() == 2;
  std::string out = "(";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i) out += " OR ";
    out += "(";
    for (std::size_t j = 0; j < i; ++j) {
      out += quote_ident(keys[j].name) + " = ";
      append_literal(conn, out, values[j], keys[j]);
      out += " AND ";
    }
    bool last = i + 1 == keys.size();
    out += quote_ident(keys[i].name) + " " + (last && inclusive ? std::string(op) : strict) + " ";
    append_literal(conn, out, values[i], keys[i]);
    out += ")";
  }
  return out + ")";
}

// Streams rows of one query in batches; owns its connection (and its transaction).
class MysqlRowReader final : public detail::BatchRowReader {
 public:
  MysqlRowReader(Conn conn, Result result, std::vector<int> map, std::vector<LogicalType> types, std::int64_t batch,
                 std::string position)
      : BatchRowReader(map.size(), batch),
        conn_(std::move(conn)),
        result_(std::move(result)),
        map_(std::move(map)),
        types_(std::move(types)),
        position_(std::move(position)) {}

  ~MysqlRowReader() override {
    result_ = Result();
    conn_.rollback_quietly();
  }

  Position position() const override { return Position(position_); }

 private:
  bool read_row(Row& row) override {
    if (!result_.next()) return false;
    for (std::size_t c = 0; c < map_.size(); ++c) {
      unsigned f = unsigned(map_[c]);
      if (result_.is_null(f)) row[c] = Value();
      else row[c] = value_from_text(types_[c], result_.view(f));
    }
    return true;
  }
  void finish() override { conn_.exec("COMMIT"); }

  Conn conn_;
  Result result_;
  std::vector<int> map_;
  std::vector<LogicalType> types_;
  std::string position_;
};

std::vector<int> identity_map(std::size_t n) {
  std::vector<int> m(n);
  for (std::size_t i = 0; i < n; ++i) m[i] = int(i);
  return m;
}

std::vector<LogicalType> types_of(const TableSchema& s) {
  std::vector<LogicalType> t;
  for (auto& c : s.columns) t.push_back(c.type);
  return t;
}

bool is_integer(const LogicalType& t) {
  return t.id == TypeId::Int8 || t.id == TypeId::Int16 || t.id == TypeId::Int24 || t.id == TypeId::Int32 ||
         t.id == TypeId::Int64;
}

class MysqlSource final : public SourceConnector {
 public:
  explicit MysqlSource(ConnParams params) : params_(std::move(params)) {}

  std::string dialect() const override { return "mysql"; }
  std::size_t max_identifier_length() const override { return 64; }

  std::vector<TableSchema> discover(const std::function<bool(const TableId&)>& wanted) override {
    Conn conn = open();
    return discover_tables(conn, wanted, "");
  }

  std::vector<SnapshotChunk> plan_snapshot(const TableSchema& table, const SnapshotPlanOptions& options) override {
    Conn conn = open();
    std::int64_t chunk_rows = std::max<std::int64_t>(1, options.chunk_rows);
    int min_chunks = std::max(1, options.min_chunks);
    std::vector<Column> keys;
    for (int k : table.key_indexes()) keys.push_back(table.columns[std::size_t(k)]);
    std::vector<SnapshotChunk> chunks;
    const std::string t = qualified(table.id);
    std::int64_t count = std::stoll(conn.scalar("SELECT COUNT(*) FROM " + t, where_of(table.id)).value_or("0"));
    std::int64_t n = std::max<std::int64_t>(min_chunks, (count + chunk_rows - 1) / chunk_rows);
    n = std::min<std::int64_t>(n, std::max<std::int64_t>(1, count));
    if (keys.empty() || keys.size() != table.primary_key.size() || n <= 1 || options.whole_table) {
      chunks.push_back(SnapshotChunk{0, 1, "", "", count});
      return chunks;
    }
    std::vector<std::string> bounds;
    if (keys.size() == 1 && is_integer(keys[0].type)) {
      // Split the value range evenly: cheap, and fine for the dense keys most tables have.
      auto row = conn.rows(fmt::format("SELECT MIN({0}), MAX({0}) FROM {1}", quote_ident(keys[0].name), t), where_of(table.id));
      if (!row.empty() && row[0][0] && row[0][1]) {
        const bool uns = keys[0].type.is_unsigned;
        long double lo = uns ? (long double)std::stoull(*row[0][0]) : (long double)std::stoll(*row[0][0]);
        long double hi = uns ? (long double)std::stoull(*row[0][1]) : (long double)std::stoll(*row[0][1]);
        long double range = hi - lo + 1;
        if ((long double)n > range) n = std::int64_t(range);
        std::string last;
        for (std::int64_t i = 1; i < n; ++i) {
          long double b = lo + range * (long double)i / (long double)n;
          Value v = uns ? Value::uint64(std::uint64_t(b)) : Value::int64(std::int64_t(b));
          std::string enc = encode_key({v});
          if (enc != last) bounds.push_back(enc);
          last = enc;
        }
      }
    } else {
      // Walk the key in steps of count/n rows from the previous bound.
      std::int64_t step = std::max<std::int64_t>(1, count / n);
      std::vector<Value> prev;
      std::string names = column_list(keys);
      for (std::int64_t i = 1; i < n; ++i) {
        std::string sql = fmt::format("SELECT {} FROM {}", names, t);
        if (!prev.empty()) sql += " WHERE " + tuple_condition(conn, keys, prev, ">");
        sql += fmt::format(" ORDER BY {} LIMIT 1 OFFSET {}", names, prev.empty() ? step : step - 1);
        auto rows = conn.rows(sql, where_of(table.id));
        if (rows.empty()) break;
        std::vector<Value> key;
        for (std::size_t k = 0; k < keys.size(); ++k)
          key.push_back(rows[0][k] ? value_from_text(keys[k].type, *rows[0][k]) : Value());
        bounds.push_back(encode_key(key));
        prev = std::move(key);
      }
    }
    int nc = int(bounds.size()) + 1;
    for (int i = 0; i < nc; ++i) {
      SnapshotChunk c;
      c.index = i;
      c.count = nc;
      c.lower = i == 0 ? "" : bounds[std::size_t(i - 1)];
      c.upper = i == nc - 1 ? "" : bounds[std::size_t(i)];
      c.estimated_rows = count / nc;
      chunks.push_back(std::move(c));
    }
    detail::logf(LogLevel::Debug, "mysql.source", table.id.to_string(), "planned {} chunk(s)", chunks.size());
    return chunks;
  }

  std::unique_ptr<RowReader> read_chunk(const ReadRequest& req) override {
    const TableSchema& schema = req.schema;
    Conn conn = open();
    std::vector<Column> keys;
    for (int k : schema.key_indexes()) keys.push_back(schema.columns[std::size_t(k)]);
    std::vector<std::string> conds;
    for (auto [text, op] : {std::pair{&req.chunk.lower, ">="}, std::pair{&req.chunk.upper, "<"}}) {
      if (text->empty()) continue;
      std::vector<Value> key = decode_key(*text);
      if (keys.empty() || key.size() != keys.size())
        throw Error(ErrorKind::State,
                    fmt::format("chunk bound \"{}\" does not match the key of table {}", *text, schema.id.to_string()),
                    false, where_of(schema.id));
      conds.push_back(tuple_condition(conn, keys, key, op));
    }
    if (!req.where.empty()) conds.push_back("(" + req.where + ")");
    std::string sql = fmt::format("SELECT {} FROM {}", select_list(schema.columns), qualified(schema.id));
    for (std::size_t i = 0; i < conds.size(); ++i) sql += (i ? " AND " : " WHERE ") + conds[i];
    if (!keys.empty()) sql += " ORDER BY " + column_list(keys);
    conn.exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    conn.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", where_of(schema.id));
    std::string position = snapshot_position(conn);
    Result result = conn.query(sql, where_of(schema.id));
    return std::make_unique<MysqlRowReader>(std::move(conn), std::move(result), identity_map(schema.columns.size()),
                                            types_of(schema), req.batch_size, std::move(position));
  }

  std::unique_ptr<RowReader> read_incremental(const IncrementalRequest& req) override {
    const TableSchema& schema = req.schema;
    Conn conn = open();
    conn.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", where_of(schema.id));
    if (req.query.empty()) {
      int wi = schema.index_of(req.watermark_column);
      if (wi < 0)
        throw Error(ErrorKind::Config,
                    fmt::format("watermark column \"{}\" is not among the columns read from table {}", req.watermark_column,
                                schema.id.to_string()),
                    false, where_of(schema.id));
      std::string wm = quote_ident(req.watermark_column);
      std::string sql = fmt::format("SELECT {} FROM {}", select_list(schema.columns), qualified(schema.id));
      std::vector<std::string> conds;
      if (req.last_value && !req.last_value->is_null()) {
        std::string c = wm + " > ";
        append_literal(conn, c, *req.last_value, schema.columns[std::size_t(wi)]);
        conds.push_back(c);
      }
      if (!req.where.empty()) conds.push_back("(" + req.where + ")");
      for (std::size_t i = 0; i < conds.size(); ++i) sql += (i ? " AND " : " WHERE ") + conds[i];
      sql += " ORDER BY " + wm;
      Result result = conn.query(sql, where_of(schema.id));
      return std::make_unique<MysqlRowReader>(std::move(conn), std::move(result), identity_map(schema.columns.size()),
                                              types_of(schema), req.batch_size, "");
    }
    // Custom query: `:last_value` replaced by the driver-escaped literal (NULL without one);
    // result columns matched to the requested ones by name.
    std::string literal = "NULL";
    if (req.last_value) {
      literal.clear();
      int wi = schema.index_of(req.watermark_column);
      Column col = wi >= 0 ? schema.columns[std::size_t(wi)] : Column{};
      append_literal(conn, literal, *req.last_value, col);
    }
    std::string sql = req.query;
    for (std::size_t p = sql.find(":last_value"); p != std::string::npos; p = sql.find(":last_value", p + literal.size()))
      sql.replace(p, 11, literal);
    Result result = conn.query(sql, where_of(schema.id) + " (custom query)");
    std::vector<int> map;
    for (auto& col : schema.columns) {
      int found = -1;
      for (unsigned i = 0; i < result.field_count() && found < 0; ++i)
        if (col.name == result.fields()[i].name) found = int(i);
      for (unsigned i = 0; i < result.field_count() && found < 0; ++i)
        if (strcasecmp(col.name.c_str(), result.fields()[i].name) == 0) found = int(i);
      if (found < 0)
        throw Error(ErrorKind::Schema,
                    fmt::format("the custom query of table {} does not return column \"{}\"", schema.id.to_string(), col.name),
                    false, fmt::format("column {}.{}", schema.id.to_string(), col.name));
      map.push_back(found);
    }
    return std::make_unique<MysqlRowReader>(std::move(conn), std::move(result), std::move(map), types_of(schema),
                                            req.batch_size, "");
  }

  std::int64_t count_rows(const TableId& table, const std::string& where) override {
    Conn conn = open();
    std::string sql = "SELECT COUNT(*) FROM " + qualified(table);
    if (!where.empty()) sql += " WHERE (" + where + ")";
    return std::stoll(conn.scalar(sql, where_of(table)).value_or("0"));
  }

  bool supports_stream() const override { return true; }
  // InnoDB's foreign key actions change rows inside the storage engine: the binlog has only the
  // parent's change (the session derives the rest).
  bool logs_cascades() const override { return false; }

  StreamStart prepare_stream(const std::vector<StreamTable>&) override {
    Conn conn = open();
    check_binlog_settings(conn);
    std::string pos = consistent_position(conn);
    if (pos.empty()) throw Error(ErrorKind::Source, "the server reports no binlog position (is log_bin on?)", false, params_.redacted);
    StreamStart s;
    s.position = Position(pos);
    return s;
  }

  std::unique_ptr<ChangeStream> open_stream(const std::vector<StreamTable>& tables, const Position& from) override {
    return open_binlog_stream(params_, tables, from, [this](const TableId& id) {
      Conn conn = open();
      DescribedTable d;
      auto found = discover_tables(conn, nullptr, id.name);
      if (!found.empty()) d.schema = std::move(found.front());
      // Read after the description, so every DDL it reflects is at or before it.
      d.observed_at = Position(consistent_position(conn));
      return d;
    });
  }

  int compare_positions(const Position& a, const Position& b) const override { return compare_binlog_positions(a, b); }

  // The binlog position of a consistent snapshot taken now: MariaDB reports, with
  // START TRANSACTION WITH CONSISTENT SNAPSHOT, the binlog position that snapshot corresponds to
  // (Binlog_snapshot_file/position; https://mariadb.com/kb/en/enhancements-for-start-transaction-with-consistent/).
  // Transactions in the binlog before it are visible to the snapshot, and those after it are
  // not, so a change committed (visible) before this call is logged before the position, and
  // one committed after the call returns is logged after it. The stream gives each row event
  // the end of its event and the last event of a transaction the end of its XID (or of the DDL
  // statement), so the first is delivered at or before the position, the second strictly after.
  // SHOW MASTER STATUS would not do: it is the end of the binlog, which can hold transactions
  // already written there but not yet committed in the engine (group commit writes the binlog
  // first), so a snapshot taken right after could miss them while their position says they
  // are in it.
  Position current_position() override {
    Conn conn = open();
    std::string pos = consistent_position(conn);
    if (pos.empty()) throw Error(ErrorKind::Source, "the server reports no binlog position (is log_bin on?)", false, params_.redacted);
    return Position(pos);
  }

  // Bytes of binlog between two positions, across files (SHOW BINARY LOGS gives each file's
  // size); -1 when a file between them is gone from the server or a position is not one of its
  // files.
  std::int64_t log_bytes_between(const Position& from, const Position& to) override {
    if (from.empty() || to.empty()) return -1;
    BinlogPos a = parse_position(from.str()), b = parse_position(to.str());
    if (compare_binlog_positions(from, to) >= 0) return 0;
    if (a.file == b.file) return std::int64_t(b.offset - a.offset);
    Conn conn = open();
    std::map<std::string, std::int64_t> sizes;
    std::vector<std::string> order;
    for (auto& r : conn.rows("SHOW BINARY LOGS")) {
      if (r.size() < 2 || !r[0] || !r[1]) continue;
      sizes[*r[0]] = std::stoll(*r[1]);
      order.push_back(*r[0]);
    }
    auto first = std::find(order.begin(), order.end(), a.file);
    auto last = std::find(order.begin(), order.end(), b.file);
    if (first == order.end() || last == order.end() || first > last) return -1;
    std::int64_t total = sizes[a.file] - std::int64_t(a.offset);
    for (auto it = first + 1; it != last; ++it) total += sizes[*it];
    return total + std::int64_t(b.offset);
  }

  std::vector<std::pair<std::string, std::string>> stream_diagnostics() override {
    std::vector<std::pair<std::string, std::string>> out;
    try {
      Conn conn = open();
      auto logs = conn.rows("SHOW BINARY LOGS");
      std::int64_t total = 0;
      for (auto& r : logs)
        if (r.size() > 1 && r[1]) total += std::stoll(*r[1]);
      out.emplace_back("binlog_files", std::to_string(logs.size()));
      out.emplace_back("binlog_bytes", std::to_string(total));
      if (!logs.empty() && logs.back()[0]) out.emplace_back("binlog_current_file", *logs.back()[0]);
    } catch (const std::exception&) {
    }
    return out;
  }

 private:
  Conn open() const { return Conn(params_, ErrorKind::Source); }

  std::string qualified(const TableId& id) const {
    return quote_ident(id.schema.empty() ? params_.database : id.schema) + "." + quote_ident(id.name);
  }

  // See current_position().
  static std::string consistent_position(Conn& conn) {
    conn.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
    std::string pos = snapshot_position(conn);
    conn.exec("COMMIT");
    return pos;
  }

  static std::string snapshot_position(Conn& conn) {
    auto rows = conn.rows("SHOW STATUS LIKE 'binlog_snapshot_%'");
    std::string file, pos;
    for (auto& r : rows) {
      if (r.size() < 2 || !r[0] || !r[1]) continue;
      if (*r[0] == "Binlog_snapshot_file") file = *r[1];
      if (*r[0] == "Binlog_snapshot_position") pos = *r[1];
    }
    if (file.empty() || pos.empty()) return {};
    std::string gtid;
    try {  // MariaDB: the GTID state at exactly that file position
      gtid = conn.scalar("SELECT BINLOG_GTID_POS(" + conn.quoted(file) + ", " + conn.quoted(pos) + ")").value_or("");
    } catch (const Error&) {
      // MySQL has no BINLOG_GTID_POS; its GTID sets are not supported (file positions only).
    }
    return file + ":" + pos + (gtid.empty() ? "" : "#" + gtid);
  }

  std::vector<TableSchema> discover_tables(Conn& conn, const std::function<bool(const TableId&)>& wanted,
                                           const std::string& only) {
    const std::string db = conn.quoted(params_.database);
    std::string filter = only.empty() ? "" : " AND TABLE_NAME = " + conn.quoted(only);
    std::map<std::string, TableSchema> tables;
    std::vector<std::string> order;
    for (auto& r : conn.rows("SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH, TABLE_COMMENT, TABLE_TYPE = 'VIEW' FROM "
                             "information_schema.TABLES WHERE TABLE_SCHEMA = " + db +
                             " AND TABLE_TYPE IN ('BASE TABLE', 'VIEW')" + filter + " ORDER BY TABLE_NAME")) {
      std::string name = r[0].value_or("");
      if (name.rfind("_cdc_", 0) == 0) continue;
      TableId id(name);  // one database per URL: names are unqualified, like the destination's
      if (wanted && !wanted(id)) continue;
      TableSchema t;
      t.id = id;
      t.view = r[4].value_or("0") == "1";
      // A view has no statistics (and its TABLE_COMMENT is the word VIEW).
      t.estimated_rows = t.view ? -1 : to_i64(r[1]);
      t.estimated_bytes = t.view ? -1 : to_i64(r[2]);
      if (!t.view) t.comment = r[3].value_or("");
      tables.emplace(name, std::move(t));
      order.push_back(name);
    }
    if (tables.empty()) return {};
    // MariaDB's JSON is LONGTEXT with a json_valid() check named after the column.
    std::map<std::string, bool> json_cols;
    std::vector<std::pair<std::string, CheckDef>> checks;  // table, CHECK
    try {
      for (auto& r : conn.rows("SELECT TABLE_NAME, CHECK_CLAUSE, CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS WHERE "
                               "CONSTRAINT_SCHEMA = " + db + filter + " ORDER BY TABLE_NAME, CONSTRAINT_NAME")) {
        if (!r[0] || !r[1]) continue;
        if (r[1]->rfind("json_valid(`", 0) == 0 && r[1]->back() == ')') {
          std::string col = r[1]->substr(12, r[1]->size() - 14);
          json_cols[*r[0] + '\x1f' + col] = true;
          if (r[2].value_or("") == col) continue;  // the JSON type's own check, not one of the table's
        }
        checks.emplace_back(*r[0], CheckDef{r[2].value_or(""), *r[1]});
      }
    } catch (const Error&) {
      // MySQL before 8.0.16 has no CHECK_CONSTRAINTS; JSON there is a real type anyway.
    }
    for (auto& [table, check] : checks)
      if (auto it = tables.find(table); it != tables.end()) it->second.checks.push_back(std::move(check));
    // Spatial columns' REF_SYSTEM_ID (MariaDB; MySQL 8 names this view ST_GEOMETRY_COLUMNS).
    std::map<std::string, int> srids;
    try {
      for (auto& r : conn.rows("SELECT G_TABLE_NAME, G_GEOMETRY_COLUMN, SRID FROM information_schema.GEOMETRY_COLUMNS WHERE "
                               "G_TABLE_SCHEMA = " + db))
        if (r[0] && r[1] && r[2]) srids[*r[0] + '\x1f' + *r[1]] = static_cast<int>(to_i64(r[2]));
    } catch (const Error&) {
      // No such view: SRIDs come with each value.
    }
    for (auto& r : conn.rows("SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, "
                             "NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, COLLATION_NAME, "
                             "IS_NULLABLE, EXTRA, COLUMN_DEFAULT, GENERATION_EXPRESSION, COLUMN_COMMENT "
                             "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = " + db + filter +
                             " ORDER BY TABLE_NAME, ORDINAL_POSITION")) {
      auto it = tables.find(r[0].value_or(""));
      if (it == tables.end()) continue;
      std::string extra = r[11].value_or("");
      std::string extra_lower = extra;
      for (auto& ch : extra_lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      ColumnInfo ci;
      ci.name = r[1].value_or("");
      ci.data_type = r[2].value_or("");
      ci.column_type = r[3].value_or("");
      ci.char_length = to_i64(r[4]);
      ci.numeric_precision = to_i64(r[5]);
      ci.numeric_scale = to_i64(r[6]);
      ci.datetime_precision = to_i64(r[7]);
      ci.charset = r[8].value_or("");
      ci.collation = r[9].value_or("");
      ci.nullable = r[10].value_or("YES") == "YES";
      ci.is_json = json_cols.count(it->first + '\x1f' + ci.name) > 0;
      if (auto sr = srids.find(it->first + '\x1f' + ci.name); sr != srids.end()) ci.srid = sr->second;
      Column c;
      c.name = ci.name;
      c.type = logical_type_of(ci);
      c.nullable = ci.nullable;
      c.source_type = native_type_of(ci);
      c.comment = r[14].value_or("");
      // EXTRA: "auto_increment", "VIRTUAL GENERATED", "STORED GENERATED" (MySQL: "... GENERATED"
      // too), "on update current_timestamp()".
      if (extra_lower.find("auto_increment") != std::string::npos) c.identity = true;
      if (extra_lower.find("generated") != std::string::npos && r[13]) {
        c.generated = *r[13];
        c.generated_stored = extra_lower.find("stored") != std::string::npos || extra_lower.find("persistent") != std::string::npos;
      } else if (r[12] && *r[12] != "NULL") {
        // MariaDB 10.2.7 and later: NULL without a default, 'NULL' for DEFAULT NULL, literals quoted.
        c.default_expr = *r[12];
      }
      if (auto on = extra_lower.find("on update "); on != std::string::npos) c.on_update = extra.substr(on + 10);
      it->second.columns.push_back(std::move(c));
    }
    // Secondary indexes (InnoDB also makes one for each foreign key that has none), in key order.
    for (auto& r : conn.rows("SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, INDEX_TYPE FROM "
                             "information_schema.STATISTICS WHERE TABLE_SCHEMA = " + db + filter +
                             " AND INDEX_NAME <> 'PRIMARY' ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX")) {
      auto it = tables.find(r[0].value_or(""));
      if (it == tables.end()) continue;
      auto& indexes = it->second.indexes;
      const std::string name = r[1].value_or("");
      if (indexes.empty() || indexes.back().name != name) {
        IndexDef d;
        d.name = name;
        d.unique = r[2].value_or("1") == "0";
        std::string type = r[5].value_or("BTREE");
        for (auto& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        d.method = type;
        indexes.push_back(std::move(d));
      }
      indexes.back().columns.push_back(r[3].value_or(""));
      indexes.back().prefix_lengths.push_back(r[4] ? static_cast<int>(to_i64(r[4])) : -1);
    }
    // Foreign keys: columns in key order, each with the referenced column it pairs with; the
    // referenced table named as discover() names tables (unqualified in this database).
    // Equalities on each information_schema table's own schema and table columns let MariaDB open
    // only those tables (a join condition does not).
    const std::string rc_filter = " AND k.TABLE_SCHEMA = " + db +
                                  (only.empty() ? "" : " AND rc.TABLE_NAME = " + conn.quoted(only) + " AND k.TABLE_NAME = " + conn.quoted(only));
    for (auto& r : conn.rows("SELECT rc.TABLE_NAME, rc.CONSTRAINT_NAME, rc.UPDATE_RULE, rc.DELETE_RULE, k.COLUMN_NAME, "
                             "k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME "
                             "FROM information_schema.REFERENTIAL_CONSTRAINTS rc JOIN information_schema.KEY_COLUMN_USAGE k "
                             "ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME "
                             "AND k.TABLE_NAME = rc.TABLE_NAME WHERE rc.CONSTRAINT_SCHEMA = " + db + rc_filter +
                             " AND k.REFERENCED_TABLE_NAME IS NOT NULL ORDER BY rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION")) {
      auto it = tables.find(r[0].value_or(""));
      if (it == tables.end()) continue;
      auto& fks = it->second.foreign_keys;
      const std::string name = r[1].value_or("");
      if (fks.empty() || fks.back().name != name) {
        ForeignKeyDef fk;
        fk.name = name;
        fk.on_update = fk_action(r[2].value_or(""));
        fk.on_delete = fk_action(r[3].value_or(""));
        const std::string schema = r[5].value_or(params_.database);
        fk.references = schema == params_.database ? TableId(r[6].value_or("")) : TableId(schema, r[6].value_or(""));
        fks.push_back(std::move(fk));
      }
      fks.back().columns.push_back(r[4].value_or(""));
      fks.back().referenced_columns.push_back(r[7].value_or(""));
    }
    for (auto& r : conn.rows("SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = " +
                             db + filter + " AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY TABLE_NAME, ORDINAL_POSITION")) {
      auto it = tables.find(r[0].value_or(""));
      if (it != tables.end()) it->second.primary_key.push_back(r[1].value_or(""));
    }
    std::vector<TableSchema> out;
    for (auto& name : order) {
      TableSchema& t = tables[name];
      if (t.view && t.columns.empty()) {
        // MariaDB lists a view whose query no longer works (a table it reads was dropped) without columns.
        detail::logf(LogLevel::Warn, "mysql.source", name, "view skipped: MariaDB reports no columns for it (is it still valid?)");
        continue;
      }
      for (auto& c : t.columns)
        if (t.view) {
          // What the view's columns repeat of the tables under them is not the view's: its target
          // is a plain table holding the rows.
          c.identity = false;
          c.generated.clear();
          c.on_update.clear();
        }
      out.push_back(std::move(t));
    }
    return out;
  }

  static ForeignKeyAction fk_action(const std::string& rule) {
    if (rule == "CASCADE") return ForeignKeyAction::Cascade;
    if (rule == "SET NULL") return ForeignKeyAction::SetNull;
    if (rule == "SET DEFAULT") return ForeignKeyAction::SetDefault;
    if (rule == "RESTRICT") return ForeignKeyAction::Restrict;
    return ForeignKeyAction::NoAction;
  }

  ConnParams params_;
};

}  // namespace

std::shared_ptr<SourceConnector> make_source(const ConnectorUrl& url) {
  return std::make_shared<MysqlSource>(ConnParams::from_url(url, "source"));
}

}  // namespace cdc::mysql
