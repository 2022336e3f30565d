// What the event destination tests share (tests/integration/jsonl_test.cpp, tests/kafka/,
// tests/redis/, tests/harper/, tests/events/): running cdc-cli, a source of three tables (one
// without a key) with a change generator, and the source's rows in the form the change events carry
// them, to compare with the rows rebuilt from the events (support/event_replay.h) or read back from
// a document store. The source is a SQLite file by default; tests/events/ plugs in MariaDB and
// PostgreSQL databases through EventSourceDb, so one fixture serves every source.
#pragma once

#include "core/event/change_event_json.h"
#include "support/cli_process.h"
#include "support/event_replay.h"
#include "support/sqlite_fixture.h"

#include <cdc/error.h>
#include <cdc/registry.h>

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace cdc_test {

using SourceRows = std::vector<std::vector<std::optional<std::string>>>;

// A source database of the fixture: SQL in, rows as text out (NULL as nullopt).
class EventSourceDb {
 public:
  virtual ~EventSourceDb() = default;
  virtual std::string dialect() const = 0;  // "sqlite", "mysql", "postgresql"
  virtual std::string url() const = 0;
  // What names the tables' topics and streams: PostgreSQL's schema, MariaDB's database, the
  // SQLite file's stem.
  virtual std::string space() const = 0;
  virtual void exec(const std::string& sql) = 0;
  virtual SourceRows query(const std::string& sql) = 0;
};

class SqliteEventSource final : public EventSourceDb {
 public:
  explicit SqliteEventSource(std::string path) : path_(std::move(path)) { Db(path_).exec("PRAGMA journal_mode=WAL"); }
  std::string dialect() const override { return "sqlite"; }
  std::string url() const override { return "sqlite://" + path_; }
  std::string space() const override { return std::filesystem::path(path_).stem().string(); }
  void exec(const std::string& sql) override { Db(path_).exec(sql); }
  SourceRows query(const std::string& sql) override {
    sqlite3* db = nullptr;
    sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_busy_timeout(db, 30000);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    SourceRows out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      auto& row = out.emplace_back();
      for (int i = 0; i < sqlite3_column_count(st); ++i)
        if (sqlite3_column_type(st, i) == SQLITE_NULL) row.emplace_back();
        else row.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, i)));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }

 private:
  std::string path_;
};

struct EventFixture {
  // A column of the fixture's tables and the JSON form its events give it.
  enum class Kind { Int, Text, Double, Bytes };
  struct Col {
    const char* name;
    Kind kind;
  };
  struct Table {
    const char* name;
    std::vector<Col> cols;
    std::vector<std::string> key;  // empty: no key
  };
  static const std::vector<Table>& tables() {
    static const std::vector<Table> t = {
        {"items", {{"id", Kind::Int}, {"grp", Kind::Int}, {"name", Kind::Text}, {"payload", Kind::Bytes}}, {"id"}},
        {"pairs", {{"a", Kind::Text}, {"b", Kind::Int}, {"v", Kind::Double}}, {"a", "b"}},
        {"events", {{"at", Kind::Int}, {"what", Kind::Text}}, {}},  // no key: a doubled event would show
    };
    return t;
  }

  TempDir dir;
  std::string src = dir.file("src.db"), out = dir.file("events.jsonl"), cfg = dir.file("cdc.yaml"), log = dir.file("cli.log");
  std::unique_ptr<EventSourceDb> db;

  // A SQLite source. `destination`: the URL the config names; empty = jsonl://<out><params>.
  explicit EventFixture(int rows, const std::string& params = "", std::string destination = "")
      : db(std::make_unique<SqliteEventSource>(src)) {
    if (destination.empty()) destination = "jsonl://" + out + params;
    setup(rows, destination);
  }
  // Another source (tests/events/): its database must be empty.
  EventFixture(std::unique_ptr<EventSourceDb> source, int rows, const std::string& destination) : db(std::move(source)) {
    setup(rows, destination);
  }

  std::string dialect() const { return db->dialect(); }
  // One writer at a time (parallel_tables and parallel_chunks 1): a kill then never leaves
  // another writer's request in flight (docs/harper.md, on Harper finishing such requests).
  void serial_writes() { write_config(1, 1); }
  // "<schema or database>.<table>": the topic / stream suffix of a table.
  std::string stream(const std::string& table) const { return db->space() + "." + table; }

