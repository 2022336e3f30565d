// The fault matrix (issue 14): `cdc-cli replicate` killed with SIGKILL at every engine failpoint
// for each source (SQLite, PostgreSQL, MariaDB) into a SQL destination of its kind, then restarted;
// the source or destination server restarted under a running cdc, the replication connection
// killed from the server, a row lock held on the target past its lock timeout, the target made
// read-only: cdc retries by itself. Every case ends comparing source and target value by value
// (cdc::verify and each side's own text of the rows; the table without a key counts each row, so
// a doubled or lost one shows).
//
// The servers are this folder's own (the faults_pg and faults_mariadb fixtures): the cases restart
// them. ctest drives the kill cases: one entry per source and point, named by CDC_FAULT_SOURCE and
// CDC_FAULT_POINT in the environment (tests/faults/CMakeLists.txt).
#include "hetero/maria_test_util.h"
#include "hetero/session_test_util.h"
#include "pg_test_util.h"
#include "support/cli_process.h"
#include "support/http_client.h"
#include "support/sqlite_fixture.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <iterator>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

using cdc_test::Exit;
using cdc_test::slurp;

enum class Kind { Sqlite, Postgres, Mariadb };

Kind kind_named(const std::string& name) {
  if (name == "sqlite") return Kind::Sqlite;
  if (name == "postgres") return Kind::Postgres;
  if (name == "mariadb") return Kind::Mariadb;
  FAIL("unknown source kind \"" << name << "\" (sqlite, postgres, mariadb)");
  return Kind::Sqlite;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) FAIL(name << " is not set (ctest sets it: tests/faults/CMakeLists.txt)");
  return v;
}

void shell(const std::string& command) {
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
}

void restart_server(Kind k) {
  if (k == Kind::Postgres) shell("bash " CDC_PG_SERVER_SCRIPT " restart " CDC_FAULTS_PG_DIR " >&2");
  else shell("bash " CDC_MARIADB_SERVER_SCRIPT " restart " CDC_FAULTS_MARIADB_DIR " >&2");
}

// One database of a case on SQLite, PostgreSQL or MariaDB, dropped afterwards.
class Side {
 public:
  Side(Kind kind, const std::string& tag, const cdc_test::TempDir& dir) : kind_(kind) {
    if (kind == Kind::Sqlite) {
      file_ = dir.file(tag + ".db");
      cdc_test::Db(file_).exec("PRAGMA journal_mode=WAL");
    } else if (kind == Kind::Postgres) {
      pg_ = std::make_unique<pg_test::TempDb>(tag);
    } else {
      maria_ = std::make_unique<maria_test::MariaDb>(tag);
    }
  }
  Kind kind() const { return kind_; }
  std::string name() const { return pg_ ? pg_->name() : maria_ ? maria_->name : file_; }
  std::string url() const {
    if (pg_) return pg_->url();
    if (maria_) return maria_test::mariadb_url(maria_->name);
    return cdc_test::url(file_);
  }
  void exec(const std::string& sql) const { exec_all({sql}); }
  // Statements on one connection, each its own transaction.
  void exec_all(const std::vector<std::string>& statements) const {
    if (pg_) {
      pg_test::Conn c(url());
      for (const auto& sql : statements) c.exec(sql);
    } else if (maria_) {
      maria_test::Maria m;
      m.exec("USE " + maria_->name);
      for (const auto& sql : statements) m.exec(sql);
    } else {
      cdc_test::Db db(file_);
      for (const auto& sql : statements) db.exec(sql);
    }
  }
  // Rows of a query, each as its columns joined by " | " ("NULL" for null).
  std::vector<std::string> rows(const std::string& sql) const {
    if (pg_) return pg_test::Conn(url()).rows(sql);
    if (maria_) {
      maria_test::Maria m;
      m.exec("USE " + maria_->name);
      return m.rows(sql);
    }
    return hetero_test::sqlite_rows(file_, sql);
  }

 private:
  Kind kind_;
  std::string file_;
  std::unique_ptr<pg_test::TempDb> pg_;
  std::unique_ptr<maria_test::MariaDb> maria_;
};

