// Crash safety PG -> PG: `cdc-cli replicate` killed with SIGKILL at failpoints (CDC_CRASH_AT, see
// lib/core/failpoint.h) mid-snapshot and mid-stream; a restart must converge with nothing lost or
// doubled (the keyless table shows doubles as extra rows), and the slot's confirmed_flush_lsn
// must move forward.
#include "pg_test_util.h"
#include "support/cli_process.h"

#include <csignal>

#include <sys/wait.h>

using namespace pg_test;

// Every test here kills at failpoints: only in builds with -DCDC_FAILPOINTS=ON (scripts/test.sh).
#if defined(CDC_CLI_PATH) && defined(CDC_FAILPOINTS)

using cdc_test::Exit;
using cdc_test::run_cli;
using cdc_test::slurp;

namespace {

struct Fixture {
  TempDir dir;
  TempDb src{"crs"}, dst{"crd"};
  std::string cfg = dir.file("cdc.yaml"), log = dir.file("cli.log");

  explicit Fixture(int rows) {
    Conn s(src.url());
    s.exec("CREATE TABLE items (id int PRIMARY KEY, grp int, name text, payload bytea)");
    s.exec("CREATE TABLE pairs (a text NOT NULL, b int NOT NULL, v float8, PRIMARY KEY (a, b))");
    s.exec("CREATE TABLE events (at int, what text)");  // no key: a doubled row would show
    s.exec("ALTER TABLE events REPLICA IDENTITY FULL");
    s.exec("INSERT INTO items SELECT g, g % 97, 'item ' || g, decode(md5(g::text), 'hex') FROM generate_series(1, " +
           std::to_string(rows) + ") g");
    s.exec("INSERT INTO pairs SELECT 'p' || (g % 13), g, g * 0.5 FROM generate_series(1, " + std::to_string(rows / 4) + ") g");
    s.exec("INSERT INTO events SELECT g, 'e' || (g % 7) FROM generate_series(1, " + std::to_string(rows / 4) + ") g");
    s.exec("ANALYZE");
    std::ofstream(cfg) << "name: crash\nsource: \"" << src.url() << "\"\ndestination: \"" << dst.url() << "\"\n"
                       << "parallel_tables: 3\npoll_interval_ms: 50\nstream_batch_rows: 40\n"
                       << "defaults: {batch_size: 500, chunk_rows: 4000, parallel_chunks: 2}\n";
  }

  void write_changes(int n, unsigned seed) {
    Conn s(src.url());
    std::mt19937 rng(seed);
    for (int i = 0; i < n; ++i) {
      std::string id = std::to_string(rng() % 30000 + 1);
      switch (rng() % 6) {
        case 0:
          s.exec("INSERT INTO items VALUES (" + id + ", 0, 'replaced', '\\x01') ON CONFLICT (id) DO UPDATE SET name = 'replaced'");
          break;
        case 1: s.exec("UPDATE items SET name = name || '!' WHERE id = " + id); break;
        case 2: s.exec("DELETE FROM items WHERE id = " + id); break;
        case 3: s.exec("INSERT INTO events VALUES (" + id + ", 'live')"); break;
        case 4:
          s.exec("DELETE FROM events WHERE ctid = (SELECT min(ctid) FROM events WHERE at % 5 = " + std::to_string(rng() % 5) + ")");
          break;
        default:
          s.exec("UPDATE pairs SET b = b + 100000, v = -v WHERE a = 'p3' AND b = (SELECT min(b) FROM pairs WHERE a = 'p3' AND b < 100000)");
      }
    }
  }

  std::string confirmed() {
    Conn s(src.url());
    return s.scalar("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'cdc_" + src.name() + "'");
  }

  void check_converged() {
    INFO(slurp(log));
    Conn s(src.url()), d(dst.url());
    CHECK(dump(s, "items") == dump(d, "items"));
    CHECK(dump(s, "pairs") == dump(d, "pairs"));
    CHECK(s.rows("SELECT at, what, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2") ==
          d.rows("SELECT at, what, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2"));
    auto report = cdc::verify(src.url(), dst.url(), cdc::VerifyOptions{});
    INFO(describe(report));
    CHECK(report.all_equal());
    // The keyed tables have their keys (a copy builds them after its last chunk).
    CHECK(d.scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND conrelid IN ('items'::regclass, 'pairs'::regclass)") == "2");
  }
};

}  // namespace

TEST_CASE("postgres: SIGKILL mid-snapshot, then restart, converges without duplicates", "[postgres][crash]") {
  for (const char* point : {"snapshot.chunk_committed:3", "snapshot.before_commit:2"}) {
    DYNAMIC_SECTION(point) {
      Fixture f(20000);
      auto first = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, point, f.log);
      INFO(slurp(f.log));
      REQUIRE(first.signaled);
      CHECK(first.code == SIGKILL);
      if (std::string(point).rfind("snapshot.chunk_committed", 0) == 0) {
        // (Killed before a commit, no chunk need have committed: parallel writers reach that
        // point together, and PostgreSQL does not serialise them.)
        Conn d(f.dst.url());
        CHECK(d.scalar("SELECT count(*) > 0 FROM cdc_metadata.checkpoints WHERE key LIKE 'chunk:%'") == "t");
      }
      f.write_changes(200, 7);
      auto second = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log);
      CHECK_FALSE(second.signaled);
      CHECK(second.code == 0);
      f.check_converged();
    }
  }
}

