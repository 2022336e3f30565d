// The MariaDB source's part in a table's life in a running session, against a real server (the
// mariadb_server_start fixture, or CDC_MYSQL_TEST_URL): current_position() against the binlog
// stream's own positions, log_bytes_between() across binlog files, CREATE/DROP/RENAME TABLE as
// lifecycle events, and ALTER TABLEs replayed in order from an old position: each reported with
// the table after it, observed_at, the values added columns gave existing rows and the widenings
// that kept values, while rows logged before each ALTER mark the columns they lack unchanged.
#include "mysql/binlog_stream.h"
#include "mysql/mysql_conn.h"

#include "mysql_test_util.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>

using namespace cdc;
using cdc::mysql::Conn;
using cdc::mysql::ConnParams;

namespace {

using mysql_test::connect;
using mysql_test::url_for;

// A database of the test's own (and a second one), dropped afterwards.
struct Db {
  std::string name, other;
  explicit Db(const std::string& tag) : name("lc_" + tag), other("lc_" + tag + "_other") {
    Conn c = connect("mysql");
    for (auto& d : {name, other}) {
      c.exec("DROP DATABASE IF EXISTS " + mysql::quote_ident(d));
      c.exec("CREATE DATABASE " + mysql::quote_ident(d) + " CHARACTER SET utf8mb4");
    }
  }
  ~Db() {
    try {
      Conn c = connect("mysql");
      for (auto& d : {name, other}) c.exec("DROP DATABASE IF EXISTS " + mysql::quote_ident(d));
    } catch (...) {
    }
  }
  std::string url() const { return url_for(name); }
};

TableSchema table_of(SourceConnector& src, const std::string& name) {
  auto t = src.discover([&](const TableId& id) { return id.name == name; });
  REQUIRE(t.size() == 1);
  return t[0];
}

// Polls until `n` events arrived or `seconds` passed; `batches` gets what each poll() returned.
std::vector<ChangeEvent> poll_events(ChangeStream& s, std::size_t n, int seconds = 20,
                                     std::vector<std::vector<ChangeEvent>>* batches = nullptr) {
  std::vector<ChangeEvent> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    std::vector<ChangeEvent> got;
    s.poll(got, 1000, std::chrono::milliseconds(200));
    if (batches && !got.empty()) batches->push_back(got);
    out.insert(out.end(), got.begin(), got.end());
  }
  return out;
}

std::vector<std::string> names(const TableSchema& t) {
  std::vector<std::string> out;
  for (const auto& c : t.columns) out.push_back(c.name);
  return out;
}

}  // namespace

TEST_CASE("mariadb current_position() lies between a commit before it and one after it", "[mysql]") {
  Db db("curpos");
  Conn c = connect(db.name);
  c.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))");
  auto src = ConnectorRegistry::instance().open_source(db.url());
  TableSchema t = table_of(*src, "t");
  StreamStart start = src->prepare_stream({StreamTable{t}});
  std::vector<Position> between;
  for (int i = 0; i < 4; ++i) {
    c.exec("INSERT INTO t VALUES (" + std::to_string(2 * i) + ", 'before')");
    between.push_back(src->current_position());
    c.exec("INSERT INTO t VALUES (" + std::to_string(2 * i + 1) + ", 'after')");
    if (i == 1) c.exec("FLUSH BINARY LOGS");  // a position in the next file orders after
  }
  REQUIRE_FALSE(mysql::parse_position(between[0].str()).gtid.empty());
  auto stream = src->open_stream({StreamTable{t}}, start.position);
  auto evs = poll_events(*stream, 8);
  REQUIRE(evs.size() == 8);
  for (int i = 0; i < 4; ++i) {
    INFO("pair " << i << ": " << evs[2 * i].position.str() << " / " << between[i].str() << " / " << evs[2 * i + 1].position.str());
    CHECK(src->compare_positions(evs[2 * i].position, between[i]) <= 0);
    CHECK(src->compare_positions(evs[2 * i + 1].position, between[i]) > 0);
  }
  // A stream opened at the position delivers exactly what committed after it.
  auto again = src->open_stream({StreamTable{t}}, between[1]);
  auto rest = poll_events(*again, 5);
  REQUIRE(rest.size() == 5);
  CHECK(rest[0].after[0] == Value::int64(3));

  // Bytes across files: the rest of the first file, then the start of the next.
  auto a = mysql::parse_position(between[1].str()), b = mysql::parse_position(between[2].str());
  REQUIRE(a.file != b.file);
  std::int64_t size_a = -1;
  for (auto& r : c.rows("SHOW BINARY LOGS"))
    if (r[0] && *r[0] == a.file) size_a = std::stoll(*r[1]);
  REQUIRE(size_a > 0);
  CHECK(src->log_bytes_between(between[1], between[2]) == size_a - std::int64_t(a.offset) + std::int64_t(b.offset));
  CHECK(src->log_bytes_between(between[2], between[3]) ==
        std::int64_t(mysql::parse_position(between[3].str()).offset - b.offset));
  CHECK(src->log_bytes_between(between[3], between[0]) == 0);
  CHECK(src->log_bytes_between(Position("binlog.000000:4"), between[0]) == -1);  // a file the server no longer has
}

