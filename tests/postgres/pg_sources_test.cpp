// The PostgreSQL source's part in a table's life in a running session: current_position() against
// the stream's own event positions (and the commit that is in the WAL but not yet visible),
// log_bytes_between(), extend_capture() with cdc's and a user's publication, an exact whole-table
// read for a keyless table that joins a running stream, and schema changes with observed_at, fill
// and rows logged before a column existed.
#include "pg_test_util.h"

#include <fstream>
#include <future>

using namespace pg_test;

namespace {

std::shared_ptr<cdc::SourceConnector> open_source(const std::string& url) {
  return cdc::ConnectorRegistry::instance().open_source(url);
}

cdc::TableSchema table_of(cdc::SourceConnector& src, const std::string& name) {
  auto t = src.discover([&](const cdc::TableId& id) { return id.name == name; });
  REQUIRE(t.size() == 1);
  return t[0];
}

// Polls until `n` events arrived (schema change events count) or `seconds` passed.
std::vector<cdc::ChangeEvent> poll_events(cdc::ChangeStream& s, std::size_t n, int seconds = 20) {
  std::vector<cdc::ChangeEvent> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) s.poll(out, 1000, std::chrono::milliseconds(200));
  return out;
}

std::vector<cdc::ChangeEvent> rows_of(const std::vector<cdc::ChangeEvent>& evs, const std::string& table) {
  std::vector<cdc::ChangeEvent> out;
  for (const auto& e : evs)
    if (!e.schema_change && e.table.name == table) out.push_back(e);
  return out;
}

// A server of the test's own (settings the shared one must not have), stopped at the end.
struct OwnServer {
  std::string dir;
  std::string url;
  explicit OwnServer(const std::string& extra_conf) {
    std::mt19937 rng(std::random_device{}());
    dir = "/tmp/cdc-pg-own-" + std::to_string(::getpid()) + "-" + std::to_string(rng() % 100000);
    ::setenv("PG_EXTRA_CONF", extra_conf.c_str(), 1);
    int rc = std::system(("bash " CDC_PG_SERVER_SCRIPT " start " + dir + " >/dev/null").c_str());
    ::unsetenv("PG_EXTRA_CONF");
    REQUIRE(rc == 0);
    std::ifstream in(dir + "/url");
    std::getline(in, url);
  }
  ~OwnServer() {
    int rc = std::system(("bash " CDC_PG_SERVER_SCRIPT " stop " + dir + " >/dev/null 2>&1").c_str());
    (void)rc;
  }
};

}  // namespace

TEST_CASE("postgres: current_position() lies between a commit before it and one after it", "[postgres]") {
  QuietLog quiet;
  TempDb db("curpos");
  Conn s(db.url());
  s.exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
  auto src = open_source(db.url());
  cdc::TableSchema t = table_of(*src, "t");
  cdc::StreamStart start = src->prepare_stream({cdc::StreamTable{t}});
  src->release_snapshot(start.snapshot_id);
  // The test server runs with synchronous_commit = off: a commit is visible before its WAL is
  // written, which is where pg_current_wal_lsn() would put the position.
  std::vector<cdc::Position> between;
  for (int i = 0; i < 5; ++i) {
    s.exec("INSERT INTO t VALUES (" + std::to_string(2 * i) + ", 'before')");
    between.push_back(src->current_position());
    s.exec("INSERT INTO t VALUES (" + std::to_string(2 * i + 1) + ", 'after')");
  }
  auto stream = src->open_stream({cdc::StreamTable{t}}, start.position);
  auto evs = poll_events(*stream, 10);
  REQUIRE(evs.size() == 10);
  for (int i = 0; i < 5; ++i) {
    INFO("pair " << i << ": " << evs[2 * i].position.str() << " / " << between[i].str() << " / " << evs[2 * i + 1].position.str());
    CHECK(src->compare_positions(evs[2 * i].position, between[i]) <= 0);
    CHECK(src->compare_positions(evs[2 * i + 1].position, between[i]) > 0);
  }
  // A stream opened at the position delivers exactly what committed after it.
  stream.reset();  // one walsender per slot
  auto again = src->open_stream({cdc::StreamTable{t}}, between[2]);
  auto rest = poll_events(*again, 5);
  REQUIRE(rest.size() == 5);
  CHECK(rest[0].after[0] == cdc::Value::int64(5));

  std::int64_t bytes = src->log_bytes_between(start.position, between[4]);
  CHECK(bytes > 0);
  CHECK(src->log_bytes_between(between[4], start.position) == 0);
  CHECK(src->log_bytes_between(between[1], between[3]) ==
        static_cast<std::int64_t>(std::stoll(s.scalar("SELECT pg_wal_lsn_diff('" + between[3].str() + "', '" +
                                                      between[1].str() + "')::bigint"))));
}

