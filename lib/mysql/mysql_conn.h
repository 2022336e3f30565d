// Thin RAII wrapper over libmariadb's C API (MYSQL*), used by every MariaDB/MySQL connector
// piece: connect from a ConnectorUrl, run statements, stream result sets unbuffered
// (mysql_use_result, so a big chunk is never held whole), escape values for SQL text.
// Move-only; destructors never throw; one thread uses a Conn at a time.
// Errors become cdc::Error with the kind the owner chose (Source or Destination); lost
// connections, lock wait timeouts and deadlocks are retryable. Messages carry the server error
// code and SQLSTATE, never the password.
#pragma once

#include <cdc/error.h>
#include <cdc/registry.h>

#include "core/ssl_mode.h"

#include <mysql.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cdc::mysql {

// `name` in backticks, embedded backticks doubled.
std::string quote_ident(std::string_view name);

// TLS of a connection, with the MySQL client's names (--ssl-mode, core/ssl_mode.h). The binlog
// connection uses the same settings as the SQL ones: it is a Conn too.
using detail::SslMode;
using detail::to_string;

// Connection settings taken from a mysql:// or mariadb:// URL.
// Params: socket=<path>, connect_timeout=<s> (default 10), read_timeout=<s> (default 0 = none),
// ssl-mode=DISABLED|PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY (default PREFERRED, VERIFY_CA when
// ssl-ca is given), ssl-ca=<CA file>, ssl-cert=<client certificate>, ssl-key=<its key>
// (ssl_mode, ssl_ca, ... spelled with '_' too).
struct ConnParams {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user = "root";
  std::string password;
  std::string database;
  std::string socket;
  unsigned connect_timeout = 10;
  unsigned read_timeout = 0;
  SslMode ssl_mode = SslMode::Preferred;
  std::string ssl_ca, ssl_cert, ssl_key;  // file paths, empty when not given
  std::string redacted;  // URL without the password, for messages
  // Whether the connection may run LOAD DATA LOCAL INFILE, fed from memory by Conn::load_local
  // (the destination writer's); never from a URL. A server asking for a file at any other moment
  // is refused: no local file is ever read.
  bool local_infile = false;

  // Throws cdc::Error(Config) when the URL lacks a database name or has bad params.
  static ConnParams from_url(const ConnectorUrl& url, const char* role);
};

class Result;

class Conn {
 public:
  Conn() = default;
  // Connects (utf8mb4, session time zone +00:00). Failure: Error(Connection, retryable).
  Conn(const ConnParams& params, ErrorKind kind);
  ~Conn();
  Conn(Conn&& o) noexcept;
  Conn& operator=(Conn&& o) noexcept;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  MYSQL* get() const noexcept { return m_; }
  explicit operator bool() const noexcept { return m_ != nullptr; }
  const ConnParams& params() const noexcept { return params_; }

  // Runs a statement, discarding any result. `where` names the object for errors.
  void exec(std::string_view sql, std::string_view where = {});
  // Runs `sql`, a LOAD DATA LOCAL INFILE statement, sending what `fill(buf, len)` writes into
  // buf (bytes written, at most len; 0 at the end) as the file's content. Returns the
  // statement's warning count and affected rows. Errors throw as exec's do; an exception from
  // `fill` stops the load and is rethrown once the server has given the statement up. Needs
  // params().local_infile.
  struct Loaded {
    unsigned warnings = 0;
    std::uint64_t rows = 0;  // affected rows: a REPLACE counts a replaced row twice
  };
  Loaded load_local(std::string_view sql, const std::function<std::size_t(char*, std::size_t)>& fill,
                    std::string_view where = {});
  // Runs a query and returns its result streamed row by row (unbuffered): the connection can
  // run nothing else until the Result is exhausted or destroyed.
  Result query(std::string_view sql, std::string_view where = {});
  // First column of the first row as text (nullopt for no row or NULL).
  std::optional<std::string> scalar(std::string_view sql, std::string_view where = {});
  // Rows of a small result, all columns as text ("" for NULL, see null flags omitted).
  std::vector<std::vector<std::optional<std::string>>> rows(std::string_view sql, std::string_view where = {});

  // Appends `data` as a quoted SQL string literal escaped by the driver ('...').
  void append_quoted(std::string& out, std::string_view data) const;
  std::string quoted(std::string_view data) const {
    std::string s;
    append_quoted(s, data);
    return s;
  }
  // ROLLBACK, ignoring errors; never throws.
  void rollback_quietly() noexcept;

  Error error(std::string_view what, std::string_view where) const;
  [[noreturn]] void fail(std::string_view what, std::string_view where) const;
  unsigned error_number() const noexcept { return m_ ? mysql_errno(m_) : 0; }

 private:
  void set_tls_options(const ConnParams& p);
  Error connect_error(unsigned code, const std::string& state, const std::string& msg) const;

  MYSQL* m_ = nullptr;
  ConnParams params_;
  ErrorKind kind_ = ErrorKind::Source;
};

// Builds a cdc::Error from a server/client error number and message. With `who` (the
// connection's settings), a missing privilege also says what to grant (missing_privilege).
Error make_error(ErrorKind kind, unsigned code, const char* sqlstate, const char* message, std::string_view what,
                 std::string_view where, const ConnParams* who = nullptr);

// Whether server error `code` refuses something for want of a privilege (1044, 1045, 1142,
// 1143, 1227): never retried, since waiting does not grant it.
bool is_privilege_error(unsigned code);

// The one place that turns such an error into what to run to allow it, e.g. "GRANT REPLICATION
// SLAVE ON *.* TO 'cdc'@'%'" or "GRANT INSERT ON `shop`.* TO 'cdc'@'%'". `role` is Source or
// Destination; "" when the message is not one cdc knows. docs/privileges.md lists every grant.
std::string missing_privilege(ErrorKind role, unsigned code, std::string_view message, const ConnParams& who);

// A streamed result set. Move-only; frees (and drains) the result on destruction.
class Result {
 public:
  Result() = default;
  Result(MYSQL* m, MYSQL_RES* res, const Conn* conn, std::string where);
  ~Result();
  Result(Result&& o) noexcept;
  Result& operator=(Result&& o) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  // Moves to the next row; false at the end (errors throw).
  bool next();
  unsigned field_count() const noexcept { return nfields_; }
  const MYSQL_FIELD* fields() const noexcept { return fields_; }
  bool is_null(unsigned i) const noexcept { return row_[i] == nullptr; }
  std::string_view view(unsigned i) const noexcept {
    return row_[i] ? std::string_view(row_[i], lengths_[i]) : std::string_view();
  }
  std::string text(unsigned i) const { return std::string(view(i)); }
  std::optional<std::string> opt(unsigned i) const {
    if (!row_[i]) return std::nullopt;
    return text(i);
  }

 private:
  void reset() noexcept;
  MYSQL* m_ = nullptr;
  MYSQL_RES* res_ = nullptr;
  const Conn* conn_ = nullptr;
  std::string where_;
  MYSQL_ROW row_ = nullptr;
  unsigned long* lengths_ = nullptr;
  MYSQL_FIELD* fields_ = nullptr;
  unsigned nfields_ = 0;
};

}  // namespace cdc::mysql
