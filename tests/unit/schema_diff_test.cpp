// The schema comparison behind schema evolution from the stream, and the `ddl` config key.
#include <cdc/config.h>
#include <cdc/error.h>
#include <cdc/schema_change.h>

#include <catch2/catch.hpp>

#include <string>

namespace {

using cdc::Column;
using cdc::ColumnChangeKind;
using cdc::LogicalType;
using cdc::TypeId;

LogicalType type(TypeId id, int length = -1, int precision = -1, int scale = -1) {
  LogicalType t;
  t.id = id;
  t.length = length;
  t.precision = precision;
  t.scale = scale;
  return t;
}

Column col(std::string name, LogicalType t) {
  Column c;
  c.name = std::move(name);
  c.type = std::move(t);
  return c;
}

cdc::TableSchema table(std::vector<Column> cols) {
  cdc::TableSchema s;
  s.id = cdc::TableId("items");
  s.columns = std::move(cols);
  s.primary_key = {"id"};
  return s;
}

// "kind column [old_name] [reason]" per change, in the order reported.
std::vector<std::string> summary(const std::vector<cdc::ColumnChange>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) {
    std::string s = std::string(to_string(c.kind)) + " " + c.column;
    if (!c.old_name.empty()) s += " from " + c.old_name;
    if (!c.reason.empty()) s += ": " + c.reason;
    out.push_back(s);
  }
  return out;
}

std::string why(const LogicalType& from, const LogicalType& to) {
  std::string reason;
  if (cdc::type_widens(from, to, &reason)) return "widens";
  return reason;
}

}  // namespace

TEST_CASE("type_widens tells widening from narrowing and type changes", "[unit][schema]") {
  CHECK(why(type(TypeId::Int32), type(TypeId::Int64)) == "widens");
  CHECK(why(type(TypeId::Int64), type(TypeId::Int32)) == "narrowing (int64 to int32)");
  LogicalType u32 = type(TypeId::Int32);
  u32.is_unsigned = true;
  CHECK(why(u32, type(TypeId::Int64)) == "widens");
  CHECK(why(u32, type(TypeId::Int32)) == "narrowing (uint32 to int32)");
  CHECK(why(type(TypeId::Int32), u32) == "type change (int32 to uint32)");
  CHECK(why(type(TypeId::String, 10), type(TypeId::String, 100)) == "widens");
  CHECK(why(type(TypeId::String, 10), type(TypeId::String)) == "widens");
  CHECK(why(type(TypeId::String, 100), type(TypeId::String, 10)) == "narrowing (string(100) to string(10))");
  CHECK(why(type(TypeId::Decimal, -1, 5, 2), type(TypeId::Decimal, -1, 10, 2)) == "widens");
  CHECK(why(type(TypeId::Decimal, -1, 5, 2), type(TypeId::Decimal, -1, 6, 3)) == "widens");
  CHECK(why(type(TypeId::Decimal, -1, 5, 2), type(TypeId::Decimal, -1, 5, 3)) == "narrowing (decimal(5,2) to decimal(5,3))");
  CHECK(why(type(TypeId::Decimal, -1, 10, 2), type(TypeId::Decimal)) == "widens");
  CHECK(why(type(TypeId::Float32), type(TypeId::Float64)) == "widens");
  CHECK(why(type(TypeId::Float64), type(TypeId::Float32)) == "narrowing (float64 to float32)");
  CHECK(why(type(TypeId::Int32), type(TypeId::String, 20)) == "type change (int32 to string(20))");
  LogicalType e1 = type(TypeId::Enum), e2 = type(TypeId::Enum);
  e1.members = {"a", "b"};
  e2.members = {"a", "b", "c"};
  CHECK(why(e1, e2) == "widens");
  CHECK(why(e2, e1).rfind("narrowing", 0) == 0);
}

