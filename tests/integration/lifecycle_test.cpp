// A table's life in a running session, on SQLite files: tables added by a reload and repaired by a
// resync while the others stream under a write load, removed and selected again, paused and
// stopped across restarts, a store written by cdc 0.1 upgraded in place. Every case ends in a
// row-by-row comparison of source and target (cdc::verify checksums every row).
#include "support/sqlite_fixture.h"
#include "support/wait.h"

#include "core/session_name.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

using cdc_test::Db;
using cdc_test::TempDir;
using cdc_test::url;
using cdc_test::by_table;

namespace {
bool eventually(const std::function<bool()>& ok, int seconds = 30) { return cdc_test::eventually(ok, seconds); }
}  // namespace

namespace {

cdc::TablePhase phase_of(cdc::ReplicationSession& s, const std::string& table) { return by_table(s.status())[table].phase; }

// Source tables a, b (keyed) and c (no key), each with `rows` rows.
struct Shop {
  TempDir dir;
  std::string src = dir.file("src.db"), dst = dir.file("dst.db");

  explicit Shop(int rows = 2000) {
    Db s(src);
    s.exec("PRAGMA journal_mode=WAL");
    for (const char* t : {"a", "b"}) {
      s.exec(std::string("CREATE TABLE ") + t + " (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)");
      s.exec(std::string("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < ") + std::to_string(rows) +
             ") INSERT INTO " + t + " SELECT i, 'v' || i, i FROM r");
    }
    s.exec("CREATE TABLE c (at INTEGER, what TEXT)");
    s.exec("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 300) INSERT INTO c SELECT i, 'c' || i FROM r");
  }

  cdc::Config config(std::vector<std::string> include = {"*"}) const {
    cdc::Config c;
    c.name = "life";
    c.source = url(src);
    c.destination = url(dst);
    c.include = std::move(include);
    c.poll_interval_ms = 20;
    c.stream_batch_rows = 100;
    c.defaults.chunk_rows = 500;
    c.defaults.batch_size = 200;
    c.retry.initial_delay_ms = 10;
    c.retry.max_delay_ms = 50;
    return c;
  }

