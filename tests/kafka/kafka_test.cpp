// Kafka destination end to end against librdkafka's mock cluster (a separate process speaking the
// Kafka protocol on loopback): `cdc-cli replicate` from a SQLite source, then every table's topic
// read back by an ordinary read_committed consumer and replayed (support/event_replay.h) must give
// back the source table exactly, also after a SIGKILL mid-stream and a restart.
#include "support/mock_kafka.h"

#include <cdc/error.h>
#include <cdc/registry.h>

#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>

#include <csignal>
#include <map>

#include <sys/wait.h>
#include <unistd.h>

using cdc_test::EventReplay;
using cdc_test::run_cli;
using cdc_test::slurp;
using cdc_test::url;

using cdc_test::MockKafka;
using cdc_test::read_topic;
using cdc_test::rebuild;

#ifdef CDC_CLI_PATH

TEST_CASE("kafka: copy and replicate, then each table's topic replayed rebuilds it", "[kafka]") {
  MockKafka kafka;
  cdc_test::EventFixture f(4000, "", "kafka://" + kafka.bootstraps() + "?topic_prefix=shop&acks=all&compression.type=lz4");
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  f.write_changes(300, 3);
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  int events = 0;
  // SQLite: the file's stem ("src") stands for the schema in the topic's name.
  f.check_rebuilds([&](const std::string& t) { return rebuild(kafka.bootstraps(), "shop.src." + t, t, &events); });
  CHECK(events > 4000 + 1000 + 1000);  // every snapshot row, the truncates and the changes
  // The checkpoints are in the compacted topic, keyed by [session, key].
  auto cps = read_topic(kafka.bootstraps(), "shop.cdc_checkpoints");
  CHECK_FALSE(cps.empty());
}

TEST_CASE("kafka: a key's events stay in one partition, and a truncate reaches every partition", "[kafka]") {
  MockKafka kafka;
  cdc_test::EventFixture f(2000, "", "kafka://" + kafka.bootstraps() + "?topic_prefix=shop");
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  {
    cdc_test::Db s(f.src);
    for (int i = 0; i < 20; ++i) s.exec("UPDATE items SET name = 'again " + std::to_string(i) + "' WHERE id = 7");
  }
  REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
  auto parts = read_topic(kafka.bootstraps(), "shop.src.items");
  CHECK(parts.size() > 1);
  int holding = 0;
  for (const auto& [p, values] : parts) {
    int n = 0;
    for (const auto& v : values)
      if (boost::json::parse(v).at("op") == "u") ++n;
    if (n > 0) {
      ++holding;
      CHECK(n == 20);
    }
  }
  CHECK(holding == 1);
  // A truncate (here: a fresh snapshot of the table starting) is in every partition.
  auto dest = cdc::ConnectorRegistry::instance().open_destination("kafka://" + kafka.bootstraps() + "?topic_prefix=shop");
  dest->describe_source({"sqlite", "direct", "", "src"});
  cdc::DestinationTable table;
  table.schema.id = cdc::TableId("items");
  table.schema.columns.resize(1);
  table.schema.columns[0].name = "id";
  table.schema.columns[0].type.id = cdc::TypeId::Int64;
  table.schema.primary_key = {"id"};
  dest->prepare_table(table);
  auto w = dest->open_writer();
  w->begin();
  w->truncate(table);
  w->commit("direct", {});
  auto after = read_topic(kafka.bootstraps(), "shop.src.items");
  REQUIRE(after.size() == parts.size());
  for (const auto& [p, values] : after) {
    INFO("partition " << p);
    REQUIRE_FALSE(values.empty());
    CHECK(boost::json::parse(values.back()).at("op") == "t");
  }
}

#ifdef CDC_FAILPOINTS
TEST_CASE("kafka: SIGKILL mid-stream, then restart: read_committed replay rebuilds exactly", "[kafka][crash]") {
  for (const char* point : {"stream.batch_committed:3", "kafka.before_commit:5", "snapshot.chunk_committed:1"}) {
    DYNAMIC_SECTION(point) {
      MockKafka kafka;
      cdc_test::EventFixture f(8000, "", "kafka://" + kafka.bootstraps() + "?topic_prefix=shop");
      f.kill_and_restart(point, std::string(point).rfind("snapshot", 0) != 0);
      f.check_rebuilds([&](const std::string& t) { return rebuild(kafka.bootstraps(), "shop.src." + t, t); });
    }
  }
}
#endif

#endif  // CDC_CLI_PATH

TEST_CASE("kafka: a misspelt librdkafka property is an error naming it", "[kafka]") {
  try {
    cdc::ConnectorRegistry::instance().open_destination("kafka://127.0.0.1:9092?acsk=all");
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Config);
    CHECK_THAT(e.what(), Catch::Contains("parameter acsk: No such configuration property: \"acsk\""));
    CHECK_THAT(e.what(), Catch::Contains("topic_prefix, schemas, decimal_handling, tombstones"));
  }
  CHECK_THROWS_WITH(cdc::ConnectorRegistry::instance().open_destination("kafka://127.0.0.1:9092?decimal_handling=x"),
                    Catch::Contains("decimal_handling=x is not one of string, double"));
  CHECK_THROWS_WITH(cdc::ConnectorRegistry::instance().open_destination("kafka://127.0.0.1:9092?transactional.id=x"),
                    Catch::Contains("parameter transactional.id is set by cdc and cannot be given"));
}

TEST_CASE("kafka: an unreachable cluster is a retryable connection error naming the URL without its password", "[kafka]") {
  cdc_test::check_store_error(
      "kafka://127.0.0.1:1?sasl.username=u&sasl.password=secret&security.protocol=sasl_plaintext&sasl.mechanism=PLAIN", true,
      "cannot reach the Kafka cluster at kafka://127.0.0.1:1?", "secret");
}

TEST_CASE("kafka: TLS properties reach librdkafka, and a CA file it cannot load is an error naming it", "[kafka][tls]") {
  // No TLS broker here (the mock cluster speaks plain text): librdkafka builds its TLS context when
  // the producer is created, so a missing CA file already fails there.
  auto dest = cdc::ConnectorRegistry::instance().open_destination(
      "kafka://127.0.0.1:9092?security.protocol=ssl&ssl.ca.location=/nonexistent/ca.pem&ssl.key.password=Kp-5ecret");
  dest->describe_source({"sqlite", "s", "", "db"});
  try {
    dest->checkpoint_store()->load("s");
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK_FALSE(e.retryable());
    CHECK_THAT(e.what(), Catch::Contains("ssl.ca.location failed"));
    CHECK_THAT(e.what(), Catch::Contains("ssl.key.password=***"));
    CHECK_THAT(e.what(), !Catch::Contains("Kp-5ecret"));
  }
}
