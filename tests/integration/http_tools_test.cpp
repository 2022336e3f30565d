// The HTTP endpoint against the real tools it is made for: `promtool check metrics` lints
// /metrics, a Prometheus server started here scrapes it and its query API returns cdc's counters,
// and headless Chromium renders the status page (every table in the DOM) and pauses a table when
// its pause button is clicked (DevTools protocol, tests/support/cdp_click.js).
#include "support/http_client.h"
#include "support/sqlite_fixture.h"
#include "support/wait.h"

#include <cdc/cdc.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cctype>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

using cdc_test::by_table;
using cdc_test::Db;
using cdc_test::http;
using cdc_test::TempDir;
using cdc_test::url;
namespace json = boost::json;

namespace {

// A child process with stdin, stdout and stderr from/to files; killed (SIGTERM) by the destructor.
class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& in, const std::string& out, const std::string& err) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setsid();  // its own process group: Chromium signals its whole group when it ends
      int i = ::open(in.empty() ? "/dev/null" : in.c_str(), O_RDONLY);
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(i, 0);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0 && !done_) {
      ::kill(-pid_, SIGTERM);  // the group this test made for it (browser helpers included)
      wait();
    }
  }
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    done_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  bool done_ = false;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

using cdc_test::free_port;

struct Running {
  TempDir dir;
  std::string src = dir.file("src.db"), dst = dir.file("dst.db");
  std::unique_ptr<cdc::ReplicationSession> session;
  std::unique_ptr<cdc::HttpServer> server;

  explicit Running(const std::string& token) {
    Db s(src);
    for (const char* t : {"orders", "customers"}) {
      s.exec(std::string("CREATE TABLE ") + t + " (id INTEGER PRIMARY KEY, v TEXT)");
      s.exec(std::string("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 100) INSERT INTO ") + t +
             " SELECT i, 'v' || i FROM r");
    }
    cdc::Config c;
    c.name = "shop";
    c.source = url(src);
    c.destination = url(dst);
    c.poll_interval_ms = 20;
    session = std::make_unique<cdc::ReplicationSession>(c);
    session->start();
    REQUIRE(cdc_test::eventually([&] {
      auto st = session->status();
      return st.tables.size() == 2 && st.tables[0].phase == cdc::TablePhase::Streaming && st.tables[1].phase == cdc::TablePhase::Streaming;
    }));
    cdc::HttpOptions o;
    o.listen = "127.0.0.1:0";
    o.token = token;
    server = std::make_unique<cdc::HttpServer>(o);
    server->add_pipeline("shop", *session);
    server->start();
  }
  ~Running() {
    server->stop();
    session->stop();
    session->wait();
  }
};

}  // namespace

