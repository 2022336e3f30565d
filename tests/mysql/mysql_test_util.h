// Helpers for the MariaDB tests: the fixture server's URL (or CDC_MYSQL_TEST_URL), a connection
// to one of its databases, and a source/destination database pair dropped after the test.
#pragma once

#include "mysql/mysql_conn.h"

#include <cdc/registry.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>

namespace mysql_test {

using cdc::ConnectorUrl;
using cdc::ErrorKind;
using cdc::mysql::Conn;
using cdc::mysql::ConnParams;
namespace mysql = cdc::mysql;

// CDC_MARIADB_TEST_DIR in the environment picks another fixture server's directory (the TLS one).
inline std::string base_url() {
  if (const char* u = std::getenv("CDC_MYSQL_TEST_URL")) return u;
  const char* dir = std::getenv("CDC_MARIADB_TEST_DIR");
  std::ifstream in(std::string(dir && *dir ? dir : CDC_MARIADB_TEST_DIR) + "/url");
  std::string url;
  std::getline(in, url);
  if (url.empty()) FAIL("no MariaDB test server: run the mariadb_server_start fixture or set CDC_MYSQL_TEST_URL");
  return url;
}

// "mysql://root@127.0.0.1:1234/cdc_test" with another database name.
inline std::string url_for(const std::string& db) {
  std::string u = base_url();
  auto q = u.find('?');
  std::string params = q == std::string::npos ? "" : u.substr(q);
  u = u.substr(0, q);
  auto slash = u.find('/', u.find("//") + 2);
  return u.substr(0, slash) + "/" + db + params;
}

inline Conn connect(const std::string& db) {
  return Conn(ConnParams::from_url(ConnectorUrl::parse(url_for(db)), "test"), ErrorKind::Source);
}

// A source and a destination database named after the test, dropped afterwards.
struct Dbs {
  std::string src, dst;
  explicit Dbs(const std::string& name) : src("it_" + name + "_src"), dst("it_" + name + "_dst") {
    Conn c = connect("mysql");
    for (auto& d : {src, dst}) {
      c.exec("DROP DATABASE IF EXISTS " + mysql::quote_ident(d));
      c.exec("CREATE DATABASE " + mysql::quote_ident(d) + " CHARACTER SET utf8mb4");
    }
  }
  ~Dbs() {
    try {
      Conn c = connect("mysql");
      for (auto& d : {src, dst}) c.exec("DROP DATABASE IF EXISTS " + mysql::quote_ident(d));
    } catch (...) {
    }
  }
  std::string src_url() const { return url_for(src); }
  std::string dst_url() const { return url_for(dst); }
};

}  // namespace mysql_test
