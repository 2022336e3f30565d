// The Harper server of the harper_server_start fixture (scripts/harper-server.sh, declared in
// tests/harper/CMakeLists.txt): its URL, a test skipped (exit code 77, ctest's SKIP_RETURN_CODE)
// with the fixture's reason where npm could not install Harper, and Harper tables read back as
// rows comparable with the fixture's source rows (support/event_fixture.h).
// Needs CDC_HARPER_DIR, the fixture's directory.
#pragma once

#include "harper/harper_client.h"
#include "support/cli_process.h"
#include "support/event_fixture.h"
#include "support/event_replay.h"

#include <cdc/registry.h>

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace cdc_test {

// The first line of the fixture's file `name` (url, tls_url).
inline std::string harper_fixture_line(const char* name) {
  const std::string dir = CDC_HARPER_DIR;
  if (std::filesystem::exists(dir + "/skip")) {
    std::printf("SKIPPED: no Harper server: %s\n", slurp(dir + "/skip").c_str());
    std::fflush(stdout);
    std::exit(77);
  }
  std::ifstream in(dir + "/" + name);
  std::string line;
  std::getline(in, line);
  if (line.empty()) FAIL("no Harper server: run the harper_server_start fixture (scripts/harper-server.sh start " << dir << ")");
  return line;
}

// harper://admin:PW@127.0.0.1:PORT (no database): the operations API over HTTP.
inline std::string harper_base_url() { return harper_fixture_line("url"); }

// The same server's operations API over HTTPS (no database, no TLS parameters); its certificate,
// for DNS:localhost and IP:127.0.0.1, and the CAs are in harper_cert(): ca.pem, other-ca.pem, ...
// (scripts/test-certs.sh).
inline std::string harper_tls_base_url() { return harper_fixture_line("tls_url"); }
inline std::string harper_cert(const std::string& file) { return std::string(CDC_HARPER_DIR) + "/certs/" + file; }

// A database name no other test uses.
inline std::string harper_database(const std::string& tag) {
  static std::atomic<int> n{0};
  return tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(++n);
}

// Numbers as doubles: JavaScript (Harper) writes 2.0 as 2, the events as 2E0.
inline boost::json::value numbers_as_doubles(const boost::json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  if (v.is_object()) {
    boost::json::object o;
    for (const auto& [k, x] : v.as_object()) o[k] = numbers_as_doubles(x);
    return o;
  }
  if (v.is_array()) {
    boost::json::array a;
    for (const auto& x : v.as_array()) a.push_back(numbers_as_doubles(x));
    return a;
  }
  return v;
}

// Canonical rows (support/event_replay.h) with numbers as doubles, sorted; `distinct` drops
// duplicates (a table without a key is a set of rows in Harper).
inline std::vector<std::string> comparable(const std::vector<std::string>& rows, bool distinct) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(EventReplay::canonical(numbers_as_doubles(boost::json::parse(r))));
  std::sort(out.begin(), out.end());
  if (distinct) out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// One operations API call; the answer must be a success.
inline boost::json::value harper_call(const std::string& url, boost::json::object op) {
  auto u = cdc::ConnectorUrl::parse(url);
  auto params = u.params;
  cdc::harper::Client c(u, u.redacted(), cdc::harper::take_tls_params(params, u.redacted()));
  if (!op.contains("database") && !u.path.empty()) op["database"] = u.path;
  return c.call(op, std::string(op.at("operation").as_string()));
}

// The primary key attribute of a Harper table.
inline std::string harper_key(const std::string& url, const std::string& table) {
  auto d = harper_call(url, {{"operation", "describe_table"}, {"table", table}});
  return std::string(d.at("hash_attribute").as_string());
}

// Every record of a Harper table, Harper's own attributes (__createdtime__, __updatedtime__) and
// cdc's key attribute (_cdc_key) left out, as canonical JSON, sorted.
inline std::vector<std::string> harper_rows(const std::string& url, const std::string& table) {
  auto rows = harper_call(url, {{"operation", "search_by_value"},
                                {"table", table},
                                {"search_attribute", harper_key(url, table)},
                                {"search_value", "*"},
                                {"get_attributes", boost::json::array{"*"}}});
  std::vector<std::string> out;
  for (auto& r : rows.as_array()) {
    auto& o = r.as_object();
    for (const char* k : {"__createdtime__", "__updatedtime__", "_cdc_key"}) o.erase(k);
    out.push_back(EventReplay::canonical(o));
  }
  return comparable(out, false);
}

// Every table of the fixture equals its source table in Harper (a table without a key: its
// distinct rows, the set Harper keeps).
inline void check_harper_mirrors(EventFixture& f, const std::string& url) {
  f.check_rebuilds([&](const std::string& t) { return harper_rows(url, t); },
                   [&](const std::string& t) {
                     bool keyless = true;
                     for (const auto& table : EventFixture::tables())
                       if (t == table.name) keyless = table.key.empty();
                     return comparable(f.source_rows(t), keyless);
                   });
}

}  // namespace cdc_test