TEST_CASE("prometheus: promtool accepts /metrics and a real server scrapes cdc's counters", "[sqlite][http][prometheus]") {
  cdc_test::QuietLog quiet;
  Running r("tok");
  {
    Db s(r.src);
    s.exec("INSERT INTO orders VALUES (1001, 'a'), (1002, 'b'), (1003, 'c'); UPDATE orders SET v = 'x' WHERE id < 6");
  }
  REQUIRE(cdc_test::eventually([&] { return by_table(r.session->status())["orders"].changes_applied == 8; }));

  auto metrics = http(r.server->port(), "GET", "/metrics", "Authorization: Bearer tok\r\n");
  REQUIRE(metrics.status == 200);
  std::string file = r.dir.file("metrics.txt");
  spit(file, metrics.body);
  Child lint({"promtool", "check", "metrics"}, file, r.dir.file("lint.out"), r.dir.file("lint.err"));
  int code = lint.wait();
  INFO(slurp(r.dir.file("lint.out")) << slurp(r.dir.file("lint.err")));
  CHECK(code == 0);
  CHECK(slurp(r.dir.file("lint.out")).empty());

  auto prom_port = free_port();
  spit(r.dir.file("prometheus.yml"), "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                                     "scrape_configs:\n"
                                     "  - job_name: cdc\n"
                                     "    authorization: {credentials: tok}\n"
                                     "    static_configs: [{targets: ['127.0.0.1:" + std::to_string(r.server->port()) + "']}]\n");
  Child prom({"prometheus", "--config.file=" + r.dir.file("prometheus.yml"), "--storage.tsdb.path=" + r.dir.file("tsdb"),
              "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
             "", r.dir.file("prom.out"), r.dir.file("prom.err"));
  auto query = [&](const std::string& q) -> json::array {
    try {
      std::string enc;
      for (unsigned char c : q) enc += std::isalnum(c) || c == '_' ? std::string(1, static_cast<char>(c)) : fmt::format("%{:02X}", c);
      auto reply = http(prom_port, "GET", "/api/v1/query?query=" + enc);
      if (reply.status != 200) return {};
      return json::parse(reply.body).at("data").at("result").as_array();
    } catch (const std::exception&) {
      return {};  // not up yet
    }
  };
  auto value_of = [](const json::value& sample) { return std::stod(std::string(sample.at("value").as_array().at(1).as_string())); };
  json::array inserts;
  REQUIRE(cdc_test::eventually([&] { return !(inserts = query("cdc_changes_applied_total{table=\"orders\",op=\"insert\"}")).empty(); }, 60));
  INFO(slurp(r.dir.file("prom.err")));
  CHECK(inserts.size() == 1);
  CHECK(inserts[0].at("metric").at("pipeline") == "shop");
  CHECK(value_of(inserts[0]) == 3);
  auto updates = query("cdc_changes_applied_total{table=\"orders\",op=\"update\"}");
  REQUIRE(updates.size() == 1);
  CHECK(value_of(updates[0]) == 5);
  auto copied = query("cdc_rows_copied_total{table=\"customers\"}");
  REQUIRE(copied.size() == 1);
  CHECK(value_of(copied[0]) == 100);
  auto up = query("up{job=\"cdc\"}");
  REQUIRE(up.size() == 1);
  CHECK(value_of(up[0]) == 1);
  CHECK_FALSE(query("process_resident_memory_bytes").empty());
  CHECK(query("cdc_table_phase{table=\"orders\",phase=\"streaming\"}").size() == 1);
}

TEST_CASE("status page: headless Chromium shows every table, and its pause button pauses one", "[sqlite][http][chromium]") {
  cdc_test::QuietLog quiet;
  Running r("");
  std::string page = "http://127.0.0.1:" + std::to_string(r.server->port()) + "/";
  std::string profile = r.dir.file("chromium-profile");
  {
    Child dump({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
                "--virtual-time-budget=5000", "--dump-dom", page},
               "", r.dir.file("dom.html"), r.dir.file("chromium.err"));
    REQUIRE(dump.wait() == 0);
  }
  std::string dom = slurp(r.dir.file("dom.html"));
  INFO(dom);
  CHECK(dom.find("data-table=\"orders\"") != std::string::npos);
  CHECK(dom.find("data-table=\"customers\"") != std::string::npos);
  CHECK(dom.find("<h2>shop — streaming") != std::string::npos);
  CHECK(dom.find("data-phase=\"streaming\"") != std::string::npos);

  auto devtools = free_port();
  Child browser({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile + "2",
                 "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=" + std::to_string(devtools), "about:blank"},
                "", r.dir.file("browser.out"), r.dir.file("browser.err"));
  REQUIRE(cdc_test::eventually(
      [&] {
        try {
          return http(devtools, "GET", "/json/version").status == 200;
        } catch (const std::exception&) {
          return false;  // not listening yet
        }
      },
      60));
  Child click({"node", "--experimental-websocket", std::string(CDC_SOURCE_DIR) + "/tests/support/cdp_click.js", std::to_string(devtools),
               page, "tr[data-table=\"orders\"] button[data-action=\"pause\"]", "tr[data-table=\"orders\"][data-paused=\"true\"]"},
              "", r.dir.file("click.out"), r.dir.file("click.err"));
  int code = click.wait();
  INFO(slurp(r.dir.file("click.err")));
  REQUIRE(code == 0);
  auto tables = by_table(r.session->status());
  CHECK(tables["orders"].paused);
  CHECK_FALSE(tables["customers"].paused);
  CHECK(slurp(r.dir.file("click.out")).find("data-table=\"orders\" data-phase=\"streaming\" data-paused=\"true\"") != std::string::npos);
}
