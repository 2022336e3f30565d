// Malformed configuration and URLs, table-driven: each is a cdc::Error(Config) whose message starts
// with the key path of what is wrong (or "url: " and the redacted URL) and says what was expected;
// none crashes, none is accepted. (Single cases with their full messages: config_test.cpp.)
#include <cdc/config.h>
#include <cdc/error.h>
#include <cdc/registry.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

struct Case {
  std::string text;    // the config (YAML unless json) or the URL
  std::string starts;  // the message starts with this (the key path and what follows it)
  std::string says;    // and contains this ("" = no more)
};

const std::string kBase = "source: sqlite:///a.db\ndestination: sqlite:///b.db\n";

std::string message_of(const std::string& text, bool json) {
  try {
    if (json) cdc::parse_config_json(text);
    else cdc::parse_config_yaml(text);
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Config);
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a cdc::Error: ") + e.what();
  }
  return "accepted";
}

void check_cases(const std::vector<Case>& cases, bool json) {
  for (const auto& c : cases) {
    std::string m = message_of(c.text, json);
    INFO("config:\n" << c.text << "\nmessage: " << m);
    CHECK(m.rfind(c.starts, 0) == 0);
    if (!c.says.empty()) CHECK(m.find(c.says) != std::string::npos);
  }
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Nesting deeper than this is refused before yaml-cpp sees the text (lib/core/config_tree.cpp).
const std::string kDeep = "nesting deeper than 64 levels";

}  // namespace

