// Event buses fed by real sources: `cdc-cli replicate` from MariaDB and from PostgreSQL into Kafka
// (the mock cluster), Redis Streams and Harper, SIGKILLed once mid-snapshot and once mid-stream and
// restarted each time. Afterwards each table's events replayed in order (support/event_replay.h)
// must rebuild the source table exactly, every row and every delete; Harper's tables must equal
// the source tables. The tables and the change generator are support/event_fixture.h's, with the
// source database plugged in below.
#include "mysql_test_util.h"
#include "pg_test_util.h"
#include "support/event_fixture.h"
#include "support/harper_server.h"
#include "support/mock_kafka.h"
#include "support/redis_server.h"

#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <functional>
#include <memory>

using namespace cdc_test;

namespace {

// A database of the MariaDB fixture server, dropped afterwards.
class MariaDbSource final : public EventSourceDb {
 public:
  explicit MariaDbSource(const std::string& tag) : name_("ev_" + tag + "_" + std::to_string(::getpid())) {
    auto admin = mysql_test::connect("mysql");
    admin.exec("DROP DATABASE IF EXISTS " + cdc::mysql::quote_ident(name_));
    admin.exec("CREATE DATABASE " + cdc::mysql::quote_ident(name_) + " CHARACTER SET utf8mb4");
    conn_ = mysql_test::connect(name_);
  }
  ~MariaDbSource() override {
    try {
      mysql_test::connect("mysql").exec("DROP DATABASE IF EXISTS " + cdc::mysql::quote_ident(name_));
    } catch (...) {
    }
  }
  std::string dialect() const override { return "mysql"; }
  std::string url() const override { return mysql_test::url_for(name_); }
  std::string space() const override { return name_; }
  void exec(const std::string& sql) override { conn_.exec(sql); }
  SourceRows query(const std::string& sql) override { return conn_.rows(sql); }

 private:
  std::string name_;
  cdc::mysql::Conn conn_;
};

// A database of the PostgreSQL fixture server (with its replication slot), dropped afterwards.
class PgSource final : public EventSourceDb {
 public:
  explicit PgSource(const std::string& tag) : db_(tag) {
    c_ = PQconnectdb(db_.url().c_str());
    if (PQstatus(c_) != CONNECTION_OK) FAIL("connect " << db_.url() << ": " << PQerrorMessage(c_));
    PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);
  }
  ~PgSource() override { PQfinish(c_); }
  std::string dialect() const override { return "postgresql"; }
  std::string url() const override { return db_.url(); }
  std::string space() const override { return "public"; }
  void exec(const std::string& sql) override { query(sql); }
  SourceRows query(const std::string& sql) override {
    PGresult* r = PQexec(c_, sql.c_str());
    auto st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      std::string err = PQresultErrorMessage(r);
      PQclear(r);
      FAIL("SQL failed: " << sql << ": " << err);
    }
    SourceRows out;
    for (int i = 0; i < PQntuples(r); ++i) {
      auto& row = out.emplace_back();
      for (int j = 0; j < PQnfields(r); ++j)
        if (PQgetisnull(r, i, j)) row.emplace_back();
        else row.emplace_back(std::string(PQgetvalue(r, i, j), static_cast<std::size_t>(PQgetlength(r, i, j))));
    }
    PQclear(r);
    return out;
  }

 private:
  pg_test::TempDb db_;
  PGconn* c_ = nullptr;
};

#if defined(CDC_CLI_PATH) && defined(CDC_FAILPOINTS)

std::unique_ptr<EventSourceDb> source(const std::string& kind, const std::string& tag) {
  if (kind == "mariadb") return std::make_unique<MariaDbSource>(tag);
  return std::make_unique<PgSource>(tag);
}

// Snapshot killed at `snapshot_point`, restarted; changes streamed, killed after the third stream
// batch, more changes, restarted: then `check()` compares.
void crash_and_restart(EventFixture& f, const std::function<void()>& check, const char* snapshot_point = "snapshot.chunk_committed:1") {
  f.kill_and_restart(snapshot_point, false);
  f.kill_and_restart("stream.batch_committed:3", true);
  check();
}

void to_kafka(const std::string& kind) {
  MockKafka kafka;
  EventFixture f(source(kind, "kafka"), 8000, "kafka://" + kafka.bootstraps() + "?topic_prefix=shop");
  crash_and_restart(f, [&] {
    int events = 0;
    f.check_rebuilds([&](const std::string& t) { return rebuild(kafka.bootstraps(), "shop." + f.stream(t), t, &events); });
    CHECK(events > 8000 + 2000 + 2000);
  });
}

void to_redis(const std::string& kind) {
  RedisServer redis;
  EventFixture f(source(kind, "redis"), 8000, redis.url("?stream_prefix=shop"));
  crash_and_restart(f, [&] { f.check_rebuilds([&](const std::string& t) { return redis.rebuild("shop:" + f.stream(t), t); }); });
}

void to_harper(const std::string& kind) {
  const std::string url = harper_base_url() + "/" + harper_database("ev_" + kind);
  EventFixture f(source(kind, "harper"), 8000, url);
  f.serial_writes();
  // One writer, killed between a snapshot chunk's data and its checkpoint, so that no request is in
  // flight: Harper finishes a request whose client died, possibly after the restart's writes
  // (docs/harper.md, "Writes, checkpoints, crashes").
  crash_and_restart(f, [&] { check_harper_mirrors(f, url); }, "harper.before_checkpoint:2");
}

#endif

}  // namespace

#if defined(CDC_CLI_PATH) && defined(CDC_FAILPOINTS)

TEST_CASE("events: MariaDB -> Kafka, killed mid-snapshot and mid-stream: each topic replayed rebuilds its table", "[mariadb-kafka]") {
  to_kafka("mariadb");
}
TEST_CASE("events: PostgreSQL -> Kafka, killed mid-snapshot and mid-stream: each topic replayed rebuilds its table", "[postgres-kafka]") {
  to_kafka("postgres");
}
TEST_CASE("events: MariaDB -> Redis, killed mid-snapshot and mid-stream: each stream replayed rebuilds its table", "[mariadb-redis]") {
  to_redis("mariadb");
}
TEST_CASE("events: PostgreSQL -> Redis, killed mid-snapshot and mid-stream: each stream replayed rebuilds its table", "[postgres-redis]") {
  to_redis("postgres");
}
TEST_CASE("events: MariaDB -> Harper, killed mid-snapshot and mid-stream: every Harper table equals its source", "[mariadb-harper]") {
  to_harper("mariadb");
}
TEST_CASE("events: PostgreSQL -> Harper, killed mid-snapshot and mid-stream: every Harper table equals its source", "[postgres-harper]") {
  to_harper("postgres");
}

#endif
