// PostgreSQL connector against a real server: discovery, exact copies PG->PG, SQLite->PG and
// PG->SQLite, destination apply semantics, checkpoints, incremental mode, connection errors.
#include "pg_test_util.h"

#include <sqlite3.h>

using namespace pg_test;

namespace {

// A table with every built-in type family the issue names, two special rows and `extra` plain ones.
void create_types_table(Conn& c, int extra) {
  c.exec("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
  c.exec("CREATE DOMAIN posint AS integer CHECK (VALUE > 0)");
  c.exec(
      "CREATE TABLE types (id serial PRIMARY KEY, i2 smallint, i4 int, i8 bigint, n int, s text, b bytea, f8 float8, f4 float4,"
      " num numeric(10,2), nu numeric, d date, ts timestamp, tstz timestamptz, tm time, tmtz timetz, iv interval, u uuid,"
      " j json, jb jsonb, ip inet, cidr_ cidr, mac macaddr, m money, bt bit(4), vb varbit, arr int[], tarr text[], e mood,"
      " p posint, bo bool, c char(3), vc varchar(10))");
  c.exec(
      "INSERT INTO types (i2, i4, i8, n, s, b, f8, f4, num, nu, d, ts, tstz, tm, tmtz, iv, u, j, jb, ip, cidr_, mac, m, bt, vb, arr,"
      " tarr, e, p, bo, c, vc) VALUES"
      " (-32768, -2147483648, -9223372036854775808, 1, E'tab\\there\\nnl \\\\ back ünï', '\\x00ff10', 'NaN', '-Infinity', 12.34,"
      "  1.000000000000000000001, '2024-02-29', '2024-02-29 13:01:02.123456', '2024-02-29 13:01:02.123456+02', '13:01:02.5',"
      "  '13:01:02+05:30', '1 year 2 mons 3 days 04:05:06.7', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": 1}',"
      "  '{\"b\": [1,2]}', '10.0.0.1/8', '10.0.0.0/8', '08:00:2b:01:02:03', '-1234.56', '1010', '101', ARRAY[1,2,NULL],"
      "  ARRAY['a b','\"q\"',NULL], 'happy', 5, true, 'ab', 'xyz'),"
      " (32767, 2147483647, 9223372036854775807, 2, '', '\\x', 1e300, 3.4e38, -0.01, 'NaN', 'infinity', '-infinity',"
      "  'infinity', '24:00:00', '00:00:00-03', '-1 days', NULL, 'null', '[]', '::1', '::/0', NULL, 0, '0000', '', '{}', '{}',"
      "  'sad', 1, false, NULL, '')");
  c.exec("INSERT INTO types (n, s, f8, num, tstz) SELECT g, md5(g::text), g / 7.0, g / 3.0, now() FROM generate_series(3, " +
         std::to_string(extra + 2) + ") g");
  c.exec("ANALYZE types");
}

cdc::Config copy_config(const std::string& src, const std::string& dst, const std::string& name) {
  cdc::Config cfg;
  cfg.name = name;
  cfg.source = src;
  cfg.destination = dst;
  cfg.defaults.chunk_rows = 100;
  cfg.defaults.parallel_chunks = 3;
  cfg.defaults.batch_size = 64;
  return cfg;
}

cdc::SessionStatus run_copy(const cdc::Config& cfg) {
  cdc::SessionOptions opt;
  opt.snapshot_only = true;
  cdc::ReplicationSession s(cfg, opt);
  return s.run();
}

bool all_done(const cdc::SessionStatus& st) {
  for (const auto& t : st.tables)
    if (t.phase != cdc::TablePhase::Done) return false;
  return !st.tables.empty();
}

}  // namespace

