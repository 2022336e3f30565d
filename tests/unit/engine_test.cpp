// The engine's paths over the in-memory fakes, without a server: holds and replays (a keyless
// table replayed without doubles), schema changes with fill values and backfills (values a DDL
// gave existing rows without logging them), a ddl: pause hold across a restart, tables created and
// dropped at the source, a resync with its sweep, a failed table's cool-down and max_held_log on a
// manual clock, and the one-writer lease.
#include "support/catch_printers.h"
#include "support/memory_destination.h"
#include "support/scripted_source.h"
#include "support/sqlite_fixture.h"
#include "support/wait.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

using cdc::Row;
using cdc::TypeId;
using cdc_test::column;
using cdc_test::row;
using cdc_test::table_schema;

using cdc_test::by_table;
using cdc_test::eventually;
using cdc_test::QuietLog;

namespace {

struct Fakes {
  std::shared_ptr<cdc_test::ScriptedSource> src = std::make_shared<cdc_test::ScriptedSource>();
  std::shared_ptr<cdc_test::MemoryDestination> dst = std::make_shared<cdc_test::MemoryDestination>();

  Fakes() {
    std::vector<Row> rows;
    for (int i = 1; i <= 30; ++i) rows.push_back(row(i, i * 10));
    src->create_table(table_schema("t", {column("id", TypeId::Int64), column("v", TypeId::Int32)}, {"id"}), rows);
    src->create_table(table_schema("log", {column("at", TypeId::Int64), column("what", TypeId::String)}),
                      {row(1, "a"), row(2, "b"), row(2, "b")});
  }

  static cdc::Config config() {
    cdc::Config c;
    c.name = "engine";
    c.poll_interval_ms = 5;
    c.defaults.chunk_rows = 10;
    c.defaults.batch_size = 4;
    c.retry.initial_delay_ms = 5;
    c.retry.max_delay_ms = 20;
    c.retry.jitter = 0;
    c.discover_interval_s = 0;
    return c;
  }

  bool converged(const std::string& table) const { return dst->has_table(table) && dst->rows(table) == src->rows(table); }
  bool streaming(const cdc::ReplicationSession& s, const std::string& table) const {
    return by_table(s.status())[table].phase == cdc::TablePhase::Streaming;
  }
};

}  // namespace

TEST_CASE("engine: a paused keyless table replays its changes once, without doubles", "[unit][engine]") {
  QuietLog quiet;
  Fakes f;
  cdc::ReplicationSession session(Fakes::config(), f.src, f.dst);
  session.start();
  REQUIRE(eventually([&] { return f.streaming(session, "t") && f.streaming(session, "log") && f.converged("log"); }));
  session.pause_table("log");
  f.src->insert("log", row(3, "c"));
  f.src->delete_row("log", row(2, "b"));  // one of the two equal rows
  f.src->insert("t", row(100, 1));
  REQUIRE(eventually([&] { return f.converged("t"); }));
  CHECK(f.dst->rows("log").size() == 3);  // held back
  auto held = by_table(session.status())["log"];
  CHECK(held.held);
  CHECK(held.hold_reason == "paused");
  session.resume_table("log");
  REQUIRE(eventually([&] { return f.converged("log"); }));
  f.src->insert("log", row(4, "d"));
  REQUIRE(eventually([&] { return f.converged("log") && f.converged("t"); }));
  session.stop();
  session.wait();
  CHECK(f.dst->rows("log") == f.src->rows("log"));
}

