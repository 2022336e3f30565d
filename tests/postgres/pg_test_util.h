// Helpers for the PostgreSQL tests: the throwaway server's URL, a fresh database per test, raw SQL
// through libpq, and exact table dumps (each row as PostgreSQL's own text of the row).
#pragma once

#include <cdc/cdc.h>

#include <libpq-fe.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace pg_test {

// CDC_PG_URL_FILE in the environment names another fixture server's url file (the TLS one).
inline std::string server_url() {
  if (const char* env = std::getenv("CDC_TEST_POSTGRES_URL"); env && *env) return env;
  const char* file = std::getenv("CDC_PG_URL_FILE");
  std::ifstream in(file && *file ? file : CDC_PG_URL_FILE);
  std::string url;
  std::getline(in, url);
  if (url.empty()) FAIL("no PostgreSQL server: set CDC_TEST_POSTGRES_URL or run the pg_server_start fixture");
  return url;
}

// URL of database `db` on the test server.
inline std::string db_url(const std::string& db) {
  std::string base = server_url();
  auto q = base.find('?');
  std::string params = q == std::string::npos ? "" : base.substr(q);
  base = base.substr(0, q);
  auto slash = base.rfind('/');
  return base.substr(0, slash + 1) + db + params;
}

class Conn {
 public:
  explicit Conn(const std::string& url) {
    c_ = PQconnectdb(url.c_str());
    if (PQstatus(c_) != CONNECTION_OK) FAIL("connect " << url << ": " << PQerrorMessage(c_));
    PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);
    exec("SET TimeZone = 'UTC'");
  }
  ~Conn() { PQfinish(c_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  void exec(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    auto st = PQresultStatus(r);
    std::string err = PQresultErrorMessage(r);
    PQclear(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) FAIL("SQL failed: " << sql << ": " << err);
  }
  // Rows of a query, each as its columns joined by " | " ("NULL" for null).
  std::vector<std::string> rows(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      std::string err = PQresultErrorMessage(r);
      PQclear(r);
      FAIL("query failed: " << sql << ": " << err);
    }
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r); ++i) {
      std::string row;
      for (int j = 0; j < PQnfields(r); ++j) {
        if (j) row += " | ";
        row += PQgetisnull(r, i, j) ? "NULL" : std::string(PQgetvalue(r, i, j), PQgetlength(r, i, j));
      }
      out.push_back(row);
    }
    PQclear(r);
    return out;
  }
  std::string scalar(const std::string& sql) {
    auto r = rows(sql);
    return r.empty() ? std::string() : r[0];
  }
  std::int64_t count(const std::string& table) { return std::stoll(scalar("SELECT count(*) FROM " + table)); }

 private:
  PGconn* c_ = nullptr;
};

// A database created for one test and dropped (with its replication slot) afterwards.
class TempDb {
 public:
  explicit TempDb(const std::string& tag) {
    static std::atomic<int> counter{0};
    std::mt19937 rng(std::random_device{}());
    name_ = "t_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter) + "_" + std::to_string(rng() % 100000);
    Conn admin(server_url());
    admin.exec("CREATE DATABASE " + name_);
  }
  ~TempDb() {
    try {
      PGconn* c = PQconnectdb(server_url().c_str());
      if (PQstatus(c) == CONNECTION_OK) {
        std::string slot_drop = "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" + name_ +
                                "' AND NOT active";
        PQclear(PQexec(c, slot_drop.c_str()));
        std::string drop = "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)";
        PQclear(PQexec(c, drop.c_str()));
      }
      PQfinish(c);
    } catch (...) {
    }
  }
  const std::string& name() const { return name_; }
  std::string url() const { return db_url(name_); }

 private:
  std::string name_;
};

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cdc-pgtest-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// Every row of a table as PostgreSQL's text of the row, ordered by that text.
inline std::vector<std::string> dump(Conn& c, const std::string& table) {
  return c.rows("SELECT t::text FROM " + table + " t ORDER BY 1");
}

// Silences cdc's log for the scope of a test (errors still print).
struct QuietLog {
  QuietLog() { cdc::set_log_level(cdc::LogLevel::Error); }
  ~QuietLog() { cdc::set_log_level(cdc::LogLevel::Info); }
};

// Polls `done` until it returns true or `seconds` pass.
template <typename F>
bool eventually(F&& done, int seconds = 30) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

inline cdc::VerifyReport verify_with(const cdc::Config& cfg) {
  cdc::VerifyOptions opt;
  opt.config = &cfg;
  return cdc::verify(cfg.source, cfg.destination, opt);
}

inline std::string describe(const cdc::VerifyReport& r) {
  std::string out;
  for (const auto& t : r.tables) {
    out += t.source + " -> " + t.target + ": " + std::to_string(t.source_rows) + " vs " + std::to_string(t.target_rows) +
           (t.equal ? " equal" : " DIFFERENT") + (t.error.empty() ? "" : " error: " + t.error);
    for (const auto& k : t.differing_keys) out += "\n    " + k;
    out += "\n";
  }
  return out;
}

}  // namespace pg_test
