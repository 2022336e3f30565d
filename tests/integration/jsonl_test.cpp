// JSON lines destination end to end: `cdc-cli replicate` from a SQLite source into jsonl://, then
// the file's events replayed in order (support/event_replay.h) must give back every source table
// exactly — also after SIGKILLs mid-snapshot and mid-stream (CDC_CRASH_AT), and with rotation.
#include "support/event_fixture.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>

#ifdef CDC_CLI_PATH

using cdc_test::run_cli;
using cdc_test::slurp;
using cdc_test::url;
using Fixture = cdc_test::EventFixture;

TEST_CASE("jsonl: copy and replicate, then replaying the file rebuilds every table", "[sqlite][jsonl]") {
  Fixture f(6000);
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  f.check_rebuilds();
  CHECK(f.replay().count("r") == 6000 + 1500 + 1500);
  CHECK(std::filesystem::exists(f.out + ".cdc-checkpoint"));
  f.write_changes(400, 3);
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  f.check_rebuilds();
  auto r = f.replay();
  CHECK(r.count("u") > 0);
  CHECK(r.count("d") > 0);
  CHECK(r.count("c") > 0);
}

TEST_CASE("jsonl: rotation by size keeps every event, oldest file first", "[sqlite][jsonl]") {
  Fixture f(3000, "?rotate_bytes=200000");
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  f.write_changes(300, 5);
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  CHECK(f.files().size() > 2);
  for (const auto& file : f.files())
    if (file != f.out) CHECK(std::filesystem::file_size(file) >= 200000);
  f.check_rebuilds();
}

TEST_CASE("jsonl: copy to standard output writes one event per line", "[sqlite][jsonl]") {
  Fixture f(100);
  std::string stdout_file = f.dir.file("stdout.jsonl");
  REQUIRE(run_cli({"copy", url(f.src), "jsonl://-"}, "", f.log, stdout_file).code == 0);
  std::ifstream in(stdout_file);
  std::string line;
  std::map<std::string, int> ops;
  while (std::getline(in, line)) ++ops[std::string(boost::json::parse(line).at("op").as_string())];
  // Each table's snapshot starts with a truncate; nothing but events is on standard output.
  CHECK(ops == std::map<std::string, int>{{"r", 100 + 25 + 25}, {"t", 3}});
}

TEST_CASE("jsonl: bad URL parameters are errors naming them", "[sqlite][jsonl]") {
  Fixture f(10);
  REQUIRE(run_cli({"copy", url(f.src), "jsonl://" + f.out + "?rotate=5"}, "", f.log).code != 0);
  CHECK_THAT(slurp(f.log), Catch::Contains("unknown parameter \"rotate\" (known: decimal_handling, rotate_bytes, schemas)"));
  REQUIRE(run_cli({"copy", url(f.src), "jsonl://" + f.out + "?decimal_handling=float"}, "", f.log).code != 0);
  CHECK_THAT(slurp(f.log), Catch::Contains("decimal_handling=float is not one of string, double"));
  REQUIRE(run_cli({"verify", "-c", f.cfg}, "", f.log).code != 0);
  CHECK_THAT(slurp(f.log), Catch::Contains("cannot compare jsonl://" + f.out + ": cdc cannot read a jsonl:// destination back as "
                                           "tables (a stream of change events, or a document store); verify compares databases only"));
}

#ifdef CDC_FAILPOINTS

TEST_CASE("jsonl: SIGKILL mid-snapshot or mid-stream, then restart: the replay still rebuilds exactly", "[sqlite][jsonl][crash]") {
  for (const char* point : {"snapshot.chunk_committed:2", "jsonl.before_checkpoint:3", "stream.batch_committed:3",
                            "stream.before_commit:2", "jsonl.before_checkpoint:4"}) {
    DYNAMIC_SECTION(point) {
      Fixture f(12000);
      f.kill_and_restart(point, std::string(point).rfind("stream", 0) == 0 || std::string(point) == "jsonl.before_checkpoint:4");
      f.check_rebuilds();
    }
  }
}

#endif  // CDC_FAILPOINTS
#endif  // CDC_CLI_PATH