TEST_CASE("engine: an added column gets the value the source's DDL gave existing rows", "[unit][engine][schema]") {
  QuietLog quiet;
  Fakes f;
  cdc::ReplicationSession session(Fakes::config(), f.src, f.dst);
  session.start();
  REQUIRE(eventually([&] { return f.streaming(session, "t") && f.converged("t"); }));

  SECTION("a constant the source reports: added with it, no backfill") {
    cdc_test::AlterOptions o;
    o.fill["d"] = cdc::Value::int64(7);
    f.src->alter("t", table_schema("t", {column("id", TypeId::Int64), column("v", TypeId::Int32), column("d", TypeId::Int64)}, {"id"}),
                 o);
    f.src->insert("t", row(31, 310, 1));
    REQUIRE(eventually([&] { return f.converged("t"); }));
    CHECK(f.dst->failures().calls("backfill") == 0);
    CHECK(f.dst->row("t", row(5)) == row(5, 50, 7));
  }
  SECTION("values per row the log never shows: backfilled from the source") {
    f.src->alter("t", table_schema("t", {column("id", TypeId::Int64), column("v", TypeId::Int32), column("d", TypeId::Int64)}, {"id"}));
    for (int i = 1; i <= 30; ++i) f.src->set_unlogged("t", row(i, i * 10, 1000 + i));  // e.g. DEFAULT nextval(...)
    f.src->insert("t", row(31, 310, 1));
    REQUIRE(eventually([&] { return f.converged("t"); }));
    CHECK(f.dst->failures().calls("backfill") > 0);
    CHECK(f.dst->row("t", row(5)) == row(5, 50, 1005));
    CHECK(f.dst->checkpoints("engine").count("backfill:t") == 0);  // done and forgotten
  }
  SECTION("a type change that rewrote values (USING v * 10): backfilled") {
    f.src->alter("t", table_schema("t", {column("id", TypeId::Int64), column("v", TypeId::Int64)}, {"id"}));
    for (int i = 1; i <= 30; ++i) f.src->set_unlogged("t", row(i, i * 100));
    f.src->update("t", row(1, 5));
    REQUIRE(eventually([&] { return f.converged("t"); }));
    CHECK(f.dst->row("t", row(30)) == row(30, 3000));
  }
  SECTION("a widening the source knows kept its values: no backfill") {
    cdc_test::AlterOptions o;
    o.values_kept = {"v"};
    f.src->alter("t", table_schema("t", {column("id", TypeId::Int64), column("v", TypeId::Int64)}, {"id"}), o);
    f.src->insert("t", row(31, 5000000000LL));
    REQUIRE(eventually([&] { return f.converged("t"); }));
    CHECK(f.dst->failures().calls("backfill") == 0);
  }
  session.stop();
  session.wait();
}

TEST_CASE("engine: a backfill waits until the stream has passed where the source was described", "[unit][engine][schema]") {
  QuietLog quiet;
  Fakes f;
  cdc::ReplicationSession session(Fakes::config(), f.src, f.dst);
  session.start();
  REQUIRE(eventually([&] { return f.streaming(session, "t") && f.converged("t"); }));
  session.pause();  // the stream falls behind
  // The change is described later than it happened: rows logged in between still carry old values.
  const auto wide = table_schema("t", {column("id", TypeId::Int64), column("v", TypeId::Int64)}, {"id"});
  f.src->alter("t", wide, [&] {
    cdc_test::AlterOptions o;
    o.observed_at = cdc::Position(std::to_string(std::stoll(f.src->position().str()) + 3));
    return o;
  }());
  f.src->update("t", row(1, 11));
  f.src->update("t", row(2, 22));
  f.src->set_unlogged("t", row(3, 333));
  f.src->update("t", row(4, 44));  // position observed_at: described here
  session.resume();
  REQUIRE(eventually([&] { return f.converged("t"); }));
  session.stop();
  session.wait();
  CHECK(f.dst->row("t", row(3)) == row(3, 333));
  CHECK(f.dst->row("t", row(1)) == row(1, 11));
}

