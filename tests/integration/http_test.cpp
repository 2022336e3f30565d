// The HTTP endpoint (cdc::HttpServer, docs/status.md) over a real socket, in front of a session
// replicating SQLite files: the token, the Host check, every endpoint, malformed and refused
// requests, and tables paused, resumed, stopped and resynced over HTTP while the others stream,
// each ending in a row-by-row comparison of source and target.
#include "support/http_client.h"
#include "support/sqlite_fixture.h"
#include "support/wait.h"

#include "http/metrics.h"

#include <cdc/cdc.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <memory>
#include <sys/wait.h>
#include <thread>

using cdc_test::by_table;
using cdc_test::Db;
using cdc_test::http;
using cdc_test::http_raw;
using cdc_test::HttpReply;
using cdc_test::TempDir;
using cdc_test::url;
namespace json = boost::json;

namespace {

const std::string kAuth = "Authorization: Bearer s3cret\r\n";
const std::string kJson = "Content-Type: application/json\r\n";

struct Shop {
  TempDir dir;
  std::string src = dir.file("src.db"), dst = dir.file("dst.db");
  Shop() {
    Db s(src);
    s.exec("PRAGMA journal_mode=WAL");
    for (const char* t : {"a", "b", "c"}) {
      s.exec(std::string("CREATE TABLE ") + t + " (id INTEGER PRIMARY KEY, v TEXT)");
      s.exec(std::string("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 200) INSERT INTO ") + t +
             " SELECT i, 'v' || i FROM r");
    }
  }
  cdc::Config config(std::vector<std::string> include = {"a", "b"}) const {
    cdc::Config c;
    c.name = "shop";
    c.source = url(src);
    c.destination = url(dst);
    c.include = std::move(include);
    c.poll_interval_ms = 20;
    c.retry.initial_delay_ms = 10;
    return c;
  }
  std::vector<std::string> rows(const std::string& db, const std::string& table) const {
    Db d(db);
    return d.rows("SELECT * FROM " + table + " ORDER BY id");
  }
  bool same(const std::string& table) const {
    try {
      return rows(src, table) == rows(dst, table);
    } catch (const std::exception&) {
      return false;  // the target table is not there yet
    }
  }
};

bool all_streaming(cdc::ReplicationSession& s, std::size_t n) {
  auto st = s.status();
  if (st.tables.size() != n) return false;
  for (const auto& t : st.tables)
    if (t.phase != cdc::TablePhase::Streaming) return false;
  return true;
}

json::value body(const HttpReply& r) { return json::parse(r.body); }
std::string error_of(const HttpReply& r) { return std::string(body(r).at("error").as_string()); }

}  // namespace

