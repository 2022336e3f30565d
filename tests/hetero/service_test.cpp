// The engine issue's checks against both throwaway servers, as a user would meet them:
//   - DDL that changes existing rows without logging them (a column added with a default, a type
//     change that rewrites values) while streaming, both directions, value by value;
//   - schema changes made while cdc is stopped (widen, add, rename, drop), then a restart;
//   - a damaged target repaired by a resync while other tables stream under a write load.
#include "maria_test_util.h"
#include "pg_test_util.h"
#include "session_test_util.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <random>
#include <thread>

namespace {

using maria_test::Maria;
using maria_test::MariaDb;
using maria_test::mariadb_url;
using pg_test::eventually;

using hetero_test::by_table;

cdc::Config stream_config(const std::string& source, const std::string& destination) {
  cdc::Config config = hetero_test::stream_config(source, destination);
  config.discover_interval_s = 1;  // tables and changes the log does not show are found quickly
  return config;
}

using hetero_test::check_equal;

bool streaming(cdc::ReplicationSession& s) {
  auto st = s.status();
  if (st.tables.empty()) return false;
  for (const auto& t : st.tables)
    if (t.phase != cdc::TablePhase::Streaming) return false;
  return st.state == cdc::SessionState::Streaming;
}

}  // namespace

TEST_CASE("MariaDB columns added with defaults and rewritten by MODIFY reach PostgreSQL with the values existing rows got",
          "[hetero][service]") {
  pg_test::QuietLog quiet;
  MariaDb src("dflt");
  pg_test::TempDb pg("dflt");
  Maria m;
  m.exec("USE " + src.name);
  m.exec("CREATE TABLE t (id INT PRIMARY KEY, v INT, code VARCHAR(10), s ENUM('a','b'))");
  for (int i = 1; i <= 200; ++i)
    m.exec("INSERT INTO t VALUES (" + std::to_string(i) + ", " + std::to_string(i) + ", 'abcdef" + std::to_string(i % 10) + "', '" +
           (i % 2 ? "a" : "b") + "')");
  auto config = stream_config(mariadb_url(src.name), pg.url());
  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return streaming(session); }, 60));
  pg_test::Conn p(pg.url());
  REQUIRE(eventually([&] { return p.count("t") == 200; }));

  // Existing rows get values no row change in the binlog carries.
  m.exec("ALTER TABLE t ADD COLUMN d INT DEFAULT 7");
  m.exec("ALTER TABLE t ADD COLUMN e INT NOT NULL");                          // the implicit default: 0
  m.exec("ALTER TABLE t ADD COLUMN f VARCHAR(20) DEFAULT 'it''s'");
  m.exec("ALTER TABLE t ADD COLUMN g DATETIME DEFAULT CURRENT_TIMESTAMP");   // a value per row, not a constant
  m.exec("ALTER TABLE t MODIFY code CHAR(3)");                                // rewrites: 'abcdef1' -> 'abc'
  m.exec("ALTER TABLE t MODIFY s ENUM('a','b','c')");                         // a new label
  m.exec("UPDATE t SET d = 1, s = 'c' WHERE id = 5");
  m.exec("INSERT INTO t (id, v, code, s, e) VALUES (201, 201, 'xyz', 'c', 9)");
  REQUIRE(eventually([&] { return p.count("t") == 201; }, 60));
  REQUIRE(eventually([&] { return p.scalar("SELECT count(*) FROM t WHERE g IS NULL") == "0"; }, 60));
  REQUIRE(eventually([&] { return p.scalar("SELECT count(*) FROM t WHERE code = 'abc'") == "200"; }, 60));
  auto status = by_table(session.status());
  hetero_test::stop_streaming(session);
  CHECK(status["t"].phase == cdc::TablePhase::Streaming);

  p.exec("SET TimeZone = 'UTC'");
  const std::string pg_rows = "SELECT id, v, code, s, d, e, f, to_char(g, 'YYYY-MM-DD HH24:MI:SS') FROM t ORDER BY id";
  const std::string maria_rows = "SELECT id, v, code, s, d, e, f, DATE_FORMAT(g, '%Y-%m-%d %H:%i:%s') FROM t ORDER BY id";
  auto source = m.rows(maria_rows);
  REQUIRE(source.size() == 201);
  CHECK(p.rows(pg_rows) == source);
  CHECK(p.scalar("SELECT count(*) FROM t WHERE d = 7") == "200");  // 199 that existed, and the new row
  CHECK(p.scalar("SELECT sum(e) FROM t") == "9");
  CHECK(p.scalar("SELECT count(*) FROM t WHERE f = 'it''s'") == "201");
  cdc::VerifyOptions vo;
  vo.config = &config;
  check_equal(cdc::verify(config.source, config.destination, vo), 1);
}