TEST_CASE("engine: a ddl: pause hold survives a restart, resuming applies the change", "[unit][engine][schema]") {
  QuietLog quiet;
  Fakes f;
  auto config = Fakes::config();
  config.tables["t"].ddl = cdc::DdlPolicy::Pause;
  {
    cdc::ReplicationSession session(config, f.src, f.dst);
    session.start();
    REQUIRE(eventually([&] { return f.streaming(session, "t") && f.converged("t"); }));
    f.src->alter("t", table_schema("t", {column("id", TypeId::Int64), column("v", TypeId::Int16)}, {"id"}));  // narrowing
    f.src->update("t", row(1, 1));
    REQUIRE(eventually([&] { return by_table(session.status())["t"].hold_reason == "ddl: pause"; }));
    session.stop();
    session.wait();
  }
  f.src->update("t", row(2, 2));
  cdc::ReplicationSession session(config, f.src, f.dst);
  session.start();
  REQUIRE(eventually([&] { return f.streaming(session, "log"); }));
  auto status = by_table(session.status());
  CHECK(status["t"].paused);
  CHECK(status["t"].hold_reason == "ddl: pause");
  CHECK(f.dst->row("t", row(1)) == row(1, 10));
  session.resume_table("t");
  REQUIRE(eventually([&] { return f.converged("t"); }));
  session.stop();
  session.wait();
  auto history = f.dst->schema_history();
  REQUIRE(history.size() >= 2);
  CHECK(history.front().action == "paused");
  CHECK(history.back().action == "applied");
}

TEST_CASE("engine: tables created at the source join, dropped ones stop and keep their target", "[unit][engine][lifecycle]") {
  QuietLog quiet;
  Fakes f;
  auto config = Fakes::config();
  config.exclude = {"tmp_*"};
  cdc::ReplicationSession session(config, f.src, f.dst);
  session.start();
  REQUIRE(eventually([&] { return f.streaming(session, "t"); }));
  f.src->create_table(table_schema("fresh", {column("id", TypeId::Int64), column("x", TypeId::String)}, {"id"}), {row(1, "one")});
  f.src->create_table(table_schema("tmp_scratch", {column("id", TypeId::Int64)}, {"id"}));
  f.src->insert("fresh", row(2, "two"));
  REQUIRE(eventually([&] { return f.streaming(session, "fresh") && f.converged("fresh"); }));
  CHECK(by_table(session.status()).count("tmp_scratch") == 0);  // excluded
  f.src->drop_table("fresh");
  REQUIRE(eventually([&] { return by_table(session.status())["fresh"].phase == cdc::TablePhase::Dropped; }));
  CHECK(f.dst->rows("fresh").size() == 2);  // left alone
  session.stop();
  session.wait();
}

TEST_CASE("engine: a resync replaces a damaged target and removes rows the source does not have", "[unit][engine][lifecycle]") {
  QuietLog quiet;
  Fakes f;
  cdc::ReplicationSession session(Fakes::config(), f.src, f.dst);
  session.start();
  REQUIRE(eventually([&] { return f.streaming(session, "t") && f.converged("t"); }));
  session.pause_table("t");
  f.src->delete_row("t", row(7));  // the pause makes these land while the table is behind
  f.src->update("t", row(8, -8));
  // Damage the replica behind cdc's back.
  {
    auto w = f.dst->open_writer();
    w->begin();
    cdc::DestinationTable target;
    target.schema = f.dst->schema("t");
    w->write_rows(target, {row(999, 0), row(9, -1)});
    w->commit("other", {});
  }
  session.resync_table("t");
  CHECK_THROWS_AS(session.resync_table("t"), cdc::Error);  // already being copied
  session.resume_table("t");
  REQUIRE(eventually([&] { return f.streaming(session, "t") && f.converged("t"); }));
  f.src->insert("t", row(50, 500));
  REQUIRE(eventually([&] { return f.converged("t"); }));
  session.stop();
  session.wait();
  CHECK(f.dst->failures().calls("sweep_unstaged") == 1);
  CHECK(f.dst->key_sets("t").empty());
}

