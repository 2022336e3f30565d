// Harper destination end to end against a real Harper server (the harper_server_start fixture):
// `cdc-cli replicate` from a SQLite source, then every Harper table must equal its source table
// (a table without a key: its distinct rows), also after SIGKILLs mid-snapshot and mid-stream
// (the data is written before the checkpoint; replays are idempotent upserts and deletes). A record
// Harper refuses lands in _cdc_quarantine; bad URLs, an unreachable server and a wrong password are
// clear errors.
#include "support/event_fixture.h"
#include "support/free_port.h"
#include "support/harper_server.h"

#include <cdc/error.h>
#include <cdc/registry.h>

#include <catch2/catch.hpp>

using namespace cdc_test;

namespace {

std::string db_url(const std::string& tag) { return harper_base_url() + "/" + harper_database(tag); }

// The HTTPS port, `host` in place of 127.0.0.1, with `params`.
std::string tls_url(const std::string& tag, const std::string& params, const std::string& host = "127.0.0.1") {
  std::string u = harper_tls_base_url() + "/" + harper_database(tag) + "?" + params;
  return u.replace(u.find("@127.0.0.1:") + 1, 9, host);
}

}  // namespace

#ifdef CDC_CLI_PATH

TEST_CASE("harper: copy and replicate, every table mirrors its source table", "[harper]") {
  const std::string url = db_url("mirror");
  EventFixture f(4000, "", url);
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  f.write_changes(300, 3);
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  check_harper_mirrors(f, url);
  // A one-column key is Harper's primary key; a composite key (and a whole row) is packed into
  // _cdc_key as the JSON array text of its values.
  CHECK(harper_key(url, "items") == "id");
  CHECK(harper_key(url, "pairs") == "_cdc_key");
  CHECK(harper_key(url, "events") == "_cdc_key");
  auto pair = harper_call(url, {{"operation", "search_by_id"}, {"table", "pairs"}, {"ids", boost::json::array{R"(["p1",1])"}},
                                {"get_attributes", boost::json::array{"*"}}});
  REQUIRE(pair.as_array().size() == 1);
  CHECK(pair.as_array()[0].at("a") == "p1");
  CHECK(pair.as_array()[0].at("b") == 1);
  // The checkpoints are records of _cdc_checkpoints, by ["session","key"].
  auto cps = harper_call(url, {{"operation", "search_by_value"}, {"table", "_cdc_checkpoints"}, {"search_attribute", "session"},
                               {"search_value", "shop"}, {"get_attributes", boost::json::array{"key", "value"}}});
  CHECK(cps.as_array().size() > 3);
  CHECK_THAT(slurp(f.log), !Catch::Contains(cdc::ConnectorUrl::parse(url).password));
  // verify cannot compare it, and says so.
  REQUIRE(run_cli({"verify", "-c", f.cfg}, "", f.log).code != 0);
  CHECK_THAT(slurp(f.log), Catch::Contains("cannot compare harper://admin:***@127.0.0.1:"));
  CHECK_THAT(slurp(f.log), Catch::Contains("cdc cannot read a harper:// destination back as tables"));
}

TEST_CASE("harper: a record Harper refuses is quarantined with the reason, the others are written", "[harper]") {
  const std::string url = db_url("quarantine");
  EventFixture f(100, "", url);
  const std::string huge(3000, 'k');  // over Harper's primary key size limit
  {
    Db s(f.src);
    s.exec("CREATE TABLE notes (k TEXT PRIMARY KEY, v TEXT)");
    s.exec("INSERT INTO notes VALUES ('a', 'first'), ('" + huge + "', 'too long a key'), ('b', 'second')");
  }
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  {
    Db s(f.src);
    s.exec("INSERT INTO notes VALUES ('c', 'third'), ('" + huge + "x', 'another')");
  }
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  CHECK(harper_rows(url, "notes") ==
        comparable({R"({"k":"a","v":"first"})", R"({"k":"b","v":"second"})", R"({"k":"c","v":"third"})"}, false));
  auto q = harper_call(url, {{"operation", "search_by_value"}, {"table", "_cdc_quarantine"}, {"search_attribute", "table"},
                             {"search_value", "notes"}, {"get_attributes", boost::json::array{"*"}}});
  REQUIRE(q.as_array().size() == 2);
  for (const auto& r : q.as_array()) {
    CHECK_THAT(std::string(r.at("reason").as_string()), Catch::Contains("Primary key size is too large"));
    CHECK_THAT(std::string(r.at("key").as_string()), Catch::StartsWith("\"" + huge));
    CHECK_THAT(std::string(r.at("record").as_string()), Catch::Contains("\"v\":\""));
    CHECK(r.at("session") == "shop");
  }
  CHECK_THAT(slurp(f.log), Catch::Contains("refused, kept in _cdc_quarantine"));
  check_harper_mirrors(f, url);
}

