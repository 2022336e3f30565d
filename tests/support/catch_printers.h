// Catch2 printers for cdc's value types, so that failed checks on rows, values and positions show
// them ("int64 1, 'a', NULL") instead of {?}.
#pragma once

#include <cdc/position.h>
#include <cdc/value.h>

#include <catch2/catch.hpp>

#include <string>

namespace Catch {

template <>
struct StringMaker<cdc::Value> {
  static std::string convert(const cdc::Value& v) { return std::string(cdc::to_string(v.kind())) + " " + v.to_display(200); }
};

template <>
struct StringMaker<cdc::Position> {
  static std::string convert(const cdc::Position& p) { return "position \"" + p.str() + "\""; }
};

}  // namespace Catch
