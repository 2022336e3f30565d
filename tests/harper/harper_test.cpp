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
                    Catch::Contains("unknown parameter \"schemas\" (known: decimal_handling)"));
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