TEST_CASE("broken configs: wrong types, unknown keys, bad values name their key path", "[unit][config][errors]") {
  const std::vector<Case> cases = {
      // the document itself
      {"", "config: ", "map"},
      {"- a\n- b\n", "config: ", "map"},
      {"just text", "config: ", "map"},
      {"source: [unclosed\n", "config:2:1: invalid YAML", ""},
      {"a: b\n  c: d\n", "config:2:4: invalid YAML", ""},
      {std::string("source: sqlite:///a\xff.db\ndestination: sqlite:///b.db\n"), "source: ", "UTF-8"},
      {"source: sqlite:///a.db\nsource: sqlite:///c.db\ndestination: sqlite:///b.db\n", "", "source"},
      // top-level keys
      {kBase + "nmae: x\n", "nmae: ", "unknown key"},
      {kBase + "Tables: {}\n", "Tables: ", "unknown key"},
      {"destination: sqlite:///b.db\n", "source: ", ""},
      {"source: sqlite:///a.db\n", "destination: ", ""},
      {"source: 5\ndestination: sqlite:///b.db\n", "source: \"5\" is not a connector URL", ""},
      {"source: sqlite:///a.db\ndestination: \"postgresql://u:pw@h:70000/db\"\n", "destination: \"postgresql://u:***@h:70000/db\"", "out of range"},
      {kBase + "checkpoint: \"sqlite:/x.db\"\n", "checkpoint: ", "expected \"//\""},
      {"source: [a]\ndestination: sqlite:///b.db\n", "source: ", "expected a string"},
      {"source: {a: 1}\ndestination: sqlite:///b.db\n", "source: ", "expected a string"},
      {"source: sqlite:///a.db\ndestination: ~\n", "destination: ", ""},
      {kBase + "name: [x]\n", "name: ", "expected a string"},
      {kBase + "include: [[a]]\n", "include", ""},
      {kBase + "include: {a: b}\n", "include: ", "list"},
      {kBase + "exclude: {a: b}\n", "exclude: ", "list"},
      {kBase + "parallel_tables: 0\n", "parallel_tables: ", "out of range"},
      {kBase + "parallel_tables: -3\n", "parallel_tables: ", "out of range"},
      {kBase + "parallel_tables: many\n", "parallel_tables: ", "expected an integer"},
      {kBase + "parallel_tables: 2.5\n", "parallel_tables: ", "expected an integer"},
      {kBase + "parallel_tables: 99999999999999999999999\n", "parallel_tables: ", ""},
      {kBase + "workers: -1\n", "workers: ", "out of range"},
      {kBase + "workers: [1]\n", "workers: ", "expected an integer"},
      {kBase + "stop_on_error: maybe\n", "stop_on_error: ", "true or false"},
      {kBase + "stop_on_error: 2\n", "stop_on_error: ", "true or false"},
      {kBase + "views: yes please\n", "views: ", "true or false"},
      {kBase + "poll_interval_ms: 0\n", "poll_interval_ms: ", "out of range"},
      {kBase + "poll_interval_ms: 1h\n", "poll_interval_ms: ", "expected an integer"},
      {kBase + "stream_batch_rows: 0\n", "stream_batch_rows: ", ""},
      {kBase + "stream_batch_rows: 100000000000\n", "stream_batch_rows: ", ""},
      {kBase + "keep_defaults: 1.5\n", "keep_defaults: ", "true or false"},
      {kBase + "discover_interval_s: soon\n", "discover_interval_s: ", ""},
      {kBase + "discover_interval_s: -5\n", "discover_interval_s: ", ""},
      {kBase + "on_conversion_error: ignore\n", "on_conversion_error: ", "quarantine"},
      {kBase + "on_conversion_error: [fail]\n", "on_conversion_error: ", ""},
      // schema, http, max_held_log
      {kBase + "schema: sometimes\n", "schema: ", ""},
      {kBase + "schema: {indexes: 1, foo: true}\n", "schema.foo: ", "unknown key"},
      {kBase + "schema: {indexes: yes-ish}\n", "schema.indexes: ", "true or false"},
      {kBase + "schema: {index_jobs: 0}\n", "schema.index_jobs: ", "out of range"},
      {kBase + "schema: {index_jobs: 1000}\n", "schema.index_jobs: ", "out of range"},
      {kBase + "http: 8080\n", "http: ", ""},
      {kBase + "http: {port: 8080}\n", "http.port: ", "unknown key"},
      {kBase + "http: {listen: [a]}\n", "http.listen: ", "expected a string"},
      {kBase + "http: {max_lag_seconds: -1}\n", "http.max_lag_seconds: ", "out of range"},
      {kBase + "http: {max_lag_seconds: lots}\n", "http.max_lag_seconds: ", "expected a number"},
      {kBase + "http: {allowed_hosts: host}\n", "", ""},  // a single string is a list of one: accepted below
      {kBase + "http: {token: {a: b}}\n", "http.token: ", "expected a string"},
      {kBase + "max_held_log: 5\n", "max_held_log: ", ""},
      {kBase + "max_held_log: {bytes: lots}\n", "max_held_log.bytes: ", "expected an amount"},
      {kBase + "max_held_log: {bytes: 5XB}\n", "max_held_log.bytes: ", "expected an amount"},
      {kBase + "max_held_log: {bytes: 99999999999999999999GB}\n", "max_held_log.bytes: ", ""},
      {kBase + "max_held_log: {age: forever}\n", "max_held_log.age: ", "expected an amount"},
      {kBase + "max_held_log: {size: 1GB}\n", "max_held_log.size: ", "unknown key"},
      // cast
      {kBase + "cast: {to: text}\n", "cast: ", "list"},
      {kBase + "cast: [{column: t.a}]\n", "cast[0]: ", "missing key \"to\""},
      {kBase + "cast: [{column: t.a, to: text, as: x}]\n", "cast[0].as: ", "unknown key"},
      {kBase + "cast: [{column: t.a, to: [text]}]\n", "cast[0].to: ", "expected a string"},
      {kBase + "cast: [{to: text}, {type: int}]\n", "cast[1]: ", "missing key \"to\""},
      // retry
      {kBase + "retry: 3\n", "retry: ", ""},
      {kBase + "retry: {max_attempts: 0}\n", "retry.max_attempts: ", "out of range"},
      {kBase + "retry: {max_attempts: 1e9}\n", "retry.max_attempts: ", ""},
      {kBase + "retry: {multiplier: 0.5}\n", "retry.multiplier: ", "out of range"},
      {kBase + "retry: {jitter: 2}\n", "retry.jitter: ", "out of range"},
      {kBase + "retry: {jitter: some}\n", "retry.jitter: ", "expected a number"},
      {kBase + "retry: {initial_delay_ms: -1}\n", "retry.initial_delay_ms: ", "out of range"},
      {kBase + "retry: {max_delay: 5}\n", "retry.max_delay: ", "unknown key"},
      {kBase + "retry: {table_cooldown_s: never}\n", "retry.table_cooldown_s: ", ""},
      // defaults
      {kBase + "defaults: []\n", "defaults: ", ""},
      {kBase + "defaults: {batch_size: 0}\n", "defaults.batch_size: ", "out of range"},
      {kBase + "defaults: {batch_size: huge}\n", "defaults.batch_size: ", ""},
      {kBase + "defaults: {mode: mirror}\n", "defaults.mode: ", "replicate"},
      {kBase + "defaults: {parallel_chunks: 0}\n", "defaults.parallel_chunks: ", "out of range"},
      {kBase + "defaults: {parallel_chunks: lots}\n", "defaults.parallel_chunks: ", "auto"},
      {kBase + "defaults: {chunk_rows: -5}\n", "defaults.chunk_rows: ", "out of range"},
      {kBase + "defaults: {delete: purge}\n", "defaults.delete: ", "hard"},
      {kBase + "defaults: {delete: {strategy: soft, column: ''}}\n", "defaults.delete.column: ", "empty"},
      {kBase + "defaults: {delete: {strategy: sometimes}}\n", "defaults.delete.strategy: ", "hard"},
      {kBase + "defaults: {delete: {kind: soft}}\n", "defaults.delete.kind: ", "unknown key"},
      {kBase + "defaults: {ddl: explode}\n", "defaults.ddl: ", ""},
      {kBase + "defaults: {enum_as: banana}\n", "defaults.enum_as: ", ""},
      {kBase + "defaults: {snapshot: maybe}\n", "defaults.snapshot: ", ""},
      {kBase + "defaults: {columns: [a]}\n", "defaults.columns: ", "unknown key"},
      // tables
      {kBase + "tables: [orders]\n", "tables: ", "map"},
      {kBase + "tables: orders\n", "tables: ", "map"},
      {kBase + "tables: {orders: 5}\n", "tables.orders: ", "map"},
      {kBase + "tables: {orders: {batch_size: big}}\n", "tables.orders.batch_size: ", "expected an integer"},
      {kBase + "tables: {orders: {batch_size: 0}}\n", "tables.orders.batch_size: ", "out of range"},
      {kBase + "tables: {orders: {colums: [a]}}\n", "tables.orders.colums: ", "unknown key"},
      {kBase + "tables: {orders: {columns: a b}}\n", "", ""},  // "a b" is one column name: accepted below
      {kBase + "tables: {orders: {columns: {a: b}}}\n", "tables.orders.columns: ", "list"},
      {kBase + "tables: {orders: {exclude_columns: {a: 1}}}\n", "tables.orders.exclude_columns: ", "list"},
      {kBase + "tables: {orders: {rename: [a, b]}}\n", "tables.orders.rename: ", "map"},
      {kBase + "tables: {orders: {rename: {a: ''}}}\n", "tables.orders.rename.a: ", "empty"},
      {kBase + "tables: {orders: {target: ''}}\n", "tables.orders.target: ", "empty"},
      {kBase + "tables: {orders: {where: [x]}}\n", "tables.orders.where: ", "expected a string"},
      {kBase + "tables: {orders: {mode: sometimes}}\n", "tables.orders.mode: ", "replicate"},
      {kBase + "tables: {orders: {mode: incremental}}\n", "tables.orders", "watermark"},
      {kBase + "tables: {orders: {watermark: {col: u}}}\n", "tables.orders.watermark.col: ", "unknown key"},
      {kBase + "tables: {orders: {watermark: {}}}\n", "tables.orders.watermark: ", "missing key \"column\""},
      {kBase + "tables: {orders: {watermark: ''}}\n", "tables.orders.watermark: ", "empty"},
      {kBase + "tables: {orders: {query: ''}}\n", "tables.orders.query: ", "empty"},
      {kBase + "tables: {orders: {key: []}}\n", "tables.orders.key: ", "at least one"},
      {kBase + "tables: {orders: {key: [id, '']}}\n", "tables.orders.key[1]: ", "empty"},
      {kBase + "tables: {orders: {parallel_chunks: 1000}}\n", "tables.orders.parallel_chunks: ", "out of range"},
      {kBase + "tables: {orders: {chunk_rows: none}}\n", "tables.orders.chunk_rows: ", "auto"},
      {kBase + "tables: {orders: {delete: {strategy: soft, column: [x]}}}\n", "tables.orders.delete.column: ", "expected a string"},
      {kBase + "tables: {orders: {exclude_columns: [a], rename: {a: b}}}\n", "tables.orders.rename.a: ", "exclude_columns"},
      {kBase + "tables: {orders: {mode: incremental, watermark: u, delete: soft}}\n", "tables.orders.delete: ", "incremental"},
      // environment and files
      {"source: \"${CDC_TEST_SURELY_UNSET_VAR}\"\ndestination: sqlite:///b.db\n", "source: ", "CDC_TEST_SURELY_UNSET_VAR"},
      {"source: \"${}\"\ndestination: sqlite:///b.db\n", "source: ", "empty variable name"},
      {"source: \"${UNTERMINATED\"\ndestination: sqlite:///b.db\n", "source: ", "unterminated"},
      {"source: \"${file:/nonexistent/cdc/secret}\"\ndestination: sqlite:///b.db\n", "source: ", "cannot read /nonexistent/cdc/secret"},
      {kBase + "tables: {orders: {where: \"${CDC_TEST_SURELY_UNSET_VAR}\"}}\n", "tables.orders.where: ", "not set"},
  };
  check_cases(cases, false);
  CHECK(cases.size() >= 100);
}