TEST_CASE("postgres: discovery maps types, keys and row estimates", "[postgres]") {
  QuietLog quiet;
  TempDb db("disc");
  Conn c(db.url());
  create_types_table(c, 50);
  c.exec("CREATE TABLE nokey (a int NOT NULL, g int GENERATED ALWAYS AS (a * 2) STORED)");
  c.exec("CREATE TABLE parted (id int, k text, PRIMARY KEY (id, k)) PARTITION BY RANGE (id)");
  c.exec("CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100)");
  c.exec("CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (100) TO (200)");
  c.exec("CREATE SCHEMA other");
  c.exec("CREATE TABLE other.\"Mixed Case\" (id bigint PRIMARY KEY)");
  auto source = cdc::ConnectorRegistry::instance().open_source(db.url());
  CHECK(source->dialect() == "postgresql");
  auto tables = source->discover(nullptr);
  std::map<std::string, cdc::TableSchema> by;
  for (auto& t : tables) by[t.id.to_string()] = t;
  REQUIRE(by.count("public.types"));
  CHECK_FALSE(by.count("public.parted_1"));  // partitions replicate as their root
  REQUIRE(by.count("public.parted"));
  CHECK(by["public.parted"].primary_key == std::vector<std::string>{"id", "k"});
  REQUIRE(by.count("other.Mixed Case"));
  const auto& t = by["public.types"];
  CHECK(t.primary_key == std::vector<std::string>{"id"});
  CHECK(t.estimated_rows == 52);
  auto type_of = [&](const std::string& col) { return t.columns.at(static_cast<std::size_t>(t.index_of(col))).type; };
  CHECK(type_of("i2").id == cdc::TypeId::Int16);
  CHECK(type_of("i8").id == cdc::TypeId::Int64);
  CHECK(type_of("f4").id == cdc::TypeId::Float32);
  CHECK(type_of("num").id == cdc::TypeId::Decimal);
  CHECK(type_of("num").scale == 2);
  CHECK(type_of("nu").precision == -1);
  CHECK(type_of("b").id == cdc::TypeId::Bytes);
  CHECK(type_of("tstz").id == cdc::TypeId::TimestampTz);
  CHECK(type_of("tmtz").id == cdc::TypeId::Time);
  CHECK(type_of("iv").id == cdc::TypeId::Interval);
  CHECK(type_of("u").id == cdc::TypeId::Uuid);
  CHECK(type_of("jb").id == cdc::TypeId::Json);
  CHECK(type_of("bt").id == cdc::TypeId::Bit);
  CHECK(type_of("arr").id == cdc::TypeId::Array);
  CHECK(type_of("e").id == cdc::TypeId::Enum);
  CHECK(type_of("e").members == std::vector<std::string>{"sad", "ok", "happy"});
  CHECK(type_of("p").id == cdc::TypeId::Int32);  // domain over integer
  CHECK(type_of("m").id == cdc::TypeId::Decimal);
  CHECK(type_of("c").fixed_length);
  CHECK(type_of("vc").length == 10);
  // Generated columns are carried, with their expression (docs/schema-objects.md).
  REQUIRE(by["public.nokey"].columns.size() == 2);
  CHECK(by["public.nokey"].columns[1].generated == "(a * 2)");
  CHECK(by["public.nokey"].columns[1].generated_stored);
  CHECK_FALSE(by["public.nokey"].columns[1].default_expr);
}

