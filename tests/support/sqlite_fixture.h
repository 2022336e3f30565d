// Test helpers: temporary directories and direct SQLite access (independent of cdc's connectors,
// so tests check cdc against SQLite itself).
#pragma once

#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace cdc_test {

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "cdc-test-XXXXXX").string();
    if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    if (!std::getenv("CDC_KEEP_TEST_FILES")) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open " + path);
    sqlite3_busy_timeout(db_, 30000);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error("SQL failed: " + msg + " in: " + sql.substr(0, 200));
    }
  }

  // Every row as text "typeof:value|typeof:value", blobs in hex, so storage classes are compared too.
  std::vector<std::string> rows(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("prepare failed: ") + sqlite3_errmsg(db_) + " in: " + sql);
    std::vector<std::string> out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string line;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        if (i) line += '|';
        switch (sqlite3_column_type(st, i)) {
          case SQLITE_NULL: line += "null"; break;
          case SQLITE_INTEGER: line += "int:" + std::to_string(sqlite3_column_int64(st, i)); break;
          case SQLITE_FLOAT: {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.17g", sqlite3_column_double(st, i));
            line += std::string("real:") + buf;
            break;
          }
          case SQLITE_TEXT: {
            auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
            line += "text:" + std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, i)));
            break;
          }
          default: {
            auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(st, i));
            line += "blob:";
            static const char* hex = "0123456789abcdef";
            for (int k = 0; k < sqlite3_column_bytes(st, i); ++k) {
              line += hex[p[k] >> 4];
              line += hex[p[k] & 15];
            }
          }
        }
      }
      out.push_back(std::move(line));
    }
    sqlite3_finalize(st);
    return out;
  }

  std::int64_t count(const std::string& table) {
    auto r = rows("SELECT count(*) FROM " + table);
    return std::stoll(r.at(0).substr(4));
  }

 private:
  sqlite3* db_ = nullptr;
};

inline std::string url(const std::string& path) { return "sqlite://" + path; }

// Whether `table` has the same rows (ordered by id, storage classes compared) in two SQLite files;
// false while either cannot be read (not created yet).
inline bool same_rows(const std::string& a, const std::string& b, const std::string& table) {
  try {
    Db x(a), y(b);
    return x.rows("SELECT * FROM " + table + " ORDER BY id") == y.rows("SELECT * FROM " + table + " ORDER BY id");
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace cdc_test