// A source and a destination, the config of `cdc-cli replicate` between them, and its log.
struct Case {
  cdc_test::TempDir dir;
  Side src, dst;
  std::string cfg = dir.file("cdc.yaml"), log = dir.file("cli.log"), pause_file = dir.file("paused");
  std::uint16_t http_port = cdc_test::free_port();
  std::vector<std::string> tables{"items", "events"};
  std::string item_columns = "id, grp, name";

  Case(Kind source, Kind destination) : src(source, "fs", dir), dst(destination, "fd", dir) {}

  void write_config() const {
    std::ofstream out(cfg);
    out << "name: faults\nsource: \"" << src.url() << "\"\ndestination: \"" << dst.url() << "\"\n"
        << "parallel_tables: 2\npoll_interval_ms: 50\nstream_batch_rows: 40\n"
        << "retry: {initial_delay_ms: 50, max_delay_ms: 1000}\n"
        << "defaults: {batch_size: 200, chunk_rows: 1000, parallel_chunks: 2}\n"
        << "http: {listen: \"127.0.0.1:" << http_port << "\"}\ninclude: [";
    for (std::size_t i = 0; i < tables.size(); ++i) out << (i ? ", " : "") << tables[i];
    out << "]\n";
  }

  // items (keyed), events (no key: a doubled row shows) and extra (left out until a reload adds it).
  void seed(int rows = 6000) {
    std::vector<std::string> sql;
    for (const char* t : {"items", "extra"}) sql.push_back(std::string("CREATE TABLE ") + t + " (id int PRIMARY KEY, grp int, name varchar(64))");
    sql.push_back("CREATE TABLE events (at int, what varchar(32))");
    if (src.kind() == Kind::Postgres) sql.push_back("ALTER TABLE events REPLICA IDENTITY FULL");
    for (int from = 1; from <= rows; from += 500) {
      std::string items, events;
      for (int i = from; i < from + 500 && i <= rows; ++i) {
        items += (items.empty() ? "" : ",") + fmt::format("({}, {}, 'item {}')", i, i % 97, i);
        if (i % 4 == 0) events += (events.empty() ? "" : ",") + fmt::format("({}, 'e{}')", i / 4, i % 7);
      }
      sql.push_back("INSERT INTO items VALUES " + items);
      sql.push_back("INSERT INTO extra VALUES " + items);
      sql.push_back("INSERT INTO events VALUES " + events);
    }
    src.exec_all(sql);
    write_config();
  }

  // n changes of every kind (inserts, updates, deletes, key changes; on the keyless table inserts
  // and deletes of every row with one value), each its own transaction.
  void write_changes(int n, unsigned seed) const {
    std::mt19937 rng(seed);
    std::vector<std::string> sql;
    for (int i = 0; i < n; ++i) {
      int id = static_cast<int>(rng() % 7000) + 1;
      switch (rng() % 6) {
        case 0:
          sql.push_back(fmt::format("DELETE FROM items WHERE id = {}", id));
          sql.push_back(fmt::format("INSERT INTO items (id, grp, name) VALUES ({}, 0, 'replaced {}')", id, seed));
          break;
        case 1: sql.push_back(fmt::format("UPDATE items SET name = 'updated {} {}' WHERE id = {}", seed, i, id)); break;
        case 2: sql.push_back(fmt::format("DELETE FROM items WHERE id = {}", id)); break;
        case 3: sql.push_back(fmt::format("INSERT INTO events VALUES ({}, 'live')", id % 2000)); break;
        case 4: sql.push_back(fmt::format("DELETE FROM events WHERE at = {}", id % 1500)); break;
        default:
          sql.push_back(fmt::format("UPDATE items SET id = {} WHERE id = {}", 1000000 + seed * 10000 + static_cast<unsigned>(i), id));
      }
    }
    src.exec_all(sql);
  }

  std::vector<std::string> args(bool until_idle = true) const {
    std::vector<std::string> a{"replicate", "-c", cfg};
    if (until_idle) a.push_back("--until-idle");
    return a;
  }
  Exit run(const std::string& crash_at = {}) const { return cdc_test::run_cli(args(), crash_at, log); }

  // A run that must finish by itself, all caught up.
  void run_clean() const {
    auto e = run();
    INFO(slurp(log));
    REQUIRE_FALSE(e.signaled);
    REQUIRE(e.code == 0);
  }