TEST_CASE("broken JSON configs name their key path too", "[unit][config][errors]") {
  check_cases(
      {
          {"{", "config:1: invalid JSON", ""},
          {"[1, 2]", "config: ", "map"},
          {"{\"source\": \"sqlite:///a.db\", \"destination\": \"sqlite:///b.db\", \"tables\": {\"t\": {\"batch_size\": \"x\"}}}",
           "tables.t.batch_size: ", "expected an integer"},
          {"{\"source\": \"sqlite:///a.db\", \"destination\": \"sqlite:///b.db\", \"retry\": {\"jitter\": true}}", "retry.jitter: ",
           "expected a number"},
          {"{\"source\": \"sqlite:///a.db\", \"destination\": \"sqlite:///b.db\", \"extra\": 1}", "extra: ", "unknown key"},
          {"{\"source\": 1.5, \"destination\": \"sqlite:///b.db\"}", "source: ", ""},
      },
      true);
}

TEST_CASE("broken URLs: each a clear error with the URL redacted", "[unit][url][errors]") {
  const std::vector<Case> cases = {
      {"", "url: ", "not a connector URL"},
      {"shop.db", "url: ", "not a connector URL"},
      {":///x", "url: ", "not a connector URL"},
      {"sqlite:/a.db", "url: ", "expected \"//\""},
      {"sqlite://", "url: ", "missing file path"},
      {"postgresql://u:pw@h:99999/db", "url: \"postgresql://u:***@h:99999/db\"", "out of range"},
      {"postgresql://u:pw@h:0/db", "url: ", "out of range"},
      {"postgresql://u:pw@h:99999999999999999999/db", "url: ", "out of range"},  // beyond std::stoi: std::out_of_range
      {"postgresql://u:pw@h:-1/db", "url: ", "not a number"},
      {"postgresql://u:pw@h:54x/db", "url: \"postgresql://u:***@h:54x/db\"", "not a number"},
      {"mysql://[::1/db", "url: ", "unterminated ["},
      {"kafka://h1:9092,,h2:9092", "url: ", "empty host"},
      {"kafka://h1:9092,:9092", "url: ", "host list entry \":9092\" has no host"},  // fuzz_url: an uncaught out_of_range
      {"kafka://h1:9092,:", "url: ", "host list entry \":\" has no host"},
      {"kafka://h1:9092,h2:port", "url: ", "not a number"},
      {"postgresql://u@h/db?password_file=/nonexistent/pw", "\"postgresql://u@h/db?password_file=***\": password_file: ", "cannot read"},
  };
  for (const auto& c : cases) {
    std::string m;
    try {
      cdc::ConnectorUrl::parse(c.text);
      m = "accepted";
    } catch (const cdc::Error& e) {
      CHECK(e.kind() == cdc::ErrorKind::Config);
      m = e.what();
    }
    INFO("url: " << c.text << "\nmessage: " << m);
    CHECK(m.rfind(c.starts, 0) == 0);
    CHECK(m.find(c.says) != std::string::npos);
    CHECK(m.find("pw@") == std::string::npos);
  }
  // Schemes nobody registered: the known ones are listed, the password is not shown.
  for (const char* url : {"oracle://scott:tiger@h/db", "postgres-ql://u:tiger@h/db", "SQLITE3:///a.db"}) {
    try {
      cdc::ConnectorRegistry::instance().open_source(url);
      FAIL("accepted " << url);
    } catch (const cdc::Error& e) {
      std::string m = e.what();
      INFO(m);
      CHECK(m.find("known:") != std::string::npos);
      CHECK(m.find("tiger") == std::string::npos);
    }
  }
}

