// cdc-cli with a config file of several pipelines, as a user runs it: copy, replicate, verify,
// status, teardown and reset select pipelines with --pipeline; replicate runs them in one process
// whose HTTP status shows every pipeline, whose log lines name their pipeline, and which takes
// pipelines added to and removed from the file on POST /api/v1/reload and SIGHUP.
#include "support/cli_process.h"
#include "support/http_client.h"
#include "support/sqlite_fixture.h"
#include "support/wait.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#ifdef CDC_CLI_PATH

using cdc_test::Db;
using cdc_test::eventually;
using cdc_test::same_rows;
using cdc_test::TempDir;
using cdc_test::url;
namespace json = boost::json;

namespace {

struct Run {
  int code = -1;
  std::string out, err;
};

struct Setup {
  TempDir dir;
  std::string a_src = dir.file("a.db"), a_dst = dir.file("a_dst.db"), b_src = dir.file("b.db"), b_dst = dir.file("b_dst.db"),
              c_src = dir.file("c.db"), c_dst = dir.file("c_dst.db"), cfg = dir.file("cdc.yaml");

  Setup() {
    fill(a_src, "items", 300);
    fill(b_src, "parts", 200);
    fill(c_src, "tools", 50);
  }
  static void fill(const std::string& path, const std::string& table, int rows) {
    Db s(path);
    s.exec("PRAGMA journal_mode=WAL");
    s.exec("CREATE TABLE " + table + " (id INTEGER PRIMARY KEY, v TEXT)");
    s.exec("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < " + std::to_string(rows) + ") INSERT INTO " +
           table + " SELECT i, 'v' || i FROM r");
  }
  // The config with the named pipelines of a, b, c.
  void write(const std::vector<std::string>& names, const std::string& head = "") {
    std::ofstream out(cfg);
    out << head << "workers: 2\npoll_interval_ms: 20\ndefaults: {batch_size: 50}\npipelines:\n";
    for (const auto& n : names) {
      const std::string& src = n == "a" ? a_src : n == "b" ? b_src : c_src;
      const std::string& dst = n == "a" ? a_dst : n == "b" ? b_dst : c_dst;
      out << "  - name: " << n << "\n    source: \"" << url(src) << "\"\n    destination: \"" << url(dst) << "\"\n";
    }
  }
  Run cli(const std::vector<std::string>& args) {
    const std::string out = dir.file("out.txt"), err = dir.file("err.txt");
    std::ofstream(err).close();  // run_cli appends
    Run r;
    r.code = cdc_test::run_cli(args, "", err, out).code;
    r.out = cdc_test::slurp(out);
    r.err = cdc_test::slurp(err);
    return r;
  }
};

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The pipelines GET /api/v1/status shows, each with whether every table of it streams.
std::map<std::string, bool> live_pipelines(std::uint16_t port) {
  std::map<std::string, bool> out;
  try {
    auto reply = cdc_test::http(port, "GET", "/api/v1/status");
    if (reply.status != 200) return out;
    const json::value doc = json::parse(reply.body);
    for (const auto& p : doc.at("pipelines").as_array()) {
      bool all = !p.at("tables").as_array().empty();
      for (const auto& t : p.at("tables").as_array()) all = all && t.at("phase") == "streaming";
      out[std::string(p.at("name").as_string())] = all;
    }
  } catch (const std::exception&) {
  }
  return out;
}

}  // namespace