TEST_CASE("harper: over HTTPS with a verified certificate, every table mirrors its source, on one connection", "[harper][tls]") {
  // ssl-ca alone means VERIFY_IDENTITY: the chain and the name (here the address 127.0.0.1).
  const std::string url = tls_url("tls", "ssl-ca=" + harper_cert("ca.pem"));
  EventFixture f(2000, "", url);
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  f.write_changes(200, 2);
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  check_harper_mirrors(f, url);  // read back over HTTPS too
  CHECK_THAT(slurp(f.log), !Catch::Contains(cdc::ConnectorUrl::parse(url).password));
  // Keep-alive over TLS: one handshake for many requests.
  auto u = cdc::ConnectorUrl::parse(url);
  auto params = u.params;
  cdc::harper::Client c(u, u.redacted(), cdc::harper::take_tls_params(params, u.redacted()));
  for (int i = 0; i < 5; ++i) CHECK(c.call({{"operation", "describe_all"}}, "describe_all").is_object());
  CHECK(c.connections() == 1);
}

#ifdef CDC_FAILPOINTS
TEST_CASE("harper: SIGKILL mid-snapshot or mid-stream, then restart: every table mirrors its source", "[harper][crash]") {
  // (Mid-snapshot at Harper's own point, between a chunk's data and its checkpoint, with one writer:
  // see events_test.cpp.)
  for (const char* point : {"harper.before_checkpoint:4", "stream.batch_committed:3", "harper.before_checkpoint:2"}) {
    DYNAMIC_SECTION(point) {
      const std::string url = db_url("crash");
      EventFixture f(8000, "", url);
      f.serial_writes();
      f.kill_and_restart(point, std::string(point) != "harper.before_checkpoint:2");
      check_harper_mirrors(f, url);
    }
  }
}
#endif

#endif  // CDC_CLI_PATH

TEST_CASE("harper: bad URLs are errors naming what is wrong", "[harper]") {
  auto& reg = cdc::ConnectorRegistry::instance();
  CHECK_THROWS_WITH(reg.open_destination("harper://admin:pw@127.0.0.1:9925/db?schemas=true"),
                    Catch::Contains("unknown parameter \"schemas\" (known: decimal_handling, ssl-ca, ssl-cert, ssl-key, ssl-mode)"));
  CHECK_THROWS_WITH(reg.open_destination("harper://admin:pw@127.0.0.1:9925/db?ssl-mode=PREFERRED"),
                    Catch::Contains("ssl-mode=PREFERRED does not apply to Harper"));
  CHECK_THROWS_WITH(reg.open_destination("harper://admin:pw@127.0.0.1:9925/db?ssl-mode=SOMETIMES"),
                    Catch::Contains("ssl-mode=\"SOMETIMES\" is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY"));
  CHECK_THROWS_WITH(reg.open_destination("harper://admin:pw@127.0.0.1:9925/db?ssl-ca=/nonexistent/ca.pem"),
                    Catch::Contains("ssl-ca: cannot read /nonexistent/ca.pem"));
  CHECK_THROWS_WITH(reg.open_destination("harper://admin:pw@127.0.0.1:9925/db?ssl-mode=DISABLED&ssl-ca=/etc/hostname"),
                    Catch::Contains("ssl-mode=DISABLED with ssl-ca, ssl-cert or ssl-key"));
  CHECK_THROWS_WITH(reg.open_destination("harper://admin:pw@127.0.0.1:9925/db?ssl-mode=REQUIRED&ssl-cert=/etc/hostname"),
                    Catch::Contains("ssl-cert and ssl-key go together"));
  CHECK_THROWS_WITH(reg.open_destination("harper://admin:pw@127.0.0.1:9925/db?ssl-ca=/etc/hostname"),
                    Catch::Contains("ssl-ca=/etc/hostname: cannot load the CA certificates (PEM)"));
  CHECK_THROWS_WITH(reg.open_destination("harper://admin:pw@127.0.0.1:9925/db?decimal_handling=float"),
                    Catch::Contains("decimal_handling=float is not one of string, double"));
  CHECK_THROWS_WITH(reg.open_destination("harper://admin:pw@127.0.0.1:9925"),
                    Catch::Contains("\"harper://admin:***@127.0.0.1:9925\": expected harper://USER:PASSWORD@HOST:PORT/DATABASE"));
  CHECK_THROWS_WITH(reg.open_destination("harper://127.0.0.1:9925/db"), Catch::Contains("no user"));
}

