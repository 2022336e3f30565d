// A libpq connection wrapper: opens from a cdc connector URL, runs statements, streams COPY in
// and out, and turns every failure into a typed cdc::Error (connection problems retryable, the
// SQLSTATE in the message, never a password). Move-only; one thread at a time.
#pragma once

#include <cdc/error.h>
#include <cdc/registry.h>

#include <libpq-fe.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cdc::pg {

// Connection parameters taken from a URL (postgresql://user:pass@host:port/db?sslmode=...).
// cdc's own parameters (slot, publication) are not passed to libpq.
struct ConnParams {
  std::vector<std::pair<std::string, std::string>> kv;  // libpq keywords
  std::string database;
  std::string display;  // redacted URL for messages
  std::map<std::string, std::string> cdc;  // cdc-only parameters
};

ConnParams conn_params(const ConnectorUrl& url);

// Quotes an identifier ("a""b").
std::string quote_ident(std::string_view name);
// "schema"."name" (or "name" without a schema).
std::string quote_table(const std::string& schema, const std::string& name);

// A result set; owns its PGresult.
class Result {
 public:
  Result() = default;
  explicit Result(PGresult* r) : r_(r, &PQclear) {}
  PGresult* get() const { return r_.get(); }
  int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  int cols() const { return r_ ? PQnfields(r_.get()) : 0; }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
  }
  std::int64_t int64(int row, int col) const;
  std::string affected() const { return r_ ? PQcmdTuples(r_.get()) : ""; }

 private:
  std::shared_ptr<PGresult> r_;
};

enum class ConnKind { Normal, Replication };

class Conn {
 public:
  Conn() = default;
  // `role` is "source" or "destination": the error kind of failed statements.
  Conn(const ConnParams& params, ErrorKind statement_errors, ConnKind kind = ConnKind::Normal);
  ~Conn();
  Conn(Conn&& o) noexcept;
  Conn& operator=(Conn&& o) noexcept;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  PGconn* get() const { return c_; }
  explicit operator bool() const { return c_ != nullptr; }
  const std::string& display() const { return display_; }

  // Runs SQL (one or more statements without parameters); throws on failure.
  Result exec(const std::string& sql, const std::string& where = {});
  // One statement with text parameters (nullopt = NULL).
  Result exec_params(const std::string& sql, const std::vector<std::optional<std::string>>& params,
                     const std::string& where = {});
  // Like exec but returns the SQLSTATE instead of throwing ("" on success).
  std::string try_exec(const std::string& sql);
  // A literal for SQL text through libpq's escaping ('it''s').
  std::string literal(std::string_view value) const;

  // COPY ... TO STDOUT: starts the copy; then copy_out_row() returns one row's bytes until end.
  void copy_out_start(const std::string& sql, const std::string& where);
  // Returns false at the end. `buf` is owned by the connection until the next call.
  bool copy_out_row(const char*& data, int& len, const std::string& where);
  // COPY ... FROM STDIN: start, put data, end.
  void copy_in_start(const std::string& sql, const std::string& where);
  void copy_in_put(const char* data, std::size_t len, const std::string& where);
  void copy_in_end(const std::string& where);
  // copy_in_end in two halves: send the end (the server then works through the data while the
  // caller does something else), and later wait for the COPY's result (throws its error).
  void copy_in_send_end(const std::string& where);
  void copy_in_wait(const std::string& where);

  // Throws the error the connection is in (after a failed libpq call).
  [[noreturn]] void fail(const std::string& what, const std::string& where, PGresult* res = nullptr) const;
  // Closes the connection (noexcept).
  void close() noexcept;
  bool healthy() const { return c_ && PQstatus(c_) == CONNECTION_OK; }

 private:
  PGconn* c_ = nullptr;
  char* copy_buf_ = nullptr;
  ErrorKind kind_ = ErrorKind::Source;
  std::string display_;
};

// Makes the cdc::Error for a failed result: SQLSTATE class 08 (connection), 57P0x (shutdown),
// 53 (resources), 40001/40P01 (serialization, deadlock), 55P03 (lock timeout) are retryable;
// 25006 (read-only) is retried as a lost connection is (a new connection may reach a writable server).
Error make_error(ErrorKind kind, const std::string& what, const std::string& sqlstate, const std::string& message,
                 const std::string& where);

// The one place that turns a missing privilege (SQLSTATE 42501, or the same text from a refused
// connection) into what to run to allow it: "GRANT SELECT ON TABLE "t" TO "cdc"", "ALTER ROLE
// "cdc" REPLICATION", ... `role` is Source or Destination (a source reads, owns publications; a
// destination writes), `user` and `database` the connection's. "" when the server's message is
// not one of those (another lc_messages, say); docs/privileges.md lists every grant.
std::string missing_privilege(ErrorKind role, std::string_view message, std::string_view user, std::string_view database);

}  // namespace cdc::pg
