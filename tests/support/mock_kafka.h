// librdkafka's mock cluster as its own process (tests/kafka/mock_kafka.c) for the Kafka tests
// (tests/kafka, tests/events), a topic read back by an ordinary read_committed consumer, and a
// table rebuilt from its topic (support/event_replay.h). Needs CDC_MOCK_KAFKA_PATH.
#pragma once

#include "support/event_fixture.h"

#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace cdc_test {

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
inline std::map<int, std::vector<std::string>> read_topic(const std::string& bootstraps, const std::string& topic) {
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
inline std::vector<std::string> rebuild(const std::string& bootstraps, const std::string& topic, const std::string& table, int* events = nullptr) {
  std::vector<std::string> rows;
  for (const auto& [p, values] : read_topic(bootstraps, topic)) {
    EventReplay r = EventFixture::new_replay();
    for (const auto& v : values) r.apply(v);
    if (events) *events += static_cast<int>(values.size());
    for (auto& row : r.rows(table)) rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

}  // namespace cdc_test
