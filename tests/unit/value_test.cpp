#include <cdc/error.h>
#include <cdc/value.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using cdc::Value;
using cdc::ValueKind;

TEST_CASE("values keep kind and payload exactly", "[unit]") {
  CHECK(Value().is_null());
  CHECK(Value::int64(std::numeric_limits<std::int64_t>::min()).as_int() == std::numeric_limits<std::int64_t>::min());
  CHECK(Value::uint64(std::numeric_limits<std::uint64_t>::max()).as_uint() == std::numeric_limits<std::uint64_t>::max());
  CHECK(Value::bytes(std::string("a\0b", 3)).text().size() == 3);
  CHECK(Value::string("") != Value::null());
  CHECK(Value::string("1") != Value::int64(1));
  CHECK(Value::float64(std::nan("")) == Value::float64(std::nan("")));
  CHECK(Value::decimal("-12.500").text() == "-12.500");
  CHECK_THROWS_AS(Value::int64(1).text(), cdc::Error);
  CHECK_THROWS_AS(Value::string("x").as_int(), cdc::Error);
}

TEST_CASE("values display safely", "[unit]") {
  CHECK(Value::null().to_display() == "NULL");
  CHECK(Value::bytes(std::string("\x00\xff", 2)).to_display() == "\\x00ff");
  CHECK(Value::string(std::string(100, 'x')).to_display(10).size() < 20);
}

TEST_CASE("assign_text replaces a value in place", "[unit]") {
  Value v = Value::int64(5);
  v.assign_text(ValueKind::Decimal, "1.50");
  CHECK(v == Value::decimal("1.50"));
  v.assign_text(ValueKind::String, std::string_view("a\0b", 3));
  CHECK(v == Value::string(std::string("a\0b", 3)));
  CHECK_THROWS_AS(v.assign_text(ValueKind::Int, "1"), cdc::Error);
  CHECK(v == Value::string(std::string("a\0b", 3)));  // unchanged by the refused kind
  v = Value::int64(7);
  CHECK(v.as_int() == 7);
}