// Depth and size bounds (written with the fuzz targets, tests/fuzz/): refused as config errors
// naming the line, never a stack overflow or an exhausted memory.
TEST_CASE("YAML flow collections nested deeper than 64 levels are refused before parsing", "[unit][config]") {
  CHECK(message_of("source: x\ndestination: y\ninclude: " + repeat("[", 100000) + "\n", false) == "config:3: " + kDeep + " (maps and lists inside each other)");
  CHECK(message_of("a:\n  b: " + repeat("{c: ", 70) + "d" + repeat("}", 70) + "\n", false).rfind("config:2: " + kDeep, 0) == 0);
  // 60 levels are not refused for their depth (the keys are unknown).
  const std::string ok = message_of("tables: " + repeat("[", 60) + repeat("]", 60) + "\n", false);
  CHECK(ok.find(kDeep) == std::string::npos);
}

TEST_CASE("YAML block nesting by indentation and compact entries is measured", "[unit][config]") {
  std::string doc;
  for (int i = 0; i < 100; ++i) doc += std::string(2 * i, ' ') + "k:\n";
  CHECK(message_of(doc, false).rfind("config:65: " + kDeep, 0) == 0);
  CHECK(message_of("a:\n" + repeat("- ", 80) + "x\n", false).rfind("config:2: " + kDeep, 0) == 0);
  // A sequence written at its key's column is one level more than the key's map.
  std::string seqs;
  for (int i = 0; i < 40; ++i) seqs += std::string(2 * i, ' ') + "k:\n" + std::string(2 * i, ' ') + "- \n";
  CHECK(message_of(seqs, false).find(kDeep) != std::string::npos);
}