  // A run that must die at `point` (SIGKILL by CDC_CRASH_AT).
  void run_killed(const std::string& point) const {
    auto e = run(point);
    INFO(point << "\n" << slurp(log));
    REQUIRE(e.signaled);
    REQUIRE(e.code == SIGKILL);
  }

  // A run --until-idle in the background that stops at `point` (CDC_PAUSE_AT); returns once it stands there.
  pid_t start_paused(const std::string& point) const {
    pid_t pid = cdc_test::spawn_cli(args(), "", log, "/dev/null", {"CDC_PAUSE_AT=" + point, "CDC_PAUSE_FILE=" + pause_file});
    bool there = pg_test::eventually([&] { return ::access(pause_file.c_str(), F_OK) == 0 || ::waitpid(pid, nullptr, WNOHANG) != 0; }, 120);
    INFO(point << "\n" << slurp(log));
    REQUIRE(there);
    REQUIRE(::access(pause_file.c_str(), F_OK) == 0);
    return pid;
  }
  void resume() const { std::remove(pause_file.c_str()); }

  // The background run ends by itself, caught up.
  void finishes(pid_t pid) const {
    auto e = cdc_test::wait_exit(pid);
    INFO(slurp(log));
    INFO((e.signaled ? "killed by signal " : "exit code ") << e.code);
    REQUIRE_FALSE(e.signaled);
    REQUIRE(e.code == 0);
  }

  // The log shows `text` (a fault cdc met and is retrying).
  void log_shows(const std::string& text) const {
    bool seen = pg_test::eventually([&] { return slurp(log).find(text) != std::string::npos; }, 60);
    INFO(slurp(log));
    REQUIRE(seen);
  }

  // Source and target hold the same values: nothing lost, nothing doubled.
  void check_converged() const {
    INFO(slurp(log));
    for (const auto& t : tables) {
      const std::string q = t == "events" ? "SELECT at, what, count(*) FROM events GROUP BY at, what ORDER BY at, what"
                                          : "SELECT " + (t == "items" ? item_columns : std::string("id, grp, name")) + " FROM " + t +
                                                " ORDER BY id";
      auto a = src.rows(q), b = dst.rows(q);
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      std::vector<std::string> lost, extra;
      std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(lost));
      std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(extra));
      std::string diff = fmt::format("table {}: {} source rows, {} target rows", t, a.size(), b.size());
      for (std::size_t i = 0; i < lost.size() && i < 10; ++i) diff += "\n  only in the source: " + lost[i];
      for (std::size_t i = 0; i < extra.size() && i < 10; ++i) diff += "\n  only in the target: " + extra[i];
      INFO(diff);
      CHECK(a.size() > 100);
      CHECK(lost.empty());
      CHECK(extra.empty());
    }
    const cdc::Config config = cdc::load_config_file(cfg);
    hetero_test::check_equal(pg_test::verify_with(config), tables.size());
  }

  // Waits until the background run streams every table (its HTTP status says so).
  void wait_streaming() const {
    auto streaming = [&] {
      try {
        auto reply = cdc_test::http(http_port, "GET", "/api/v1/status");
        std::size_t n = 0;
        for (auto at = reply.body.find("\"phase\":\"streaming\""); at != std::string::npos;
             at = reply.body.find("\"phase\":\"streaming\"", at + 1))
          ++n;
        return n == tables.size();
      } catch (...) {
        return false;
      }
    };
    bool ok = pg_test::eventually(streaming, 120);
    INFO(slurp(log));
    REQUIRE(ok);
  }
};

}  // namespace

// ---- SIGKILL at every failpoint ----------------------------------------------------------------

