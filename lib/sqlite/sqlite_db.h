// Thin RAII wrappers over the SQLite C API used by every SQLite connector piece: a connection
// (Db) and a prepared statement (Stmt). Both are move-only; destructors never throw.
// Not synchronised: one thread uses a Db and its statements at a time.
// Errors become cdc::Error with the kind the owner chose (Source or Destination); SQLITE_BUSY and
// SQLITE_LOCKED are retryable.
#pragma once

#include <cdc/error.h>
#include <cdc/schema.h>
#include <cdc/value.h>

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cdc::sqlite {

// "name" with embedded double quotes doubled.
std::string quote_ident(std::string_view name);

// Strict decimal int64 parse ("-12"); false on anything else.
bool parse_int64(std::string_view text, std::int64_t& out);

class Db {
 public:
  Db() = default;
  // Opens `path` with sqlite3_open_v2 `flags`. `kind` is the ErrorKind of failures on this
  // connection (Source or Destination).
  Db(const std::string& path, int flags, int busy_timeout_ms, ErrorKind kind);
  ~Db();
  Db(Db&& o) noexcept;
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* get() const noexcept { return db_; }
  const std::string& path() const noexcept { return path_; }
  ErrorKind error_kind() const noexcept { return kind_; }
  bool in_transaction() const noexcept { return db_ != nullptr && sqlite3_get_autocommit(db_) == 0; }

  // Runs SQL without results (no values may be in it). `where` names the object for errors.
  void exec(const std::string& sql, std::string_view where = {});
  // ROLLBACK if a transaction is open; never throws.
  void rollback_quietly() noexcept;

  // Builds the cdc::Error for return code `rc` (message from the connection).
  Error error(int rc, std::string_view what, std::string_view where) const;
  [[noreturn]] void fail(int rc, std::string_view what, std::string_view where) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  ErrorKind kind_ = ErrorKind::Source;
};

class Stmt {
 public:
  Stmt() = default;
  Stmt(Db& db, std::string_view sql, std::string_view where = {});
  ~Stmt();
  Stmt(Stmt&& o) noexcept;
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  explicit operator bool() const noexcept { return stmt_ != nullptr; }
  sqlite3_stmt* get() const noexcept { return stmt_; }
  // True while a row is available; false when done. Throws on error.
  bool step();
  // Runs to completion (for statements without results).
  void run() {
    step();
    reset();
  }
  // sqlite3_reset + sqlite3_clear_bindings; never throws.
  void reset() noexcept;
  void finalize() noexcept;

  // Binding (1-based). Text and blobs are bound without copying: the bound data must stay alive
  // until the statement is stepped and reset.
  void bind_null(int i);
  void bind_int64(int i, std::int64_t v);
  void bind_double(int i, double v);
  void bind_text(int i, std::string_view s);
  void bind_text_copy(int i, const std::string& s);
  void bind_blob(int i, std::string_view s);
  // Binds by value kind: Int->integer, UInt->integer if it fits else text, Double->real,
  // Bool->0/1, Bytes->blob, other text kinds->text.
  void bind(int i, const Value& v);
  // Like bind(), but SQLite copies text and blobs (for values that do not outlive the statement).
  void bind_copy(int i, const Value& v);
  int parameter_index(const char* name) const { return sqlite3_bind_parameter_index(stmt_, name); }
  int parameter_count() const { return sqlite3_bind_parameter_count(stmt_); }

  int column_count() const { return sqlite3_column_count(stmt_); }
  std::string column_name(int i) const;
  std::int64_t column_int64(int i) const { return sqlite3_column_int64(stmt_, i); }
  bool column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  // Text of column i, bytes exact (may hold NUL).
  std::string column_text(int i) const;
  // The value by its storage class; TEXT in a column of a temporal/json/uuid/decimal logical type
  // becomes that kind.
  Value column_value(int i, TypeId type = TypeId::Unknown) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
  const Db* db_ = nullptr;
  std::string where_;
};

// Declared SQLite type -> LogicalType (affinity rules plus common names).
LogicalType logical_type_from_declared(std::string_view declared);
// LogicalType -> a SQLite declared type for DDL ("" = no type, which stores values as given).
std::string declared_type_for(const LogicalType& type);

// A column list of a table: its columns (generated ones included, a virtual table's hidden ones
// not), with pk order.
struct TableInfo {
  std::vector<Column> columns;
  std::vector<std::string> primary_key;
  // Generated columns by name: true when STORED. Their Column::generated is left empty here (the
  // expression is in the table's CREATE statement, see parse_sqlite_create_table).
  std::map<std::string, bool> generated;
  bool exists = false;
  bool without_rowid = false;
  bool view = false;  // a view: no rowid, no key of its own
};
TableInfo read_table_info(Db& db, const std::string& table);

// Encodes a tuple of values as ASCII text that decode_key() turns back into the same values
// (storage class included): "i42,t616263,b00ff,r3ff0000000000000,n".
std::string encode_key(const std::vector<Value>& values);
std::vector<Value> decode_key(std::string_view text);

}  // namespace cdc::sqlite
