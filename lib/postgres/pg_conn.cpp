// libpq connection wrapper; see pg_conn.h.
#include "postgres/pg_conn.h"

#include "core/logging.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace cdc::pg {

namespace {

// Parameters the connector reads itself instead of passing them to libpq.
bool is_cdc_param(const std::string& k) { return k == "slot" || k == "publication" || k == "streaming"; }

std::string trim_message(std::string m) {
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// The text after `prefix` up to the end of its line ("" when `message` has no `prefix`).
std::string after(std::string_view message, std::string_view prefix) {
  auto at = message.find(prefix);
  if (at == std::string_view::npos) return {};
  std::string_view rest = message.substr(at + prefix.size());
  rest = rest.substr(0, rest.find('\n'));
  std::string out(rest);
  if (out.size() >= 2 && out.front() == '"' && out.back() == '"') out = out.substr(1, out.size() - 2);
  return out;
}

std::string param(const ConnParams& p, const std::string& key) {
  for (const auto& [k, v] : p.kv)
    if (k == key) return v;
  return "";
}

bool has(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

// A failed connection: TLS problems (a certificate that does not verify, a server without TLS,
// plain text refused) stay so, and are not retried; the message names the URL parameter to change.
Error connect_error(const ConnParams& params, const std::string& msg) {
  std::string text = fmt::format("cannot connect to PostgreSQL {}: {}", params.display, msg);
  std::replace(text.begin(), text.end(), '\n', ' ');  // "FATAL: ...\nDETAIL: ...": one line
  const std::string mode = param(params, "sslmode");
  const std::string root = param(params, "sslrootcert");
  std::string hint;
  if (has(msg, "certificate verify failed"))
    hint = root.empty() ? fmt::format("the server's certificate could not be verified (sslmode={}): give sslrootcert=<CA file>", mode)
                        : fmt::format("the server's certificate could not be verified against sslrootcert={} (sslmode={})", root, mode);
  else if (has(msg, "does not match host name") || has(msg, "server certificate for"))
    hint = "sslmode=verify-full: the server's certificate does not name this host; connect by a name it holds, or use "
           "sslmode=verify-ca to check the CA only";
  else if (has(msg, "root certificate file"))
    hint = "sslrootcert names the CA file that signed the server's certificate";
  else if (has(msg, "SSL") && (has(msg, "not support") || has(msg, "SSL off") || has(msg, "is not enabled")))
    hint = fmt::format("sslmode={} but the server offers no TLS: configure ssl=on on the server, or lower sslmode", mode);
  else if (has(msg, "no encryption") && has(msg, "pg_hba.conf"))
    hint = fmt::format("the connection was plain text (sslmode={}); the server accepts only TLS here (hostssl): set "
                       "sslmode=verify-full and sslrootcert=<CA file>",
                       mode.empty() ? "prefer" : mode);
  else if (has(msg, "SSL error") || has(msg, "certificate"))
    hint = fmt::format("TLS failed with sslmode={}", mode.empty() ? "prefer" : mode);
  if (hint.empty()) return Error(ErrorKind::Connection, std::move(text), true, params.display);
  return Error(ErrorKind::Connection, text + " (" + hint + ")", false, params.display);
}

}  // namespace

std::string missing_privilege(ErrorKind role, std::string_view message, std::string_view user, std::string_view database) {
  const bool source = role == ErrorKind::Source;
  const std::string to = " TO " + quote_ident(user);
  std::string name;
  if (!(name = after(message, "permission denied to set parameter ")).empty())
    return "GRANT SET ON PARAMETER " + name + to;
  if (message.find("must be superuser or replication role") != std::string_view::npos ||
      message.find("permission denied to start WAL sender") != std::string_view::npos ||
      message.find("must be superuser or have REPLICATION") != std::string_view::npos ||
      message.find("permission denied to use replication slots") != std::string_view::npos)
    return "ALTER ROLE " + quote_ident(user) + " REPLICATION";
  // At connect ("FATAL:  permission denied for database"), the missing privilege is CONNECT.
  if (message.find("CONNECT privilege") != std::string_view::npos ||
      (message.find("FATAL:") != std::string_view::npos && message.find("permission denied for database") != std::string_view::npos))
    return "GRANT CONNECT ON DATABASE " + quote_ident(database) + to;
  if (!(name = after(message, "permission denied to create temporary tables in database ")).empty())
    return "GRANT TEMPORARY ON DATABASE " + quote_ident(name) + to;
  if (!(name = after(message, "permission denied for database ")).empty())
    return "GRANT CREATE ON DATABASE " + quote_ident(name) + to +
           (source ? " (CREATE PUBLICATION needs it; or have a publication made beforehand and name it with the "
                     "source URL's publication=NAME)"
                   : " (cdc keeps its checkpoints in the schema cdc_metadata, which it creates)");
  if (!(name = after(message, "permission denied for schema ")).empty())
    return (source ? "GRANT USAGE ON SCHEMA " : "GRANT USAGE, CREATE ON SCHEMA ") + quote_ident(name) + to;
  if (!(name = after(message, "permission denied for sequence ")).empty())
    return "GRANT USAGE, SELECT, UPDATE ON SEQUENCE " + quote_ident(name) + to;
  // Views copied as tables (`views: true`) are read like tables.
  for (const char* kind : {"permission denied for view ", "permission denied for materialized view "})
    if (!(name = after(message, kind)).empty()) return "GRANT SELECT ON TABLE " + quote_ident(name) + to;
  if (!(name = after(message, "permission denied for table ")).empty()) {
    if (source) return "GRANT SELECT ON TABLE " + quote_ident(name) + to;
    return "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLE " + quote_ident(name) + to +
           " (or let cdc create the table, so that it owns it)";
  }
  if (!(name = after(message, "must be owner of table ")).empty()) {
    if (source)
      return fmt::format("CREATE PUBLICATION ... FOR TABLE is allowed to the owner of {0} only: ALTER TABLE {0} OWNER TO {1}, "
                         "or have its owner create the publication (CREATE PUBLICATION cdc_pub FOR TABLE ...) and name it "
                         "with the source URL's publication=NAME",
                         quote_ident(name), quote_ident(user));
    return fmt::format("ALTER TABLE {} OWNER TO {} (cdc changes the tables it writes: columns, indexes, constraints)",
                       quote_ident(name), quote_ident(user));
  }
  if (!(name = after(message, "must be owner of publication ")).empty())
    return "ALTER PUBLICATION " + quote_ident(name) + " OWNER" + to;
  return {};
}

ConnParams conn_params(const ConnectorUrl& url) {
  ConnParams p;
  auto add = [&](const std::string& k, const std::string& v) { p.kv.emplace_back(k, v); };
  if (!url.host.empty()) add("host", url.host);
  if (url.port > 0) add("port", std::to_string(url.port));
  if (!url.user.empty()) add("user", url.user);
  if (!url.password.empty()) add("password", url.password);
  std::string db = url.path;
  while (!db.empty() && db.front() == '/') db.erase(0, 1);
  if (!db.empty()) add("dbname", db);
  p.database = db.empty() ? (url.user.empty() ? "postgres" : url.user) : db;
  for (const auto& [k, v] : url.params) {
    if (is_cdc_param(k)) p.cdc[k] = v;
    else add(k, v);
  }
  add("application_name", "cdc");
  add("connect_timeout", "15");
  p.display = url.redacted();
  return p;
}

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string quote_table(const std::string& schema, const std::string& name) {
  return schema.empty() ? quote_ident(name) : quote_ident(schema) + "." + quote_ident(name);
}

std::int64_t Result::int64(int row, int col) const {
  if (is_null(row, col)) return 0;
  return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
}

Error make_error(ErrorKind kind, const std::string& what, const std::string& sqlstate, const std::string& message,
                 const std::string& where) {
  // 55P03: a lock wait ended by lock_timeout. 25006: a read-only server or database (a standby, a
  // primary demoted by a failover, default_transaction_read_only): a new connection may find it
  // writable again, so it is retried as a lost connection is, without limit.
  const bool read_only = sqlstate == "25006";
  bool retry = sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P0", 0) == 0 || sqlstate.rfind("53", 0) == 0 ||
               sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" || read_only || sqlstate.empty();
  ErrorKind k = kind;
  if (sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P0", 0) == 0 || read_only || sqlstate.empty()) k = ErrorKind::Connection;
  if (sqlstate == "42P01" || sqlstate == "42703") k = ErrorKind::Schema;
  if (sqlstate.rfind("22", 0) == 0) k = ErrorKind::Conversion;
  // The server's "LINE 1: <statement>" and caret lines would split a log line in three.
  std::string text = what + ": " + trim_message(message.substr(0, message.find("\nLINE ")));
  if (!sqlstate.empty()) text += " (SQLSTATE " + sqlstate + ")";
  return Error(k, text, retry, where);
}

Conn::Conn(const ConnParams& params, ErrorKind statement_errors, ConnKind kind)
    : kind_(statement_errors), display_(params.display) {
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : params.kv) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  // Text values must be exact and independent of server defaults.
  static const char* kOptions = "-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c TimeZone=UTC "
                                "-c bytea_output=hex -c client_encoding=UTF8";
  keys.push_back("options");
  values.push_back(kOptions);
  if (kind == ConnKind::Replication) {
    keys.push_back("replication");
    values.push_back("database");
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  c_ = PQconnectdbParams(keys.data(), values.data(), 0);
  if (!c_ || PQstatus(c_) != CONNECTION_OK) {
    std::string msg = c_ ? PQerrorMessage(c_) : "out of memory";
    const std::string user = c_ && PQuser(c_) ? PQuser(c_) : "", db = c_ && PQdb(c_) ? PQdb(c_) : params.database;
    if (c_) PQfinish(c_);
    c_ = nullptr;
    // libpq messages name host and port, never the password.
    // A refused privilege does not pass by waiting: not retried, and the message says what to grant.
    std::string grant = missing_privilege(statement_errors, msg, user, db);
    if (!grant.empty()) {
      std::string text = fmt::format("cannot connect to PostgreSQL {}: {}", display_, trim_message(msg));
      std::replace(text.begin(), text.end(), '\n', ' ');  // "FATAL: ...\nDETAIL: ...": one line
      throw Error(ErrorKind::Connection, text + "; the user lacks a privilege: " + grant, false, display_);
    }
    throw connect_error(params, trim_message(msg));
  }
  // Server notices ("already exists, skipping") go to the log, not to stderr.
  PQsetNoticeProcessor(
      c_, [](void*, const char* message) { detail::logf(LogLevel::Debug, "postgres", "", "{}", trim_message(message)); },
      nullptr);
}

Conn::~Conn() { close(); }

Conn::Conn(Conn&& o) noexcept : c_(o.c_), copy_buf_(o.copy_buf_), kind_(o.kind_), display_(std::move(o.display_)) {
  o.c_ = nullptr;
  o.copy_buf_ = nullptr;
}

Conn& Conn::operator=(Conn&& o) noexcept {
  if (this != &o) {
    close();
    c_ = o.c_;
    copy_buf_ = o.copy_buf_;
    kind_ = o.kind_;
    display_ = std::move(o.display_);
    o.c_ = nullptr;
    o.copy_buf_ = nullptr;
  }
  return *this;
}

void Conn::close() noexcept {
  if (copy_buf_) PQfreemem(copy_buf_);
  copy_buf_ = nullptr;
  if (c_) PQfinish(c_);
  c_ = nullptr;
}

void Conn::fail(const std::string& what, const std::string& where, PGresult* res) const {
  std::string state, msg;
  if (res) {
    const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (s) state = s;
    msg = PQresultErrorMessage(res);
  }
  if (msg.empty() && c_) msg = PQerrorMessage(c_);
  if (c_ && PQstatus(c_) != CONNECTION_OK && state.empty()) state = "08006";
  if (state.empty() && !res) state = "08000";
  Error e = make_error(kind_, what, state, msg, where.empty() ? display_ : where);
  if (state == "42501" && c_) {
    std::string grant = missing_privilege(kind_, msg, PQuser(c_), PQdb(c_));
    throw Error(e.kind(), e.message() + "; the user lacks a privilege" + (grant.empty() ? "" : ": " + grant) +
                              " (docs/privileges.md lists what cdc needs)",
                e.retryable(), e.where());
  }
  throw e;
}

Result Conn::exec(const std::string& sql, const std::string& where) {
  Result r(PQexec(c_, sql.c_str()));
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail("PostgreSQL statement failed", where, r.get());
  return r;
}

Result Conn::exec_params(const std::string& sql, const std::vector<std::optional<std::string>>& params,
                         const std::string& where) {
  std::vector<const char*> vals;
  for (const auto& p : params) vals.push_back(p ? p->c_str() : nullptr);
  Result r(PQexecParams(c_, sql.c_str(), static_cast<int>(vals.size()), nullptr, vals.data(), nullptr, nullptr, 0));
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail("PostgreSQL statement failed", where, r.get());
  return r;
}

std::string Conn::try_exec(const std::string& sql) {
  Result r(PQexec(c_, sql.c_str()));
  auto st = PQresultStatus(r.get());
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return {};
  const char* s = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
  return s ? s : "XX000";
}

std::string Conn::literal(std::string_view value) const {
  char* q = PQescapeLiteral(c_, value.data(), value.size());
  if (!q) throw Error(ErrorKind::Internal, "PQescapeLiteral failed", false, display_);
  std::string out(q);
  PQfreemem(q);
  return out;
}

void Conn::copy_out_start(const std::string& sql, const std::string& where) {
  Result r(PQexec(c_, sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_OUT) fail("COPY TO STDOUT failed", where, r.get());
}

bool Conn::copy_out_row(const char*& data, int& len, const std::string& where) {
  if (copy_buf_) {
    PQfreemem(copy_buf_);
    copy_buf_ = nullptr;
  }
  int n = PQgetCopyData(c_, &copy_buf_, 0);
  if (n > 0) {
    data = copy_buf_;
    len = n;
    return true;
  }
  if (n == -2) fail("COPY TO STDOUT failed", where);
  // End of copy: collect the final result(s).
  bool failed = false;
  while (PGresult* res = PQgetResult(c_)) {
    Result r(res);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && !failed) {
      failed = true;
      fail("COPY TO STDOUT failed", where, res);
    }
  }
  return false;
}

void Conn::copy_in_start(const std::string& sql, const std::string& where) {
  Result r(PQexec(c_, sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_IN) fail("COPY FROM STDIN failed", where, r.get());
}

void Conn::copy_in_put(const char* data, std::size_t len, const std::string& where) {
  if (len == 0) return;
  if (PQputCopyData(c_, data, static_cast<int>(len)) != 1) fail("COPY FROM STDIN failed", where);
}

void Conn::copy_in_end(const std::string& where) {
  copy_in_send_end(where);
  copy_in_wait(where);
}

void Conn::copy_in_send_end(const std::string& where) {
  if (PQputCopyEnd(c_, nullptr) != 1) fail("COPY FROM STDIN failed", where);
}

void Conn::copy_in_wait(const std::string& where) {
  std::optional<Error> err;
  while (PGresult* res = PQgetResult(c_)) {
    Result r(res);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && !err) {
      try {
        fail("COPY FROM STDIN failed", where, res);
      } catch (const Error& e) {
        err = e;
      }
    }
  }
  if (err) throw *err;
}

}  // namespace cdc::pg
