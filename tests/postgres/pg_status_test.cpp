// `cdc-cli status` asks the PostgreSQL source about its slot: retained WAL in bytes.
#include "pg_test_util.h"

#include <cstdio>
#include <fstream>

#ifdef CDC_CLI_PATH

namespace {
std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}
}  // namespace

TEST_CASE("status shows the slot's retained WAL", "[postgres]") {
  pg_test::TempDb src("st_src"), dst("st_dst");
  pg_test::TempDir dir;
  {
    pg_test::Conn c(src.url());
    c.exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
    c.exec("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g");
  }
  const std::string cfg = dir.file("cdc.yaml");
  std::ofstream(cfg) << "source: \"" << src.url() << "\"\ndestination: \"" << dst.url() << "\"\npoll_interval_ms: 50\n";
  REQUIRE(std::system((std::string(CDC_CLI_PATH) + " --log-level error replicate -c " + cfg + " --until-idle > /dev/null 2>&1").c_str()) == 0);
  {
    pg_test::Conn c(src.url());
    c.exec("INSERT INTO t SELECT g, 'w' || g FROM generate_series(101, 5000) g");  // WAL the slot now retains
  }
  std::string json = run(std::string(CDC_CLI_PATH) + " status -c " + cfg + " --format json 2>/dev/null");
  INFO(json);
  CHECK(json.find("\"retained_wal_bytes\":\"") != std::string::npos);
  CHECK(json.find("\"slot_active\":\"no\"") != std::string::npos);
  std::string table = run(std::string(CDC_CLI_PATH) + " status -c " + cfg + " 2>&1");
  INFO(table);
  CHECK(table.find("  retained_wal_bytes: ") != std::string::npos);
  auto pos = table.find("retained_wal_bytes: ");
  CHECK(std::stoll(table.substr(pos + 20)) > 0);
  std::string quiet = run(std::string(CDC_CLI_PATH) + " status -c " + cfg + " --no-source 2>&1");
  CHECK(quiet.find("retained_wal_bytes") == std::string::npos);
  // Leave nothing behind on the source.
  run(std::string(CDC_CLI_PATH) + " teardown -c " + cfg + " 2>&1");
}

#endif
