// Helpers for the SQLite connector tests: temp directories, raw SQL, exact table dumps.
#pragma once

#include "support/sqlite_fixture.h"

#include <cdc/registry.h>

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sqlite_test {

// The shared temporary directory, plus a SQLite URL for a file in it.
struct TempDir : cdc_test::TempDir {
  std::string url(const std::string& name) const { return "sqlite://" + file(name); }
};

// A raw connection for setting up and inspecting databases.
class Raw {
 public:
  explicit Raw(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open " + path);
    sqlite3_busy_timeout(db_, 10000);
  }
  ~Raw() { sqlite3_close_v2(db_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  sqlite3* get() { return db_; }

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      FAIL("SQL failed: " << sql << ": " << msg);
    }
  }

  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      FAIL("prepare failed: " << sql << ": " << sqlite3_errmsg(db_));
    return s;
  }

  std::int64_t scalar(const std::string& sql) {
    sqlite3_stmt* s = prepare(sql);
    std::int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
  }

  // Every row of `sql`, each value rendered exactly with its storage class:
  // i:<int> r:<bits> t:<hex> b:<hex> n.
  std::vector<std::string> dump(const std::string& sql) {
    sqlite3_stmt* s = prepare(sql);
    std::vector<std::string> rows;
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        if (i) row += " | ";
        row += render(s, i);
      }
      rows.push_back(row);
    }
    sqlite3_finalize(s);
    return rows;
  }

  static std::string hex(const void* p, int n) {
    static const char* d = "0123456789abcdef";
    std::string out;
    auto* b = static_cast<const unsigned char*>(p);
    for (int i = 0; i < n; ++i) {
      out += d[b[i] >> 4];
      out += d[b[i] & 15];
    }
    return out;
  }

  static std::string render(sqlite3_stmt* s, int i) {
    switch (sqlite3_column_type(s, i)) {
      case SQLITE_INTEGER: return "i:" + std::to_string(sqlite3_column_int64(s, i));
      case SQLITE_FLOAT: {
        double d = sqlite3_column_double(s, i);
        unsigned char bits[8];
        std::memcpy(bits, &d, 8);
        return "r:" + hex(bits, 8);
      }
      case SQLITE_TEXT: {
        const unsigned char* t = sqlite3_column_text(s, i);
        return "t:" + hex(t, sqlite3_column_bytes(s, i));
      }
      case SQLITE_BLOB: {
        const void* b = sqlite3_column_blob(s, i);
        return "b:" + hex(b, sqlite3_column_bytes(s, i));
      }
      default: return "n";
    }
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace sqlite_test