  void write_changes(int n, unsigned seed) {
    std::mt19937 rng(seed);
    const std::string d = dialect();
    for (int i = 0; i < n; ++i) {
      std::string id = std::to_string(rng() % 30000 + 1);
      switch (rng() % 6) {
        case 0:
          if (d == "sqlite") db->exec("INSERT OR REPLACE INTO items VALUES (" + id + ", 0, 'replaced', x'01')");
          else if (d == "mysql") db->exec("REPLACE INTO items VALUES (" + id + ", 0, 'replaced', x'01')");
          else
            db->exec("INSERT INTO items VALUES (" + id + ", 0, 'replaced', '\\x01') ON CONFLICT (id) DO UPDATE SET grp = 0, "
                     "name = 'replaced', payload = '\\x01'");
          break;
        case 1: db->exec("UPDATE items SET name = " + concat("name", "'!'") + " WHERE id = " + id); break;
        case 2: db->exec("DELETE FROM items WHERE id = " + id); break;
        case 3: db->exec("INSERT INTO events VALUES (" + id + ", 'live')"); break;
        case 4: {
          std::string k = std::to_string(rng() % 5);
          if (d == "sqlite") db->exec("DELETE FROM events WHERE rowid = (SELECT min(rowid) FROM events WHERE at % 5 = " + k + ")");
          else if (d == "mysql") db->exec("DELETE FROM events WHERE at % 5 = " + k + " ORDER BY at LIMIT 1");
          else db->exec("DELETE FROM events WHERE ctid = (SELECT min(ctid) FROM events WHERE at % 5 = " + k + ")");
          break;
        }
        default:
          // A change of key: a delete of the old key and a create of the new one.
          if (d == "mysql") db->exec("UPDATE pairs SET b = b + 100000, v = -v WHERE a = 'p3' AND b < 100000 ORDER BY b LIMIT 1");
          else
            db->exec("UPDATE pairs SET b = b + 100000, v = -v WHERE a = 'p3' AND b = (SELECT min(b) FROM pairs WHERE a = 'p3' AND b < 100000)");
      }
    }
  }

#ifdef CDC_CLI_PATH
  // A crash and a restart: when `in_stream`, first a run to idle and 300 changes; then `replicate`
  // killed at the failpoint `point` (CDC_CRASH_AT, name:n), 100 more changes, and a run to idle.
  void kill_and_restart(const std::string& point, bool in_stream) {
    if (in_stream) {
      REQUIRE(run_cli({"replicate", "-c", cfg, "--until-idle"}, "", log).code == 0);
      write_changes(300, 11);
    }
    auto killed = run_cli({"replicate", "-c", cfg, "--until-idle"}, point, log);
    INFO(slurp(log));
    REQUIRE(killed.signaled);
    write_changes(100, 12);
    CHECK(run_cli({"replicate", "-c", cfg, "--until-idle"}, "", log).code == 0);
  }
#endif