TEST_CASE("postgres: SIGKILL mid-stream, then restart, converges and the slot moves on", "[postgres][crash]") {
  for (const char* point : {"stream.batch_committed:3", "stream.before_commit:2"}) {
    DYNAMIC_SECTION(point) {
      Fixture f(4000);
      REQUIRE(run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log).code == 0);
      std::string before = f.confirmed();
      f.write_changes(300, 11);
      auto killed = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, point, f.log);
      INFO(slurp(f.log));
      REQUIRE(killed.signaled);
      f.write_changes(100, 12);
      auto again = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log);
      CHECK(again.code == 0);
      f.check_converged();
      Conn s(f.src.url());
      CHECK(s.scalar("SELECT '" + f.confirmed() + "'::pg_lsn > '" + before + "'::pg_lsn") == "t");
    }
  }
}

TEST_CASE("postgres: SIGKILL mid-snapshot while a table without a key is inserted into, then restart: no row doubled or lost",
          "[postgres][crash]") {
  Fixture f(20000);
  // Inserts into the keyless table run through the killed run, the restart and its snapshot.
  std::atomic<bool> stop{false};
  std::atomic<int> inserted{0};
  std::thread writer([&] {
    Conn w(f.src.url());
    for (int i = 0; !stop; ++i) {
      w.exec("INSERT INTO events VALUES (" + std::to_string(100000 + i % 11) + ", 'concurrent')");
      ++inserted;
    }
  });
  auto first = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "snapshot.chunk_committed:2", f.log);
  int after_first = inserted;
  std::thread restart([&] {
    auto second = run_cli({"replicate", "-c", f.cfg, "--until-idle"}, "", f.log);
    CHECK_FALSE(second.signaled);
    CHECK(second.code == 0);
  });
  // Keep writing while the restart snapshots (it exits once the writes stop and it is idle).
  eventually([&] { return inserted > after_first + 300; }, 20);
  stop = true;
  writer.join();
  restart.join();
  INFO(slurp(f.log));
  REQUIRE(first.signaled);
  CHECK(after_first > 0);
  // The events table was not done when the first run died: the restart read it under a snapshot
  // of its own and the stream took over exactly there.
  f.check_converged();
}

TEST_CASE("postgres: an interrupted copy resumes its keyed chunks and copies a table without a key again whole",
          "[postgres][crash]") {
  TempDir dir;
  TempDb src("ccs"), dst("ccd");
  std::string log = dir.file("cli.log");
  Conn s(src.url());
  s.exec("CREATE TABLE items (id int PRIMARY KEY, name text)");
  s.exec("CREATE TABLE events (at int, what text)");  // no key: chunks are heap page ranges
  s.exec("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 3000) g");
  s.exec("INSERT INTO events SELECT g, 'e' || (g % 7) FROM generate_series(1, 12000) g");
  s.exec("ANALYZE");
  std::vector<std::string> args{"copy", src.url(), dst.url(), "--chunk-rows", "1000", "--parallel-chunks", "2",
                                "--parallel", "1", "--batch-size", "200", "--name", "cc"};
  // events is the larger table, copied first; the third committed chunk is one of its chunks.
  auto first = run_cli(args, "snapshot.chunk_committed:3", log);
  INFO(slurp(log));
  REQUIRE(first.signaled);
  Conn d(dst.url());
  int done = std::stoi(d.scalar("SELECT count(*) FROM cdc_metadata.checkpoints WHERE session = 'cc' AND key LIKE 'chunk:public.events:%'"));
  int planned = std::stoi(d.scalar(
      "SELECT json_array_length(value::json) FROM cdc_metadata.checkpoints WHERE session = 'cc' AND key = 'plan:public.events'"));
  CHECK(done > 0);
  CHECK(done < planned);
  // Updated rows move to the end of the heap: past the chunks already copied, into one still to read.
  s.exec("UPDATE events SET what = what || ' moved' WHERE at <= 500");
  auto second = run_cli(args, "", log);
  CHECK_FALSE(second.signaled);
  CHECK(second.code == 0);
  CHECK(dump(s, "items") == dump(d, "items"));
  CHECK(s.rows("SELECT at, what, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2") ==
        d.rows("SELECT at, what, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2"));
}

#endif