TEST_CASE("SIGKILL at a failpoint, then a restart converges", "[kill]") {
  const Kind kind = kind_named(env("CDC_FAULT_SOURCE"));
  const std::string point = env("CDC_FAULT_POINT");
  pg_test::QuietLog quiet;
  Case c(kind, kind);
  c.seed();
  const std::string phase = point.substr(0, point.find('.'));
  if (phase == "snapshot") {
    c.run_killed(point + ":2");
    c.write_changes(200, 2);
  } else if (phase == "stream") {
    c.run_clean();
    c.write_changes(300, 1);
    c.run_killed(point + ":2");
    c.write_changes(100, 2);
  } else if (phase == "schema") {
    c.run_clean();
    c.write_changes(50, 1);
    c.src.exec("ALTER TABLE items ADD COLUMN note varchar(20)");
    c.src.exec("UPDATE items SET note = 'noted' WHERE id % 10 = 3");
    c.item_columns += ", note";
    c.run_killed(point + ":1");
    c.write_changes(100, 2);
  } else if (phase == "backfill") {
    c.run_clean();
    c.write_changes(50, 1);
    if (kind == Kind::Sqlite) {
      // SQLite changes no column's type: a column added with a default computed per row is read again.
      c.src.exec("ALTER TABLE items ADD COLUMN note varchar(20)");
      c.src.exec("UPDATE items SET note = 'n' || (id % 5)");
    } else if (kind == Kind::Mariadb) {
      // MariaDB's binlog says that MODIFY grp bigint kept the values (no backfill follows): a
      // column added with a default computed per row (not a literal the DDL carries) is read again.
      c.src.exec("ALTER TABLE items ADD COLUMN note varchar(20) DEFAULT (concat('n', id % 5))");
    } else {
      c.src.exec("ALTER TABLE items ALTER COLUMN grp TYPE bigint");
      c.src.exec("UPDATE items SET grp = grp + 3000000000 WHERE id % 10 = 3");
    }
    if (kind != Kind::Postgres) c.item_columns += ", note";
    c.run_killed(point + ":2");
    c.write_changes(100, 2);
  } else if (point == "lifecycle.reload") {
    c.run_clean();
    pid_t pid = cdc_test::spawn_cli(c.args(false), point + ":1", c.log);
    c.wait_streaming();
    c.tables.push_back("extra");
    c.write_config();
    ::kill(pid, SIGHUP);
    auto e = cdc_test::wait_exit(pid);
    INFO(slurp(c.log));
    REQUIRE(e.signaled);
    REQUIRE(e.code == SIGKILL);
    c.write_changes(100, 2);
  } else if (point == "lifecycle.resync") {
    c.run_clean();
    pid_t pid = cdc_test::spawn_cli(c.args(false), point + ":1", c.log);
    c.wait_streaming();
    c.write_changes(100, 1);
    auto reply = cdc_test::http(c.http_port, "POST", std::string("/api/v1/tables/") + (kind == Kind::Postgres ? "public." : "") + "items/resync",
                                 "Content-Type: application/json\r\n");  // the API refuses a POST without it
    // The failpoint is on the request's own thread: cdc dies before it answers (no status). Any
    // answer means it did not get there, and it would stream on until ctest's timeout.
    INFO(reply.status << " " << reply.body);
    if (reply.status != 0) ::kill(pid, SIGKILL);
    REQUIRE(reply.status == 0);
    auto e = cdc_test::wait_exit(pid);
    INFO(slurp(c.log));
    REQUIRE(e.signaled);
    REQUIRE(e.code == SIGKILL);
    c.write_changes(100, 2);
  } else {
    FAIL("no scenario reaches failpoint " << point);
  }
  c.run_clean();
  c.check_converged();
}

// ---- servers restarted under a running cdc -------------------------------------------------------