  // A source table's rows as the events carry them (integers and doubles as numbers, text as
  // strings, binary as base64), each as canonical JSON, sorted.
  std::vector<std::string> source_rows(const std::string& table) const {
    const Table& t = table_named(table);
    std::string cols;
    for (const auto& c : t.cols) {
      std::string e = c.name;
      if (c.kind == Kind::Bytes) e = dialect() == "postgresql" ? "encode(" + e + ", 'hex')" : "hex(" + e + ")";
      cols += (cols.empty() ? "" : ", ") + e;
    }
    std::vector<std::string> out;
    for (const auto& r : db->query("SELECT " + cols + " FROM " + table)) {
      boost::json::object o;
      for (std::size_t i = 0; i < t.cols.size(); ++i) {
        const Col& c = t.cols[i];
        if (!r[i]) {
          o[c.name] = nullptr;
          continue;
        }
        const std::string& v = *r[i];
        switch (c.kind) {
          case Kind::Int: o[c.name] = static_cast<std::int64_t>(std::stoll(v)); break;
          case Kind::Double: o[c.name] = std::strtod(v.c_str(), nullptr); break;
          case Kind::Text: o[c.name] = v; break;
          case Kind::Bytes: {
            std::string bytes;
            for (std::size_t j = 0; j + 1 < v.size(); j += 2) bytes += static_cast<char>(std::stoi(v.substr(j, 2), nullptr, 16));
            o[c.name] = cdc::detail::base64_encode(bytes);
          }
        }
      }
      out.push_back(EventReplay::canonical(o));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Every file in order: rotated ones (<file>.1, .2, ...) first, then the live one.
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (int i = 1; std::filesystem::exists(out_file(i)); ++i) out.push_back(out_file(i));
    out.push_back(this->out);
    return out;
  }
  std::string out_file(int i) const { return out + "." + std::to_string(i); }

  static EventReplay new_replay() {
    std::map<std::string, std::vector<std::string>> keys;
    for (const auto& t : tables())
      if (!t.key.empty()) keys[t.name] = t.key;
    return EventReplay(keys);
  }

  EventReplay replay() const {
    EventReplay r = new_replay();
    for (const auto& f : files()) {
      std::ifstream in(f);
      std::string line;
      while (std::getline(in, line)) r.apply(line);
    }
    return r;
  }

  void check_rebuilds() { check_rebuilds([this](const std::string& t) { return replay().rows(t); }); }

  // `rows(table)`: the rows rebuilt from the events; `want(table)`: the source's rows, adjusted
  // to what the destination can hold (default: as they are).
  template <typename Rows>
  void check_rebuilds(Rows rows) {
    check_rebuilds(rows, [this](const std::string& t) { return source_rows(t); });
  }
  template <typename Rows, typename Want>
  void check_rebuilds(Rows rows, Want want) {
    INFO(slurp(log));
    for (const auto& table : tables()) {
      INFO(dialect() << " table " << table.name);
      auto expected = want(table.name);
      auto got = rows(table.name);
      std::vector<std::string> missing, extra;
      std::set_difference(expected.begin(), expected.end(), got.begin(), got.end(), std::back_inserter(missing));
      std::set_difference(got.begin(), got.end(), expected.begin(), expected.end(), std::back_inserter(extra));
      INFO(missing.size() << " rows missing, first: " << (missing.empty() ? "" : missing.front()));
      INFO(extra.size() << " rows too many, first: " << (extra.empty() ? "" : extra.front()));
      CHECK(got.size() == expected.size());
      CHECK(got == expected);
    }
  }

 private:
  static const Table& table_named(const std::string& name) {
    for (const auto& t : tables())
      if (name == t.name) return t;
    FAIL("no fixture table " << name);
    throw;
  }

  std::string concat(const std::string& a, const std::string& b) const {
    return dialect() == "mysql" ? "CONCAT(" + a + ", " + b + ")" : a + " || " + b;
  }

  void setup(int rows, const std::string& destination) {
    const std::string d = dialect();
    const std::string n = std::to_string(rows), q = std::to_string(rows / 4);
    if (d == "sqlite") {
      db->exec("CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, payload BLOB)");
      db->exec("CREATE TABLE pairs (a TEXT NOT NULL, b INTEGER NOT NULL, v REAL, PRIMARY KEY (a, b))");
      db->exec("CREATE TABLE events (at INTEGER, what TEXT)");
      db->exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + n +
               ") INSERT INTO items SELECT i, i % 97, 'item ' || i, randomblob(16) FROM n");
      db->exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + q +
               ") INSERT INTO pairs SELECT 'p' || (i % 13), i, i * 0.5 FROM n");
      db->exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + q +
               ") INSERT INTO events SELECT i, 'e' || (i % 7) FROM n");
    } else if (d == "mysql") {
      db->exec("CREATE TABLE items (id BIGINT PRIMARY KEY, grp INT, name VARCHAR(200), payload VARBINARY(16))");
      db->exec("CREATE TABLE pairs (a VARCHAR(20) NOT NULL, b BIGINT NOT NULL, v DOUBLE, PRIMARY KEY (a, b))");
      db->exec("CREATE TABLE events (at BIGINT, what VARCHAR(20))");
      db->exec("SET SESSION max_recursive_iterations = 100000000");  // the row generator below recurses once per row
      auto series = [&](const std::string& table, const std::string& count, const std::string& select_list) {
        db->exec("INSERT INTO " + table + " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + count +
                 ") SELECT " + select_list + " FROM n");
      };
      series("items", n, "i, i % 97, CONCAT('item ', i), UNHEX(MD5(i))");
      series("pairs", q, "CONCAT('p', i % 13), i, i * 0.5");
      series("events", q, "i, CONCAT('e', i % 7)");
    } else {
      db->exec("CREATE TABLE items (id bigint PRIMARY KEY, grp int, name text, payload bytea)");
      db->exec("CREATE TABLE pairs (a text NOT NULL, b bigint NOT NULL, v float8, PRIMARY KEY (a, b))");
      db->exec("CREATE TABLE events (at bigint, what text)");
      db->exec("ALTER TABLE events REPLICA IDENTITY FULL");  // deletes of a keyless table carry the row
      db->exec("INSERT INTO items SELECT g, g % 97, 'item ' || g, decode(md5(g::text), 'hex') FROM generate_series(1, " + n + ") g");
      db->exec("INSERT INTO pairs SELECT 'p' || (g % 13), g, g * 0.5 FROM generate_series(1, " + q + ") g");
      db->exec("INSERT INTO events SELECT g, 'e' || (g % 7) FROM generate_series(1, " + q + ") g");
      db->exec("ANALYZE");
    }
    destination_ = destination;
    write_config(3, 2);
  }

  void write_config(int parallel_tables, int parallel_chunks) {
    std::ofstream(cfg) << "name: shop\nsource: \"" << db->url() << "\"\ndestination: \"" << destination_ << "\"\n"
                       << "parallel_tables: " << parallel_tables << "\npoll_interval_ms: 20\nstream_batch_rows: 40\n"
                       << "defaults: {batch_size: 500, chunk_rows: 4000, parallel_chunks: " << parallel_chunks << "}\n";
  }

  std::string destination_;
};

// Reading the checkpoints of destination `url` fails with a connection error, retryable or not,
// whose message says `says` and does not show `secret`.
inline void check_store_error(const std::string& url, bool retryable, const std::string& says, const std::string& secret) {
  auto dest = cdc::ConnectorRegistry::instance().open_destination(url);
  dest->describe_source({"sqlite", "s", "", "db"});
  try {
    dest->checkpoint_store()->load("s");
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Connection);
    CHECK(e.retryable() == retryable);
    CHECK_THAT(e.what(), Catch::Contains(says));
    CHECK_THAT(e.what(), !Catch::Contains(secret));
  }
}

}  // namespace cdc_test
