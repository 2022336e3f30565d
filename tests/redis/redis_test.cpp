// Redis Streams destination end to end against a real redis-server started by each test:
// `cdc-cli replicate` from a SQLite source, then every table's stream read back (XRANGE) and
// replayed (support/event_replay.h) must give back the source table exactly, also after SIGKILLs
// mid-stream (the XADDs and the checkpoint share one MULTI/EXEC: nothing lost, nothing repeated).
#include "support/redis_server.h"

#include <cdc/error.h>
#include <cdc/registry.h>

#include <catch2/catch.hpp>

#include <hiredis/hiredis.h>

#include <chrono>
#include <csignal>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

using cdc_test::EventReplay;
using cdc_test::run_cli;
using cdc_test::slurp;

using cdc_test::RedisServer;
using cdc_test::free_port;

#ifdef CDC_CLI_PATH

TEST_CASE("redis: copy and replicate, then each table's stream replayed rebuilds it", "[redis]") {
  RedisServer redis("s3cret");
  cdc_test::EventFixture f(4000, "", redis.url("?stream_prefix=shop"));
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  f.write_changes(300, 3);
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  f.check_rebuilds([&](const std::string& t) { return redis.rebuild("shop:src." + t, t); });
  // Entries carry the key beside the event.
  auto items = redis.xrange("shop:src.items");
  REQUIRE(items.size() > 1);
  CHECK(items.front().first.empty());  // the truncate that starts the snapshot has no key
  CHECK(boost::json::parse(items.front().second).at("op") == "t");
  // (Which row comes first depends on which snapshot chunk commits first.)
  auto first_row = boost::json::parse(items[1].second);
  CHECK(first_row.at("op") == "r");
  CHECK(boost::json::parse(items[1].first) == boost::json::object{{"id", first_row.at("after").at("id")}});
  CHECK_THAT(slurp(f.log), !Catch::Contains("s3cret"));
}

TEST_CASE("redis: maxlen caps each stream", "[redis]") {
  RedisServer redis;
  cdc_test::EventFixture f(3000, "", redis.url("?stream_prefix=capped&maxlen=500"));
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  auto n = redis.xrange("capped:src.items").size();
  CHECK(n >= 500);
  CHECK(n < 3000);
}

#ifdef CDC_FAILPOINTS
TEST_CASE("redis: SIGKILL mid-snapshot or mid-stream, then restart: the replay rebuilds exactly", "[redis][crash]") {
  for (const char* point : {"redis.before_exec:3", "stream.batch_committed:3", "redis.before_exec:5", "snapshot.chunk_committed:1"}) {
    DYNAMIC_SECTION(point) {
      RedisServer redis;
      cdc_test::EventFixture f(8000, "", redis.url("?stream_prefix=shop"));
      f.kill_and_restart(point, std::string(point) != "snapshot.chunk_committed:1" && std::string(point) != "redis.before_exec:3");
      f.check_rebuilds([&](const std::string& t) { return redis.rebuild("shop:src." + t, t); });
    }
  }
}
#endif

#endif  // CDC_CLI_PATH

TEST_CASE("redis: bad URL parameters and an unreachable server are clear errors", "[redis]") {
  CHECK_THROWS_WITH(cdc::ConnectorRegistry::instance().open_destination("redis://127.0.0.1:6379/0?stream=x"),
                    Catch::Contains("unknown parameter \"stream\" (known: decimal_handling, maxlen, schemas, stream_prefix)"));
  CHECK_THROWS_WITH(cdc::ConnectorRegistry::instance().open_destination("redis://127.0.0.1:6379/zero"),
                    Catch::Contains("database \"zero\" is not a number"));
  cdc_test::check_store_error("redis://:hunter2@127.0.0.1:" + std::to_string(free_port()) + "/0", true,
                              "cannot connect to Redis at redis://:***@127.0.0.1:", "hunter2");
}

TEST_CASE("redis: a wrong password is refused by name, not retried", "[redis]") {
  RedisServer redis("right");
  cdc_test::check_store_error("redis://:wrong@127.0.0.1:" + std::to_string(redis.port()) + "/0", false,
                              "AUTH at redis://:***@127.0.0.1:", "wrong");
}