TEST_CASE("PostgreSQL columns added with defaults and rewritten by ALTER TYPE ... USING reach MariaDB", "[hetero][service]") {
  pg_test::QuietLog quiet;
  pg_test::TempDb pg("rewr");
  MariaDb dst("rewr");
  pg_test::Conn p(pg.url());
  p.exec("CREATE TABLE t (id int PRIMARY KEY, v int, name text)");
  p.exec("CREATE TABLE quiet (id int PRIMARY KEY, v int)");  // changed by DDL alone, no row change after it
  p.exec("INSERT INTO t SELECT i, i, 'n' || i FROM generate_series(1, 200) i");
  p.exec("INSERT INTO quiet SELECT i, i FROM generate_series(1, 50) i");
  auto config = stream_config(pg.url(), mariadb_url(dst.name));
  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return streaming(session); }, 60));
  Maria m;
  m.exec("USE " + dst.name);
  auto maria_scalar = [&](const std::string& sql) { return m.rows(sql).at(0); };
  REQUIRE(eventually([&] { return maria_scalar("SELECT count(*) FROM t") == "200"; }));

  p.exec("ALTER TABLE t ADD COLUMN d int DEFAULT 7");
  p.exec("ALTER TABLE t ADD COLUMN e int NOT NULL DEFAULT 3");
  p.exec("ALTER TABLE t ADD COLUMN at timestamptz DEFAULT now()");  // volatile: each row its own value
  p.exec("ALTER TABLE t ALTER COLUMN v TYPE bigint USING v * 10");
  p.exec("UPDATE t SET name = 'changed' WHERE id = 1");
  p.exec("ALTER TABLE quiet ALTER COLUMN v TYPE bigint USING v * 100");
  REQUIRE(eventually([&] { return maria_scalar("SELECT sum(v) FROM t") == p.scalar("SELECT sum(v) FROM t"); }, 60));
  REQUIRE(eventually([&] { return maria_scalar("SELECT sum(v) FROM quiet") == "127500"; }, 60));
  REQUIRE(eventually([&] { return maria_scalar("SELECT count(*) FROM t WHERE at IS NULL") == "0"; }, 60));
  hetero_test::stop_streaming(session);

  CHECK(maria_scalar("SELECT sum(v) FROM t") == "201000");  // sum(1..200) * 10
  CHECK(m.rows("SELECT id, v, name, d, e FROM t ORDER BY id") == p.rows("SELECT id, v, name, d, e FROM t ORDER BY id"));
  cdc::VerifyOptions vo;
  vo.config = &config;
  check_equal(cdc::verify(config.source, config.destination, vo), 2);
}