TEST_CASE("postgres: PG to PG copy is exact, in parallel chunks", "[postgres]") {
  QuietLog quiet;
  TempDb src("src"), dst("dst");
  Conn s(src.url());
  create_types_table(s, 700);
  s.exec("CREATE TABLE composite (a text, b int, v text, PRIMARY KEY (a, b))");
  s.exec("INSERT INTO composite SELECT md5(g::text), g % 7, 'v' || g FROM generate_series(1, 450) g");
  s.exec("CREATE TABLE nokey (a int, b text)");
  s.exec("INSERT INTO nokey SELECT g % 10, 'x' FROM generate_series(1, 3000) g");
  auto cfg = copy_config(src.url(), dst.url(), "pgpg");
  auto st = run_copy(cfg);
  CHECK(all_done(st));
  for (const auto& t : st.tables)
    if (t.source != "public.nokey") CHECK(t.chunks_total > 1);
  auto report = verify_with(cfg);
  INFO(describe(report));
  CHECK(report.all_equal());
  Conn d(dst.url());
  CHECK(dump(s, "types") == dump(d, "types"));
  CHECK(dump(s, "composite") == dump(d, "composite"));
  CHECK(dump(s, "nokey") == dump(d, "nokey"));
  // Same dialect: native types verbatim (enum and domain as their base type).
  CHECK(d.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'types'::regclass AND attname = 'num'") ==
        "numeric(10,2)");
  CHECK(d.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'types'::regclass AND attname = 'e'") ==
        "text");
  // Checkpoints live in cdc_metadata.checkpoints.
  CHECK(std::stoi(d.scalar("SELECT count(*) FROM cdc_metadata.checkpoints WHERE session = 'pgpg' AND key LIKE 'chunk:%'")) > 3);
  // The keys, built after the load, are the source's.
  const std::string pk = "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'p' AND conrelid = ";
  CHECK(d.scalar(pk + "'types'::regclass") == s.scalar(pk + "'types'::regclass"));
  CHECK(d.scalar(pk + "'composite'::regclass") == "PRIMARY KEY (a, b)");
  CHECK(d.scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND conrelid = 'nokey'::regclass") == "0");
}

TEST_CASE("postgres: a table created for a fresh copy gets its primary key after the load, a user's unique key is kept",
          "[postgres]") {
  QuietLog quiet;
  TempDb db("keyafter");
  auto dest = cdc::ConnectorRegistry::instance().open_destination(db.url());
  cdc::DestinationTable table;
  table.schema.id = cdc::TableId("public", "kv");
  cdc::Column k, k2, v;
  k.name = "k";
  k.type.id = cdc::TypeId::Int64;
  k.nullable = false;
  k2 = k;
  k2.name = "Part";
  v.name = "v";
  v.type.id = cdc::TypeId::String;
  table.schema.columns = {k, k2, v};
  table.schema.primary_key = {"k", "Part"};
  table.key_after_load = true;
  dest->prepare_table(table);
  Conn d(db.url());
  const std::string pk = "SELECT coalesce(string_agg(pg_get_constraintdef(oid), ';'), '') FROM pg_constraint WHERE contype = 'p' AND conrelid = ";
  CHECK(d.scalar(pk + "'kv'::regclass").empty());
  d.exec("INSERT INTO kv VALUES (1, 1, 'a'), (1, 2, 'b'), (2, 1, 'c')");
  dest->prepare_table(table);  // a restart mid-copy: still without
  CHECK(d.scalar(pk + "'kv'::regclass").empty());
  table.key_after_load = false;
  dest->prepare_table(table);
  CHECK(d.scalar(pk + "'kv'::regclass") == "PRIMARY KEY (k, \"Part\")");
  dest->prepare_table(table);  // once is enough
  CHECK(d.scalar(pk + "'kv'::regclass") == "PRIMARY KEY (k, \"Part\")");

  // A target the user made, with a unique index on the key's columns instead of a primary key.
  d.exec("CREATE TABLE mine (k bigint NOT NULL, \"Part\" bigint NOT NULL, v text)");
  d.exec("CREATE UNIQUE INDEX mine_key ON mine (\"Part\", k)");
  table.schema.id = cdc::TableId("public", "mine");
  dest->prepare_table(table);
  CHECK(d.scalar(pk + "'mine'::regclass").empty());

  // Rows that break the key: the error names the table and the duplicate.
  d.exec("CREATE TABLE dup (k bigint NOT NULL, \"Part\" bigint NOT NULL, v text)");
  d.exec("INSERT INTO dup VALUES (1, 1, 'a'), (1, 1, 'b')");
  table.schema.id = cdc::TableId("public", "dup");
  try {
    dest->prepare_table(table);
    FAIL("a duplicate key was accepted");
  } catch (const cdc::Error& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains("dup") && Catch::Matchers::Contains("(k, \"Part\")=(1, 1)"));
  }
}