TEST_CASE("engine: a failed table is tried again after its cool-down", "[unit][engine][lifecycle]") {
  QuietLog quiet;
  Fakes f;
  auto config = Fakes::config();
  config.retry.table_cooldown_s = 60;
  cdc::SessionOptions options;
  auto clock = std::make_shared<cdc::ManualClock>();
  options.clock = clock;
  cdc::ReplicationSession session(config, f.src, f.dst, options);
  session.start();
  REQUIRE(eventually([&] { return f.streaming(session, "t") && f.converged("t"); }));
  f.dst->failures().fail("apply", cdc_test::fatal_error(cdc::ErrorKind::Destination, "disk quota exceeded (injected)"));
  f.src->update("t", row(1, -1));
  REQUIRE(eventually([&] { return by_table(session.status())["t"].phase == cdc::TablePhase::Failed; }));
  CHECK(by_table(session.status())["t"].error.find("disk quota exceeded") != std::string::npos);
  // The manual clock moves on with every wait; the table comes back and catches up.
  REQUIRE(eventually([&] { return f.streaming(session, "t") && f.converged("t"); }));
  CHECK(clock->waited() >= std::chrono::seconds(60));
  session.stop();
  session.wait();
}

TEST_CASE("engine: a table held past max_held_log lets go of the log and is copied again on resume", "[unit][engine][lifecycle]") {
  QuietLog quiet;
  Fakes f;
  auto config = Fakes::config();
  config.max_held_log.max_bytes = 1000;  // ten events of 100 bytes
  config.max_held_log.max_age_s = 0;
  cdc::ReplicationSession session(config, f.src, f.dst);
  session.start();
  REQUIRE(eventually([&] { return f.streaming(session, "t") && f.converged("t"); }));
  session.pause_table("t");
  const cdc::Position held = f.src->position();
  for (int i = 0; i < 30; ++i) f.src->insert("log", row(100 + i, "x"));
  f.src->update("t", row(1, -1));
  REQUIRE(eventually([&] { return by_table(session.status())["t"].needs_resync; }, 30));
  // The source may release its log past the table's old hold.
  REQUIRE(eventually([&] {
    auto acks = f.src->acknowledged();
    return !acks.empty() && f.src->compare_positions(acks.back(), held) > 0;
  }));
  session.resume_table("t");
  REQUIRE(eventually([&] { return f.streaming(session, "t") && f.converged("t"); }));
  CHECK_FALSE(by_table(session.status())["t"].needs_resync);
  session.stop();
  session.wait();
}

TEST_CASE("engine: a second session with the same name refuses to start, naming the first", "[unit][engine]") {
  QuietLog quiet;
  Fakes f;
  cdc::ReplicationSession first(Fakes::config(), f.src, f.dst);
  first.start();
  REQUIRE(eventually([&] { return f.streaming(first, "t"); }));
  cdc::ReplicationSession second(Fakes::config(), f.src, f.dst);
  try {
    second.run();
    FAIL("the second session ran");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::State);
    CHECK(std::string(e.what()).find("session engine is already running") != std::string::npos);
  }
  first.stop();
  first.wait();
}

namespace {

// Parents, children and grandchildren whose foreign keys cascade at a source that, like InnoDB,
// logs only the parent's change: the test changes the children itself without logging (what the
// storage engine does), and the engine must derive the same at the destination.
struct Family {
  std::shared_ptr<cdc_test::ScriptedSource> src;
  std::shared_ptr<cdc_test::MemoryDestination> dst;

  static cdc::ForeignKeyDef fk(const std::string& name, const std::string& column, const std::string& parent,
                               cdc::ForeignKeyAction on_delete, cdc::ForeignKeyAction on_update) {
    cdc::ForeignKeyDef f;
    f.name = name;
    f.columns = {column};
    f.references = cdc_test::table_id(parent);
    f.referenced_columns = {"id"};
    f.on_delete = on_delete;
    f.on_update = on_update;
    return f;
  }

