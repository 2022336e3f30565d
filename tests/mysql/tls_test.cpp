// MariaDB over TLS: a server that requires it (scripts/mariadb-server.sh --tls: certificates made by
// scripts/test-certs.sh, require_secure_transport=ON, listening on 127.0.0.1 which its
// certificate names and on 127.0.0.2 which it does not) and the plain fixture server (no TLS).
// Verified connections work for SQL and for the binlog; a wrong CA, a host the certificate does not
// name, plain text and TLS the server cannot give are each refused with an error that says so,
// names the URL parameter and never the password. The same server also runs the value-by-value
// copy and replication tests of integration_test.cpp (tests/mysql/CMakeLists.txt).
#include "mysql/mysql_conn.h"
#include "mysql_test_util.h"
#include "support/cli_process.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace cdc;
using cdc::mysql::Conn;
using cdc::mysql::ConnParams;
using mysql_test::connect;
using mysql_test::Dbs;
using mysql_test::url_for;

namespace {

const std::string kTlsDir = CDC_MARIADB_TEST_DIR;
const std::string kCerts = kTlsDir + "/tls/";
const char* kPassword = "Tls-Pa55word-7f3c";  // distinctive: it must appear in no message

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

std::string port() { return read_line(kTlsDir + "/port"); }

// A URL of the TLS server for user `cdc_tls` (created below, with a password), with `params`.
std::string tls_url(const std::string& host, const std::string& db, const std::string& params) {
  return fmt::format("mysql://cdc_tls:{}@{}:{}/{}{}{}", kPassword, host, port(), db, params.empty() ? "" : "?", params);
}

void create_user() {
  Conn c = connect("mysql");
  c.exec(fmt::format("CREATE USER IF NOT EXISTS 'cdc_tls'@'%' IDENTIFIED BY '{}'", kPassword));
  c.exec("GRANT ALL ON *.* TO 'cdc_tls'@'%'");
  c.exec("CREATE USER IF NOT EXISTS 'cdc_x509'@'%' REQUIRE SUBJECT '/O=cdc tests/CN=cdc-test-client'");
  c.exec("GRANT ALL ON *.* TO 'cdc_x509'@'%'");
}

std::string cipher(Conn& c) {
  auto rows = c.rows("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
  return rows.empty() || !rows[0][1] ? "" : *rows[0][1];
}

// The message of the Error that opening `url` throws ("" when it connects).
std::string connect_failure(const std::string& url, bool* retryable = nullptr) {
  try {
    Conn c(ConnParams::from_url(ConnectorUrl::parse(url), "source"), ErrorKind::Source);
    return "";
  } catch (const Error& e) {
    if (retryable) *retryable = e.retryable();
    return e.what();
  }
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("VERIFY_IDENTITY and VERIFY_CA connect over TLS, with a client certificate too", "[mysql][tls]") {
  create_user();
  const std::string ca = "ssl-ca=" + kCerts + "ca.pem";
  for (const std::string& params : {"ssl-mode=VERIFY_IDENTITY&" + ca, "ssl-mode=VERIFY_CA&" + ca, ca,
                                    "ssl_mode=verify_identity&ssl_ca=" + kCerts + "ca.pem", std::string("ssl-mode=REQUIRED"),
                                    std::string()}) {
    INFO(params);
    Conn c(ConnParams::from_url(ConnectorUrl::parse(tls_url("127.0.0.1", "mysql", params)), "source"), ErrorKind::Source);
    CHECK_FALSE(cipher(c).empty());
  }
  // The certificate names localhost as well; "localhost" in a URL is TCP, not the local socket.
  Conn by_name(ConnParams::from_url(ConnectorUrl::parse(tls_url("localhost", "mysql", "ssl-mode=VERIFY_IDENTITY&" + ca)),
                                    "source"),
               ErrorKind::Source);
  CHECK_FALSE(cipher(by_name).empty());
  // 127.0.0.2 is not in the certificate: VERIFY_CA checks the CA only and accepts it.
  Conn other(ConnParams::from_url(ConnectorUrl::parse(tls_url("127.0.0.2", "mysql", "ssl-mode=VERIFY_CA&" + ca)), "source"),
             ErrorKind::Source);
  CHECK_FALSE(cipher(other).empty());

  // A user that must present a client certificate: ssl-cert and ssl-key reach the server.
  const std::string x509 = fmt::format("mysql://cdc_x509@127.0.0.1:{}/mysql?ssl-mode=VERIFY_IDENTITY&{}", port(), ca);
  Conn with_cert(ConnParams::from_url(ConnectorUrl::parse(x509 + "&ssl-cert=" + kCerts + "client.pem&ssl-key=" + kCerts +
                                                          "client.key"),
                                      "source"),
                 ErrorKind::Source);
  CHECK(with_cert.scalar("SELECT CURRENT_USER()").value_or("") == "cdc_x509@%");
  CHECK(contains(connect_failure(x509), "Access denied"));
}

TEST_CASE("a wrong CA, a host the certificate does not name and plain text are refused clearly", "[mysql][tls]") {
  create_user();
  bool retryable = true;

  SECTION("a CA that did not sign the server's certificate") {
    const std::string other_ca = kCerts + "other-ca.pem";
    for (const char* mode : {"VERIFY_CA", "VERIFY_IDENTITY"}) {
      std::string msg = connect_failure(tls_url("127.0.0.1", "mysql", fmt::format("ssl-mode={}&ssl-ca={}", mode, other_ca)),
                                        &retryable);
      INFO(msg);
      CHECK(contains(msg, "could not be verified against ssl-ca=" + other_ca));
      CHECK(contains(msg, std::string("ssl-mode=") + mode));
      CHECK(contains(msg, "cdc_tls:***@127.0.0.1"));
      CHECK_FALSE(contains(msg, kPassword));
      CHECK_FALSE(retryable);  // a retry would not help: the session must stop, not wait forever
    }
  }
  SECTION("VERIFY_IDENTITY to an address the certificate does not name") {
    std::string msg =
        connect_failure(tls_url("127.0.0.2", "mysql", "ssl-mode=VERIFY_IDENTITY&ssl-ca=" + kCerts + "ca.pem"), &retryable);
    INFO(msg);
    CHECK(contains(msg, "does not name the host \"127.0.0.2\""));
    CHECK(contains(msg, "ssl-mode=VERIFY_CA"));
    CHECK_FALSE(contains(msg, kPassword));
    CHECK_FALSE(retryable);
  }
  SECTION("plain text to a server that requires TLS") {
    std::string msg = connect_failure(tls_url("127.0.0.1", "mysql", "ssl-mode=DISABLED"), &retryable);
    INFO(msg);
    // MariaDB answers "Access denied" (MySQL has a code of its own): the message says what it may mean.
    CHECK(contains(msg, "Access denied"));
    CHECK(contains(msg, "the connection was plain text, ssl-mode=DISABLED"));
    CHECK(contains(msg, "require_secure_transport=ON"));
    CHECK(contains(msg, "cdc_tls:***@127.0.0.1"));
    CHECK_FALSE(contains(msg, kPassword));
    CHECK_FALSE(retryable);
  }
}

TEST_CASE("a server without TLS: REQUIRED and stronger refuse it, PREFERRED falls back to plain text", "[mysql][tls]") {
  std::string plain = read_line(std::string(CDC_MARIADB_PLAIN_TEST_DIR) + "/url");
  REQUIRE_FALSE(plain.empty());
  {
    Conn c(ConnParams::from_url(ConnectorUrl::parse(plain), "source"), ErrorKind::Source);  // PREFERRED by default
    CHECK(cipher(c).empty());
  }
  for (const std::string& params : {std::string("ssl-mode=REQUIRED"), "ssl-mode=VERIFY_CA&ssl-ca=" + kCerts + "ca.pem",
                                    "ssl-mode=VERIFY_IDENTITY&ssl-ca=" + kCerts + "ca.pem"}) {
    bool retryable = true;
    std::string msg = connect_failure(plain + "?" + params, &retryable);
    INFO(msg);
    CHECK((contains(msg, "the server does not offer TLS") || contains(msg, "does not support")));
    CHECK_FALSE(retryable);
  }
}

TEST_CASE("TLS URL parameters are checked before connecting", "[mysql][tls]") {
  auto config_failure = [](const std::string& params) {
    try {
      ConnParams::from_url(ConnectorUrl::parse(tls_url("127.0.0.1", "db", params)), "source");
      return std::string();
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::Config);
      CHECK_FALSE(contains(e.what(), kPassword));
      return std::string(e.what());
    }
  };
  CHECK(contains(config_failure("ssl-mode=ALWAYS"), "ssl-mode=\"ALWAYS\" is not one of DISABLED, PREFERRED"));
  CHECK(contains(config_failure("ssl-mode=VERIFY_CA"), "ssl-mode=VERIFY_CA needs ssl-ca="));
  CHECK(contains(config_failure("ssl-ca=/nonexistent/ca.pem"), "ssl-ca: cannot read /nonexistent/ca.pem"));
  CHECK(contains(config_failure("ssl-mode=DISABLED&ssl-ca=" + kCerts + "ca.pem"), "ssl-mode=DISABLED with ssl-ca"));
  CHECK(contains(config_failure("ssl-cert=" + kCerts + "client.pem"), "ssl-cert and ssl-key go together"));
  CHECK(contains(config_failure("sslmode=require"), "unknown parameter \"sslmode\""));
}

TEST_CASE("a replicated session streams the binlog over TLS: snapshot, then changes, value by value", "[mysql][tls]") {
  // require_secure_transport=ON: the binlog connection, over TCP, can only be TLS.
  Dbs dbs("tls_stream");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(12,3), at DATETIME(6), raw VARBINARY(16))");
  c.exec("INSERT INTO t VALUES (1, 'one', 1.500, '2024-01-02 03:04:05.123456', x'00ff'), (2, 'zwei \xc3\xa4', -2.250, NULL, NULL)");
  Config cfg;
  cfg.source = dbs.src_url();
  cfg.destination = dbs.dst_url();
  REQUIRE(contains(cfg.source, "ssl-mode=VERIFY_IDENTITY"));
  cfg.name = "tls";
  cfg.poll_interval_ms = 100;
  ReplicationSession session(cfg, SessionOptions{});
  session.start();
  auto wait_streaming = [&] {
    for (int i = 0; i < 600; ++i) {
      auto st = session.status();
      bool streaming = !st.tables.empty();
      for (auto& t : st.tables) streaming = streaming && t.phase == TablePhase::Streaming;
      if (streaming) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  REQUIRE(wait_streaming());
  c.exec("INSERT INTO t VALUES (3, 'drei', 3.000, '2038-01-19 03:14:07.999999', x'0102')");
  c.exec("UPDATE t SET name = 'uno', raw = x'' WHERE id = 1");
  c.exec("DELETE FROM t WHERE id = 2");
  auto src = ConnectorRegistry::instance().open_source(dbs.src_url());
  auto dst = ConnectorRegistry::instance().open_source(dbs.dst_url());
  auto rows_of = [](SourceConnector& s) {
    auto tables = s.discover([](const TableId& id) { return id.name == "t"; });
    REQUIRE(tables.size() == 1);
    ReadRequest req;
    req.schema = tables[0];
    auto r = s.read_chunk(req);
    std::vector<Row> all, batch;
    while (r->next(batch))
      for (auto& row : batch) all.push_back(row);
    return all;
  };
  std::vector<Row> want = rows_of(*src), got;
  REQUIRE(want.size() == 2);
  for (int i = 0; i < 300 && got != want; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    got = rows_of(*dst);
  }
  session.stop();
  session.wait();
  REQUIRE(got.size() == want.size());
  for (std::size_t r = 0; r < want.size(); ++r)
    for (std::size_t col = 0; col < want[r].size(); ++col) {
      INFO("row " << r << " column " << col << ": " << got[r][col].to_display(80) << " vs " << want[r][col].to_display(80));
      CHECK(got[r][col] == want[r][col]);
    }
}

#if defined(CDC_CLI_PATH)
TEST_CASE("cdc-cli copy over verified TLS works, and with a wrong CA stops with the reason", "[mysql][tls]") {
  create_user();
  Dbs dbs("tls_cli");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20))");
  c.exec("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, NULL)");
  const std::string ca = "ssl-ca=" + kCerts + "ca.pem";
  const std::string log = kTlsDir + "/tmp/cli-tls.log";
  std::remove(log.c_str());
  auto src = tls_url("127.0.0.1", dbs.src, "ssl-mode=VERIFY_IDENTITY&" + ca);
  auto dst = tls_url("127.0.0.1", dbs.dst, "ssl-mode=VERIFY_CA&" + ca);
  CHECK(cdc_test::run_cli({"copy", src, dst}, "", log).code == 0);
  Conn d = connect(dbs.dst);
  CHECK(d.scalar("SELECT GROUP_CONCAT(id, '=', IFNULL(v, 'NULL') ORDER BY id) FROM items").value_or("") == "1=a,2=b,3=NULL");

  std::remove(log.c_str());
  auto bad = tls_url("127.0.0.1", dbs.src, "ssl-mode=VERIFY_IDENTITY&ssl-ca=" + kCerts + "other-ca.pem");
  auto e = cdc_test::run_cli({"copy", bad, dst}, "", log);
  std::string text = cdc_test::slurp(log);
  INFO(text);
  CHECK(e.code == 1);
  CHECK(contains(text, "could not be verified against ssl-ca=" + kCerts + "other-ca.pem"));
  CHECK_FALSE(contains(text, kPassword));
}
#endif
