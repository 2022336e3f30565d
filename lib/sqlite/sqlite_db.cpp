#include "sqlite/sqlite_db.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <utility>

namespace cdc::sqlite {

std::string quote_ident(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out += '"';
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

bool parse_int64(std::string_view text, std::int64_t& out) {
  if (text.empty()) return false;
  std::size_t i = 0;
  bool neg = false;
  if (text[0] == '-' || text[0] == '+') {
    neg = text[0] == '-';
    i = 1;
  }
  if (i == text.size()) return false;
  std::uint64_t v = 0;
  const std::uint64_t limit = neg ? std::uint64_t(std::numeric_limits<std::int64_t>::max()) + 1
                                  : std::uint64_t(std::numeric_limits<std::int64_t>::max());
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return false;
    unsigned d = unsigned(c - '0');
    if (v > (limit - d) / 10) return false;
    v = v * 10 + d;
  }
  out = neg ? std::int64_t(0 - v) : std::int64_t(v);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Db

Db::Db(const std::string& path, int flags, int busy_timeout_ms, ErrorKind kind) : path_(path), kind_(kind) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw Error(ErrorKind::Connection, fmt::format("cannot open SQLite database {}: {}", path, msg),
                rc == SQLITE_BUSY || rc == SQLITE_LOCKED, "sqlite file " + path);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, busy_timeout_ms);
}

Db::~Db() {
  if (db_) {
    rollback_quietly();
    sqlite3_close_v2(db_);
  }
}

Db::Db(Db&& o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)), kind_(o.kind_) {}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    if (db_) {
      rollback_quietly();
      sqlite3_close_v2(db_);
    }
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
    kind_ = o.kind_;
  }
  return *this;
}

void Db::exec(const std::string& sql, std::string_view where) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) fail(rc, sql.size() > 80 ? sql.substr(0, 80) + "..." : sql, where);
}

void Db::rollback_quietly() noexcept {
  if (db_ && sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Error Db::error(int rc, std::string_view what, std::string_view where) const {
  int primary = rc & 0xff;
  bool retryable = primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
  std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  ErrorKind kind = kind_;
  if (primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR || primary == SQLITE_FULL) kind = ErrorKind::Connection;
  std::string w = where.empty() ? "sqlite file " + path_ : std::string(where);
  return Error(kind, fmt::format("{} (SQLite {}) [{}]", msg, path_, what), retryable, w);
}

void Db::fail(int rc, std::string_view what, std::string_view where) const { throw error(rc, what, where); }

// ---------------------------------------------------------------------------------------------
// Stmt

Stmt::Stmt(Db& db, std::string_view sql, std::string_view where) : db_(&db), where_(where) {
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db.get(), sql.data(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_, &tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    std::string s(sql.substr(0, 200));
    Error e = db.error(rc, "prepare: " + s, where);
    if ((rc & 0xff) == SQLITE_ERROR)  // a missing table/column or bad SQL from the config
      throw Error(ErrorKind::Schema, e.message(), false, e.where());
    throw e;
  }
  if (!stmt_) throw Error(ErrorKind::Config, fmt::format("empty SQL statement: \"{}\"", sql), false, std::string(where));
}

Stmt::~Stmt() { finalize(); }

Stmt::Stmt(Stmt&& o) noexcept
    : stmt_(std::exchange(o.stmt_, nullptr)), db_(o.db_), where_(std::move(o.where_)) {}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    finalize();
    stmt_ = std::exchange(o.stmt_, nullptr);
    db_ = o.db_;
    where_ = std::move(o.where_);
  }
  return *this;
}

void Stmt::finalize() noexcept {
  if (stmt_) sqlite3_finalize(stmt_);
  stmt_ = nullptr;
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(stmt_);
  std::string s = sql ? std::string(sql).substr(0, 120) : std::string();
  Error e = db_->error(rc, s, where_);
  sqlite3_reset(stmt_);
  throw e;
}