TEST_CASE("http: token, host check, refused and malformed requests get JSON errors", "[sqlite][http]") {
  cdc_test::QuietLog quiet;
  Shop shop;
  cdc::ReplicationSession session(shop.config());
  session.start();
  REQUIRE(cdc_test::eventually([&] { return all_streaming(session, 2); }));
  cdc::HttpOptions o;
  o.listen = "127.0.0.1:0";
  o.token = "s3cret";
  o.allowed_hosts = {"cdc.internal"};
  cdc::HttpServer server(o);
  server.add_pipeline("shop", session);
  server.start();
  auto port = server.port();
  REQUIRE(port != 0);

  SECTION("healthz and the page (which holds no data) need no token; everything else does") {
    auto h = http(port, "GET", "/healthz");
    CHECK(h.status == 200);
    CHECK(body(h).at("status") == "ok");
    CHECK(http(port, "GET", "/").status == 200);
    for (const char* path : {"/api/v1/status", "/readyz", "/metrics"}) {
      auto r = http(port, "GET", path);
      CHECK(r.status == 401);
      CHECK(r.headers["www-authenticate"].rfind("Bearer", 0) == 0);
      CHECK(r.headers["content-type"] == "application/json");
      CHECK(error_of(r).find("Authorization: Bearer") != std::string::npos);
      auto wrong = http(port, "GET", path, "Authorization: Bearer s3creT\r\n");
      CHECK(wrong.status == 401);
      CHECK(error_of(wrong) == "the bearer token is wrong");
      auto ok = http(port, "GET", path, kAuth);
      CHECK((ok.status == 200 || (path == std::string("/readyz") && ok.status == 503)));
    }
    // Ready once the stream has measured its lag.
    CHECK(cdc_test::eventually([&] { return http(port, "GET", "/readyz", kAuth).status == 200; }));
    CHECK(http(port, "POST", "/api/v1/tables/a/pause", kJson).status == 401);
    CHECK_FALSE(by_table(session.status())["a"].paused);
  }

  SECTION("the Host header must be loopback or allowed") {
    auto req = [&](const std::string& host) {
      return http_raw(port, "GET /api/v1/status HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n" + kAuth + "\r\n");
    };
    for (const char* ok : {"localhost", "localhost:8080", "127.0.0.1", "[::1]:9", "cdc.internal:80", "CDC.Internal"}) {
      INFO(ok);
      CHECK(req(ok).status == 200);
    }
    auto evil = req("evil.example:8080");
    CHECK(evil.status == 403);
    CHECK(error_of(evil) == "host \"evil.example:8080\" is not allowed: use a loopback name or add it to http.allowed_hosts");
    auto none = http_raw(port, "GET /healthz HTTP/1.0\r\n\r\n");
    CHECK(none.status == 400);
    CHECK(error_of(none) == "the request has no Host header");
  }

  SECTION("unknown routes, wrong methods, content type, bad JSON, unknown tables") {
    auto r = http(port, "GET", "/api/v2/status", kAuth);
    CHECK(r.status == 404);
    CHECK(error_of(r) == "no such endpoint: /api/v2/status");
    r = http(port, "GET", "/api/v1/tables/a/pause", kAuth);
    CHECK(r.status == 405);
    CHECK(r.headers["allow"] == "POST");
    r = http(port, "DELETE", "/api/v1/status", kAuth);
    CHECK(r.status == 405);
    CHECK(r.headers["allow"] == "GET, HEAD");
    r = http(port, "POST", "/api/v1/tables/a/explode", kAuth + kJson);
    CHECK(r.status == 404);
    r = http(port, "POST", "/api/v1/tables/a/pause", kAuth);
    CHECK(r.status == 415);
    CHECK(error_of(r) == "POST needs \"Content-Type: application/json\" (got \"\")");
    r = http(port, "POST", "/api/v1/tables/a/pause", kAuth + "Content-Type: application/x-www-form-urlencoded\r\n", "x=1");
    CHECK(r.status == 415);
    r = http(port, "POST", "/api/v1/tables/a/pause", kAuth + kJson, "{not json");
    CHECK(r.status == 400);
    CHECK(error_of(r).rfind("the body is not JSON", 0) == 0);
    r = http(port, "POST", "/api/v1/tables/a/pause", kAuth + kJson, "[1]");
    CHECK(r.status == 400);
    r = http(port, "POST", "/api/v1/tables/nope/pause", kAuth + kJson);
    CHECK(r.status == 404);
    CHECK(error_of(r) == "no table \"nope\" (known tables: shop/a, shop/b)");
    r = http(port, "POST", "/api/v1/pipelines/shop/tables/nope/pause", kAuth + kJson);
    CHECK(r.status == 404);
    CHECK(error_of(r) == "no table \"nope\" in pipeline shop (its tables: a, b)");
    r = http(port, "POST", "/api/v1/pipelines/other/tables/a/pause", kAuth + kJson);
    CHECK(r.status == 404);
    CHECK(error_of(r) == "no pipeline \"other\" (pipelines: shop)");
    r = http(port, "POST", "/api/v1/pipelines/shop/tables/a%zz/pause", kAuth + kJson);
    CHECK(r.status == 400);
    r = http(port, "POST", "/api/v1/reload", kAuth + kJson);
    CHECK(r.status == 501);
    // Nothing above touched a table.
    for (const auto& t : session.status().tables) CHECK_FALSE(t.paused);
  }

  SECTION("oversized and broken requests get a 4xx, and the server goes on") {
    auto huge = http(port, "GET", "/healthz", "X-Big: " + std::string(64 * 1024, 'x') + "\r\n");
    CHECK(huge.status == 431);
    auto big_body = http(port, "POST", "/api/v1/tables/a/pause", kAuth + kJson, std::string(200 * 1024, ' '));
    CHECK(big_body.status == 413);
    CHECK(http_raw(port, "BLAH\r\n\r\n").status == 400);
    CHECK(http_raw(port, "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: nope\r\n\r\n").status == 400);
    // Clients that send half a request and wait do not keep others from being served.
    std::vector<std::unique_ptr<cdc_test::Socket>> slow;
    for (int i = 0; i < 20; ++i) {
      slow.push_back(std::make_unique<cdc_test::Socket>(port));
      slow.back()->send("GET /api/v1/status HTTP/1.1\r\nHost: loc");
    }
    CHECK(http(port, "GET", "/api/v1/status", kAuth).status == 200);
    CHECK(http(port, "GET", "/healthz").status == 200);
  }
  server.stop();
  session.stop();
  session.wait();
}

