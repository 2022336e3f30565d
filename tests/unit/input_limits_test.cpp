// Bounds on what parsers of outside input take in (written with the fuzz targets, tests/fuzz/):
// array literals stop at PostgreSQL's 6 dimensions; a secret file is read up to 64 KiB. (Config
// nesting bounds: config_errors_test.cpp.)
#include "core/array_literal.h"

#include <cdc/error.h>
#include <cdc/registry.h>

#include <catch2/catch.hpp>

#include <string>

namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

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
