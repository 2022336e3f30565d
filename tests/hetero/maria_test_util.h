// MariaDB side of the heterogeneous tests: the fixture server's URL, a plain libmariadb
// connection, and a database created for one test and dropped afterwards.
#pragma once

#include <cdc/registry.h>

#include <mysql.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

namespace maria_test {

inline std::string mariadb_base_url() {
  std::ifstream in(CDC_MARIADB_URL_FILE);
  std::string url;
  std::getline(in, url);
  if (url.empty()) FAIL("no MariaDB test server (mariadb_server_start fixture)");
  return url;
}

inline std::string mariadb_url(const std::string& db) {
  std::string base = mariadb_base_url();
  return base.substr(0, base.rfind('/') + 1) + db;
}

class Maria {
 public:
  Maria() {
    auto u = cdc::ConnectorUrl::parse(mariadb_base_url());
    m_ = mysql_init(nullptr);
    if (!mysql_real_connect(m_, u.host.c_str(), u.user.c_str(), u.password.empty() ? nullptr : u.password.c_str(), nullptr,
                            static_cast<unsigned>(u.port), nullptr, 0))
      FAIL("MariaDB connect: " << mysql_error(m_));
    exec("SET NAMES utf8mb4");
    exec("SET time_zone = '+00:00'");
    exec("SET sql_mode = ''");  // zero dates allowed, as in many legacy schemas
  }
  ~Maria() { mysql_close(m_); }
  Maria(const Maria&) = delete;
  Maria& operator=(const Maria&) = delete;
  void exec(const std::string& sql) {
    if (mysql_real_query(m_, sql.data(), sql.size()) != 0) FAIL("MariaDB: " << mysql_error(m_) << " in: " << sql);
    if (MYSQL_RES* r = mysql_store_result(m_)) mysql_free_result(r);
  }
  // Rows of a query, each as its columns joined by " | " ("NULL" for null).
  std::vector<std::string> rows(const std::string& sql) {
    if (mysql_real_query(m_, sql.data(), sql.size()) != 0) FAIL("MariaDB: " << mysql_error(m_) << " in: " << sql);
    std::vector<std::string> out;
    MYSQL_RES* r = mysql_store_result(m_);
    if (!r) return out;
    unsigned n = mysql_num_fields(r);
    while (MYSQL_ROW row = mysql_fetch_row(r)) {
      unsigned long* len = mysql_fetch_lengths(r);
      std::string line;
      for (unsigned j = 0; j < n; ++j) {
        if (j) line += " | ";
        line += row[j] ? std::string(row[j], len[j]) : "NULL";
      }
      out.push_back(line);
    }
    mysql_free_result(r);
    return out;
  }

 private:
  MYSQL* m_ = nullptr;
};

struct MariaDb {
  std::string name;
  explicit MariaDb(const std::string& tag) : name("h_" + tag + "_" + std::to_string(::getpid())) {
    Maria m;
    m.exec("DROP DATABASE IF EXISTS " + name);
    m.exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4");
  }
  ~MariaDb() {
    try {
      Maria m;
      m.exec("DROP DATABASE IF EXISTS " + name);
    } catch (...) {
    }
  }
};

}  // namespace maria_test
