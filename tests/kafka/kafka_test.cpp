// Kafka destination end to end against librdkafka's mock cluster (a separate process speaking the
// Kafka protocol on loopback): `cdc-cli replicate` from a SQLite source, then every table's topic
// read back by an ordinary read_committed consumer and replayed (support/event_replay.h) must give
// back the source table exactly, also after a SIGKILL mid-stream and a restart.
#include "support/event_fixture.h"

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

namespace {

// The mock cluster as its own process; stopped (SIGKILL) on destruction.
class MockKafka {
 public:
  MockKafka() {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::execl(CDC_MOCK_KAFKA_PATH, CDC_MOCK_KAFKA_PATH, static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    ::close(fds[1]);
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') bootstraps_ += c;
    ::close(fds[0]);
    REQUIRE_FALSE(bootstraps_.empty());
  }
  ~MockKafka() {
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
  const std::string& bootstraps() const { return bootstraps_; }

 private:
  pid_t pid_ = -1;
  std::string bootstraps_;
};

// Every message of `topic`, per partition in offset order, read with isolation.level=read_committed.
// Null values (tombstones) are left out.
std::map<int, std::vector<std::string>> read_topic(const std::string& bootstraps, const std::string& topic) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "test-reader", err, sizeof err);
  rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  REQUIRE(c);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* t = rd_kafka_topic_new(c, topic.c_str(), nullptr);
  REQUIRE(rd_kafka_metadata(c, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(md->topic_cnt == 1);
  INFO("topic " << topic << ": " << rd_kafka_err2str(md->topics[0].err));
  REQUIRE(md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR);
  const int partitions = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(t);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(c, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::map<int, std::vector<std::string>> out;
  std::set<int> eof;
  for (int idle = 0; static_cast<int>(eof.size()) < partitions && idle < 300;) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
    if (!m) {
      ++idle;
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) eof.insert(m->partition);
    else if (!m->err && m->payload) out[m->partition].emplace_back(static_cast<const char*>(m->payload), m->len);
    rd_kafka_message_destroy(m);
  }
  CHECK(static_cast<int>(eof.size()) == partitions);
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  return out;
}

// A table rebuilt from its topic: each partition replayed on its own (a key lives in one
// partition; a truncate is in all of them), the partitions' rows together.
std::vector<std::string> rebuild(const std::string& bootstraps, const std::string& topic, const std::string& table, int* events = nullptr) {
  std::vector<std::string> rows;
  for (const auto& [p, values] : read_topic(bootstraps, topic)) {
    EventReplay r = cdc_test::EventFixture::new_replay();
    for (const auto& v : values) r.apply(v);
    if (events) *events += static_cast<int>(values.size());
    for (auto& row : r.rows(table)) rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

}  // namespace

#ifdef CDC_CLI_PATH

TEST_CASE("kafka: copy and replicate; each table's topic replayed rebuilds it", "[kafka]") {
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
      bool stream = std::string(point).rfind("snapshot", 0) != 0;
      if (stream) {
        REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
        f.write_changes(300, 11);
      }
      auto killed = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, point, f.log);
      INFO(slurp(f.log));
      REQUIRE(killed.signaled);
      f.write_changes(100, 12);
      CHECK(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
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
  auto dest = cdc::ConnectorRegistry::instance().open_destination(
      "kafka://127.0.0.1:1?sasl.username=u&sasl.password=secret&security.protocol=sasl_plaintext&sasl.mechanism=PLAIN");
  dest->describe_source({"sqlite", "s", "", "db"});
  try {
    dest->checkpoint_store()->load("s");
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Connection);
    CHECK(e.retryable());
    CHECK_THAT(e.what(), Catch::Contains("cannot reach the Kafka cluster at kafka://127.0.0.1:1?"));
    CHECK_THAT(e.what(), !Catch::Contains("secret"));
  }
}