void Stmt::reset() noexcept {
  if (!stmt_) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

namespace {
void check_bind(int rc, const Db* db, const std::string& where) {
  if (rc != SQLITE_OK) db->fail(rc, "bind", where);
}
}  // namespace

void Stmt::bind_null(int i) { check_bind(sqlite3_bind_null(stmt_, i), db_, where_); }
void Stmt::bind_int64(int i, std::int64_t v) { check_bind(sqlite3_bind_int64(stmt_, i, v), db_, where_); }
void Stmt::bind_double(int i, double v) { check_bind(sqlite3_bind_double(stmt_, i, v), db_, where_); }
void Stmt::bind_text(int i, std::string_view s) {
  check_bind(sqlite3_bind_text64(stmt_, i, s.data() ? s.data() : "", s.size(), SQLITE_STATIC, SQLITE_UTF8), db_,
             where_);
}
void Stmt::bind_text_copy(int i, const std::string& s) {
  check_bind(sqlite3_bind_text64(stmt_, i, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8), db_, where_);
}
void Stmt::bind_blob(int i, std::string_view s) {
  // A zero-length blob must not be bound from a null pointer (that would bind NULL).
  if (s.empty())
    check_bind(sqlite3_bind_zeroblob(stmt_, i, 0), db_, where_);
  else
    check_bind(sqlite3_bind_blob64(stmt_, i, s.data(), s.size(), SQLITE_STATIC), db_, where_);
}

void Stmt::bind(int i, const Value& v) {
  switch (v.kind()) {
    case ValueKind::Null: bind_null(i); break;
    case ValueKind::Bool: bind_int64(i, v.as_bool() ? 1 : 0); break;
    case ValueKind::Int: bind_int64(i, v.as_int()); break;
    case ValueKind::UInt: {
      std::uint64_t u = v.as_uint();
      if (u <= std::uint64_t(std::numeric_limits<std::int64_t>::max()))
        bind_int64(i, std::int64_t(u));
      else
        bind_text_copy(i, std::to_string(u));
      break;
    }
    case ValueKind::Double: bind_double(i, v.as_double()); break;
    case ValueKind::Bytes: bind_blob(i, v.text()); break;
    default: bind_text(i, v.text()); break;
  }
}

void Stmt::bind_copy(int i, const Value& v) {
  if (v.kind() == ValueKind::Bytes && !v.text().empty())
    check_bind(sqlite3_bind_blob64(stmt_, i, v.text().data(), v.text().size(), SQLITE_TRANSIENT), db_, where_);
  else if (v.has_text() && v.kind() != ValueKind::Bytes)
    bind_text_copy(i, v.text());
  else
    bind(i, v);
}

std::string Stmt::column_name(int i) const {
  const char* n = sqlite3_column_name(stmt_, i);
  return n ? n : "";
}

std::string Stmt::column_text(int i) const {
  const unsigned char* p = sqlite3_column_text(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), std::size_t(n)) : std::string();
}


Value Stmt::column_value(int i, TypeId type) const {
  switch (sqlite3_column_type(stmt_, i)) {
    case SQLITE_INTEGER: return Value::int64(sqlite3_column_int64(stmt_, i));
    case SQLITE_FLOAT: return Value::float64(sqlite3_column_double(stmt_, i));
    case SQLITE_BLOB: {
      const void* p = sqlite3_column_blob(stmt_, i);
      int n = sqlite3_column_bytes(stmt_, i);
      return Value::bytes(p ? std::string(static_cast<const char*>(p), std::size_t(n)) : std::string());
    }
    case SQLITE_TEXT: {
      ValueKind k = text_value_kind(type);
      if (k == ValueKind::String) return Value::string(column_text(i));
      return Value::of_text(k, column_text(i));
    }
    default: return Value::null();
  }
}

// ---------------------------------------------------------------------------------------------
// Table info