  // `selects`: the destination applies derived cascades itself (a SQL database); without, it
  // takes them as change events from the session's local copy (a bus).
  explicit Family(bool selects = true) {
    cdc_test::MemoryDestination::Options d;
    d.capabilities.cascades = selects;
    dst = std::make_shared<cdc_test::MemoryDestination>(d);
    cdc_test::ScriptedSource::Options o;
    o.logs_cascades = false;
    src = std::make_shared<cdc_test::ScriptedSource>(o);
    using A = cdc::ForeignKeyAction;
    src->create_table(table_schema("p", {column("id", TypeId::Int64), column("name", TypeId::String)}, {"id"}),
                      {row(1, "one"), row(2, "two"), row(3, "three"), row(4, "four")});
    auto c = table_schema("c", {column("id", TypeId::Int64), column("p_id", TypeId::Int64), column("v", TypeId::String)}, {"id"});
    c.foreign_keys = {fk("c_p", "p_id", "p", A::Cascade, A::Cascade)};
    std::vector<Row> cs;
    for (int i = 1; i <= 12; ++i) cs.push_back(row(i, (i - 1) % 4 + 1, "c" + std::to_string(i)));
    src->create_table(c, cs);
    auto g = table_schema("g", {column("id", TypeId::Int64), column("c_id", TypeId::Int64)}, {"id"});
    g.foreign_keys = {fk("g_c", "c_id", "c", A::Cascade, A::NoAction)};
    std::vector<Row> gs;
    for (int i = 1; i <= 24; ++i) gs.push_back(row(i, (i - 1) % 12 + 1));
    src->create_table(g, gs);
    auto n = table_schema("n", {column("id", TypeId::Int64), column("p_id", TypeId::Int64)}, {"id"});
    n.foreign_keys = {fk("n_p", "p_id", "p", A::SetNull, A::SetNull)};
    src->create_table(n, {row(1, 1), row(2, 2), row(3, 3)});
  }

  // What InnoDB does when parent `id` goes: children and their children deleted, n's references nulled.
  void delete_parent(int64_t id) {
    src->transaction([&] {
      src->delete_row("p", row(id));
      cascade_delete(id);
    });
  }
  void cascade_delete(int64_t id) {
    for (const auto& c : src->rows("c"))
      if (c[1] == cdc::Value::int64(id)) {
        for (const auto& g : src->rows("g"))
          if (g[1] == c[0]) src->delete_unlogged("g", row(g[0]));
        src->delete_unlogged("c", row(c[0]));
      }
    for (const auto& n : src->rows("n"))
      if (n[1] == cdc::Value::int64(id)) src->set_unlogged("n", row(n[0], nullptr));
  }
  // Starts `session`, waits until it streams, then deletes parent 1: c 1, 5, 9 and their g rows
  // go, n 1 gets NULL.
  void start_and_delete_parent_1(cdc::ReplicationSession& session) {
    session.start();
    REQUIRE(eventually([&] { return converged() && all_streaming(session); }));
    delete_parent(1);
    REQUIRE(eventually([&] { return converged(); }));
    CHECK(dst->rows("c").size() == 9);
    CHECK(dst->rows("g").size() == 18);
  }
  // Parent 2 re-keyed to 20: ON UPDATE CASCADE moves its children, SET NULL clears n.
  void rekey_parent_2() {
    src->transaction([&] {
      src->update("p", row(2), row(20, "two"));
      for (const auto& c : src->rows("c"))
        if (c[1] == cdc::Value::int64(2)) src->set_unlogged("c", row(c[0], 20, c[2]));
      src->set_unlogged("n", row(2, nullptr));
    });
  }
  bool all_streaming(const cdc::ReplicationSession& session) const {
    auto tables = by_table(session.status());
    for (const char* t : {"p", "c", "g", "n"})
      if (tables[t].phase != cdc::TablePhase::Streaming) return false;
    return true;
  }
  bool converged() const {
    for (const char* t : {"p", "c", "g", "n"})
      if (!dst->has_table(t) || dst->rows(t) != src->rows(t)) return false;
    return true;
  }
};

}  // namespace

