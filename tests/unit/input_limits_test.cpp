// Bounds on what parsers of outside input take in (written with the fuzz targets, tests/fuzz/):
// config nesting is refused as a config error naming the line before yaml-cpp parses the text,
// alias cycles and alias bombs while the tree is read; array literals stop at PostgreSQL's 6
// dimensions; a secret file is read up to 64 KiB. None of them a crash, a stack overflow or an
// exhausted memory.
#include "core/array_literal.h"

#include <cdc/config.h>
#include <cdc/error.h>
#include <cdc/registry.h>

#include <catch2/catch.hpp>

#include <string>

namespace {

std::string message_of(const std::string& text, bool json = false) {
  try {
    if (json) cdc::parse_config_json(text);
    else cdc::parse_config_yaml(text);
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Config);
    return e.what();
  }
  return "accepted";
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

const std::string kDeep = "nesting deeper than 64 levels";

}  // namespace

TEST_CASE("YAML flow collections nested deeper than 64 levels are refused before parsing", "[unit][config]") {
  CHECK(message_of("source: x\ndestination: y\ninclude: " + repeat("[", 100000) + "\n") == "config:3: " + kDeep + " (maps and lists inside each other)");
  CHECK(message_of("a:\n  b: " + repeat("{c: ", 70) + "d" + repeat("}", 70) + "\n").rfind("config:2: " + kDeep, 0) == 0);
  // 60 levels are not refused for their depth (the keys are unknown).
  const std::string ok = message_of("tables: " + repeat("[", 60) + repeat("]", 60) + "\n");
  CHECK(ok.find(kDeep) == std::string::npos);
}

TEST_CASE("YAML block nesting by indentation and compact entries is measured", "[unit][config]") {
  std::string doc;
  for (int i = 0; i < 100; ++i) doc += std::string(2 * i, ' ') + "k:\n";
  CHECK(message_of(doc).rfind("config:65: " + kDeep, 0) == 0);
  CHECK(message_of("a:\n" + repeat("- ", 80) + "x\n").rfind("config:2: " + kDeep, 0) == 0);
  // A sequence written at its key's column is one level more than the key's map.
  std::string seqs;
  for (int i = 0; i < 40; ++i) seqs += std::string(2 * i, ' ') + "k:\n" + std::string(2 * i, ' ') + "- \n";
  CHECK(message_of(seqs).find(kDeep) != std::string::npos);
}

TEST_CASE("brackets in quoted scalars, comments and block scalars are not nesting", "[unit][config]") {
  const std::string base = "source: sqlite:///a.db\ndestination: sqlite:///b.db\n";
  std::string q = base + "include: [\"" + repeat("[", 200) + "\", '" + repeat("{", 200) + "']  # " + repeat("[", 200) + "\n";
  CHECK(message_of(q).find(kDeep) == std::string::npos);
  std::string block = base + "include: ['*']\ntables:\n  t:\n    where: |\n      " + repeat("[", 200) + "\n      " + repeat("{", 100) + "\n";
  CHECK(message_of(block).find(kDeep) == std::string::npos);
}

TEST_CASE("a YAML alias inside its own anchor and an alias bomb are config errors", "[unit][config]") {
  const std::string cycle = message_of("source: &a [*a]\n");
  CHECK(cycle.find("config:1") == 0);
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", *a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  CHECK(message_of(bomb).find("too many values") != std::string::npos);
}

TEST_CASE("JSON nested deeper than 64 levels is refused, and JSON errors name their line", "[unit][config]") {
  CHECK(message_of("{\"source\":\n" + repeat("[", 65) + repeat("]", 65) + "}", true).rfind("config:2: " + kDeep, 0) == 0);
  CHECK(message_of(repeat("[", 100000), true).rfind("config:1: " + kDeep, 0) == 0);
  CHECK(message_of("{\n\"source\": \"x\",\n\"destination\": }\n", true).rfind("config:3: invalid JSON", 0) == 0);
  CHECK(message_of("{\"source\": \"x\"", true).rfind("config:1: invalid JSON", 0) == 0);
}

TEST_CASE("array literals deeper than PostgreSQL's 6 dimensions are refused", "[unit][array]") {
  CHECK(cdc::detail::parse_array_literal(repeat("{", 6) + "1" + repeat("}", 6)).items.size() == 1);
  try {
    cdc::detail::parse_array_literal(repeat("{", 100000));
    FAIL("accepted");
  } catch (const cdc::Error& e) {
    CHECK(std::string(e.what()).find("more than 6 dimensions") != std::string::npos);
  }
}

TEST_CASE("a secret file larger than 64 KiB is refused without reading it all", "[unit][config]") {
  try {
    cdc::ConnectorUrl::parse("postgresql://u@h/db?password_file=/dev/zero");
    FAIL("accepted");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Config);
    CHECK(std::string(e.what()).find("/dev/zero is larger than 64 KiB") != std::string::npos);
  }
}