TEST_CASE("mariadb CREATE, DROP and RENAME TABLE arrive as lifecycle events", "[mysql]") {
  Db db("life");
  Conn c = connect(db.name);
  c.exec("CREATE TABLE a (id INT PRIMARY KEY)");
  c.exec("CREATE TABLE b (id INT PRIMARY KEY)");
  c.exec("CREATE TABLE c (id INT PRIMARY KEY)");
  c.exec("CREATE TABLE k (id INT PRIMARY KEY)");
  auto src = ConnectorRegistry::instance().open_source(db.url());
  TableSchema a = table_of(*src, "a"), k = table_of(*src, "k");
  // The stream is asked for a and k only: lifecycle events come for every table of the database.
  StreamStart start = src->prepare_stream({StreamTable{a}, StreamTable{k}});
  auto stream = src->open_stream({StreamTable{a}, StreamTable{k}}, start.position);

  c.exec("CREATE TABLE n (id INT PRIMARY KEY, v TEXT)");
  c.exec("INSERT INTO a VALUES (1)");
  c.exec("CREATE TEMPORARY TABLE tmp (id INT)");                 // session-private: nothing
  c.exec("DROP TEMPORARY TABLE tmp");
  c.exec("CREATE TABLE IF NOT EXISTS k (id INT PRIMARY KEY)");   // k exists: nothing
  c.exec("CREATE TABLE " + mysql::quote_ident(db.other) + ".x (id INT)");  // another database: nothing
  c.exec("DROP TABLE IF EXISTS a, b");
  c.exec("RENAME TABLE c TO d");
  c.exec("ALTER TABLE d RENAME TO e, ADD COLUMN v INT");
  c.exec("DROP TABLE " + mysql::quote_ident(db.other) + ".x");
  c.exec("INSERT INTO k VALUES (1)");

  std::vector<std::vector<ChangeEvent>> batches;
  auto evs = poll_events(*stream, 9, 20, &batches);
  REQUIRE(evs.size() == 9);
  auto kind_of = [](const ChangeEvent& e) -> std::string {
    if (!e.schema_change) return "row " + e.table.name;
    return std::string(to_string(e.schema_change->kind)) + " " + e.schema_change->after.id.name;
  };
  std::vector<std::string> got;
  for (const auto& e : evs) got.push_back(kind_of(e));
  CHECK(got == std::vector<std::string>{"created n", "row a", "dropped a", "dropped b", "dropped c", "created d", "dropped d",
                                        "created e", "row k"});
  // poll() returns right after each statement's events (several for one statement).
  for (const auto& batch : batches) {
    REQUIRE_FALSE(batch.empty());
    for (std::size_t i = 0; i + 1 < batch.size(); ++i)
      if (batch[i].schema_change) {
        CHECK(batch[i + 1].schema_change);
        CHECK(src->compare_positions(batch[i].position, batch[i + 1].position) == 0);
      }
  }
  CHECK(batches.size() >= 5);
  for (const auto& e : evs) {
    if (!e.schema_change) continue;
    CHECK(e.before.empty());
    CHECK(e.after.empty());
  }
  CHECK(src->compare_positions(evs[2].position, evs[3].position) == 0);  // one statement
  CHECK_FALSE(evs[2].end_of_transaction);
  CHECK(evs[3].end_of_transaction);
  CHECK(evs[0].schema_change->statement.find("CREATE TABLE n") != std::string::npos);
  for (std::size_t i = 1; i < evs.size(); ++i) CHECK(src->compare_positions(evs[i - 1].position, evs[i].position) <= 0);
}

