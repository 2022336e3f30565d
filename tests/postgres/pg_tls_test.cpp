// PostgreSQL over TLS: a server with ssl=on and only `hostssl` lines for TCP (scripts/pg-server.sh
// --tls; it listens on 127.0.0.1, which its certificate names, and on 127.0.0.2, which it does
// not), and the plain fixture server. libpq's sslmode, sslrootcert, sslcert and sslkey reach both
// the SQL and the replication connections; a wrong CA, a host the certificate does not name,
// plain text and TLS the server cannot give are refused, not retried, with the URL parameter named
// and never the password. The value-by-value replication tests of pg_replication_test.cpp run
// against this server too (tests/postgres/CMakeLists.txt).
#include "pg_test_util.h"

#include "postgres/pg_conn.h"

#include <fmt/format.h>

using namespace pg_test;

namespace {

const std::string kTlsDir = CDC_PG_TLS_DIR;
const std::string kCerts = kTlsDir + "/tls/";
const char* kPassword = "Pg-Tls-Pa55-9d2e";

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

// "127.0.0.1:PORT" of the TLS server, from its URL.
std::string port() {
  std::string u = read_line(kTlsDir + "/url");
  auto colon = u.find(':', u.find('@'));
  return u.substr(colon + 1, u.find('/', colon) - colon - 1);
}

std::string tls_url(const std::string& host, const std::string& user, const std::string& params) {
  return fmt::format("postgresql://{}:{}@{}:{}/postgres?{}", user, kPassword, host, port(), params);
}

// The message of the Error that connecting to `url` throws ("" when it connects).
std::string connect_failure(const std::string& url, bool* retryable = nullptr,
                            cdc::pg::ConnKind kind = cdc::pg::ConnKind::Normal) {
  try {
    cdc::pg::Conn c(cdc::pg::conn_params(cdc::ConnectorUrl::parse(url)), cdc::ErrorKind::Source, kind);
    return "";
  } catch (const cdc::Error& e) {
    if (retryable) *retryable = e.retryable();
    return e.what();
  }
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string ssl_of_session(const std::string& url) {
  cdc::pg::Conn c(cdc::pg::conn_params(cdc::ConnectorUrl::parse(url)), cdc::ErrorKind::Source);
  auto r = c.exec("SELECT ssl::text || ' ' || version FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
  return r.rows() ? r.text(0, 0) : "";
}

}  // namespace

TEST_CASE("postgres tls: verify-full and verify-ca connect over TLS, SQL and replication, with a client certificate too",
          "[postgres][tls]") {
  const std::string ca = "sslrootcert=" + kCerts + "ca.pem";
  CHECK(contains(ssl_of_session(tls_url("127.0.0.1", "postgres", "sslmode=verify-full&" + ca)), "true TLSv1."));
  CHECK(contains(ssl_of_session(tls_url("localhost", "postgres", "sslmode=verify-full&" + ca)), "true TLSv1."));
  CHECK(contains(ssl_of_session(tls_url("127.0.0.2", "postgres", "sslmode=verify-ca&" + ca)), "true TLSv1."));
  // A replication connection with the same settings.
  CHECK(connect_failure(tls_url("127.0.0.1", "postgres", "sslmode=verify-full&" + ca), nullptr, cdc::pg::ConnKind::Replication) ==
        "");
  // The role named like the client certificate logs in by that certificate only (pg_hba `cert`).
  Conn admin(server_url());
  admin.exec("DO $$ BEGIN CREATE ROLE \"cdc-test-client\" LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
  std::string cert = fmt::format("sslmode=verify-full&{}&sslcert={}client.pem&sslkey={}client.key", ca, kCerts, kCerts);
  CHECK(contains(ssl_of_session(tls_url("127.0.0.1", "cdc-test-client", cert)), "true"));
  bool retryable = false;
  std::string msg = connect_failure(tls_url("127.0.0.1", "cdc-test-client", "sslmode=verify-full&" + ca), &retryable);
  INFO(msg);
  CHECK(contains(msg, "certificate"));
  CHECK_FALSE(contains(msg, kPassword));
}

TEST_CASE("postgres tls: a wrong CA, a host the certificate does not name and plain text are refused clearly",
          "[postgres][tls]") {
  bool retryable = true;
  SECTION("a CA that did not sign the server's certificate") {
    for (const char* mode : {"verify-ca", "verify-full"})
      for (auto kind : {cdc::pg::ConnKind::Normal, cdc::pg::ConnKind::Replication}) {
        std::string msg = connect_failure(
            tls_url("127.0.0.1", "postgres", fmt::format("sslmode={}&sslrootcert={}other-ca.pem", mode, kCerts)), &retryable,
            kind);
        INFO(msg);
        CHECK(contains(msg, "could not be verified against sslrootcert=" + kCerts + "other-ca.pem"));
        CHECK(contains(msg, std::string("sslmode=") + mode));
        CHECK(contains(msg, "postgres:***@127.0.0.1"));
        CHECK_FALSE(contains(msg, kPassword));
        CHECK_FALSE(retryable);
      }
  }
  SECTION("verify-full to an address the certificate does not name") {
    std::string msg =
        connect_failure(tls_url("127.0.0.2", "postgres", "sslmode=verify-full&sslrootcert=" + kCerts + "ca.pem"), &retryable);
    INFO(msg);
    CHECK(contains(msg, "does not name this host"));
    CHECK(contains(msg, "sslmode=verify-ca"));
    CHECK_FALSE(retryable);
  }
  SECTION("plain text to a server that accepts only TLS") {
    for (auto kind : {cdc::pg::ConnKind::Normal, cdc::pg::ConnKind::Replication}) {
      std::string msg = connect_failure(tls_url("127.0.0.1", "postgres", "sslmode=disable"), &retryable, kind);
      INFO(msg);
      CHECK(contains(msg, "no encryption"));
      CHECK(contains(msg, "the connection was plain text (sslmode=disable)"));
      CHECK_FALSE(contains(msg, kPassword));
      CHECK_FALSE(retryable);
    }
  }
}

TEST_CASE("postgres tls: sslmode=require and stronger refuse a server without TLS", "[postgres][tls]") {
  std::string plain = read_line(CDC_PG_PLAIN_URL_FILE);  // the plain fixture server
  REQUIRE_FALSE(plain.empty());
  for (std::string params : {std::string("sslmode=require"), "sslmode=verify-full&sslrootcert=" + kCerts + "ca.pem"}) {
    bool retryable = true;
    std::string msg = connect_failure(plain + "?" + params, &retryable);
    INFO(msg);
    CHECK(contains(msg, "the server offers no TLS"));
    CHECK_FALSE(retryable);
  }
  CHECK(connect_failure(plain + "?sslmode=prefer") == "");
}

#if defined(CDC_CLI_PATH)
#include "support/cli_process.h"

TEST_CASE("postgres tls: cdc-cli copy over verify-full works, and with a wrong CA stops with the reason", "[postgres][tls]") {
  TempDb src("tlscli"), dst("tlsclid");
  Conn s(src.url());
  s.exec("CREATE TABLE items (id int PRIMARY KEY, v text, at timestamptz)");
  s.exec("INSERT INTO items VALUES (1, 'a', '2024-01-02 03:04:05.678+00'), (2, NULL, NULL), (3, 'ü', 'infinity')");
  TempDir dir;
  std::string log = dir.file("cli.log");
  auto with = [&](const std::string& db, const std::string& ca) {
    return fmt::format("postgresql://postgres:{}@127.0.0.1:{}/{}?sslmode=verify-full&sslrootcert={}{}", kPassword, port(), db,
                       kCerts, ca);
  };
  CHECK(cdc_test::run_cli({"copy", with(src.name(), "ca.pem"), with(dst.name(), "ca.pem")}, "", log).code == 0);
  Conn d(dst.url());
  CHECK(dump(d, "items") == dump(s, "items"));

  auto e = cdc_test::run_cli({"copy", with(src.name(), "other-ca.pem"), with(dst.name(), "ca.pem")}, "", log);
  std::string text = cdc_test::slurp(log);
  INFO(text);
  CHECK(e.code == 1);
  CHECK(contains(text, "could not be verified against sslrootcert=" + kCerts + "other-ca.pem"));
  CHECK_FALSE(contains(text, kPassword));
}
#endif