TEST_CASE("engine: foreign-key cascades a source does not log are derived, deepest first, in source order",
          "[unit][engine][cascade]") {
  QuietLog quiet;
  Family f;
  cdc::ReplicationSession session(Fakes::config(), f.src, f.dst);
  f.start_and_delete_parent_1(session);

  // Re-keyed parent: ON UPDATE CASCADE moves the children; SET NULL clears n.
  f.rekey_parent_2();
  REQUIRE(eventually([&] { return f.converged(); }));

  // In one transaction: a child of parent 3 is added, then the parent goes (and takes it along).
  f.src->transaction([&] {
    f.src->insert("c", row(100, 3, "late"));
    f.delete_parent(3);
  });
  f.src->insert("c", row(101, 4, "after"));
  REQUIRE(eventually([&] { return f.converged(); }));
  CHECK_FALSE(f.dst->row("c", row(100)).has_value());
  CHECK(f.dst->row("c", row(101)).has_value());
  session.stop();
  session.wait();
}

TEST_CASE("engine: a child held while its parent's cascades happen meets them again when it replays", "[unit][engine][cascade]") {
  QuietLog quiet;
  Family f;
  cdc::ReplicationSession session(Fakes::config(), f.src, f.dst);
  session.start();
  // Every table streams first: a table paused while its first copy finishes would hold the
  // stream's start for all of them (the stream opens once the first copy phase is over).
  REQUIRE(eventually([&] { return f.converged() && f.all_streaming(session); }));
  session.pause_table("c");
  session.pause_table("p");  // a paused parent does not stop its children's cascades
  f.delete_parent(4);
  REQUIRE(eventually([&] { return f.dst->rows("g").size() == 18; }));  // g applies its part
  CHECK(f.dst->rows("c").size() == 12);                                  // c waits
  session.resume_table("c");
  session.resume_table("p");
  REQUIRE(eventually([&] { return f.converged(); }));
  session.stop();
  session.wait();

  // After a restart the derivation is the same (replayed cascades are idempotent).
  f.delete_parent(2);
  cdc::ReplicationSession again(Fakes::config(), f.src, f.dst);
  again.start();
  REQUIRE(eventually([&] { return f.converged(); }));
  again.stop();
  again.wait();
}

TEST_CASE("engine: cascades reach a destination that cannot select rows as change events from the local copy",
          "[unit][engine][cascade]") {
  QuietLog quiet;
  Family f(false);
  cdc_test::TempDir dir;
  auto config = Fakes::config();
  config.state_dir = dir.file("state");
  {
    cdc::ReplicationSession session(config, f.src, f.dst);
    f.start_and_delete_parent_1(session);
    // A commit that fails after the copy has committed: the retry finds the copy ahead of the
    // destination and undoes it first, so the replayed cascade finds the rows again.
    f.dst->failures().fail("commit", cdc_test::lost_connection());
    f.rekey_parent_2();
    REQUIRE(eventually([&] { return f.converged(); }));
    session.pause_table("c");  // a held child meets its cascades when it replays
    f.delete_parent(4);
    REQUIRE(eventually([&] { return f.dst->rows("g").size() == 12; }));
    session.resume_table("c");
    REQUIRE(eventually([&] { return f.converged(); }));
    session.stop();
    session.wait();
  }
  auto cp = f.dst->checkpoints("engine");
  REQUIRE(cp.count("cascade_state"));
  CHECK(std::filesystem::exists(dir.file("state") + "/engine.cascades.sqlite"));

  // Changed while stopped: the restart replays them through the same copy.
  f.src->transaction([&] {
    f.src->insert("c", row(100, 3, "late"));
    f.delete_parent(3);
  });
  {
    cdc::ReplicationSession again(config, f.src, f.dst);
    again.start();
    REQUIRE(eventually([&] { return f.converged(); }));
    again.stop();
    again.wait();
  }

  // The copy lost: the tables cascades reach are copied again, and cascades go on.
  std::filesystem::remove_all(dir.file("state"));
  {
    cdc::ReplicationSession again(config, f.src, f.dst);
    again.start();
    REQUIRE(eventually([&] { return by_table(again.status())["c"].phase == cdc::TablePhase::Streaming; }));
    f.src->insert("p", row(7, "seven"));
    f.src->insert("c", row(200, 7, "new"));
    f.delete_parent(7);
    REQUIRE(eventually([&] { return f.converged(); }));
    CHECK_FALSE(f.dst->row("c", row(200)).has_value());
    again.stop();
    again.wait();
  }
}