TEST_CASE("mariadb ALTERs replayed from an old position are reported one by one, rows decoded as logged", "[mysql]") {
  Db db("replay");
  Conn c = connect(db.name);
  c.exec("CREATE TABLE t (id INT PRIMARY KEY, a INT, e ENUM('x','y'))");
  auto src = ConnectorRegistry::instance().open_source(db.url());
  TableSchema s0 = table_of(*src, "t");
  StreamStart start = src->prepare_stream({StreamTable{s0}});

  // cdc is stopped; two ALTERs with rows around them.
  c.exec("INSERT INTO t VALUES (1, 10, 'x')");
  c.exec("ALTER TABLE t ADD COLUMN b DECIMAL(6,2) NOT NULL DEFAULT 1.5 AFTER a, "
         "ADD COLUMN (note VARCHAR(20) DEFAULT 'it''s', at DATETIME DEFAULT CURRENT_TIMESTAMP), ADD INDEX ia (a)");
  c.exec("INSERT INTO t (id, a, b, note, e) VALUES (2, 20, 2.25, 'two', 'y')");
  c.exec("/* widen */ ALTER TABLE `t` MODIFY a BIGINT, MODIFY e ENUM('x','y','z'), ADD COLUMN IF NOT EXISTS n INT NOT NULL, "
         "CHANGE COLUMN note remark VARCHAR(20)");
  c.exec("INSERT INTO t (id, a, b, remark, e, n) VALUES (3, 30, 3.5, 'three', 'z', 33)");
  Position after_ddl = src->current_position();
  TableSchema final_schema = table_of(*src, "t");

  SECTION("each ALTER against the schema known at that point") {
    // As the engine would: start from the schema its checkpoint reflects, reopen after each change.
    TableSchema plan = s0;
    Position from = start.position;
    std::vector<std::shared_ptr<const SchemaChange>> changes;
    std::vector<ChangeEvent> rows;
    for (int round = 0; round < 5 && rows.size() < 3; ++round) {
      auto stream = src->open_stream({StreamTable{plan, "", plan}}, from);
      bool changed = false;
      for (int i = 0; i < 25 && !changed && rows.size() < 3; ++i) {
        std::vector<ChangeEvent> got;
        stream->poll(got, 100, std::chrono::milliseconds(200));
        for (auto& e : got) {
          if (e.schema_change) {
            // Rows after it come from the stream reopened with the new plan.
            changes.push_back(e.schema_change);
            plan = e.schema_change->after;
            from = e.position;
            changed = true;
            break;
          }
          rows.push_back(e);
          from = e.position;
        }
      }
      if (!changed) break;
    }
    REQUIRE(changes.size() == 2);
    REQUIRE(rows.size() == 3);

    const SchemaChange& c1 = *changes[0];
    CHECK(c1.kind == SchemaChangeKind::Altered);
    CHECK(names(c1.after) == std::vector<std::string>{"id", "a", "b", "e", "note", "at"});
    CHECK(c1.after.columns[1].type.id == TypeId::Int32);  // the later MODIFY is not this ALTER's
    REQUIRE_FALSE(c1.observed_at.empty());
    CHECK(src->compare_positions(c1.observed_at, after_ddl) >= 0);
    REQUIRE(c1.fill.count("b"));
    CHECK(c1.fill.at("b") == Value::decimal("1.50"));
    REQUIRE(c1.fill.count("note"));
    CHECK(c1.fill.at("note") == Value::string("it's"));
    CHECK_FALSE(c1.fill.count("at"));  // CURRENT_TIMESTAMP: read back from the source
    CHECK(c1.values_kept.empty());

    const SchemaChange& c2 = *changes[1];
    CHECK(names(c2.after) == std::vector<std::string>{"id", "a", "b", "e", "remark", "at", "n"});
    CHECK(c2.after.columns[1].type.id == TypeId::Int64);
    CHECK(c2.renamed == std::map<std::string, std::string>{{"note", "remark"}});
    REQUIRE(c2.fill.count("n"));
    CHECK(c2.fill.at("n") == Value::int64(0));  // NOT NULL without a default: the type's implicit one
    CHECK(c2.values_kept == std::set<std::string>{"a", "e"});
    CHECK(c2.statement.find("widen") != std::string::npos);

    // Rows as they were logged: row 1 before any ALTER, row 2 between them.
    CHECK(rows[0].after == Row{Value::int64(1), Value::int64(10), Value::string("x")});
    CHECK(rows[0].unchanged.empty());
    CHECK(rows[1].after[0] == Value::int64(2));
    CHECK(rows[1].after[2] == Value::decimal("2.25"));
    CHECK(rows[2].after[0] == Value::int64(3));
    CHECK(rows[2].after[6] == Value::int64(33));
  }

  SECTION("rows logged before a column existed mark it unchanged") {
    auto stream = src->open_stream({StreamTable{final_schema}}, start.position);
    auto rows = poll_events(*stream, 3);
    REQUIRE(rows.size() == 3);
    REQUIRE(names(final_schema) == std::vector<std::string>{"id", "a", "b", "e", "remark", "at", "n"});
    CHECK(rows[0].unchanged == std::vector<bool>{false, false, true, false, true, true, true});
    for (std::size_t i : {2u, 4u, 5u, 6u}) CHECK(rows[0].after[i].is_null());
    CHECK(rows[1].unchanged == std::vector<bool>{false, false, false, false, true, false, true});
    CHECK(rows[2].unchanged.empty());
  }
}