TEST_CASE("cdc-cli --pipeline selects the pipelines copy, replicate, verify, status, teardown and reset act on",
          "[sqlite][cli][pipelines]") {
  Setup s;
  s.write({"a", "b"});

  Run r = s.cli({"copy", "-c", s.cfg, "--pipeline", "a"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(same_rows(s.a_src, s.a_dst, "items"));
  CHECK_FALSE(std::ifstream(s.b_dst).good());  // b was not selected
  CHECK(has(r.out, "a-copy/items"));  // the summary names tables by pipeline (a copy's checkpoints: <name>-copy)

  r = s.cli({"verify", "-c", s.cfg, "--pipeline", "a"});
  CHECK(r.code == 0);
  CHECK(has(r.out, "pipeline a:"));
  CHECK(has(r.out, "all 1 tables equal"));
  CHECK_FALSE(has(r.out, "pipeline b:"));

  r = s.cli({"replicate", "-c", s.cfg, "--pipeline", "b", "--until-idle"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(same_rows(s.b_src, s.b_dst, "parts"));
  CHECK(has(r.err, "b: session [parts] snapshot done"));  // log lines name their pipeline

  r = s.cli({"verify", "-c", s.cfg, "--format", "json"});
  CHECK(r.code == 0);
  std::set<std::string> verified;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto doc = json::parse(line);
    CHECK(doc.at("all_equal").as_bool());
    verified.insert(std::string(doc.at("pipeline").as_string()));
  }
  CHECK(verified == std::set<std::string>{"a", "b"});

  r = s.cli({"status", "-c", s.cfg, "--pipeline", "b", "--format", "json", "--no-source"});
  REQUIRE(r.code == 0);
  auto doc = json::parse(r.out);
  REQUIRE(doc.at("pipelines").as_array().size() == 1);
  CHECK(doc.at("pipelines").as_array()[0].at("name") == "b");
  r = s.cli({"status", "-c", s.cfg, "--no-source"});
  CHECK(r.code == 0);
  CHECK(has(r.out, "pipeline a:"));
  CHECK(has(r.out, "pipeline b:"));

  r = s.cli({"status", "-c", s.cfg, "--pipeline", "zzz"});
  CHECK(r.code == 2);
  CHECK(has(r.err, "--pipeline: no pipeline named \"zzz\" (the config has: a, b)"));
  r = s.cli({"copy", "-c", s.cfg, "--pipeline", "zzz"});
  CHECK(r.code == 2);

  r = s.cli({"teardown", "-c", s.cfg, "--pipeline", "b"});
  CHECK(r.code == 0);
  CHECK(has(r.out, "pipeline b: "));
  CHECK_FALSE(has(r.out, "pipeline a: "));

  r = s.cli({"reset", "-c", s.cfg, "--pipeline", "b", "--yes"});
  CHECK(r.code == 0);
  CHECK(has(r.out, "session b: checkpoints of 1 table forgotten"));

  // A mistake in the file is named by its key path.
  s.write({"a", "b"}, "tables: {items: {batch_size: {steady: none}}}\n");
  r = s.cli({"replicate", "-c", s.cfg, "--until-idle"});
  CHECK(r.code == 2);
  CHECK(has(r.err, "tables.items.batch_size.steady: expected an integer, got none"));
}

TEST_CASE("cdc-cli replicate runs several pipelines in one process: HTTP status shows each, reload adds and removes them",
          "[sqlite][cli][pipelines][http]") {
  Setup s;
  s.write({"a", "b"});
  const std::uint16_t port = cdc_test::free_port();
  const std::string log = s.dir.file("replicate.log");
  pid_t pid = cdc_test::spawn_cli({"replicate", "-c", s.cfg, "--http", "127.0.0.1:" + std::to_string(port)}, "", log);
  auto both = [&] {
    auto live = live_pipelines(port);
    return live.size() == 2 && live["a"] && live["b"];
  };
  REQUIRE(eventually(both, 60));

  Db(s.a_src).exec("UPDATE items SET v = 'changed' WHERE id < 40");
  Db(s.b_src).exec("DELETE FROM parts WHERE id > 150");
  CHECK(eventually([&] { return same_rows(s.a_src, s.a_dst, "items") && same_rows(s.b_src, s.b_dst, "parts"); }, 60));

  // The remote status, narrowed to one pipeline.
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  Run r = s.cli({"status", "--url", base, "--pipeline", "a", "--format", "json"});
  CHECK(r.code == 0);
  auto doc = json::parse(r.out);
  REQUIRE(doc.at("pipelines").as_array().size() == 1);
  CHECK(doc.at("pipelines").as_array()[0].at("name") == "a");

  // c joins through POST /api/v1/reload.
  s.write({"a", "b", "c"});
  auto reply = cdc_test::http(port, "POST", "/api/v1/reload", "Content-Type: application/json\r\n", "{}");
  INFO(reply.body);
  CHECK(reply.status == 200);
  CHECK(has(reply.body, "pipelines added: c; removed: none; reloaded: a, b"));
  CHECK(eventually([&] {
    auto live = live_pipelines(port);
    return live.size() == 3 && live["c"];
  }, 60));
  CHECK(eventually([&] { return same_rows(s.c_src, s.c_dst, "tools"); }));

  // a leaves on SIGHUP; b and c go on.
  s.write({"b", "c"});
  ::kill(pid, SIGHUP);
  CHECK(eventually([&] {
    auto live = live_pipelines(port);
    return live.size() == 2 && live.count("b") && live.count("c");
  }, 60));
  Db(s.c_src).exec("INSERT INTO tools VALUES (900, 'late')");
  CHECK(eventually([&] { return same_rows(s.c_src, s.c_dst, "tools"); }));

  ::kill(pid, SIGTERM);
  auto exit = cdc_test::wait_exit(pid);
  std::string text = cdc_test::slurp(log);
  INFO(text);
  CHECK_FALSE(exit.signaled);
  CHECK(exit.code == 0);
  CHECK(has(text, "a: session [items] snapshot done"));
  CHECK(has(text, "c: session [tools] snapshot done"));
  CHECK(has(text, "applied: pipelines added: none; removed: a; reloaded: b, c"));
}

#endif  // CDC_CLI_PATH