TEST_CASE("http: status, readiness and metrics describe the running session", "[sqlite][http]") {
  cdc_test::QuietLog quiet;
  Shop shop;
  cdc::ReplicationSession session(shop.config());
  cdc::HttpOptions o;
  o.listen = "127.0.0.1:0";
  cdc::HttpServer server(o);
  server.add_pipeline("shop", session);
  server.start();
  auto port = server.port();

  // Not started: not ready, with the reason.
  auto ready = http(port, "GET", "/readyz");
  CHECK(ready.status == 503);
  CHECK(body(ready).at("reason") == "pipeline shop is idle");

  session.start();
  REQUIRE(cdc_test::eventually([&] { return all_streaming(session, 2); }));
  {
    Db s(shop.src);
    s.exec("INSERT INTO a VALUES (1001, 'x'); UPDATE a SET v = 'y' WHERE id = 1; DELETE FROM a WHERE id = 2");
  }
  REQUIRE(cdc_test::eventually([&] { return shop.same("a") && by_table(session.status())["a"].deletes == 1; }));
  REQUIRE(cdc_test::eventually([&] { return http(port, "GET", "/readyz").status == 200; }));
  CHECK(body(http(port, "GET", "/readyz")).at("ready") == true);

  auto st = http(port, "GET", "/api/v1/status");
  REQUIRE(st.status == 200);
  CHECK(st.headers["content-type"] == "application/json");
  auto doc = body(st);
  CHECK(doc.at("live") == true);
  auto& p = doc.at("pipelines").as_array().at(0);
  CHECK(p.at("name") == "shop");
  CHECK(p.at("state") == "streaming");
  CHECK(p.at("lag_seconds").is_number());
  std::map<std::string, json::value> tables;
  for (auto& t : p.at("tables").as_array()) tables[std::string(t.at("table").as_string())] = t;
  REQUIRE(tables.size() == 2);
  auto& a = tables["a"];
  CHECK(a.at("phase") == "streaming");
  CHECK(a.at("paused") == false);
  CHECK(a.at("rows").at("copied") == 200);
  CHECK(a.at("changes").at("applied") == 3);
  CHECK(a.at("changes").at("inserts") == 1);
  CHECK(a.at("changes").at("updates") == 1);
  CHECK(a.at("changes").at("deletes") == 1);
  CHECK(a.at("lag_seconds").is_number());
  CHECK(a.at("last_error").is_null());
  CHECK(tables["b"].at("changes").at("applied") == 0);

  auto m = http(port, "GET", "/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(m.body.find("cdc_changes_applied_total{pipeline=\"shop\",table=\"a\",op=\"delete\"} 1\n") != std::string::npos);
  CHECK(m.body.find("cdc_rows_copied_total{pipeline=\"shop\",table=\"b\"} 200\n") != std::string::npos);
  CHECK(m.body.find("cdc_table_phase{pipeline=\"shop\",table=\"a\",phase=\"streaming\"} 1\n") != std::string::npos);
  CHECK(m.body.find("cdc_batch_apply_seconds_bucket{pipeline=\"shop\",le=\"+Inf\"}") != std::string::npos);
  // /proc/self read right: the resident size is that of a test program, the start time today.
  auto value = [&](const std::string& name) {
    auto at = m.body.find("\n" + name + " ");
    REQUIRE(at != std::string::npos);
    return std::stod(m.body.substr(at + name.size() + 2));
  };
  CHECK(value("process_resident_memory_bytes") > 1e6);
  CHECK(value("process_resident_memory_bytes") < 1e10);
  CHECK(value("process_start_time_seconds") > static_cast<double>(std::time(nullptr)) - 3600);
  // The start time has a fraction of a second and time() truncates: allow that second.
  CHECK(value("process_start_time_seconds") < static_cast<double>(std::time(nullptr)) + 1);
  CHECK(value("process_cpu_seconds_total") < 3600);

  // A stopped table is left out of readiness; the page is served.
  CHECK(http(port, "POST", "/api/v1/tables/b/stop", kJson).status == 200);
  CHECK(http(port, "GET", "/readyz").status == 200);
  auto page = http(port, "GET", "/");
  CHECK(page.status == 200);
  CHECK(page.headers["content-type"] == "text/html; charset=utf-8");
  CHECK(page.body.find("<html") != std::string::npos);
  server.stop();
  session.stop();
  session.wait();
}

