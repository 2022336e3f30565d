#include "mysql/mysql_conn.h"

#include <errmsg.h>
#include <mysqld_error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>

namespace cdc::mysql {

std::string quote_ident(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out += '`';
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  out += '`';
  return out;
}

namespace {

unsigned parse_uint(const std::string& text, const std::string& key) {
  if (text.empty() || text.size() > 9)
    throw config_error("url", fmt::format("parameter {}=\"{}\" is not a number", key, text));
  for (char c : text)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      throw config_error("url", fmt::format("parameter {}=\"{}\" is not a number", key, text));
  return static_cast<unsigned>(std::stoul(text));
}

bool retryable_code(unsigned code) {
  switch (code) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_UNKNOWN_HOST:
    case ER_CON_COUNT_ERROR:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_DEADLOCK:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case ER_QUERY_INTERRUPTED:
    case ER_TOO_MANY_USER_CONNECTIONS:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NET_WRITE_INTERRUPTED:
      return true;
    default:
      return false;
  }
}

// MySQL's ER_SECURE_TRANSPORT_REQUIRED, absent from MariaDB's headers (MariaDB answers 1045).
constexpr unsigned kSecureTransportRequired = 3159;

void library_init() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

}  // namespace

ConnParams ConnParams::from_url(const ConnectorUrl& url, const char* role) {
  ConnParams p;
  p.redacted = url.redacted();
  if (!url.host.empty()) p.host = url.host;
  if (url.port) p.port = url.port;
  if (!url.user.empty()) p.user = url.user;
  p.password = url.password;
  p.database = url.path;
  while (!p.database.empty() && p.database.back() == '/') p.database.pop_back();
  if (p.database.empty() || p.database.find('/') != std::string::npos)
    throw config_error(role, fmt::format("\"{}\": expected a database name, as in mysql://user:password@host:port/dbname",
                                         p.redacted));
  auto params = url.params;
  const detail::SslParams ssl =
      detail::take_ssl_params(params, SslMode::Preferred, SslMode::VerifyCa, p.redacted, role);
  p.ssl_mode = ssl.mode;
  p.ssl_ca = ssl.ca;
  p.ssl_cert = ssl.cert;
  p.ssl_key = ssl.key;
  for (const auto& [k, v] : params) {
    if (k == "socket")
      p.socket = v;
    else if (k == "connect_timeout")
      p.connect_timeout = parse_uint(v, k);
    else if (k == "read_timeout")
      p.read_timeout = parse_uint(v, k);
    else if (k == "password")
      p.password = v;
    else
      throw config_error(role, fmt::format("\"{}\": unknown parameter \"{}\" (known: socket, connect_timeout, read_timeout, "
                                           "password, password_file, ssl-mode, ssl-ca, ssl-cert, ssl-key)",
                                           p.redacted, k));
  }
  if ((p.ssl_mode == SslMode::VerifyCa || p.ssl_mode == SslMode::VerifyIdentity) && p.ssl_ca.empty())
    throw config_error(role, fmt::format("\"{}\": ssl-mode={} needs ssl-ca=<file of the CA certificate(s) that signed the "
                                         "server's certificate>",
                                         p.redacted, to_string(p.ssl_mode)));
  return p;
}

bool is_privilege_error(unsigned code) {
  return code == ER_DBACCESS_DENIED_ERROR || code == ER_ACCESS_DENIED_ERROR || code == ER_TABLEACCESS_DENIED_ERROR ||
         code == ER_COLUMNACCESS_DENIED_ERROR || code == ER_SPECIFIC_ACCESS_DENIED_ERROR;
}