TEST_CASE("schema changes made while cdc is stopped are applied at restart, MariaDB to PostgreSQL", "[hetero][service]") {
  pg_test::QuietLog quiet;
  MariaDb src("down");
  pg_test::TempDb pg("down");
  Maria m;
  m.exec("USE " + src.name);
  m.exec("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(10), note VARCHAR(20), gone INT, qty INT)");
  for (int i = 1; i <= 50; ++i)
    m.exec("INSERT INTO items VALUES (" + std::to_string(i) + ", 'n" + std::to_string(i) + "', 'note', " + std::to_string(i) + ", 1)");
  auto config = stream_config(mariadb_url(src.name), pg.url());
  {
    cdc::ReplicationSession session(config);
    session.start();
    REQUIRE(eventually([&] { return streaming(session); }, 60));
    pg_test::Conn p(pg.url());
    REQUIRE(eventually([&] { return p.count("items") == 50; }));
    hetero_test::stop_streaming(session);
  }
  // While cdc is down: rows before and after each change.
  m.exec("UPDATE items SET qty = 2 WHERE id <= 10");
  m.exec("ALTER TABLE items MODIFY name VARCHAR(100)");
  m.exec("INSERT INTO items VALUES (51, '" + std::string(60, 'L') + "', 'long', 51, 1)");
  m.exec("ALTER TABLE items ADD COLUMN extra INT DEFAULT 5");
  m.exec("UPDATE items SET extra = 6 WHERE id = 2");
  m.exec("ALTER TABLE items RENAME COLUMN note TO remark");
  m.exec("UPDATE items SET remark = 'renamed' WHERE id = 3");
  m.exec("ALTER TABLE items DROP COLUMN gone");
  m.exec("INSERT INTO items (id, name, remark, qty) VALUES (52, 'after drop', 'r', 1)");

  cdc::SessionOptions o;
  o.exit_when_idle = true;
  auto status = by_table(cdc::ReplicationSession(config, o).run());
  CHECK(status["items"].phase == cdc::TablePhase::Streaming);
  pg_test::Conn p(pg.url());
  CHECK(p.rows("SELECT id, name, remark, qty, extra FROM items ORDER BY id") ==
        m.rows("SELECT id, name, remark, qty, extra FROM items ORDER BY id"));
  CHECK(p.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'name'") ==
        "character varying(100)");
  CHECK(p.rows("SELECT id, gone FROM items WHERE id IN (1, 52) ORDER BY id") == std::vector<std::string>{"1 | 1", "52 | NULL"});
  cdc::VerifyOptions vo;
  vo.config = &config;
  check_equal(cdc::verify(config.source, config.destination, vo), 1);
}

TEST_CASE("schema changes made while cdc is stopped are applied at restart, PostgreSQL to MariaDB", "[hetero][service]") {
  pg_test::QuietLog quiet;
  pg_test::TempDb pg("down2");
  MariaDb dst("down2");
  pg_test::Conn p(pg.url());
  p.exec("CREATE TABLE items (id int PRIMARY KEY, name varchar(10), note varchar(20), gone int, qty int)");
  p.exec("INSERT INTO items SELECT i, 'n' || i, 'note', i, 1 FROM generate_series(1, 50) i");
  p.exec("CREATE TABLE untouched (id int PRIMARY KEY, v int)");  // only DDL while down, no row change
  p.exec("INSERT INTO untouched SELECT i, i FROM generate_series(1, 20) i");
  auto config = stream_config(pg.url(), mariadb_url(dst.name));
  {
    cdc::ReplicationSession session(config);
    session.start();
    REQUIRE(eventually([&] { return streaming(session); }, 60));
    hetero_test::stop_streaming(session);
  }
  p.exec("UPDATE items SET qty = 2 WHERE id <= 10");
  p.exec("ALTER TABLE items ALTER COLUMN name TYPE varchar(100)");
  p.exec("INSERT INTO items VALUES (51, repeat('L', 60), 'long', 51, 1)");
  p.exec("ALTER TABLE items ADD COLUMN extra int DEFAULT 5");
  p.exec("UPDATE items SET extra = 6 WHERE id = 2");
  p.exec("ALTER TABLE items RENAME COLUMN note TO remark");  // same place, same type: a rename
  p.exec("UPDATE items SET remark = 'renamed' WHERE id = 3");
  p.exec("ALTER TABLE items DROP COLUMN gone");
  p.exec("INSERT INTO items (id, name, remark, qty) VALUES (52, 'after drop', 'r', 1)");
  p.exec("ALTER TABLE untouched ADD COLUMN w int DEFAULT 42");

  cdc::SessionOptions o;
  o.exit_when_idle = true;
  cdc::ReplicationSession(config, o).run();
  Maria m;
  m.exec("USE " + dst.name);
  CHECK(m.rows("SELECT id, name, remark, qty, extra FROM items ORDER BY id") ==
        p.rows("SELECT id, name, remark, qty, extra FROM items ORDER BY id"));
  CHECK(m.rows("SELECT count(*) FROM items WHERE remark = 'note'").at(0) == "49");  // the data stayed with the rename
  CHECK(m.rows("SELECT sum(w) FROM untouched").at(0) == "840");
  cdc::VerifyOptions vo;
  vo.config = &config;
  check_equal(cdc::verify(config.source, config.destination, vo), 2);
}