TEST_CASE("http: a table paused over HTTP holds while another moves, resume, resync and reload", "[sqlite][http]") {
  cdc_test::QuietLog quiet;
  Shop shop;
  cdc::ReplicationSession session(shop.config());
  session.start();
  REQUIRE(cdc_test::eventually([&] { return all_streaming(session, 2); }));
  cdc::HttpOptions o;
  o.listen = "127.0.0.1:0";
  o.token = "s3cret";
  o.on_reload = [&] {
    session.reload(shop.config({"a", "b", "c"}));
    return std::string("added c");
  };
  cdc::HttpServer server(o);
  server.add_pipeline("shop", session);
  server.start();
  auto port = server.port();

  auto r = http(port, "POST", "/api/v1/tables/a/pause", kAuth + kJson, "{}");
  REQUIRE(r.status == 200);
  CHECK(body(r).at("table") == "a");
  CHECK(body(r).at("paused") == true);
  CHECK(body(r).at("held") == true);
  auto before = shop.rows(shop.dst, "a");
  {
    Db s(shop.src);
    s.exec("INSERT INTO a VALUES (5001, 'held'); UPDATE a SET v = 'held' WHERE id = 7");
    s.exec("INSERT INTO b VALUES (5001, 'moves')");
  }
  REQUIRE(cdc_test::eventually([&] { return shop.same("b"); }));
  CHECK(shop.rows(shop.dst, "a") == before);  // b moved past a's changes; a did not
  CHECK(http(port, "GET", "/readyz", kAuth).status == 200);  // a paused table does not make it unready

  r = http(port, "POST", "/api/v1/pipelines/shop/tables/a/resume", kAuth + kJson);
  REQUIRE(r.status == 200);
  CHECK(body(r).at("paused") == false);
  REQUIRE(cdc_test::eventually([&] { return shop.same("a"); }));

  // A damaged target table is repaired by a resync while b streams.
  {
    Db d(shop.dst);
    d.exec("DELETE FROM a WHERE id BETWEEN 10 AND 20; UPDATE a SET v = 'damaged' WHERE id = 30; INSERT INTO a VALUES (9999, 'stray')");
  }
  CHECK_FALSE(shop.same("a"));
  r = http(port, "POST", "/api/v1/tables/a/resync", kAuth + kJson);
  REQUIRE(r.status == 200);
  {
    Db s(shop.src);
    s.exec("INSERT INTO b VALUES (5002, 'during resync')");
  }
  REQUIRE(cdc_test::eventually([&] { return by_table(session.status())["a"].phase == cdc::TablePhase::Streaming && shop.same("a"); }));
  REQUIRE(cdc_test::eventually([&] { return shop.same("b"); }));

  // 409 when the change is not possible: stopping a stopped table.
  CHECK(http(port, "POST", "/api/v1/tables/b/stop", kAuth + kJson).status == 200);
  r = http(port, "POST", "/api/v1/tables/b/stop", kAuth + kJson);
  CHECK(r.status == 409);
  CHECK(error_of(r) == "table b is stopped: there is nothing to stop");
  CHECK(http(port, "POST", "/api/v1/tables/b/resume", kAuth + kJson).status == 200);

  // Reload (what SIGHUP does) adds c.
  r = http(port, "POST", "/api/v1/reload", kAuth + kJson);
  REQUIRE(r.status == 200);
  CHECK(body(r).at("message") == "added c");
  REQUIRE(cdc_test::eventually([&] { return all_streaming(session, 3) && shop.same("c"); }));
  server.stop();
  session.stop();
  session.wait();
}

TEST_CASE("http: two pipelines with a table of the same name need the long form", "[sqlite][http]") {
  cdc_test::QuietLog quiet;
  Shop one, two;
  auto c2 = two.config({"a"});
  c2.name = "two";
  cdc::ReplicationSession s1(one.config()), s2(c2);
  s1.start();
  s2.start();
  REQUIRE(cdc_test::eventually([&] { return all_streaming(s1, 2) && all_streaming(s2, 1); }));
  cdc::HttpOptions o;
  o.listen = "127.0.0.1:0";
  cdc::HttpServer server(o);
  server.add_pipeline("shop", s1);
  server.add_pipeline("two", s2);
  CHECK_THROWS_WITH(server.add_pipeline("two", s2), "pipelines: pipeline \"two\" is served already");
  server.start();
  auto port = server.port();
  auto r = http(port, "POST", "/api/v1/tables/a/pause", kJson);
  CHECK(r.status == 409);
  CHECK(error_of(r) ==
        "table \"a\" is ambiguous; name the pipeline: /api/v1/pipelines/shop/tables/a, /api/v1/pipelines/two/tables/a");
  CHECK(http(port, "POST", "/api/v1/tables/b/pause", kJson).status == 200);  // only shop has b
  CHECK(http(port, "POST", "/api/v1/pipelines/two/tables/a/pause", kJson).status == 200);
  CHECK(by_table(s2.status())["a"].paused);
  CHECK_FALSE(by_table(s1.status())["a"].paused);
  auto doc = body(http(port, "GET", "/api/v1/status"));
  CHECK(doc.at("pipelines").as_array().size() == 2);
  server.stop();
  s1.stop();
  s2.stop();
  s1.wait();
  s2.wait();
}