std::string missing_privilege(ErrorKind role, unsigned code, std::string_view message, const ConnParams& who) {
  // The account as GRANT names it; '%' is the usual host part (use the account's own if it has another).
  auto quote = [](std::string_view text) {
    std::string out = "'";
    for (char c : text) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  };
  const std::string to = " TO " + quote(who.user) + "@'%'";
  const std::string db = quote_ident(who.database) + ".*";
  switch (code) {
    case ER_SPECIFIC_ACCESS_DENIED_ERROR: {
      // "Access denied; you need (at least one of) the SUPER, BINLOG MONITOR privilege(s) for this operation":
      // the narrowest of those named (SUPER grants far more than cdc needs).
      auto from = message.find(" the ");
      auto end = message.find(" privilege");
      if (from == std::string_view::npos || end == std::string_view::npos || end <= from) return {};
      std::string_view list = message.substr(from + 5, end - from - 5);
      std::string_view pick = list.substr(list.rfind(", ") == std::string_view::npos ? 0 : list.rfind(", ") + 2);
      return "GRANT " + std::string(pick) + " ON *.*" + to;
    }
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR: {
      // "INSERT command denied to user 'cdc'@'host' for table `db`.`t`"
      auto end = message.find(" command denied");
      if (end == std::string_view::npos) return {};
      return "GRANT " + std::string(message.substr(0, end)) + " ON " + db + to;
    }
    case ER_DBACCESS_DENIED_ERROR:
      // No privilege at all on the database: the whole grant of the role.
      if (role == ErrorKind::Destination)
        return "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, CREATE TEMPORARY TABLES ON " + db + to;
      return "GRANT SELECT ON " + db + to;
    case ER_ACCESS_DENIED_ERROR:
      return {};  // user, password or host refused: no GRANT makes that right
    default:
      return {};
  }
}

Error make_error(ErrorKind kind, unsigned code, const char* sqlstate, const char* message, std::string_view what,
                 std::string_view where, const ConnParams* who) {
  // A server in read_only (a replica, a primary demoted by a failover) refuses writes until it is
  // writable again, or until a new connection reaches the new primary: retried as a lost connection is.
  const bool read_only = code == ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION ||
                         (code == ER_OPTION_PREVENTS_STATEMENT && message && std::string_view(message).find("read-only") != std::string_view::npos);
  bool retry = retryable_code(code) || read_only;
  ErrorKind k = (code >= 2000 && code < 3000) || code == ER_CON_COUNT_ERROR || code == ER_SERVER_SHUTDOWN ||
                        code == ER_CONNECTION_KILLED || read_only
                    ? ErrorKind::Connection
                    : kind;
  if (code == ER_ACCESS_DENIED_ERROR || code == ER_DBACCESS_DENIED_ERROR || code == ER_BAD_DB_ERROR) {
    k = ErrorKind::Connection;
    retry = false;
  }
  std::string msg = fmt::format("{}: MariaDB error {}", what, code);
  if (sqlstate && *sqlstate && std::string_view(sqlstate) != "00000") msg += fmt::format(" ({})", sqlstate);
  msg += fmt::format(": {}", message ? message : "?");
  if (is_privilege_error(code)) {
    retry = false;
    if (code == ER_ACCESS_DENIED_ERROR) {
      msg += " (the server refused this user, password or client host)";
    } else {
      std::string grant = who ? missing_privilege(kind, code, message ? message : "", *who) : std::string();
      msg += "; the user lacks a privilege" + (grant.empty() ? std::string() : ": " + grant) +
             " (docs/privileges.md lists what cdc needs)";
    }
  }
  return Error(k, std::move(msg), retry, std::string(where));
}

namespace {

// LOAD DATA LOCAL fed from memory: libmariadb's infile callbacks over a LocalFeed, armed for one
// statement by Conn::load_local. Unarmed (userdata null) they refuse, so a server that asks for a
// file unprompted gets nothing, and libmariadb's own handler, which reads files, is never used.
struct LocalFeed {
  const std::function<std::size_t(char*, std::size_t)>* fill;
  std::exception_ptr error;
  bool started;
};

int feed_init(void** ptr, const char*, void* userdata) {
  *ptr = userdata;
  auto* f = static_cast<LocalFeed*>(userdata);
  if (!f || f->started) return 1;  // one file per armed statement
  f->started = true;
  return 0;
}

int feed_read(void* ptr, char* buf, unsigned int len) {
  auto* f = static_cast<LocalFeed*>(ptr);
  try {
    return static_cast<int>((*f->fill)(buf, len));
  } catch (...) {
    f->error = std::current_exception();
    return -1;
  }
}

void feed_end(void*) {}

int feed_error(void* ptr, char* msg, unsigned int len) {
  const auto* f = static_cast<const LocalFeed*>(ptr);
  std::snprintf(msg, len, "%s", f && f->error ? "cdc: the rows to load could not be rendered" : "cdc sends no local files unasked");
  return CR_UNKNOWN_ERROR;
}

void refuse_local_files(MYSQL* m) { mysql_set_local_infile_handler(m, feed_init, feed_read, feed_end, feed_error, nullptr); }

}  // namespace