  // Random inserts, updates and deletes on every table until `stop`.
  void write_load(std::atomic<bool>& stop, unsigned seed) const {
    Db s(src);
    std::mt19937 rng(seed);
    while (!stop) {
      std::string id = std::to_string(rng() % 3000 + 1);
      const char* t = rng() % 2 ? "a" : "b";
      switch (rng() % 5) {
        case 0: s.exec(std::string("INSERT OR REPLACE INTO ") + t + " VALUES (" + id + ", 'new', " + id + ")"); break;
        case 1: s.exec(std::string("UPDATE ") + t + " SET v = v || '+', n = n + 1 WHERE id = " + id); break;
        case 2: s.exec(std::string("DELETE FROM ") + t + " WHERE id = " + id); break;
        case 3: s.exec("INSERT INTO c VALUES (" + id + ", 'live')"); break;
        default: s.exec("DELETE FROM c WHERE rowid = (SELECT min(rowid) FROM c)");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  }

  // Row-by-row equality of the tables the target has (cdc::verify), plus the keyless table's
  // multiset of rows (a doubled row would show).
  void check_equal(const std::vector<std::string>& tables) const {
    cdc::VerifyOptions o;
    o.include = tables;
    auto report = cdc::verify(url(src), url(dst), o);
    REQUIRE(report.tables.size() == tables.size());
    for (const auto& t : report.tables) {
      INFO(t.source << ": " << t.source_rows << " vs " << t.target_rows << " " << t.error);
      for (const auto& k : t.differing_keys) INFO(k);
      CHECK(t.equal);
    }
  }
};

// Waits until the stream has applied everything the source logged: the session's position is
// the capture log's last sequence, and no streaming table is still replaying from behind it (a
// resynced table without a key replays from where its copy read; the session's position stands
// still meanwhile, so an unchanged position alone does not mean caught up).
void settle(cdc::ReplicationSession& session, const std::string& src) {
  REQUIRE(eventually([&] {
    Db s(src);
    auto last = s.rows("SELECT seq FROM sqlite_sequence WHERE name = '_cdc_log'");
    auto status = session.status();
    if (last.empty() || status.stream_position != last[0].substr(4)) return false;
    for (const auto& t : status.tables)
      if (t.phase == cdc::TablePhase::Streaming && t.position != status.stream_position) return false;
    return true;
  }));
}

}  // namespace

TEST_CASE("a table added by a reload is copied beside the stream and converges under writes", "[sqlite][lifecycle]") {
  if (std::getenv("CDC_TEST_DEBUG")) cdc::set_log_level(cdc::LogLevel::Debug);
  Shop shop;
  cdc::ReplicationSession session(shop.config({"a"}));
  session.start();
  REQUIRE(eventually([&] { return phase_of(session, "a") == cdc::TablePhase::Streaming; }));
  std::atomic<bool> stop{false};
  std::thread load([&] { shop.write_load(stop, 1); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  session.reload(shop.config({"a", "b", "c"}));
  REQUIRE(eventually([&] {
    auto t = by_table(session.status());
    return t["b"].phase == cdc::TablePhase::Streaming && t["c"].phase == cdc::TablePhase::Streaming;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // changes keep coming after the hand-over
  stop = true;
  load.join();
  settle(session, shop.src);
  auto status = by_table(session.status());
  session.stop();
  session.wait();
  CHECK(status["a"].phase == cdc::TablePhase::Streaming);
  CHECK(status["b"].changes_applied > 0);
  shop.check_equal({"a", "b", "c"});
  Db s(shop.src), d(shop.dst);
  CHECK(s.rows("SELECT at, what, count(*) FROM c GROUP BY 1, 2 ORDER BY 1, 2") ==
        d.rows("SELECT at, what, count(*) FROM c GROUP BY 1, 2 ORDER BY 1, 2"));
}

TEST_CASE("a resync repairs a damaged target while the other tables stream under writes", "[sqlite][lifecycle]") {
  Shop shop;
  cdc::ReplicationSession session(shop.config());
  session.start();
  REQUIRE(eventually([&] { return phase_of(session, "b") == cdc::TablePhase::Streaming; }));
  std::atomic<bool> stop{false};
  std::thread load([&] { shop.write_load(stop, 2); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    // Someone damages the replica: rows lost, values changed, rows that never existed.
    Db d(shop.dst);
    d.exec("DELETE FROM b WHERE id % 7 = 0");
    d.exec("UPDATE b SET v = 'damaged' WHERE id % 11 = 0");
    d.exec("INSERT OR REPLACE INTO b VALUES (100001, 'ghost', 0), (100002, 'ghost', 0)");
    d.exec("DELETE FROM c WHERE rowid % 3 = 0");
  }
  session.resync_table("b");
  session.resync_table("c");
  CHECK_THROWS_WITH(session.resync_table("nope"), Catch::Contains("no table \"nope\"") && Catch::Contains("its tables: a, b, c"));
  REQUIRE(eventually([&] {
    auto t = by_table(session.status());
    return t["b"].phase == cdc::TablePhase::Streaming && t["c"].phase == cdc::TablePhase::Streaming;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  load.join();
  settle(session, shop.src);
  session.stop();
  session.wait();
  shop.check_equal({"a", "b", "c"});
  Db d(shop.dst);
  CHECK(d.rows("SELECT count(*) FROM b WHERE v = 'ghost' OR v = 'damaged'") == std::vector<std::string>{"int:0"});
}

TEST_CASE("a table no longer selected is removed and catches up when selected again", "[sqlite][lifecycle]") {
  Shop shop;
  cdc::ReplicationSession session(shop.config());
  session.start();
  REQUIRE(eventually([&] { return phase_of(session, "b") == cdc::TablePhase::Streaming; }));
  session.reload(shop.config({"a", "c"}));
  CHECK(phase_of(session, "b") == cdc::TablePhase::Removed);
  CHECK(by_table(session.status())["b"].held);
  {
    Db s(shop.src);
    s.exec("UPDATE b SET v = 'while removed' WHERE id <= 10");
    s.exec("UPDATE a SET v = 'a moves on' WHERE id <= 10");
  }
  REQUIRE(eventually([&] {
    Db d(shop.dst);
    return d.rows("SELECT count(*) FROM a WHERE v = 'a moves on'").at(0) == "int:10";
  }));
  {
    Db d(shop.dst);
    CHECK(d.rows("SELECT count(*) FROM b WHERE v = 'while removed'").at(0) == "int:0");  // b is not applied
  }
  session.reload(shop.config());
  REQUIRE(eventually([&] {
    Db d(shop.dst);
    return d.rows("SELECT count(*) FROM b WHERE v = 'while removed'").at(0) == "int:10";
  }));
  settle(session, shop.src);
  session.stop();
  session.wait();
  shop.check_equal({"a", "b", "c"});

  // A reload that changes the session's identity is refused and changes nothing.
  cdc::ReplicationSession again(shop.config());
  again.start();
  REQUIRE(eventually([&] { return phase_of(again, "a") == cdc::TablePhase::Streaming; }));
  auto other = shop.config();
  other.destination = url(shop.dir.file("elsewhere.db"));
  try {
    again.reload(other);
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Config);
    CHECK(e.where() == "destination");
  }
  auto bad = shop.config();
  bad.tables["nosuch"].batch_size = 10;
  CHECK_THROWS_WITH(again.reload(bad), Catch::Contains("tables.nosuch"));
  CHECK(phase_of(again, "b") == cdc::TablePhase::Streaming);
  again.stop();
  again.wait();
}

TEST_CASE("pause and stop survive a restart, resume catches up", "[sqlite][lifecycle]") {
  Shop shop;
  {
    cdc::ReplicationSession session(shop.config());
    session.start();
    REQUIRE(eventually([&] {
      auto t = by_table(session.status());
      return t["b"].phase == cdc::TablePhase::Streaming && t["c"].phase == cdc::TablePhase::Streaming;
    }));
    session.pause_table("b");
    session.stop_table("c");
    session.stop();
    session.wait();
  }
  {
    Db s(shop.src);
    s.exec("UPDATE b SET v = 'later' WHERE id <= 5");
    s.exec("INSERT INTO c VALUES (7, 'later')");
    s.exec("UPDATE a SET v = 'later' WHERE id <= 5");
  }
  cdc::ReplicationSession session(shop.config());
  session.start();
  REQUIRE(eventually([&] {
    Db d(shop.dst);
    return d.rows("SELECT count(*) FROM a WHERE v = 'later'").at(0) == "int:5";
  }));
  auto status = by_table(session.status());
  CHECK(status["b"].paused);
  CHECK(status["b"].held);
  CHECK(status["b"].hold_reason == "paused");
  CHECK(status["c"].phase == cdc::TablePhase::Stopped);
  {
    Db d(shop.dst);
    CHECK(d.rows("SELECT count(*) FROM b WHERE v = 'later'").at(0) == "int:0");
    CHECK(d.rows("SELECT count(*) FROM c WHERE what = 'later'").at(0) == "int:0");
  }
  session.resume_table("b");
  session.resume_table("c");
  REQUIRE(eventually([&] {
    Db d(shop.dst);
    return d.rows("SELECT count(*) FROM b WHERE v = 'later'").at(0) == "int:5" &&
           d.rows("SELECT count(*) FROM c WHERE what = 'later'").at(0) == "int:1";
  }));
  settle(session, shop.src);
  session.stop();
  session.wait();
  shop.check_equal({"a", "b", "c"});
}

TEST_CASE("checkpoints written by cdc 0.1 are upgraded in place and the session resumes", "[sqlite][lifecycle][upgrade]") {
  // tests/data/ledger-v1: a replica and its source as the previous release left them (written by
  // generate.cpp.txt): orders/events/paused_t streaming, paused_t held at 6 with a row after it,
  // prices incremental.
  TempDir dir;
  const std::string data = std::string(CDC_SOURCE_DIR) + "/tests/data/ledger-v1/";
  std::filesystem::copy_file(data + "source.db", dir.file("source.db"));
  std::filesystem::copy_file(data + "replica.db", dir.file("replica.db"));
  {
    // A row only the target has: a fresh copy of orders (rather than a resume) would remove it.
    Db d(dir.file("replica.db"));
    d.exec("INSERT INTO orders VALUES (9999, 'marker', 0, 'x')");
  }
  cdc::Config c;
  c.name = "v1fixture";
  c.source = url(dir.file("source.db"));
  c.destination = url(dir.file("replica.db"));
  c.poll_interval_ms = 20;
  c.tables["prices"].mode = cdc::TableMode::Incremental;
  c.tables["prices"].watermark = cdc::WatermarkSettings{"changed"};
  {
    Db s(dir.file("source.db"));
    s.exec("INSERT INTO orders VALUES (52, 'c52', 2, '2026-01-05')");
    s.exec("INSERT INTO prices VALUES ('sku21', 5.25, 21)");
  }
  cdc::SessionOptions o;
  o.exit_when_idle = true;
  auto status = by_table(cdc::ReplicationSession(c, o).run());
  CHECK(status["orders"].phase == cdc::TablePhase::Streaming);
  CHECK(status["paused_t"].phase == cdc::TablePhase::Streaming);
  CHECK(status["prices"].phase == cdc::TablePhase::Incremental);
  Db d(dir.file("replica.db"));
  CHECK(d.rows("SELECT value FROM _cdc_checkpoints WHERE session = 'v1fixture' AND key = 'format'") ==
        std::vector<std::string>{"text:2"});
  CHECK(d.rows("SELECT count(*) FROM orders WHERE id = 9999").at(0) == "int:1");  // resumed, not copied again
  CHECK(d.rows("SELECT id, v FROM paused_t ORDER BY id") ==
        std::vector<std::string>{"int:1|text:one", "int:2|text:two", "int:3|text:three"});  // replayed from its hold
  CHECK(d.rows("SELECT count(*) FROM _cdc_checkpoints WHERE session = 'v1fixture' AND key LIKE 'schema:%'").at(0) == "int:4");
  d.exec("DELETE FROM orders WHERE id = 9999");
  cdc::VerifyOptions vo;
  auto report = cdc::verify(c.source, c.destination, vo);
  for (const auto& t : report.tables) {
    INFO(t.source << ": " << t.source_rows << " vs " << t.target_rows);
    CHECK(t.equal);
  }
  CHECK(report.tables.size() == 4);
}

TEST_CASE("snapshot: never streams from the start without copying, always copies again in place", "[sqlite][lifecycle]") {
  Shop shop(50);
  auto config = shop.config({"a", "b"});
  config.tables["a"].snapshot = cdc::SnapshotPolicy::Never;
  {
    cdc::ReplicationSession session(config);
    session.start();
    REQUIRE(eventually([&] { return phase_of(session, "b") == cdc::TablePhase::Streaming; }));
    REQUIRE(eventually([&] { return phase_of(session, "a") == cdc::TablePhase::Streaming; }));
    Db(shop.src).exec("UPDATE a SET v = 'after' WHERE id <= 3");
    REQUIRE(eventually([&] { return Db(shop.dst).rows("SELECT count(*) FROM a").at(0) == "int:3"; }));
    session.stop();
    session.wait();
  }
  Db d(shop.dst);
  CHECK(d.rows("SELECT id, v FROM a ORDER BY id") ==
        std::vector<std::string>{"int:1|text:after", "int:2|text:after", "int:3|text:after"});  // only what changed
  CHECK(d.count("b") == 50);

  // always: a restart copies b again in place; rows only the target has go, the others stay readable.
  d.exec("INSERT INTO b VALUES (9999, 'only here', 0)");
  d.exec("UPDATE b SET v = 'stale' WHERE id = 1");
  config.tables["b"].snapshot = cdc::SnapshotPolicy::Always;
  cdc::SessionOptions o;
  o.exit_when_idle = true;
  cdc::ReplicationSession(config, o).run();
  shop.check_equal({"b"});
}

TEST_CASE("checkpoints under the name an older cdc derived are moved to the current one", "[sqlite][lifecycle][upgrade]") {
  Shop shop(20);
  auto config = shop.config({"a"});
  config.name.clear();  // derived from the URLs
  {
    cdc::SessionOptions o;
    o.exit_when_idle = true;
    cdc::ReplicationSession(shop.config({"a"}), o).run();  // checkpoints under "life"
  }
  // As cdc 0.1 left them: under its derivation of the name (the URLs hashed with their parameters).
  const std::string legacy = cdc::detail::legacy_session_name(config);
  const std::string current = cdc::session_name(config);
  REQUIRE(legacy != current);
  Db d(shop.dst);
  d.exec("UPDATE _cdc_checkpoints SET session = '" + legacy + "' WHERE session = 'life'");
  d.exec("INSERT INTO a VALUES (9999, 'marker', 0)");  // a copy from scratch would remove it
  cdc::SessionOptions o;
  o.exit_when_idle = true;
  auto status = by_table(cdc::ReplicationSession(config, o).run());
  CHECK(status["a"].phase == cdc::TablePhase::Streaming);
  CHECK(d.rows("SELECT count(*) FROM a WHERE id = 9999").at(0) == "int:1");  // resumed, not copied again
  CHECK(d.rows("SELECT count(*) FROM _cdc_checkpoints WHERE session = '" + legacy + "'").at(0) == "int:0");
  CHECK(d.rows("SELECT count(*) FROM _cdc_checkpoints WHERE session = '" + current + "' AND key = 'table:a'").at(0) == "int:1");
}

TEST_CASE("reset is refused while the session runs, and names the process", "[sqlite][lifecycle]") {
  Shop shop(20);
  cdc::ReplicationSession session(shop.config());
  session.start();
  REQUIRE(eventually([&] { return phase_of(session, "a") == cdc::TablePhase::Streaming; }));
  try {
    cdc::reset_checkpoints(shop.config(), {"a"});
    FAIL("reset ran");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::State);
    CHECK(std::string(e.what()).find("session life is running (pid ") != std::string::npos);
  }
  CHECK_THROWS_WITH(session.pause_table("zz"), Catch::Contains("no table \"zz\"") && Catch::Contains("a, b, c"));
  session.stop();
  session.wait();
  CHECK(cdc::reset_checkpoints(shop.config(), {"a"}) == std::vector<std::string>{"a"});
  CHECK(cdc::reset_checkpoints(shop.config()) == std::vector<std::string>{"b", "c"});
}
