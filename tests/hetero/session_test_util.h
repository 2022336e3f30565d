// Session helpers shared by the heterogeneous tests.
#pragma once

#include <cdc/session.h>
#include <cdc/verify.h>

#include "support/wait.h"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <map>
#include <string>

namespace hetero_test {

// Streaming tables by name without their schema ("items", not "public.items").
inline std::map<std::string, cdc::TableStatus> by_table(const cdc::SessionStatus& s) { return cdc_test::by_table(s, true); }

// Every table verify compared is equal (and there are `tables` of them, when given).
inline void check_equal(const cdc::VerifyReport& report, std::size_t tables = 0) {
  REQUIRE_FALSE(report.tables.empty());
  if (tables) REQUIRE(report.tables.size() == tables);
  for (const auto& t : report.tables) {
    INFO(t.source << " -> " << t.target << ": " << t.source_rows << " vs " << t.target_rows << " " << t.error);
    for (const auto& k : t.differing_keys) INFO(k);
    CHECK(t.equal);
  }
}

// Rows of a query on a SQLite file, each as its columns joined by " | " ("NULL" for null).
inline std::vector<std::string> sqlite_rows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::string> out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) FAIL("cannot open " << path);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    std::string err = sqlite3_errmsg(db);
    sqlite3_close(db);
    FAIL("SQLite: " << err << " in: " << sql);
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string line;
    for (int j = 0; j < sqlite3_column_count(st); ++j) {
      if (j) line += " | ";
      const unsigned char* v = sqlite3_column_text(st, j);
      line += v ? reinterpret_cast<const char*>(v) : "NULL";
    }
    out.push_back(line);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// A session that streams quickly in tests: short polls and retries.
inline cdc::Config stream_config(const std::string& source, const std::string& destination) {
  cdc::Config config;
  config.source = source;
  config.destination = destination;
  config.poll_interval_ms = 50;
  config.retry.initial_delay_ms = 50;
  return config;
}

// One snapshot-only run (cdc-cli copy).
inline cdc::SessionStatus copy_once(const cdc::Config& config) {
  cdc::SessionOptions copy;
  copy.snapshot_only = true;
  return cdc::ReplicationSession(config, copy).run();
}

// Every table of a finished copy is done (the error of any that is not is shown). A copy of no
// table at all is a failure too: it would pass every check of the tables it did not copy.
inline void check_done(const cdc::SessionStatus& status) {
  REQUIRE_FALSE(status.tables.empty());
  for (const auto& t : status.tables) {
    INFO(t.source << ": " << t.error);
    CHECK(t.phase == cdc::TablePhase::Done);
  }
}

// Stops the session; every table (at least one) must still have been streaming when asked to stop.
inline void stop_streaming(cdc::ReplicationSession& session) {
  auto status = session.status();
  session.stop();
  session.wait();
  REQUIRE_FALSE(status.tables.empty());
  for (const auto& t : status.tables) {
    INFO(t.source << ": " << t.error);
    CHECK(t.phase == cdc::TablePhase::Streaming);
  }
}

}  // namespace hetero_test