Conn::Conn(const ConnParams& params, ErrorKind kind) : params_(params), kind_(kind) {
  library_init();
  m_ = mysql_init(nullptr);
  if (!m_) throw Error(ErrorKind::Internal, "mysql_init failed (out of memory)");
  unsigned timeout = params.connect_timeout;
  mysql_options(m_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  if (params.read_timeout) mysql_options(m_, MYSQL_OPT_READ_TIMEOUT, &params.read_timeout);
  mysql_options(m_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_options(m_, MYSQL_INIT_COMMAND,
                "SET time_zone = '+00:00', "
                "sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', "
                "net_write_timeout = 3600, net_read_timeout = 3600");
  bool reconnect = false;
  mysql_options(m_, MYSQL_OPT_RECONNECT, &reconnect);
  if (params.socket.empty()) {
    // The URL names a host and port: "localhost" too means TCP, not the default socket.
    unsigned protocol = MYSQL_PROTOCOL_TCP;
    mysql_options(m_, MYSQL_OPT_PROTOCOL, &protocol);
  }
  set_tls_options(params);
  if (params.local_infile) {
    unsigned on = 1;
    mysql_options(m_, MYSQL_OPT_LOCAL_INFILE, &on);
    refuse_local_files(m_);
  }
  if (!mysql_real_connect(m_, params.socket.empty() ? params.host.c_str() : nullptr, params.user.c_str(),
                          params.password.c_str(), params.database.c_str(),
                          static_cast<unsigned>(params.socket.empty() ? params.port : 0),
                          params.socket.empty() ? nullptr : params.socket.c_str(), CLIENT_FOUND_ROWS)) {
    unsigned code = mysql_errno(m_);
    std::string msg = mysql_error(m_);
    std::string state = mysql_sqlstate(m_);
    mysql_close(m_);
    m_ = nullptr;
    throw connect_error(code, state, msg);
  }
  // libmariadb falls back to plain text when the server offers no TLS; REQUIRED and stronger
  // modes refuse such a connection here.
  if (params.ssl_mode != SslMode::Disabled && params.ssl_mode != SslMode::Preferred && params.socket.empty() &&
      !mysql_get_ssl_cipher(m_)) {
    mysql_close(m_);
    m_ = nullptr;
    throw Error(ErrorKind::Connection,
                fmt::format("cannot connect to {}: ssl-mode={} but the server does not offer TLS (it has no ssl-cert and "
                            "ssl-key configured); configure TLS on the server, or set ssl-mode=PREFERRED or DISABLED",
                            params.redacted, to_string(params.ssl_mode)),
                false, params.redacted);
  }
}

void Conn::set_tls_options(const ConnParams& p) {
  if (p.ssl_mode == SslMode::Disabled) return;
  if (p.ssl_mode == SslMode::Preferred && !p.socket.empty()) return;  // a local socket needs no TLS
  my_bool on = 1, off = 0;
  // Any TLS option makes libmariadb ask for TLS; a CA makes it verify the chain during the
  // handshake; VERIFY_SERVER_CERT adds the check that the certificate names the host.
  mysql_options(m_, MYSQL_OPT_SSL_ENFORCE, &on);
  if (!p.ssl_ca.empty()) mysql_options(m_, MYSQL_OPT_SSL_CA, p.ssl_ca.c_str());
  if (!p.ssl_cert.empty()) mysql_options(m_, MYSQL_OPT_SSL_CERT, p.ssl_cert.c_str());
  if (!p.ssl_key.empty()) mysql_options(m_, MYSQL_OPT_SSL_KEY, p.ssl_key.c_str());
  mysql_options(m_, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, p.ssl_mode == SslMode::VerifyIdentity ? &on : &off);
}

Error Conn::connect_error(unsigned code, const std::string& state, const std::string& msg) const {
  const ConnParams& p = params_;
  const std::string what = fmt::format("cannot connect to {}", p.redacted);
  Error e = make_error(ErrorKind::Connection, code, state.c_str(), msg.c_str(), what, "", &p);
  bool retry = e.retryable() || (code >= 2000 && code < 3000);
  std::string text = e.message();
  if (code == CR_SSL_CONNECTION_ERROR) {
    // A certificate that does not verify stays so: no retry. libmariadb says "Validation of SSL
    // server certificate failed" for a name mismatch and OpenSSL's reason for a bad chain.
    retry = false;
    if (msg.find("Validation of SSL server certificate") != std::string::npos)
      text += fmt::format(" (ssl-mode=VERIFY_IDENTITY: the server's certificate does not name the host \"{}\"; connect by a "
                          "name the certificate holds, or use ssl-mode=VERIFY_CA to check the CA only)",
                          p.host);
    else if (!p.ssl_ca.empty())
      text += fmt::format(" (the server's certificate could not be verified against ssl-ca={} with ssl-mode={})", p.ssl_ca,
                          to_string(p.ssl_mode));
    else
      text += fmt::format(" (TLS handshake with ssl-mode={})", to_string(p.ssl_mode));
  } else if (code == ER_ACCESS_DENIED_ERROR && p.ssl_mode == SslMode::Disabled && p.socket.empty()) {
    // MariaDB refuses plain text under require_secure_transport=ON with this same error
    // (MySQL says so with its own code, ER_SECURE_TRANSPORT_REQUIRED).
    text += " (the connection was plain text, ssl-mode=DISABLED: if the server requires TLS "
            "(require_secure_transport=ON) it refuses it this way; set ssl-mode=VERIFY_IDENTITY and ssl-ca=<CA file>)";
  } else if (code == kSecureTransportRequired) {
    retry = false;
    text += fmt::format(" (the server requires TLS and the connection had ssl-mode={}: set ssl-mode=VERIFY_IDENTITY and "
                        "ssl-ca=<CA file>)",
                        to_string(p.ssl_mode));
  }
  return Error(ErrorKind::Connection, std::move(text), retry, p.redacted);
}

Conn::~Conn() {
  if (m_) mysql_close(m_);
}

Conn::Conn(Conn&& o) noexcept : m_(o.m_), params_(std::move(o.params_)), kind_(o.kind_) { o.m_ = nullptr; }

Conn& Conn::operator=(Conn&& o) noexcept {
  if (this != &o) {
    if (m_) mysql_close(m_);
    m_ = o.m_;
    o.m_ = nullptr;
    params_ = std::move(o.params_);
    kind_ = o.kind_;
  }
  return *this;
}

Error Conn::error(std::string_view what, std::string_view where) const {
  return make_error(kind_, mysql_errno(m_), mysql_sqlstate(m_), mysql_error(m_), what, where, &params_);
}

void Conn::fail(std::string_view what, std::string_view where) const { throw error(what, where); }

namespace {
std::string head(std::string_view sql) {
  // Statement text in messages: the first words only (values never reach SQL text anyway, but
  // a long multi-row INSERT is noise).
  std::string s(sql.substr(0, 80));
  if (sql.size() > 80) s += "...";
  return s;
}
}  // namespace

Conn::Loaded Conn::load_local(std::string_view sql, const std::function<std::size_t(char*, std::size_t)>& fill,
                              std::string_view where) {
  if (!params_.local_infile) throw Error(ErrorKind::Internal, "load_local on a connection without local_infile", false, std::string(where));
  LocalFeed feed{&fill, nullptr, false};
  mysql_set_local_infile_handler(m_, feed_init, feed_read, feed_end, feed_error, &feed);
  const int rc = mysql_real_query(m_, sql.data(), sql.size());
  refuse_local_files(m_);
  if (feed.error) std::rethrow_exception(feed.error);
  if (rc != 0) fail(head(sql), where);
  if (mysql_field_count(m_) != 0) fail(head(sql), where);
  return Loaded{mysql_warning_count(m_), static_cast<std::uint64_t>(mysql_affected_rows(m_))};
}

void Conn::exec(std::string_view sql, std::string_view where) {
  if (mysql_real_query(m_, sql.data(), sql.size()) != 0) fail(head(sql), where);
  // Drain every result the statement produced.
  do {
    if (MYSQL_RES* r = mysql_store_result(m_)) mysql_free_result(r);
    else if (mysql_field_count(m_) != 0) fail(head(sql), where);
  } while (mysql_next_result(m_) == 0);
}

Result Conn::query(std::string_view sql, std::string_view where) {
  if (mysql_real_query(m_, sql.data(), sql.size()) != 0) fail(head(sql), where);
  MYSQL_RES* res = mysql_use_result(m_);
  if (!res) {
    if (mysql_field_count(m_) != 0) fail(head(sql), where);
    return Result();
  }
  return Result(m_, res, this, std::string(where));
}

std::optional<std::string> Conn::scalar(std::string_view sql, std::string_view where) {
  Result r = query(sql, where);
  std::optional<std::string> out;
  if (r.next() && r.field_count() > 0) out = r.opt(0);
  while (r.next()) {
  }
  return out;
}

std::vector<std::vector<std::optional<std::string>>> Conn::rows(std::string_view sql, std::string_view where) {
  Result r = query(sql, where);
  std::vector<std::vector<std::optional<std::string>>> out;
  while (r.next()) {
    auto& row = out.emplace_back();
    for (unsigned i = 0; i < r.field_count(); ++i) row.push_back(r.opt(i));
  }
  return out;
}

void Conn::append_quoted(std::string& out, std::string_view data) const {
  // Escaped in pieces, so that the statement grows by about the escaped size instead of twice the
  // value's (the room escaping may need): a 20 MB value costs 20 MB more, not 40. Pieces cut
  // anywhere escape as the whole does: the connection's character set is utf8mb4, only ASCII
  // bytes are ever escaped, and no byte of a multi-byte character is ASCII.
  constexpr std::size_t piece = 64 * 1024;
  const std::size_t need = out.size() + data.size() + data.size() / 16 + 2;
  if (out.capacity() < need) out.reserve(need);  // (a smaller reserve() shrinks, before C++20)
  out += '\'';
  for (std::size_t at = 0; at < data.size(); at += piece) {
    const std::size_t len = std::min(piece, data.size() - at);
    const std::size_t start = out.size();
    out.resize(start + len * 2 + 1);
    unsigned long n = mysql_real_escape_string(m_, &out[start], data.data() + at, len);
    out.resize(start + n);
  }
  out += '\'';
}

void Conn::rollback_quietly() noexcept {
  if (m_) mysql_real_query(m_, "ROLLBACK", 8);
}

Result::Result(MYSQL* m, MYSQL_RES* res, const Conn* conn, std::string where)
    : m_(m), res_(res), conn_(conn), where_(std::move(where)) {
  nfields_ = mysql_num_fields(res_);
  fields_ = mysql_fetch_fields(res_);
}

Result::~Result() { reset(); }

void Result::reset() noexcept {
  if (res_) {
    // Unbuffered: the rest must be read off the wire before the connection is usable again.
    while (mysql_fetch_row(res_)) {
    }
    mysql_free_result(res_);
  }
  res_ = nullptr;
}

Result::Result(Result&& o) noexcept
    : m_(o.m_), res_(o.res_), conn_(o.conn_), where_(std::move(o.where_)), row_(o.row_), lengths_(o.lengths_),
      fields_(o.fields_), nfields_(o.nfields_) {
  o.res_ = nullptr;
}

Result& Result::operator=(Result&& o) noexcept {
  if (this != &o) {
    reset();
    m_ = o.m_;
    res_ = o.res_;
    conn_ = o.conn_;
    where_ = std::move(o.where_);
    row_ = o.row_;
    lengths_ = o.lengths_;
    fields_ = o.fields_;
    nfields_ = o.nfields_;
    o.res_ = nullptr;
  }
  return *this;
}

bool Result::next() {
  if (!res_) return false;
  row_ = mysql_fetch_row(res_);
  if (!row_) {
    unsigned code = mysql_errno(m_);
    mysql_free_result(res_);
    res_ = nullptr;
    if (code) throw conn_->error("reading a result set", where_);
    return false;
  }
  lengths_ = mysql_fetch_lengths(res_);
  return true;
}

}  // namespace cdc::mysql