TableInfo read_table_info(Db& db, const std::string& table) {
  TableInfo info;
  {
    Stmt s(db, "SELECT wr, type FROM pragma_table_list WHERE name = ?1 AND schema = 'main'", "table " + table);
    s.bind_text(1, table);
    if (!s.step()) return info;
    info.exists = true;
    info.without_rowid = s.column_int64(0) != 0;
    info.view = s.column_text(1) == "view";
  }
  Stmt s(db, "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1, 'main') ORDER BY cid",
         "table " + table);
  s.bind_text(1, table);
  std::vector<std::pair<std::int64_t, std::string>> pk;
  while (s.step()) {
    const std::int64_t hidden = s.column_int64(5);
    if (hidden != 0 && hidden != 2 && hidden != 3) continue;  // a virtual table's hidden column
    Column c;
    c.name = s.column_text(0);
    if (hidden == 2 || hidden == 3) info.generated[c.name] = hidden == 3;
    c.source_type = s.column_text(1);
    c.type = logical_type_from_declared(c.source_type);
    c.nullable = s.column_int64(2) == 0;
    if (!s.column_is_null(3)) c.default_expr = s.column_text(3);
    if (std::int64_t k = s.column_int64(4); k > 0) {
      pk.emplace_back(k, c.name);
      c.nullable = c.nullable && !info.without_rowid;
    }
    info.columns.push_back(std::move(c));
  }
  std::sort(pk.begin(), pk.end());
  for (auto& p : pk) info.primary_key.push_back(std::move(p.second));
  // A rowid table's lone INTEGER PRIMARY KEY is the rowid itself: it can never be NULL.
  if (!info.without_rowid && info.primary_key.size() == 1) {
    for (auto& c : info.columns) {
      std::string t = c.source_type;
      for (auto& ch : t) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (c.name == info.primary_key[0] && t == "INTEGER") c.nullable = false;
    }
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// Key encoding

namespace {
const char* kHex = "0123456789abcdef";

void append_hex(std::string& out, std::string_view bytes) {
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string from_hex(std::string_view hex, std::string_view whole) {
  if (hex.size() % 2) throw Error(ErrorKind::State, fmt::format("bad SQLite chunk bound \"{}\"", whole));
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int a = hex_digit(hex[i]), b = hex_digit(hex[i + 1]);
    if (a < 0 || b < 0) throw Error(ErrorKind::State, fmt::format("bad SQLite chunk bound \"{}\"", whole));
    out += char((a << 4) | b);
  }
  return out;
}
}  // namespace

std::string encode_key(const std::vector<Value>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    const Value& v = values[i];
    switch (v.kind()) {
      case ValueKind::Null: out += 'n'; break;
      case ValueKind::Int: out += 'i' + std::to_string(v.as_int()); break;
      case ValueKind::Double: {
        double d = v.as_double();
        std::uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        out += fmt::format("r{:016x}", bits);
        break;
      }
      case ValueKind::Bytes:
        out += 'b';
        append_hex(out, v.text());
        break;
      case ValueKind::Bool: out += v.as_bool() ? "i1" : "i0"; break;
      case ValueKind::UInt:
        out += 't';
        append_hex(out, std::to_string(v.as_uint()));
        break;
      default:
        out += 't';
        append_hex(out, v.text());
        break;
    }
  }
  return out;
}

std::vector<Value> decode_key(std::string_view text) {
  std::vector<Value> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(pos, end - pos);
    if (part.empty()) throw Error(ErrorKind::State, fmt::format("bad SQLite chunk bound \"{}\"", text));
    std::string_view body = part.substr(1);
    switch (part[0]) {
      case 'n': out.push_back(Value::null()); break;
      case 'i': {
        std::int64_t v;
        if (!parse_int64(body, v)) throw Error(ErrorKind::State, fmt::format("bad SQLite chunk bound \"{}\"", text));
        out.push_back(Value::int64(v));
        break;
      }
      case 'r': {
        std::string raw = from_hex(body, text);
        if (raw.size() != 8) throw Error(ErrorKind::State, fmt::format("bad SQLite chunk bound \"{}\"", text));
        // Stored big-endian as hex digits of the 64-bit pattern.
        std::uint64_t bits = 0;
        for (unsigned char c : raw) bits = (bits << 8) | c;
        double d;
        std::memcpy(&d, &bits, sizeof d);
        out.push_back(Value::float64(d));
        break;
      }
      case 'b': out.push_back(Value::bytes(from_hex(body, text))); break;
      case 't': out.push_back(Value::string(from_hex(body, text))); break;
      default: throw Error(ErrorKind::State, fmt::format("bad SQLite chunk bound \"{}\"", text));
    }
    pos = end + 1;
  }
  return out;
}

}  // namespace cdc::sqlite