TEST_CASE("http: a listen address that does not parse names http.listen", "[unit][http]") {
  for (const char* bad : {"8080", "localhost:", "localhost:99999", "[::1:80", ":80"}) {
    cdc::HttpOptions o;
    o.listen = bad;
    cdc::HttpServer server(o);
    INFO(bad);
    try {
      server.start();
      FAIL("started");
    } catch (const cdc::Error& e) {
      CHECK(e.kind() == cdc::ErrorKind::Config);
      CHECK(e.where() == "http.listen");
    }
  }
}

TEST_CASE("metrics: label values are escaped", "[unit][http]") {
  CHECK(cdc::detail::escape_label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

#ifdef CDC_CLI_PATH
namespace {
// Runs cdc-cli with `args`; returns its exit code and stdout (stderr appended after "\n--\n").
std::pair<int, std::string> cli(const std::string& args) {
  std::string cmd = std::string(CDC_CLI_PATH) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 1000, out};
}
}  // namespace

TEST_CASE("cdc-cli pause/resume and status --url drive a running session over HTTP", "[sqlite][http][cli]") {
  cdc_test::QuietLog quiet;
  Shop shop;
  cdc::ReplicationSession session(shop.config());
  session.start();
  REQUIRE(cdc_test::eventually([&] { return all_streaming(session, 2); }));
  cdc::HttpOptions o;
  o.listen = "127.0.0.1:0";
  o.token = "s3cret";
  cdc::HttpServer server(o);
  server.add_pipeline("shop", session);
  server.start();
  std::string url = "--url http://127.0.0.1:" + std::to_string(server.port());

  auto r = cli("pause a " + url + " --token s3cret");
  CHECK(r.first == 0);
  CHECK(r.second == "a: streaming, paused (held: paused)\n");
  CHECK(by_table(session.status())["a"].paused);
  r = cli("pause nope " + url + " --token s3cret");
  CHECK(r.first == 2);
  CHECK(r.second == "error: pause nope: no table \"nope\" (known tables: shop/a, shop/b) (404)\n");
  r = cli("status " + url);
  CHECK(r.first == 2);
  CHECK(r.second.find("the endpoint needs") == std::string::npos);
  CHECK(r.second.find("(401)") != std::string::npos);
  r = cli("status " + url + " --token s3cret --format json");
  REQUIRE(r.first == 0);
  auto doc = json::parse(r.second);
  CHECK(doc.at("pipelines").as_array().at(0).at("name") == "shop");
  r = cli("resume a --pipeline shop " + url + " --token s3cret");
  CHECK(r.first == 0);
  CHECK(r.second == "a: streaming\n");
  CHECK_FALSE(by_table(session.status())["a"].paused);
  server.stop();
  session.stop();
  session.wait();
}
#endif

TEST_CASE("config: the http section, and what is wrong in it", "[unit][http]") {
  auto c = cdc::parse_config_yaml("source: sqlite:///a.db\ndestination: sqlite:///b.db\n"
                                  "http: {listen: '127.0.0.1:9000', token: t0k, allowed_hosts: [cdc.internal], max_lag_seconds: 5}\n");
  CHECK(c.http.listen == "127.0.0.1:9000");
  CHECK(c.http.token == "t0k");
  CHECK(c.http.allowed_hosts == std::vector<std::string>{"cdc.internal"});
  CHECK(c.http.max_lag_seconds == 5);
  auto o = cdc::HttpOptions::from_config(c.http);
  CHECK(o.listen == "127.0.0.1:9000");
  CHECK(o.token == "t0k");
  CHECK(cdc::parse_config_yaml("source: sqlite:///a.db\ndestination: sqlite:///b.db\n").http.listen.empty());
  try {
    cdc::parse_config_yaml("source: sqlite:///a.db\ndestination: sqlite:///b.db\nhttp: {port: 80}\n");
    FAIL("accepted");
  } catch (const cdc::Error& e) {
    CHECK(e.where().rfind("http", 0) == 0);
  }
}