TEST_CASE("diff_schemas reports renames, type changes, drops and adds in that order", "[unit][schema]") {
  auto before = table({col("id", type(TypeId::Int32)), col("qty", type(TypeId::Int32)), col("name", type(TypeId::String, 10)),
                       col("price", type(TypeId::Decimal, -1, 5, 2)), col("old_note", type(TypeId::String, 20)),
                       col("gone", type(TypeId::Int32)), col("small", type(TypeId::Int64))});
  auto after = table({col("id", type(TypeId::Int32)), col("qty", type(TypeId::Int64)), col("name", type(TypeId::String, 100)),
                      col("price", type(TypeId::Decimal, -1, 10, 2)), col("note", type(TypeId::String, 40)),
                      col("small", type(TypeId::Int16)), col("extra", type(TypeId::String, 30))});
  CHECK(summary(cdc::diff_schemas(before, after, {{"old_note", "note"}})) ==
        std::vector<std::string>{"renamed note from old_note", "widened note", "widened qty", "widened name", "widened price",
                                 "incompatible small: narrowing (int64 to int16)", "dropped gone", "added extra"});
  // Without the log's word a rename is a drop and an add.
  CHECK(summary(cdc::diff_schemas(before, after)) ==
        std::vector<std::string>{"widened qty", "widened name", "widened price", "incompatible small: narrowing (int64 to int16)",
                                 "dropped old_note", "dropped gone", "added note", "added extra"});
  // Same table: nothing; nullability and defaults are not changes.
  auto relaxed = before;
  relaxed.columns[1].nullable = false;
  relaxed.columns[1].default_expr = "0";
  CHECK(cdc::diff_schemas(before, relaxed).empty());
  // A rename the tables do not show (stale statement) is ignored.
  CHECK(cdc::diff_schemas(before, before, {{"nope", "other"}}).empty());
  // Same logical type, other native spelling: the native type follows.
  auto text = before;
  text.columns[2].source_type = "varchar(10)";
  auto longer = text;
  longer.columns[2].source_type = "VARCHAR(10)";
  CHECK(cdc::diff_schemas(text, longer).empty());
  longer.columns[2].source_type = "char varying(10)";
  CHECK(summary(cdc::diff_schemas(text, longer)) == std::vector<std::string>{"widened name"});
}

TEST_CASE("the ddl policy is read per table and in defaults", "[unit][config][schema]") {
  const std::string base = "source: sqlite:///a.db\ndestination: sqlite:///b.db\n";
  auto c = cdc::parse_config_yaml(base + "defaults: {ddl: pause}\ntables:\n  a: {ddl: fail}\n  b: {ddl: ignore}\n  c:\n");
  CHECK(c.defaults.ddl == cdc::DdlPolicy::Pause);
  CHECK(*c.settings_for("a").ddl == cdc::DdlPolicy::Fail);
  CHECK(*c.settings_for("b").ddl == cdc::DdlPolicy::Ignore);
  CHECK(*c.settings_for("c").ddl == cdc::DdlPolicy::Pause);
  CHECK(*cdc::parse_config_yaml(base).settings_for("x").ddl == cdc::DdlPolicy::Apply);
  CHECK(to_string(cdc::DdlPolicy::Ignore) == "ignore");
  auto error_of = [&](const std::string& yaml) -> std::string {
    try {
      cdc::parse_config_yaml(base + yaml);
    } catch (const cdc::Error& e) {
      CHECK(e.kind() == cdc::ErrorKind::Config);
      return e.what();
    }
    return "no error";
  };
  CHECK(error_of("tables:\n  orders:\n    ddl: drop\n") == "tables.orders.ddl: expected apply | ignore | pause | fail, got \"drop\"");
  CHECK(error_of("defaults: {ddl: 1}\n") == "defaults.ddl: expected apply | ignore | pause | fail, got \"1\"");
  CHECK(error_of("defaults: {dll: fail}\n") == "defaults.dll: unknown key (did you mean ddl?)");
}