namespace {

// cdc stands at `point` in a run --until-idle (mid-copy, or mid-stream after a first run and
// changes), `harm` is done to a server, the source changes again, cdc goes on: that same run
// must converge.
template <typename Harm>
void harmed_at(Case& c, const std::string& point, bool streaming, Harm&& harm) {
  pg_test::QuietLog quiet;
  c.seed(streaming ? 3000 : 12000);
  if (streaming) {
    c.run_clean();
    c.write_changes(300, 1);
  }
  pid_t pid = c.start_paused(point);
  harm();
  c.write_changes(100, 2);
  c.resume();
  c.finishes(pid);
  c.check_converged();
}

// The source's server restarted while cdc stands at `point`. PostgreSQL's fast shutdown waits
// until every logical walsender's client has confirmed all it was sent, which a cdc parked at a
// failpoint never does (it answers keepalives from its reading thread, so wal_sender_timeout does
// not end the wait either): cdc is let go once the shutdown has begun, as a running cdc would be.
void source_restarted(Kind kind, const std::string& point, bool streaming) {
  Case c(kind, Kind::Sqlite);
  harmed_at(c, point, streaming, [&] {
    if (kind != Kind::Postgres) return restart_server(kind);
    auto shutdowns = [] {
      const std::string text = slurp(CDC_FAULTS_PG_DIR "/server.log"), line = "received fast shutdown request";
      std::size_t n = 0;
      for (auto at = text.find(line); at != std::string::npos; at = text.find(line, at + 1)) ++n;
      return n;
    };
    const std::size_t before = shutdowns();
    int rc = -1;
    std::thread restart([&] { rc = std::system("bash " CDC_PG_SERVER_SCRIPT " restart " CDC_FAULTS_PG_DIR " >&2"); });
    bool stopping = pg_test::eventually([&] { return shutdowns() > before; }, 60);
    c.resume();
    restart.join();
    REQUIRE(stopping);
    REQUIRE(rc == 0);
  });
}

// The destination's server restarted while cdc holds an open transaction there.
void destination_restarted(Kind kind, const std::string& point, bool streaming) {
  Case c(Kind::Sqlite, kind);
  harmed_at(c, point, streaming, [&] { restart_server(kind); });
}

}  // namespace

TEST_CASE("postgres source restarted mid-snapshot (pg_ctl restart -m fast): the same run converges", "[source-restart-postgres]") {
  source_restarted(Kind::Postgres, "snapshot.chunk_committed:2", false);
}

TEST_CASE("postgres source restarted mid-stream: the same run converges", "[source-restart-postgres]") {
  source_restarted(Kind::Postgres, "stream.batch_committed:2", true);
}

TEST_CASE("mariadb source restarted mid-snapshot (shutdown, start on the same port): the same run converges",
          "[source-restart-mariadb]") {
  source_restarted(Kind::Mariadb, "snapshot.chunk_committed:2", false);
}

TEST_CASE("mariadb source restarted mid-stream: the same run converges", "[source-restart-mariadb]") {
  source_restarted(Kind::Mariadb, "stream.batch_committed:2", true);
}

TEST_CASE("postgres destination restarted mid-copy and mid-apply: the same run converges", "[destination-restart-postgres]") {
  SECTION("mid-copy") { destination_restarted(Kind::Postgres, "snapshot.before_commit:2", false); }
  SECTION("mid-apply") { destination_restarted(Kind::Postgres, "stream.before_commit:2", true); }
}

TEST_CASE("mariadb destination restarted mid-copy and mid-apply: the same run converges", "[destination-restart-mariadb]") {
  SECTION("mid-copy") { destination_restarted(Kind::Mariadb, "snapshot.before_commit:2", false); }
  SECTION("mid-apply") { destination_restarted(Kind::Mariadb, "stream.before_commit:2", true); }
}

// ---- connections killed, locks, a target that refuses writes ------------------------------------

TEST_CASE("postgres: the walsender terminated by pg_terminate_backend mid-stream: the run reconnects and converges",
          "[connection-killed]") {
  Case c(Kind::Postgres, Kind::Sqlite);
  harmed_at(c, "stream.batch_committed:2", true, [&] {
    pg_test::Conn admin(pg_test::server_url());
    auto killed = admin.rows("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '" + c.src.name() +
                             "' AND active");
    CHECK(killed == std::vector<std::string>{"t"});
  });
}

TEST_CASE("mariadb: the binlog dump thread KILLed mid-stream: the run reconnects and converges", "[connection-killed]") {
  Case c(Kind::Mariadb, Kind::Sqlite);
  harmed_at(c, "stream.batch_committed:2", true, [&] {
    maria_test::Maria admin;
    auto dumps = admin.rows("SELECT id FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'");
    REQUIRE(dumps.size() == 1);
    admin.exec("KILL " + dumps[0]);
  });
}