TEST_CASE("brackets in quoted scalars, comments and block scalars are not nesting", "[unit][config]") {
  const std::string base = "source: sqlite:///a.db\ndestination: sqlite:///b.db\n";
  std::string q = base + "include: [\"" + repeat("[", 200) + "\", '" + repeat("{", 200) + "']  # " + repeat("[", 200) + "\n";
  CHECK(message_of(q, false).find(kDeep) == std::string::npos);
  std::string block = base + "include: ['*']\ntables:\n  t:\n    where: |\n      " + repeat("[", 200) + "\n      " + repeat("{", 100) + "\n";
  CHECK(message_of(block, false).find(kDeep) == std::string::npos);
}

TEST_CASE("a YAML alias inside its own anchor and an alias bomb are config errors", "[unit][config]") {
  const std::string cycle = message_of("source: &a [*a]\n", false);
  CHECK(cycle.find("config:1") == 0);
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", *a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  CHECK(message_of(bomb, false).find("too many values") != std::string::npos);
}

TEST_CASE("JSON nested deeper than 64 levels is refused, and JSON errors name their line", "[unit][config]") {
  CHECK(message_of("{\"source\":\n" + repeat("[", 65) + repeat("]", 65) + "}", true).rfind("config:2: " + kDeep, 0) == 0);
  CHECK(message_of(repeat("[", 100000), true).rfind("config:1: " + kDeep, 0) == 0);
  CHECK(message_of("{\n\"source\": \"x\",\n\"destination\": }\n", true).rfind("config:3: invalid JSON", 0) == 0);
  CHECK(message_of("{\"source\": \"x\"", true).rfind("config:1: invalid JSON", 0) == 0);
}
