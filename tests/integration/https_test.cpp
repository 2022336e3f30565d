// The HTTP endpoint over TLS (HttpOptions::tls_cert / tls_key, `http.tls_cert` / `http.tls_key`):
// curl, trusting the test CA made by scripts/test-certs.sh, reads /healthz and /api/v1/status of a
// running session; a client trusting another CA, and plain HTTP to the TLS port, get nothing; a
// certificate or key that does not load is an error naming its config key.
#include "support/sqlite_fixture.h"
#include "support/wait.h"

#include <cdc/cdc.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <string>

#include <sys/wait.h>

using cdc_test::Db;
using cdc_test::TempDir;
using cdc_test::url;

namespace {

struct Run {
  int code = -1;
  std::string out;
};

Run run(const std::string& command) {
  Run r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// curl's exit code and body (-s: no progress; -S: errors; --max-time: a hung handshake fails).
Run curl(const std::string& args) { return run("curl -sS --max-time 20 " + args); }

}  // namespace

TEST_CASE("https: the endpoint serves TLS with http.tls_cert and http.tls_key", "[sqlite][http][tls]") {
  cdc_test::QuietLog quiet;
  TempDir dir;
  const std::string certs = dir.file("tls");
  REQUIRE(run("bash " CDC_SOURCE_DIR "/scripts/test-certs.sh " + certs).code == 0);
  std::string src = dir.file("src.db"), dst = dir.file("dst.db");
  {
    Db s(src);
    s.exec("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a VALUES (1, 'x'), (2, 'y')");
  }
  // From a config file's `http` section, as cdc-cli reads it.
  cdc::Config cfg = cdc::parse_config_yaml("name: shop\nsource: " + url(src) + "\ndestination: " + url(dst) +
                                           "\nhttp: {listen: '127.0.0.1:0', tls_cert: " + certs + "/server.pem, tls_key: " +
                                           certs + "/server.key}\n");
  cdc::ReplicationSession session(cfg);
  cdc::HttpServer server(cdc::HttpOptions::from_config(cfg.http));
  server.add_pipeline("shop", session);
  server.start();
  session.start();
  const std::string port = std::to_string(server.port());
  const std::string ca = " --cacert " + certs + "/ca.pem ";

  auto health = curl(ca + "https://127.0.0.1:" + port + "/healthz");
  INFO(health.out);
  CHECK(health.code == 0);
  CHECK(health.out.find("\"ok\"") != std::string::npos);
  // The certificate names localhost too.
  CHECK(curl(ca + "-o /dev/null -w '%{http_code}' https://localhost:" + port + "/healthz").out == "200");

  REQUIRE(cdc_test::eventually([&] {
    auto st = session.status();
    return st.tables.size() == 1 && st.tables[0].phase == cdc::TablePhase::Streaming;
  }));
  auto status = curl(ca + "https://127.0.0.1:" + port + "/api/v1/status");
  INFO(status.out);
  REQUIRE(status.code == 0);
  auto doc = boost::json::parse(status.out);
  auto& p = doc.at("pipelines").as_array().at(0);
  CHECK(p.at("name") == "shop");
  CHECK(p.at("tables").as_array().at(0).at("table") == "a");

  // Trusting another CA: curl refuses the certificate (60: peer certificate cannot be authenticated).
  auto wrong = curl("--cacert " + certs + "/other-ca.pem https://127.0.0.1:" + port + "/healthz");
  INFO(wrong.out);
  CHECK(wrong.code == 60);
  // Plain HTTP to the TLS port gets no HTTP answer; the server goes on serving TLS.
  auto plain = curl("http://127.0.0.1:" + port + "/healthz");
  CHECK(plain.code != 0);
  CHECK(plain.out.find("\"ok\"") == std::string::npos);
  CHECK(curl(ca + "-o /dev/null -w '%{http_code}' https://127.0.0.1:" + port + "/healthz").out == "200");
  session.stop();
  session.wait();
  server.stop();
}

TEST_CASE("https: a certificate or key that does not load, or one without the other, names its key", "[unit][http][tls]") {
  TempDir dir;
  const std::string certs = dir.file("tls");
  REQUIRE(run("bash " CDC_SOURCE_DIR "/scripts/test-certs.sh " + certs).code == 0);
  auto start_failure = [](cdc::HttpOptions o) {
    o.listen = "127.0.0.1:0";
    try {
      cdc::HttpServer s(o);
      s.start();
      return std::string("started");
    } catch (const cdc::Error& e) {
      CHECK(e.kind() == cdc::ErrorKind::Config);
      return std::string(e.what());  // "where: message"
    }
  };
  cdc::HttpOptions o;
  o.tls_cert = certs + "/missing.pem";
  o.tls_key = certs + "/server.key";
  CHECK(start_failure(o).rfind("http.tls_cert: cannot load the certificate " + certs + "/missing.pem", 0) == 0);
  o.tls_cert = certs + "/server.pem";
  o.tls_key = certs + "/client.key";  // another certificate's key
  CHECK(start_failure(o).rfind("http.tls_key: cannot load the private key " + certs + "/client.key", 0) == 0);
  o.tls_key.clear();
  CHECK(start_failure(o).rfind("http.tls_cert: tls_cert and tls_key go together", 0) == 0);

  try {
    cdc::parse_config_yaml("source: sqlite:///a.db\ndestination: sqlite:///b.db\nhttp: {listen: '127.0.0.1:0', tls_key: k.pem}\n");
    FAIL("accepted");
  } catch (const cdc::Error& e) {
    CHECK(e.where() == "http.tls_key");
    CHECK(std::string(e.what()).find("tls_cert and tls_key go together") != std::string::npos);
  }
}