TEST_CASE("postgres: current_position() waits for a commit that is in the WAL but not yet visible", "[postgres]") {
  QuietLog quiet;
  // A synchronous standby that never comes: a session with synchronous_commit = on inserts its
  // commit record and then waits, invisible to everyone, until it is cancelled.
  OwnServer server("synchronous_standby_names = 'cdc_ghost'");
  Conn admin(server.url);
  admin.exec("CREATE TABLE t (id int PRIMARY KEY)");
  auto src = open_source(server.url);
  cdc::TableSchema t = table_of(*src, "t");
  cdc::StreamStart start = src->prepare_stream({cdc::StreamTable{t}});
  src->release_snapshot(start.snapshot_id);

  // An open transaction with an xid, idle: it cannot be committing, and does not hold anyone up.
  Conn idle(server.url);
  idle.exec("BEGIN");
  idle.exec("INSERT INTO t VALUES (100)");
  auto t0 = std::chrono::steady_clock::now();
  src->current_position();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));

  auto committer = std::async(std::launch::async, [&] {
    PGconn* raw = PQconnectdb(server.url.c_str());
    PQclear(PQexec(raw, "SET synchronous_commit = on"));
    PGresult* r = PQexec(raw, "INSERT INTO t VALUES (1)");  // waits for the ghost standby
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(raw);
    return ok;
  });
  REQUIRE(eventually([&] { return admin.scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'") == "1"; }));
  CHECK(admin.scalar("SELECT count(*) FROM t") == "0");  // in the WAL, not visible

  auto position = std::async(std::launch::async, [&] { return src->current_position(); });
  CHECK(position.wait_for(std::chrono::milliseconds(1500)) == std::future_status::timeout);
  // Cancelling the wait makes the transaction visible (it committed locally).
  admin.exec("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
  REQUIRE(position.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  cdc::Position at = position.get();
  committer.get();
  // Everything at or before the position is visible to a snapshot taken now.
  CHECK(admin.scalar("SELECT count(*) FROM t") == "1");
  idle.exec("COMMIT");
  auto stream = src->open_stream({cdc::StreamTable{t}}, start.position);
  auto evs = poll_events(*stream, 2);
  REQUIRE(evs.size() == 2);
  CHECK(evs[0].after[0] == cdc::Value::int64(1));
  CHECK(src->compare_positions(evs[0].position, at) <= 0);
  CHECK(evs[1].after[0] == cdc::Value::int64(100));
  CHECK(src->compare_positions(evs[1].position, at) > 0);
}

TEST_CASE("postgres: extend_capture() adds a table to cdc's publication after its writers ended", "[postgres]") {
  QuietLog quiet;
  TempDb db("extend");
  Conn s(db.url());
  s.exec("CREATE TABLE a (id int PRIMARY KEY)");
  s.exec("CREATE TABLE b (id int PRIMARY KEY, v text)");
  auto src = open_source(db.url());
  cdc::TableSchema a = table_of(*src, "a"), b = table_of(*src, "b");
  cdc::StreamStart start = src->prepare_stream({cdc::StreamTable{a}});
  src->release_snapshot(start.snapshot_id);
  CHECK(s.rows("SELECT tablename FROM pg_publication_tables WHERE pubname = 'cdc_pub'") == std::vector<std::string>{"a"});
  auto stream = src->open_stream({cdc::StreamTable{a}}, start.position);

  // A transaction wrote to b before b joins, and is still open: its row would be in neither the
  // copy (not committed) nor the stream (written while b was not published).
  Conn w(db.url());
  w.exec("BEGIN");
  w.exec("INSERT INTO b VALUES (1, 'early')");
  auto extended = std::async(std::launch::async, [&] { src->extend_capture({cdc::StreamTable{b}}); });
  CHECK(extended.wait_for(std::chrono::milliseconds(1500)) == std::future_status::timeout);
  w.exec("INSERT INTO b VALUES (2, 'early')");
  w.exec("COMMIT");
  REQUIRE(extended.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  extended.get();
  CHECK(s.rows("SELECT tablename FROM pg_publication_tables WHERE pubname = 'cdc_pub' ORDER BY 1") ==
        std::vector<std::string>{"a", "b"});
  src->extend_capture({cdc::StreamTable{b}});  // idempotent
  cdc::Position l0 = src->current_position();
  // The copy (any snapshot from now on) has the early rows.
  CHECK(s.count("b") == 2);
  Conn w2(db.url());
  w2.exec("INSERT INTO b VALUES (3, 'after')");
  w2.exec("UPDATE b SET v = 'changed' WHERE id = 1");
  s.exec("INSERT INTO a VALUES (1)");
  // The running stream goes on with a; reopened with b at a position before L0, b's changes
  // after L0 arrive.
  auto evs_a = poll_events(*stream, 1);
  REQUIRE(evs_a.size() == 1);
  CHECK(evs_a[0].table.name == "a");
  stream.reset();  // one walsender per slot
  auto reopened = src->open_stream({cdc::StreamTable{a}, cdc::StreamTable{b}}, start.position);
  auto evs = poll_events(*reopened, 3);
  CHECK(evs.size() == 3);  // b's early rows were written while b was not published: the copy has them
  auto after_l0 = std::count_if(evs.begin(), evs.end(), [&](const cdc::ChangeEvent& e) {
    return e.table.name == "b" && src->compare_positions(e.position, l0) > 0;
  });
  CHECK(after_l0 == 2);
  auto b_rows = rows_of(evs, "b");
  REQUIRE(b_rows.size() == 2);
  CHECK(b_rows[0].after == cdc::Row{cdc::Value::int64(3), cdc::Value::string("after")});
  CHECK(b_rows[1].after == cdc::Row{cdc::Value::int64(1), cdc::Value::string("changed")});
}

TEST_CASE("postgres: extend_capture() with a publication FOR ALL TABLES or a user's publication", "[postgres]") {
  QuietLog quiet;
  {
    TempDb db2("extendall");
    Conn s2(db2.url());
    s2.exec("CREATE TABLE c (id int PRIMARY KEY)");
    s2.exec("CREATE PUBLICATION allpub FOR ALL TABLES");
    auto src2 = open_source(db2.url() + "?publication=allpub");
    src2->extend_capture({cdc::StreamTable{table_of(*src2, "c")}});
    CHECK(s2.scalar("SELECT count(*) FROM pg_publication_rel") == "0");
  }
  {
    // A user's publication that lacks the table is a configuration error naming the fix.
    TempDb db3("extenduser");
    Conn s3(db3.url());
    s3.exec("CREATE TABLE c (id int PRIMARY KEY)");
    s3.exec("CREATE TABLE d (id int PRIMARY KEY)");
    s3.exec("CREATE PUBLICATION mine FOR TABLE c");
    auto src3 = open_source(db3.url() + "?publication=mine");
    src3->extend_capture({cdc::StreamTable{table_of(*src3, "c")}});
    try {
      src3->extend_capture({cdc::StreamTable{table_of(*src3, "d")}});
      FAIL("extended a user's publication");
    } catch (const cdc::Error& e) {
      CHECK(e.kind() == cdc::ErrorKind::Config);
      std::string msg = e.what();
      CHECK(msg.find("public.d") != std::string::npos);
      CHECK(msg.find("\"mine\"") != std::string::npos);
      CHECK(msg.find("ALTER PUBLICATION \"mine\" ADD TABLE \"public\".\"d\"") != std::string::npos);
    }
    CHECK(s3.rows("SELECT tablename FROM pg_publication_tables WHERE pubname = 'mine'") == std::vector<std::string>{"c"});
  }
}

TEST_CASE("postgres: a keyless table joining a running stream is read whole at an exact position", "[postgres]") {
  QuietLog quiet;
  TempDb db("exactread");
  Conn s(db.url());
  s.exec("CREATE TABLE a (id int PRIMARY KEY)");
  s.exec("CREATE TABLE k (n int, v text)");
  s.exec("ALTER TABLE k REPLICA IDENTITY FULL");
  s.exec("INSERT INTO k SELECT g % 5, 'old' FROM generate_series(1, 300) g");
  auto src = open_source(db.url());
  cdc::TableSchema a = table_of(*src, "a"), k = table_of(*src, "k");
  cdc::StreamStart start = src->prepare_stream({cdc::StreamTable{a}});
  src->release_snapshot(start.snapshot_id);

  src->extend_capture({cdc::StreamTable{k}});
  cdc::SnapshotPlanOptions opt;
  opt.chunk_rows = 10;  // ignored for a whole-table plan
  opt.min_chunks = 4;
  opt.whole_table = true;
  auto chunks = src->plan_snapshot(k, opt);
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].lower.empty());
  CHECK(chunks[0].upper.empty());

  // Writers run while the table is read; the rows read and the changes after the reader's
  // position add up to the table, with nothing counted twice.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    Conn w(db.url());
    for (int i = 0; !stop; ++i) w.exec("INSERT INTO k VALUES (" + std::to_string(i % 7) + ", 'during')");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  cdc::ReadRequest req;
  req.schema = k;
  req.chunk = chunks[0];
  req.exact_position = true;
  auto reader = src->read_chunk(req);
  std::vector<cdc::Row> copied, batch;
  while (reader->next(batch))
    for (auto& r : batch) copied.push_back(r);
  cdc::Position at = reader->position();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  writer.join();
  REQUIRE_FALSE(at.empty());
  CHECK(src->compare_positions(start.position, at) < 0);
  reader.reset();
  // The read's temporary slot goes with its connection (once the server has noticed it closed).
  CHECK(eventually([&] { return s.scalar("SELECT count(*) FROM pg_replication_slots WHERE database = current_database()") == "1"; }, 10));

  auto stream = src->open_stream({cdc::StreamTable{a}, cdc::StreamTable{k}}, at);
  std::int64_t total = s.count("k");
  auto evs = poll_events(*stream, static_cast<std::size_t>(total) - copied.size(), 30);
  CHECK(static_cast<std::int64_t>(copied.size() + evs.size()) == total);
  for (const auto& e : evs) CHECK(e.op == cdc::ChangeOp::Insert);

  SECTION("a part of a table cannot have an exact position") {
    cdc::ReadRequest part = req;
    part.chunk.upper = "ctid:1";
    CHECK_THROWS_AS(src->read_chunk(part), cdc::Error);
  }
}

TEST_CASE("postgres: a keyless table read whole under the stream's snapshot reports the stream's start", "[postgres]") {
  QuietLog quiet;
  TempDb db("snapread");
  Conn s(db.url());
  s.exec("CREATE TABLE k (n int, v text)");
  s.exec("ALTER TABLE k REPLICA IDENTITY FULL");
  s.exec("INSERT INTO k SELECT g, 'v' FROM generate_series(1, 50) g");
  auto src = open_source(db.url());
  cdc::TableSchema k = table_of(*src, "k");
  cdc::StreamStart start = src->prepare_stream({cdc::StreamTable{k}});
  s.exec("INSERT INTO k VALUES (51, 'after')");  // committed after the snapshot: the stream has it
  cdc::SnapshotPlanOptions opt;
  opt.whole_table = true;
  auto chunks = src->plan_snapshot(k, opt);
  REQUIRE(chunks.size() == 1);
  cdc::ReadRequest req;
  req.schema = k;
  req.chunk = chunks[0];
  req.snapshot_id = start.snapshot_id;
  auto reader = src->read_chunk(req);
  std::vector<cdc::Row> rows, batch;
  while (reader->next(batch))
    for (auto& r : batch) rows.push_back(r);
  CHECK(rows.size() == 50);
  CHECK(reader->position() == start.position);
  reader.reset();
  src->release_snapshot(start.snapshot_id);
  auto stream = src->open_stream({cdc::StreamTable{k}}, start.position);
  auto evs = poll_events(*stream, 1);
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].after[0] == cdc::Value::int64(51));
}

TEST_CASE("postgres: schema changes carry observed_at and the values added columns gave existing rows", "[postgres]") {
  QuietLog quiet;
  TempDb db("fills");
  Conn s(db.url());
  s.exec("CREATE TABLE t (id int PRIMARY KEY, v int)");
  s.exec("CREATE TABLE r (id int PRIMARY KEY, v int)");
  s.exec("CREATE TABLE w (id int PRIMARY KEY, v int)");
  s.exec("INSERT INTO t VALUES (1, 1), (2, 2)");
  s.exec("INSERT INTO r VALUES (1, 1)");
  s.exec("INSERT INTO w VALUES (1, 1)");
  s.exec("VACUUM FULL r");  // rewritten once: nothing about its NULLs can be proven any more
  auto src = open_source(db.url());
  cdc::TableSchema t = table_of(*src, "t"), r = table_of(*src, "r"), w = table_of(*src, "w");
  std::vector<cdc::StreamTable> tables{cdc::StreamTable{t, "", t}, cdc::StreamTable{r, "", r}, cdc::StreamTable{w, "", w}};
  cdc::StreamStart start = src->prepare_stream(tables);
  src->release_snapshot(start.snapshot_id);

  s.exec("INSERT INTO t VALUES (3, 3)");
  s.exec("ALTER TABLE t ADD COLUMN d numeric(6,2) DEFAULT 1.5, ADD COLUMN s text DEFAULT 'it''s \"x\"', "
         "ADD COLUMN n int, ADD COLUMN z int DEFAULT NULL");
  s.exec("INSERT INTO t (id, v, n) VALUES (4, 4, 44)");
  s.exec("ALTER TABLE r ADD COLUMN n int, ADD COLUMN k int DEFAULT 7");
  s.exec("INSERT INTO r VALUES (2, 2, 22, 8)");
  // A volatile default rewrites the table (values logical decoding does not show), and with it
  // every other column's missing value.
  s.exec("ALTER TABLE w ADD COLUMN k int DEFAULT 7, ADD COLUMN rnd float8 DEFAULT random()");
  s.exec("INSERT INTO w VALUES (2, 2, 8, 0.5)");
  cdc::Position after_ddl = src->current_position();

  // The stream asks for the old columns, as the session planned them.
  auto stream = src->open_stream(tables, start.position);
  std::vector<cdc::ChangeEvent> evs;
  std::vector<cdc::ChangeEvent> changes;
  for (int round = 0; round < 10 && changes.size() < 3; ++round) {
    auto got = poll_events(*stream, 1, 5);
    for (auto& e : got) (e.schema_change ? changes : evs).push_back(e);
  }
  REQUIRE(changes.size() == 3);
  // Row 3 was logged before the ALTER: it comes before the change is reported.
  REQUIRE_FALSE(evs.empty());
  CHECK(evs[0].after == cdc::Row{cdc::Value::int64(3), cdc::Value::int64(3)});
  const cdc::SchemaChange& ct = *changes[0].schema_change;
  CHECK(changes[0].table.name == "t");
  CHECK(ct.kind == cdc::SchemaChangeKind::Altered);
  REQUIRE_FALSE(ct.observed_at.empty());
  CHECK(src->compare_positions(ct.observed_at, after_ddl) >= 0);
  CHECK(src->compare_positions(changes[0].position, ct.observed_at) <= 0);
  CHECK(ct.values_kept.empty());
  REQUIRE(ct.fill.count("d"));
  CHECK(ct.fill.at("d") == cdc::Value::decimal("1.50"));
  REQUIRE(ct.fill.count("s"));
  CHECK(ct.fill.at("s") == cdc::Value::string("it's \"x\""));
  REQUIRE(ct.fill.count("n"));  // no default, table never rewritten: existing rows hold NULL
  CHECK(ct.fill.at("n").is_null());
  REQUIRE(ct.fill.count("z"));
  CHECK(ct.fill.at("z").is_null());
  CHECK(ct.fill.size() == 4);
  const cdc::SchemaChange& cr = *changes[1].schema_change;
  CHECK(changes[1].table.name == "r");
  CHECK_FALSE(cr.fill.count("n"));  // r was rewritten before: unproven
  REQUIRE(cr.fill.count("k"));
  CHECK(cr.fill.at("k") == cdc::Value::int64(7));
  const cdc::SchemaChange& cw = *changes[2].schema_change;
  CHECK(changes[2].table.name == "w");
  CHECK(cw.after.columns.size() == 4);
  CHECK(cw.fill.empty());  // read back from the source instead

  SECTION("rows logged before a column existed mark it unchanged") {
    // A stream whose plan already has the new columns replays a row from before the ALTER.
    cdc::TableSchema now = table_of(*src, "t");
    stream.reset();
    auto replay = src->open_stream({cdc::StreamTable{now}}, start.position);
    auto got = rows_of(poll_events(*replay, 2), "t");
    REQUIRE(got.size() >= 2);
    CHECK(got[0].after[0] == cdc::Value::int64(3));
    REQUIRE(got[0].unchanged.size() == now.columns.size());
    for (std::size_t i = 0; i < now.columns.size(); ++i) {
      INFO("column " << now.columns[i].name);
      CHECK(got[0].unchanged[i] == (i >= 2));
      if (i >= 2) CHECK(got[0].after[i].is_null());
    }
    CHECK(got[1].after[0] == cdc::Value::int64(4));
    CHECK(got[1].unchanged.empty());
  }
}

TEST_CASE("postgres: a type change that rewrote values is reported without values_kept", "[postgres]") {
  QuietLog quiet;
  TempDb db("retype");
  Conn s(db.url());
  s.exec("CREATE TABLE t (id int PRIMARY KEY, v int)");
  s.exec("INSERT INTO t VALUES (1, 1)");
  auto src = open_source(db.url());
  cdc::TableSchema t = table_of(*src, "t");
  cdc::StreamStart start = src->prepare_stream({cdc::StreamTable{t, "", t}});
  src->release_snapshot(start.snapshot_id);
  s.exec("ALTER TABLE t ALTER COLUMN v TYPE bigint USING v * 10");  // logs no row change
  s.exec("INSERT INTO t VALUES (2, 20)");
  auto stream = src->open_stream({cdc::StreamTable{t, "", t}}, start.position);
  auto evs = poll_events(*stream, 1);
  REQUIRE(evs.size() == 1);
  REQUIRE(evs[0].schema_change);
  const cdc::SchemaChange& c = *evs[0].schema_change;
  REQUIRE(c.after.columns.size() == 2);
  CHECK(c.after.columns[1].type.id == cdc::TypeId::Int64);
  CHECK(c.values_kept.empty());
  CHECK(c.fill.empty());
  CHECK_FALSE(c.observed_at.empty());
}