TEST_CASE("harper: an unreachable server is a retryable connection error naming the URL without its password", "[harper]") {
  check_store_error("harper://admin:hunter2@127.0.0.1:" + std::to_string(free_port()) + "/db", true,
                    "cannot reach Harper at harper://admin:***@127.0.0.1:", "hunter2");
}

TEST_CASE("harper: a wrong password is refused by name, not retried", "[harper]") {
  auto good = cdc::ConnectorUrl::parse(harper_base_url());
  check_store_error("harper://admin:n0tThePassword@127.0.0.1:" + std::to_string(good.port) + "/db", false,
                    "Harper at harper://admin:***@127.0.0.1:", "n0tThePassword");
  check_store_error("harper://admin:n0tThePassword@127.0.0.1:" + std::to_string(good.port) + "/db", false,
                    "refused user \"admin\" (HTTP 401", "n0tThePassword");
}

TEST_CASE("harper: a wrong CA is refused, not retried, naming ssl-ca", "[harper][tls]") {
  const std::string other = harper_cert("other-ca.pem");
  check_store_error(tls_url("tls_ca", "ssl-ca=" + other), false,
                    "certificate verify failed: unable to get local issuer certificate (the server's certificate could not be "
                    "verified against ssl-ca=" + other + " with ssl-mode=VERIFY_IDENTITY)",
                    cdc::ConnectorUrl::parse(harper_tls_base_url()).password);
  check_store_error(tls_url("tls_ca", "ssl-mode=VERIFY_CA&ssl-ca=" + other), false, "with ssl-mode=VERIFY_CA",
                    cdc::ConnectorUrl::parse(harper_tls_base_url()).password);
}

TEST_CASE("harper: VERIFY_IDENTITY refuses a host the certificate does not name, VERIFY_CA and REQUIRED accept it", "[harper][tls]") {
  const std::string ca = "ssl-ca=" + harper_cert("ca.pem");
  // The certificate names localhost and 127.0.0.1, not 127.0.0.2 (the same server).
  check_store_error(tls_url("tls_name", ca, "127.0.0.2"), false,
                    "the server's certificate does not name the host \"127.0.0.2\"; connect by a name the certificate holds, "
                    "or use ssl-mode=VERIFY_CA",
                    cdc::ConnectorUrl::parse(harper_tls_base_url()).password);
  for (const std::string& url : {tls_url("tls_name", ca + "&ssl-mode=VERIFY_CA", "127.0.0.2"), tls_url("tls_name", "ssl-mode=REQUIRED"),
                                 tls_url("tls_name", ca, "localhost")}) {
    INFO(url);
    CHECK(harper_call(url, {{"operation", "describe_all"}}).is_object());
  }
}

TEST_CASE("harper: TLS against the plain HTTP port and plain HTTP against the HTTPS port are refused, not retried", "[harper][tls]") {
  const std::string pw = cdc::ConnectorUrl::parse(harper_base_url()).password;
  check_store_error(harper_base_url() + "/db?ssl-mode=VERIFY_IDENTITY&ssl-ca=" + harper_cert("ca.pem"), false,
                    "ssl-mode=VERIFY_IDENTITY but the server does not answer in TLS: this port serves plain HTTP?", pw);
  check_store_error(harper_tls_base_url() + "/db", false,
                    ": the port serves HTTPS and the URL asks for plain HTTP (ssl-mode=DISABLED): set ssl-mode=VERIFY_IDENTITY and "
                    "ssl-ca=<CA file>",
                    pw);
}