TEST_CASE("postgres: SQLite to PG and PG to SQLite copies are equal", "[postgres]") {
  QuietLog quiet;
  TempDir dir;
  TempDb pgdb("xdial");
  std::string lite = dir.file("a.db"), back = dir.file("b.db");
  {
    sqlite3* db = nullptr;
    sqlite3_open(lite.c_str(), &db);
    const char* sql =
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price DECIMAL(10,2), qty BIGINT, ratio REAL,"
        " data BLOB, created TIMESTAMP, flag BOOLEAN, note VARCHAR(20));"
        "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 500)"
        " INSERT INTO items SELECT x, 'item ' || x || char(9) || 'tab', x * 1.25, x * 1000000007, x / 8.0,"
        " randomblob(8), '2024-01-02 03:04:05', x % 2, CASE WHEN x % 3 = 0 THEN NULL ELSE 'n' || x END FROM g;"
        "CREATE TABLE pairs (a TEXT NOT NULL, b INTEGER NOT NULL, v TEXT, PRIMARY KEY (a, b));"
        "INSERT INTO pairs VALUES ('x', 1, 'one'), ('x', 2, NULL), ('y', 1, 'ünïcode');";
    char* err = nullptr;
    REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, &err) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto to_pg = copy_config("sqlite://" + lite, pgdb.url(), "lite2pg");
  CHECK(all_done(run_copy(to_pg)));
  // verify compares value kinds: SQLite keeps a fractional DECIMAL as REAL (a double), PostgreSQL
  // as numeric, so `price` is compared value by value below instead.
  auto verify_cfg = to_pg;
  verify_cfg.tables["items"].exclude_columns = {"price"};
  auto r1 = verify_with(verify_cfg);
  INFO(describe(r1));
  CHECK(r1.all_equal());
  Conn p(pgdb.url());
  // SQLite does not limit a DECIMAL(10,2): the column is an unconstrained numeric, holding 10.0 as 10.
  CHECK(p.scalar("SELECT name || '|' || price || '|' || qty || '|' || flag FROM items WHERE id = 8") ==
        "item 8\ttab|10|8000000056|false");
  CHECK(p.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'price'") ==
        "numeric");
  CHECK(p.scalar("SELECT price FROM items WHERE id = 9") == "11.25");

  auto to_lite = copy_config(pgdb.url(), "sqlite://" + back, "pg2lite");
  CHECK(all_done(run_copy(to_lite)));
  auto verify_back = to_lite;
  verify_back.tables["items"].exclude_columns = {"price"};
  auto r2 = verify_with(verify_back);
  INFO(describe(r2));
  CHECK(r2.all_equal());
  // Value by value: the round trip SQLite -> PG -> SQLite keeps every row.
  auto rows = [](const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    std::vector<std::string> out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        row += (t ? std::string(reinterpret_cast<const char*>(t)) : "NULL") + "|";
      }
      out.push_back(row);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  };
  CHECK(rows(lite, "SELECT id, name, qty, hex(data), note, price + 0.0, ratio FROM items ORDER BY id") ==
        rows(back, "SELECT id, name, qty, hex(data), note, price + 0.0, ratio FROM items ORDER BY id"));
  CHECK(rows(lite, "SELECT * FROM pairs ORDER BY a, b") == rows(back, "SELECT * FROM pairs ORDER BY a, b"));
}

TEST_CASE("postgres: a copy resumes after its committed chunks and restarts when done", "[postgres]") {
  QuietLog quiet;
  TempDb src("res"), dst("resd");
  Conn s(src.url());
  s.exec("CREATE TABLE big (id int PRIMARY KEY, v text)");
  s.exec("INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 1000) g");
  auto cfg = copy_config(src.url(), dst.url(), "resume");
  CHECK(all_done(run_copy(cfg)));
  Conn d(dst.url());
  // Pretend chunk 0 was never committed: the next run re-copies only it (the job was finished, so
  // it starts over instead; either way the target equals the source).
  d.exec("DELETE FROM cdc_metadata.checkpoints WHERE session = 'resume' AND key = 'chunk:public.big:0'");
  d.exec("UPDATE cdc_metadata.checkpoints SET value = replace(value, '\"done\"', '\"snapshot\"') WHERE key = 'table:public.big'");
  d.exec("DELETE FROM big WHERE id < 50");
  CHECK(all_done(run_copy(cfg)));
  CHECK(d.count("big") == 1000);
  CHECK(verify_with(cfg).all_equal());
}