TEST_CASE("a damaged PostgreSQL target is repaired by a resync while the other tables stream under load", "[hetero][service]") {
  pg_test::QuietLog quiet;
  MariaDb src("rsync");
  pg_test::TempDb pg("rsync");
  {
    Maria m;
    m.exec("USE " + src.name);
    for (const char* t : {"a", "b"}) {
      m.exec(std::string("CREATE TABLE ") + t + " (id INT PRIMARY KEY, v VARCHAR(20), n INT)");
      m.exec(std::string("INSERT INTO ") + t + " SELECT seq, CONCAT('v', seq), seq FROM seq_1_to_3000");
    }
  }
  auto config = stream_config(mariadb_url(src.name), pg.url());
  config.defaults.chunk_rows = 500;
  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return streaming(session); }, 60));
  std::atomic<bool> stop{false};
  std::thread load([&] {
    Maria w;
    w.exec("USE " + src.name);
    std::mt19937 rng(3);
    while (!stop) {
      std::string id = std::to_string(rng() % 3500 + 1);
      const char* t = rng() % 2 ? "a" : "b";
      switch (rng() % 3) {
        case 0: w.exec(std::string("REPLACE INTO ") + t + " VALUES (" + id + ", 'new', 0)"); break;
        case 1: w.exec(std::string("UPDATE ") + t + " SET n = n + 1 WHERE id = " + id); break;
        default: w.exec(std::string("DELETE FROM ") + t + " WHERE id = " + id);
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  pg_test::Conn p(pg.url());
  p.exec("SET session_replication_role = replica");
  p.exec("DELETE FROM b WHERE id % 7 = 0");
  p.exec("UPDATE b SET v = 'damaged' WHERE id % 11 = 0");
  p.exec("INSERT INTO b VALUES (900001, 'ghost', 0)");
  session.resync_table("b");
  REQUIRE(eventually([&] { return by_table(session.status())["b"].phase == cdc::TablePhase::Resyncing; }));
  REQUIRE(eventually([&] { return by_table(session.status())["b"].phase == cdc::TablePhase::Streaming; }, 60));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  load.join();
  Maria m;
  m.exec("USE " + src.name);
  REQUIRE(eventually([&] {
    return p.scalar("SELECT sum(n) FROM b") == m.rows("SELECT sum(n) FROM b").at(0) &&
           p.scalar("SELECT sum(n) FROM a") == m.rows("SELECT sum(n) FROM a").at(0);
  }, 60));
  hetero_test::stop_streaming(session);
  CHECK(p.scalar("SELECT count(*) FROM b WHERE v IN ('ghost', 'damaged')") == "0");
  cdc::VerifyOptions vo;
  vo.config = &config;
  check_equal(cdc::verify(config.source, config.destination, vo), 2);
}

TEST_CASE("tables created at the source join without a reload, dropped ones stop, MariaDB and PostgreSQL", "[hetero][service]") {
  pg_test::QuietLog quiet;
  SECTION("MariaDB to PostgreSQL: CREATE and DROP TABLE come through the binlog") {
    MariaDb src("born");
    pg_test::TempDb pg("born");
    Maria m;
    m.exec("USE " + src.name);
    m.exec("CREATE TABLE first (id INT PRIMARY KEY, v INT)");
    m.exec("INSERT INTO first VALUES (1, 1)");
    auto config = stream_config(mariadb_url(src.name), pg.url());
    config.discover_interval_s = 0;  // only the binlog tells
    config.exclude = {"scratch*"};
    cdc::ReplicationSession session(config);
    session.start();
    REQUIRE(eventually([&] { return streaming(session); }, 60));
    m.exec("CREATE TABLE born (id INT PRIMARY KEY, name VARCHAR(20))");
    m.exec("INSERT INTO born VALUES (1, 'one'), (2, 'two')");
    m.exec("CREATE TABLE scratch (id INT PRIMARY KEY)");
    m.exec("UPDATE born SET name = 'uno' WHERE id = 1");
    pg_test::Conn p(pg.url());
    // The table exists at the target only once the session has seen the CREATE: ask for it first.
    REQUIRE(eventually([&] {
      return p.scalar("SELECT to_regclass('born') IS NOT NULL") == "t" &&
             p.rows("SELECT id, name FROM born ORDER BY id") == std::vector<std::string>{"1 | uno", "2 | two"};
    }, 60));
    CHECK(by_table(session.status()).count("scratch") == 0);
    m.exec("DROP TABLE born");
    REQUIRE(eventually([&] { return by_table(session.status())["born"].phase == cdc::TablePhase::Dropped; }));
    m.exec("INSERT INTO first VALUES (2, 2)");
    REQUIRE(eventually([&] { return p.count("first") == 2; }));
    session.stop();
    session.wait();
    CHECK(p.count("born") == 2);  // the target is left as it was
  }
  SECTION("PostgreSQL to MariaDB: found by looking at the source") {
    pg_test::TempDb pg("born2");
    MariaDb dst("born2");
    pg_test::Conn p(pg.url());
    p.exec("CREATE TABLE first (id int PRIMARY KEY, v int)");
    p.exec("INSERT INTO first VALUES (1, 1)");
    auto config = stream_config(pg.url(), mariadb_url(dst.name));
    cdc::ReplicationSession session(config);
    session.start();
    REQUIRE(eventually([&] { return streaming(session); }, 60));
    p.exec("CREATE TABLE born (id int PRIMARY KEY, name text)");
    p.exec("INSERT INTO born VALUES (1, 'one')");
    std::atomic<bool> stop{false};
    std::thread load([&] {  // changes keep coming while it is copied
      pg_test::Conn w(pg.url());
      for (int i = 2; !stop && i < 100000; ++i) {
        w.exec("INSERT INTO born VALUES (" + std::to_string(i) + ", 'n')");
        if (i % 3 == 0) w.exec("DELETE FROM born WHERE id = " + std::to_string(i - 1));
      }
    });
    REQUIRE(eventually([&] { return by_table(session.status())["born"].phase == cdc::TablePhase::Streaming; }, 60));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stop = true;
    load.join();
    Maria m;
    m.exec("USE " + dst.name);
    REQUIRE(eventually([&] { return m.rows("SELECT count(*), sum(id) FROM born") == p.rows("SELECT count(*), sum(id) FROM born"); },
                       60));
    p.exec("DROP TABLE born");
    REQUIRE(eventually([&] { return by_table(session.status())["born"].phase == cdc::TablePhase::Dropped; }, 30));
    session.stop();
    session.wait();
    cdc::VerifyOptions vo;
    vo.config = &config;
    vo.include = {"first"};
    check_equal(cdc::verify(config.source, config.destination, vo), 1);
  }
}

namespace {

// A MariaDB schema whose foreign keys cascade (InnoDB logs only the parent's change).
void create_family(Maria& m) {
  m.exec("CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB");
  m.exec("CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, v INT, "
         "FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB");
  m.exec("CREATE TABLE grandchild (id INT PRIMARY KEY, child_id INT, "
         "FOREIGN KEY (child_id) REFERENCES child (id) ON DELETE CASCADE) ENGINE=InnoDB");
  m.exec("CREATE TABLE note (id INT PRIMARY KEY, parent_id INT, "
         "FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE SET NULL ON UPDATE SET NULL) ENGINE=InnoDB");
  m.exec("INSERT INTO parent SELECT seq, CONCAT('p', seq) FROM seq_1_to_10");
  m.exec("INSERT INTO child SELECT seq, (seq - 1) % 10 + 1, seq FROM seq_1_to_100");
  m.exec("INSERT INTO grandchild SELECT seq, (seq - 1) % 100 + 1 FROM seq_1_to_200");
  m.exec("INSERT INTO note SELECT seq, seq FROM seq_1_to_10");
}

// Parents deleted and re-keyed at the source, with a child added in the same transaction as its
// parent's delete.
void cascade_changes(Maria& m, int first) {
  m.exec("DELETE FROM parent WHERE id IN (" + std::to_string(first) + ", " + std::to_string(first + 1) + ")");
  m.exec("UPDATE parent SET id = id + 1000 WHERE id = " + std::to_string(first + 2));
  m.exec("START TRANSACTION");
  m.exec("INSERT INTO child VALUES (" + std::to_string(500 + first) + ", " + std::to_string(first + 3) + ", 0)");
  m.exec("DELETE FROM parent WHERE id = " + std::to_string(first + 3));
  m.exec("COMMIT");
}

const char* kFamilyRows[][2] = {
    {"SELECT count(*), coalesce(sum(id), 0), coalesce(sum(parent_id), 0) FROM child", "child"},
    {"SELECT count(*), coalesce(sum(id), 0), coalesce(sum(child_id), 0) FROM grandchild", "grandchild"},
    {"SELECT count(*), count(parent_id), coalesce(sum(parent_id), 0) FROM note", "note"},
    {"SELECT count(*), coalesce(sum(id), 0) FROM parent", "parent"},
};

}  // namespace

TEST_CASE("MariaDB foreign-key cascades (not in the binlog) reach PostgreSQL, MariaDB and SQLite", "[hetero][service][cascade]") {
  pg_test::QuietLog quiet;
  MariaDb src("fk");
  Maria m;
  m.exec("USE " + src.name);
  create_family(m);
  auto run_into = [&](const std::string& destination, const std::function<std::vector<std::string>(const std::string&)>& target_rows) {
    auto config = stream_config(mariadb_url(src.name), destination);
    {
      cdc::ReplicationSession session(config);
      session.start();
      REQUIRE(eventually([&] { return streaming(session); }, 60));
      cascade_changes(m, 1);  // parents 1, 2 gone, 3 re-keyed, 4 gone with a fresh child
      for (const auto& [sql, table] : kFamilyRows) {
        INFO(table);
        CHECK(eventually([&, sql = std::string(sql)] { return target_rows(sql) == m.rows(sql); }, 60));
      }
      session.stop();
      session.wait();
    }
    cascade_changes(m, 5);  // while stopped: the restart replays them from the binlog
    cdc::SessionOptions o;
    o.exit_when_idle = true;
    cdc::ReplicationSession(config, o).run();
    for (const auto& [sql, table] : kFamilyRows) {
      INFO(table);
      CHECK(target_rows(sql) == m.rows(sql));
    }
    cdc::VerifyOptions vo;
    vo.config = &config;
    check_equal(cdc::verify(config.source, config.destination, vo), 4);
  };
  SECTION("to PostgreSQL") {
    pg_test::TempDb pg("fk");
    pg_test::Conn p(pg.url());
    run_into(pg.url(), [&](const std::string& sql) { return p.rows(sql); });
  }
  SECTION("to MariaDB") {
    MariaDb dst("fkdst");
    Maria d;
    d.exec("USE " + dst.name);
    run_into(mariadb_url(dst.name), [&](const std::string& sql) { return d.rows(sql); });
  }
  SECTION("to SQLite") {
    pg_test::TempDir dir;
    const std::string file = dir.file("fk.db");
    run_into("sqlite://" + file, [&](const std::string& sql) { return hetero_test::sqlite_rows(file, sql); });
  }
}