namespace {

// A transaction on the target holds a row lock past the target's lock timeout (1 s) while cdc
// applies a change to that row; then it ends, and the same run converges.
template <typename Lock>
void lock_held_on_target(Case& c, Lock&& lock_row_5, const std::string& timeout_text) {
  c.seed(3000);
  c.run_clean();
  c.write_changes(100, 1);
  c.src.exec("UPDATE items SET name = 'after the lock' WHERE id = 5");
  auto holder = lock_row_5();
  pid_t pid = cdc_test::spawn_cli(c.args(), "", c.log);
  c.log_shows(timeout_text);
  holder.reset();  // rolls back
  c.finishes(pid);
  c.check_converged();
}

}  // namespace

TEST_CASE("postgres target: a row lock held past lock_timeout, then released: the same run converges", "[target-lock]") {
  pg_test::QuietLog quiet;
  Case c(Kind::Sqlite, Kind::Postgres);
  pg_test::Conn(pg_test::server_url()).exec("ALTER DATABASE " + c.dst.name() + " SET lock_timeout = '1s'");
  lock_held_on_target(
      c,
      [&] {
        auto conn = std::make_unique<pg_test::Conn>(c.dst.url());
        conn->exec("BEGIN");
        conn->exec("SELECT * FROM items WHERE id = 5 FOR UPDATE");
        return conn;
      },
      "lock timeout");
}

TEST_CASE("mariadb target: a row lock held past innodb_lock_wait_timeout, then released: the same run converges", "[target-lock]") {
  pg_test::QuietLog quiet;
  Case c(Kind::Sqlite, Kind::Mariadb);
  maria_test::Maria admin;
  admin.exec("SET GLOBAL innodb_lock_wait_timeout = 1");
  lock_held_on_target(
      c,
      [&] {
        auto conn = std::make_unique<maria_test::Maria>();
        conn->exec("USE " + c.dst.name());
        conn->exec("BEGIN");
        conn->exec("SELECT * FROM items WHERE id = 5 FOR UPDATE");
        return conn;
      },
      "Lock wait timeout");
  admin.exec("SET GLOBAL innodb_lock_wait_timeout = 50");
}

TEST_CASE("postgres target made read-only (default_transaction_read_only), then writable: the same run converges",
          "[target-read-only]") {
  pg_test::QuietLog quiet;
  Case c(Kind::Sqlite, Kind::Postgres);
  c.seed(3000);
  c.run_clean();
  pg_test::Conn admin(pg_test::server_url());
  admin.exec("ALTER DATABASE " + c.dst.name() + " SET default_transaction_read_only = on");
  c.write_changes(200, 1);
  pid_t pid = cdc_test::spawn_cli(c.args(), "", c.log);
  c.log_shows("read-only transaction");
  admin.exec("ALTER DATABASE " + c.dst.name() + " RESET default_transaction_read_only");
  c.finishes(pid);
  c.check_converged();
}

TEST_CASE("mariadb target made read-only (SET GLOBAL read_only for a user without SUPER), then writable: the same run converges",
          "[target-read-only]") {
  pg_test::QuietLog quiet;
  Case c(Kind::Sqlite, Kind::Mariadb);
  maria_test::Maria admin;
  const std::string user = "faults_writer";
  admin.exec("DROP USER IF EXISTS " + user + "@'127.0.0.1'");
  admin.exec("CREATE USER " + user + "@'127.0.0.1' IDENTIFIED BY 'w'");
  admin.exec("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, CREATE TEMPORARY TABLES ON " + c.dst.name() + ".* TO " + user +
             "@'127.0.0.1'");
  // The destination URL logs in as that user (no SUPER: read_only applies to it).
  std::string url = c.dst.url();
  url.replace(url.find("root@"), 5, user + ":w@");
  c.seed(3000);
  {
    std::string text = slurp(c.cfg);
    text.replace(text.find(c.dst.url()), c.dst.url().size(), url);
    std::ofstream(c.cfg) << text;
  }
  c.run_clean();
  admin.exec("SET GLOBAL read_only = 1");
  c.write_changes(200, 1);
  pid_t pid = cdc_test::spawn_cli(c.args(), "", c.log);
  c.log_shows("read-only");
  admin.exec("SET GLOBAL read_only = 0");
  c.finishes(pid);
  c.check_converged();
  admin.exec("DROP USER " + user + "@'127.0.0.1'");
}