TEST_CASE("postgres: destination keeps per-key order in a batch and soft-deletes", "[postgres]") {
  QuietLog quiet;
  TempDb db("dest");
  auto dest = cdc::ConnectorRegistry::instance().open_destination(db.url());
  CHECK(dest->max_identifier_length() == 63);
  cdc::DestinationTable table;
  table.schema.id = cdc::TableId("public", "kv");
  cdc::Column k, v;
  k.name = "k";
  k.type.id = cdc::TypeId::Int64;
  k.nullable = false;
  v.name = "v";
  v.type.id = cdc::TypeId::String;
  table.schema.columns = {k, v};
  table.schema.primary_key = {"k"};
  CHECK(dest->render_ddl(table).find("PRIMARY KEY (\"k\")") != std::string::npos);
  dest->prepare_table(table);
  auto ev = [&](cdc::ChangeOp op, std::int64_t key, const char* val, std::int64_t old_key = -1) {
    cdc::ChangeEvent e;
    e.op = op;
    e.table = table.schema.id;
    cdc::Row row{cdc::Value::int64(key), val ? cdc::Value::string(val) : cdc::Value()};
    if (op == cdc::ChangeOp::Delete) e.before = row;
    else e.after = row;
    if (old_key >= 0) e.before = {cdc::Value::int64(old_key), cdc::Value()};
    return e;
  };
  auto w = dest->open_writer();
  w->begin();
  w->write_rows(table, {{cdc::Value::int64(1), cdc::Value::string("a")}, {cdc::Value::int64(2), cdc::Value::string("b")}});
  // The same rows again (a re-read chunk): they end up once.
  w->write_rows(table, {{cdc::Value::int64(1), cdc::Value::string("a")}});
  w->apply(table, {ev(cdc::ChangeOp::Insert, 5, "x"), ev(cdc::ChangeOp::Update, 5, "y"), ev(cdc::ChangeOp::Delete, 5, nullptr),
                   ev(cdc::ChangeOp::Insert, 5, "z"),                       // I, U, D, I: present with z
                   ev(cdc::ChangeOp::Delete, 2, nullptr),                    // gone
                   ev(cdc::ChangeOp::Update, 3, "moved", 1),                 // key 1 -> 3
                   ev(cdc::ChangeOp::Update, 1, "back", 3)});                // and 3 -> 1
  w->commit("s", {{"stream", "0/10"}});
  Conn c(db.url());
  CHECK(dump(c, "kv") == std::vector<std::string>{"(1,back)", "(5,z)"});
  CHECK(c.scalar("SELECT value FROM cdc_metadata.checkpoints WHERE session = 's' AND key = 'stream'") == "0/10");
  // Rolled back: neither data nor checkpoint.
  w->begin();
  w->apply(table, {ev(cdc::ChangeOp::Insert, 9, "no")});
  w->rollback();
  CHECK(c.count("kv") == 2);
  auto store = dest->checkpoint_store();
  REQUIRE(store);
  CHECK(store->load("s").at("stream") == "0/10");
  store->put("s", {{"stream", ""}, {"x", "1"}});
  CHECK(store->load("s") == std::map<std::string, std::string>{{"x", "1"}});
  CHECK(store->sessions() == std::vector<std::string>{"s"});
  store->clear("s");
  CHECK(store->load("s").empty());

  // Soft deletes: the flag column is set instead.
  cdc::DestinationTable soft = table;
  soft.schema.id = cdc::TableId("public", "kv_soft");
  cdc::Column flag;
  flag.name = "_cdc_deleted";
  flag.type.id = cdc::TypeId::Bool;
  soft.schema.columns.push_back(flag);
  soft.deletes.strategy = cdc::DeleteStrategy::Soft;
  dest->prepare_table(soft);
  w->begin();
  w->apply(soft, {ev(cdc::ChangeOp::Insert, 1, "a"), ev(cdc::ChangeOp::Insert, 2, "b")});
  w->commit("s", {});
  w->begin();
  auto del = ev(cdc::ChangeOp::Delete, 1, "a");
  w->apply(soft, {del});
  w->commit("s", {});
  CHECK(dump(c, "kv_soft") == std::vector<std::string>{"(1,a,t)", "(2,b,f)"});
}

