// What the event destination tests share (tests/integration/jsonl_test.cpp, tests/kafka/,
// tests/redis/): running cdc-cli, a SQLite source of three tables (one without a key) with a
// change generator, and the source's rows in the form the change events carry them, to compare with
// the rows rebuilt from the events (support/event_replay.h).
#pragma once

#include "core/event/change_event_json.h"
#include "support/cli_process.h"
#include "support/event_replay.h"
#include "support/sqlite_fixture.h"

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace cdc_test {

#ifdef CDC_CLI_PATH

// A source table's rows as the events carry them (INTEGER and REAL as numbers, TEXT as strings,
// BLOB as base64), sorted canonical JSON.
inline std::vector<std::string> source_rows(const std::string& path, const std::string& table) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, ("SELECT * FROM " + table).c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::vector<std::string> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    boost::json::object o;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const char* name = sqlite3_column_name(st, i);
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL: o[name] = nullptr; break;
        case SQLITE_INTEGER: o[name] = static_cast<std::int64_t>(sqlite3_column_int64(st, i)); break;
        case SQLITE_FLOAT: o[name] = sqlite3_column_double(st, i); break;
        case SQLITE_TEXT: o[name] = reinterpret_cast<const char*>(sqlite3_column_text(st, i)); break;
        default:
          o[name] = cdc::detail::base64_encode(
              std::string(static_cast<const char*>(sqlite3_column_blob(st, i)), static_cast<std::size_t>(sqlite3_column_bytes(st, i))));
      }
    }
    out.push_back(EventReplay::canonical(o));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::sort(out.begin(), out.end());
  return out;
}

struct EventFixture {
  TempDir dir;
  std::string src = dir.file("src.db"), out = dir.file("events.jsonl"), cfg = dir.file("cdc.yaml"), log = dir.file("cli.log");

  // `destination`: the URL the config names; empty = jsonl://<out><params>.
  explicit EventFixture(int rows, const std::string& params = "", std::string destination = "") {
    if (destination.empty()) destination = "jsonl://" + out + params;
    Db s(src);
    s.exec("PRAGMA journal_mode=WAL");
    s.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, payload BLOB)");
    s.exec("CREATE TABLE pairs (a TEXT NOT NULL, b INTEGER NOT NULL, v REAL, PRIMARY KEY (a, b))");
    s.exec("CREATE TABLE events (at INTEGER, what TEXT)");  // no key: a doubled event would show
    s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows) +
           ") INSERT INTO items SELECT i, i % 97, 'item ' || i, randomblob(16) FROM n");
    s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows / 4) +
           ") INSERT INTO pairs SELECT 'p' || (i % 13), i, i * 0.5 FROM n");
    s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows / 4) +
           ") INSERT INTO events SELECT i, 'e' || (i % 7) FROM n");
    std::ofstream(cfg) << "name: shop\nsource: \"" << url(src) << "\"\ndestination: \"" << destination << "\"\n"
                       << "parallel_tables: 3\npoll_interval_ms: 20\nstream_batch_rows: 40\n"
                       << "defaults: {batch_size: 500, chunk_rows: 4000, parallel_chunks: 2}\n";
  }

  void write_changes(int n, unsigned seed) {
    Db s(src);
    std::mt19937 rng(seed);
    for (int i = 0; i < n; ++i) {
      std::string id = std::to_string(rng() % 30000 + 1);
      switch (rng() % 6) {
        case 0: s.exec("INSERT OR REPLACE INTO items VALUES (" + id + ", 0, 'replaced', x'01')"); break;
        case 1: s.exec("UPDATE items SET name = name || '!' WHERE id = " + id); break;
        case 2: s.exec("DELETE FROM items WHERE id = " + id); break;
        case 3: s.exec("INSERT INTO events VALUES (" + id + ", 'live')"); break;
        case 4: s.exec("DELETE FROM events WHERE rowid = (SELECT min(rowid) FROM events WHERE at % 5 = " + std::to_string(rng() % 5) + ")"); break;
        default: s.exec("UPDATE pairs SET b = b + 100000, v = -v WHERE a = 'p3' AND b = (SELECT min(b) FROM pairs WHERE a = 'p3' AND b < 100000)");
      }
    }
  }

  // Every file in order: rotated ones (<file>.1, .2, ...) first, then the live one.
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (int i = 1; std::filesystem::exists(out_file(i)); ++i) out.push_back(out_file(i));
    out.push_back(this->out);
    return out;
  }
  std::string out_file(int i) const { return out + "." + std::to_string(i); }

  static EventReplay new_replay() { return EventReplay({{"items", {"id"}}, {"pairs", {"a", "b"}}}); }

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

  // `rows(table)`: the rows rebuilt from the events.
  template <typename Rows>
  void check_rebuilds(Rows rows) {
    INFO(slurp(log));
    for (const char* t : {"items", "pairs", "events"}) {
      INFO("table " << t);
      auto want = source_rows(src, t);
      auto got = rows(t);
      CHECK(got.size() == want.size());
      CHECK(got == want);
    }
  }
};

#endif  // CDC_CLI_PATH

}  // namespace cdc_test