TEST_CASE("mariadb: the statement's sql_mode decides how its literals and identifiers read", "[mysql]") {
  Db db("sqlmode");
  Conn c = connect(db.name);
  c.exec("CREATE TABLE t (id INT PRIMARY KEY)");
  auto src = ConnectorRegistry::instance().open_source(db.url());
  TableSchema s0 = table_of(*src, "t");
  StreamStart start = src->prepare_stream({StreamTable{s0}});
  // The binlog carries the session's sql_mode with the statement (Q_SQL_MODE_CODE).
  c.exec("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES,ANSI_QUOTES')");
  c.exec("ALTER TABLE t ADD COLUMN \"q col\" VARCHAR(10) DEFAULT 'a\\b', ADD COLUMN \"r\" INT NOT NULL");
  auto stream = src->open_stream({StreamTable{s0, "", s0}}, start.position);
  auto evs = poll_events(*stream, 1);
  REQUIRE(evs.size() == 1);
  REQUIRE(evs[0].schema_change);
  const SchemaChange& ch = *evs[0].schema_change;
  CHECK(names(ch.after) == std::vector<std::string>{"id", "q col", "r"});
  REQUIRE(ch.fill.count("q col"));
  CHECK(ch.fill.at("q col") == Value::string("a\\b"));  // a backslash, not an escape
  REQUIRE(ch.fill.count("r"));
  CHECK(ch.fill.at("r") == Value::int64(0));
}