TEST_CASE("postgres: incremental mode reads rows past the watermark", "[postgres]") {
  QuietLog quiet;
  TempDb src("inc"), dst("incd");
  Conn s(src.url());
  s.exec("CREATE TABLE ev (id int PRIMARY KEY, v text, updated_at timestamp NOT NULL)");
  s.exec("INSERT INTO ev SELECT g, 'v' || g, '2024-01-01'::timestamp + g * interval '1 minute' FROM generate_series(1, 100) g");
  cdc::Config cfg;
  cfg.name = "inc";
  cfg.source = src.url();
  cfg.destination = dst.url();
  cfg.poll_interval_ms = 100;
  cfg.tables["ev"].mode = cdc::TableMode::Incremental;
  cfg.tables["ev"].watermark = cdc::WatermarkSettings{"updated_at"};
  cdc::SessionOptions opt;
  opt.exit_when_idle = true;
  {
    cdc::ReplicationSession session(cfg, opt);
    session.run();
  }
  Conn d(dst.url());
  CHECK(d.count("ev") == 100);
  s.exec("UPDATE ev SET v = 'changed', updated_at = '2025-01-01' WHERE id = 5");
  s.exec("INSERT INTO ev VALUES (101, 'new', '2025-01-02')");
  {
    cdc::ReplicationSession session(cfg, opt);
    session.run();
  }
  CHECK(d.count("ev") == 101);
  CHECK(d.scalar("SELECT v FROM ev WHERE id = 5") == "changed");
  CHECK(dump(s, "ev") == dump(d, "ev"));

  // A custom query with :last_value.
  cfg.name = "inc-query";
  cfg.tables["ev"].query = "SELECT id, upper(v) AS v, updated_at FROM ev WHERE updated_at > coalesce(:last_value, '-infinity'::timestamp)";
  TempDb dst2("incq");
  cfg.destination = dst2.url();
  {
    cdc::ReplicationSession session(cfg, opt);
    session.run();
  }
  Conn d2(dst2.url());
  CHECK(d2.count("ev") == 101);
  CHECK(d2.scalar("SELECT v FROM ev WHERE id = 101") == "NEW");
  s.exec("INSERT INTO ev VALUES (102, 'later', '2025-02-01')");
  {
    cdc::ReplicationSession session(cfg, opt);
    session.run();
  }
  CHECK(d2.scalar("SELECT v FROM ev WHERE id = 102") == "LATER");
}

TEST_CASE("postgres: connection errors are typed, retryable and never show the password", "[postgres]") {
  QuietLog quiet;
  std::string base = server_url();
  // A port nothing listens on.
  std::string url = "postgresql://someone:s3cretpw@127.0.0.1:1/nodb";
  try {
    auto src = cdc::ConnectorRegistry::instance().open_source(url);
    src->discover(nullptr);
    FAIL("connected to a closed port");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Connection);
    CHECK(e.retryable());
    CHECK(std::string(e.what()).find("s3cretpw") == std::string::npos);
  }
  // A statement error carries its SQLSTATE.
  TempDb db("err");
  auto src = cdc::ConnectorRegistry::instance().open_source(db.url());
  try {
    src->count_rows(cdc::TableId("public", "missing"), "");
    FAIL("counted a missing table");
  } catch (const cdc::Error& e) {
    CHECK(std::string(e.what()).find("SQLSTATE 42P01") != std::string::npos);
    CHECK_FALSE(e.retryable());
  }
  // The "postgres" scheme spelling works too.
  std::string alt = "postgres" + db.url().substr(std::string("postgresql").size());
  CHECK(cdc::ConnectorRegistry::instance().open_source(alt)->discover(nullptr).empty());
}

TEST_CASE("postgres: a copy under concurrent writes is one point in time, without a slot", "[postgres]") {
  QuietLog quiet;
  TempDb src("cons"), dst("consd");
  Conn s(src.url());
  constexpr int kAccounts = 4000;
  constexpr std::int64_t kTotal = kAccounts * 1000LL;
  s.exec("CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL)");
  s.exec("CREATE TABLE transfers (account int, amount bigint)");  // no key: chunks are heap page ranges
  s.exec("INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, " + std::to_string(kAccounts) + ") g");
  s.exec("INSERT INTO transfers SELECT g % 100, 0 FROM generate_series(1, 6000) g");
  s.exec("ANALYZE");
  // Every writer transaction moves value, between two accounts or from an account into a new
  // transfers row: the sum over both tables never changes, at any one point in time.
  std::atomic<bool> stop{false};
  std::atomic<int> txns{0};
  std::thread writer([&] {
    Conn w(src.url());
    std::mt19937 rng(5);
    while (!stop) {
      std::string a = std::to_string(rng() % kAccounts + 1), b = std::to_string(rng() % kAccounts + 1);
      std::string x = std::to_string(rng() % 50 + 1);
      if (rng() % 2)
        w.exec("BEGIN; UPDATE accounts SET balance = balance - " + x + " WHERE id = " + a +
               "; UPDATE accounts SET balance = balance + " + x + " WHERE id = " + b + "; COMMIT");
      else
        w.exec("BEGIN; UPDATE accounts SET balance = balance - " + x + " WHERE id = " + a + "; INSERT INTO transfers VALUES (" + a +
               ", " + x + "); COMMIT");
      ++txns;
    }
  });
  REQUIRE(eventually([&] { return txns > 20; }));
  auto cfg = copy_config(src.url(), dst.url(), "consistent");
  int before = txns;
  auto st = run_copy(cfg);
  int during = txns - before;
  stop = true;
  writer.join();
  CHECK(all_done(st));
  CHECK(during > 0);
  CHECK(st.tables.size() == 2);
  for (const auto& t : st.tables) CHECK(t.chunks_total > 10);  // many chunks, read at different moments
  Conn d(dst.url());
  CHECK(d.scalar("SELECT count(*) FROM accounts") == std::to_string(kAccounts));
  CHECK(d.scalar("SELECT (SELECT sum(balance) FROM accounts) + (SELECT sum(amount) FROM transfers)") == std::to_string(kTotal));
  CHECK(s.scalar("SELECT (SELECT sum(balance) FROM accounts) + (SELECT sum(amount) FROM transfers)") == std::to_string(kTotal));
  // A copy needs no slot, and the connection that held the snapshot is gone.
  CHECK(s.scalar("SELECT count(*) FROM pg_replication_slots WHERE database = current_database()") == "0");
  CHECK(eventually([&] {
    return s.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'cdc'") == "0";
  }));
}

TEST_CASE("postgres: a copy needs no REPLICATION attribute", "[postgres]") {
  QuietLog quiet;
  TempDb src("norep"), dst("norepd");
  Conn s(src.url());
  s.exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
  s.exec("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g");
  s.exec("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cdc_copier') THEN CREATE ROLE cdc_copier LOGIN; END IF; END $$");
  s.exec("GRANT SELECT ON t TO cdc_copier");
  std::string url = src.url();
  url.replace(url.find("//") + 2, url.find('@') - url.find("//") - 2, "cdc_copier");
  auto cfg = copy_config(url, dst.url(), "norep");
  CHECK(all_done(run_copy(cfg)));
  Conn d(dst.url());
  CHECK(dump(s, "t") == dump(d, "t"));
}

TEST_CASE("postgres: discovery reads indexes, foreign keys, CHECKs, identity, defaults and comments", "[postgres]") {
  QuietLog quiet;
  TempDb db("objs");
  Conn c(db.url());
  c.exec("CREATE SCHEMA shop");
  c.exec("CREATE TABLE shop.customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email varchar(100) NOT NULL UNIQUE, "
         "name text DEFAULT 'anon', created timestamptz DEFAULT now(), body text)");
  c.exec("CREATE TABLE shop.orders (id serial PRIMARY KEY, customer_id bigint, qty int NOT NULL DEFAULT 1, price numeric(10,2), "
         "total numeric GENERATED ALWAYS AS (qty * price) STORED, status varchar(10) DEFAULT 'new', "
         "CONSTRAINT qty_positive CHECK (qty > 0), CONSTRAINT status_known CHECK (status IN ('new', 'paid')), "
         "CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES shop.customers (id) ON DELETE SET NULL ON UPDATE CASCADE)");
  c.exec("CREATE INDEX orders_cust_status ON shop.orders (customer_id, status)");
  c.exec("CREATE INDEX orders_lower ON shop.orders (lower(status)) WHERE qty > 1");
  c.exec("CREATE INDEX customers_body ON shop.customers USING gin (to_tsvector('simple', body))");
  c.exec("CREATE INDEX orders_cover ON shop.orders (status DESC) INCLUDE (price)");
  c.exec("COMMENT ON TABLE shop.orders IS 'what was bought'");
  c.exec("COMMENT ON COLUMN shop.orders.qty IS 'how many'");
  auto source = cdc::ConnectorRegistry::instance().open_source(db.url());
  auto tables = source->discover(nullptr);
  std::map<std::string, cdc::TableSchema> by;
  for (auto& t : tables) by[t.id.to_string()] = t;
  const auto& cu = by.at("shop.customers");
  const auto& o = by.at("shop.orders");
  CHECK(cu.columns[0].identity);
  CHECK(o.columns[0].identity);  // serial
  CHECK_FALSE(o.columns[0].default_expr);
  CHECK(cu.columns[2].default_expr == std::optional<std::string>("'anon'::text"));
  CHECK(cu.columns[3].default_expr == std::optional<std::string>("now()"));
  CHECK(o.columns[4].generated == "((qty)::numeric * price)");
  CHECK(o.comment == "what was bought");
  CHECK(o.columns[2].comment == "how many");

  REQUIRE(cu.indexes.size() == 2);
  CHECK(cu.indexes[0].name == "customers_body");
  CHECK(cu.indexes[0].method == "gin");
  CHECK(cu.indexes[0].expression == "to_tsvector('simple'::regconfig, body)");
  CHECK(cu.indexes[1].name == "customers_email_key");
  CHECK(cu.indexes[1].unique);
  CHECK(cu.indexes[1].columns == std::vector<std::string>{"email"});
  CHECK(cu.indexes[1].expression.empty());

  REQUIRE(o.indexes.size() == 3);
  CHECK(o.indexes[0].name == "orders_cover");
  CHECK(o.indexes[0].expression == "status DESC");
  CHECK(o.indexes[0].include == std::vector<std::string>{"price"});
  CHECK(o.indexes[1].name == "orders_cust_status");
  CHECK(o.indexes[1].columns == std::vector<std::string>{"customer_id", "status"});
  CHECK(o.indexes[1].expression.empty());
  CHECK_FALSE(o.indexes[1].unique);
  CHECK(o.indexes[2].name == "orders_lower");
  CHECK(o.indexes[2].expression == "lower((status)::text)");
  CHECK(o.indexes[2].where == "qty > 1");

  REQUIRE(o.checks.size() == 2);
  CHECK(o.checks[0].name == "qty_positive");
  CHECK(o.checks[0].expression == "qty > 0");
  CHECK(o.checks[1].name == "status_known");
  CHECK(o.checks[1].expression == "status::text = ANY (ARRAY['new'::character varying, 'paid'::character varying]::text[])");
  REQUIRE(o.foreign_keys.size() == 1);
  const auto& fk = o.foreign_keys[0];
  CHECK(fk.name == "orders_customer");
  CHECK(fk.columns == std::vector<std::string>{"customer_id"});
  CHECK(fk.references == cdc::TableId("shop", "customers"));
  CHECK(fk.referenced_columns == std::vector<std::string>{"id"});
  CHECK(fk.on_delete == cdc::ForeignKeyAction::SetNull);
  CHECK(fk.on_update == cdc::ForeignKeyAction::Cascade);
}
