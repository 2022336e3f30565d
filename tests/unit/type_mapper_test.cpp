// The built-in type rules and overrides, on columns as the connectors describe them; and the
// documented table in docs/type-mapping.md, which must list exactly what type_rules() returns.
#include <cdc/config.h>
#include <cdc/error.h>
#include <cdc/plan.h>
#include <cdc/type_mapper.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

using cdc::Column;
using cdc::LogicalType;
using cdc::TypeId;
using cdc::Value;

namespace {

Column col(const std::string& name, TypeId id, const std::string& source_type, bool is_unsigned = false) {
  Column c;
  c.name = name;
  c.type.id = id;
  c.type.is_unsigned = is_unsigned;
  c.source_type = source_type;
  return c;
}

cdc::ColumnMapping map(const Column& c, const char* from, const char* to,
                       std::shared_ptr<const cdc::TypeMapper> mapper = cdc::default_type_mapper()) {
  return mapper->map_column(cdc::TableId("shop", "t"), c, from, to);
}

// The message of the config error a YAML snippet (after source and destination) raises.
std::string err(const std::string& yaml) {
  try {
    cdc::parse_config_yaml("source: sqlite:///a.db\ndestination: sqlite:///b.db\n" + yaml);
  } catch (const cdc::Error& e) {
    return std::string(e.what());
  }
  return std::string("no error");
}

Value conv(const cdc::ColumnMapping& m, const Value& v) { return m.converter ? m.converter->convert(v) : v; }

std::string conversion_error(const cdc::ColumnMapping& m, const Value& v) {
  try {
    conv(m, v);
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Conversion);
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("same dialect keeps native types and values", "[unit][types]") {
  auto m = map(col("b", TypeId::Int8, "tinyint(1)"), "mysql", "mysql");
  CHECK(m.target.source_type == "tinyint(1)");
  CHECK(m.converter == nullptr);
}

TEST_CASE("MariaDB to PostgreSQL rules", "[unit][types]") {
  SECTION("tinyint(1) is a small integer: 2 and -1, stored in such 'boolean' columns, are kept") {
    for (const char* to : {"postgresql", "sqlite"}) {
      auto m = map(col("flag", TypeId::Int8, "tinyint(1)"), "mysql", to);
      CHECK(m.target.type.id == TypeId::Int8);  // PostgreSQL: smallint
      CHECK(m.target.source_type.empty());
      for (std::int64_t v : {-128, -1, 0, 1, 2, 127}) CHECK(conv(m, Value::int64(v)) == Value::int64(v));
      CHECK(conv(m, Value()) == Value());
    }
  }
  SECTION("unsigned integers widen; BIGINT UNSIGNED becomes numeric(20,0)") {
    auto m8 = map(col("a", TypeId::Int8, "tinyint(3) unsigned", true), "mysql", "postgresql");
    CHECK(m8.target.type.id == TypeId::Int16);
    CHECK_FALSE(m8.target.type.is_unsigned);
    CHECK(conv(m8, Value::uint64(255)) == Value::int64(255));
    auto m32 = map(col("b", TypeId::Int32, "int(10) unsigned", true), "mysql", "postgresql");
    CHECK(m32.target.type.id == TypeId::Int64);
    CHECK(conv(m32, Value::uint64(4294967295u)) == Value::int64(4294967295));
    auto m64 = map(col("c", TypeId::Int64, "bigint(20) unsigned", true), "mysql", "postgresql");
    CHECK(m64.target.type.id == TypeId::Decimal);
    CHECK(m64.target.type.precision == 20);
    CHECK(m64.target.type.scale == 0);
    CHECK(conv(m64, Value::uint64(std::numeric_limits<std::uint64_t>::max())) == Value::decimal("18446744073709551615"));
    auto to_sqlite = map(col("c", TypeId::Int64, "bigint(20) unsigned", true), "mysql", "sqlite");
    CHECK(to_sqlite.target.type.id == TypeId::String);
    CHECK(conv(to_sqlite, Value::uint64(18446744073709551615u)) == Value::string("18446744073709551615"));
  }
  SECTION("zero dates become NULL, dates with zero parts are errors") {
    Column d = col("d", TypeId::Date, "date");
    auto m = map(d, "mysql", "postgresql");
    CHECK(conv(m, Value::date("0000-00-00")).is_null());
    CHECK(conv(m, Value::date("2024-02-29")) == Value::date("2024-02-29"));
    CHECK(conversion_error(m, Value::date("2024-00-10")) == "'2024-00-10' is not a valid date");
    Column dt = col("dt", TypeId::Timestamp, "datetime(6)");
    dt.type.fsp = 6;
    auto mdt = map(dt, "mysql", "postgresql");
    CHECK(mdt.target.type.id == TypeId::Timestamp);
    CHECK(mdt.target.type.fsp == 6);
    CHECK(conv(mdt, Value::timestamp("0000-00-00 00:00:00.000000")).is_null());
  }
  SECTION("TIMESTAMP is read in UTC and becomes timestamptz") {
    Column ts = col("ts", TypeId::Timestamp, "timestamp(3)");
    ts.type.fsp = 3;
    auto m = map(ts, "mysql", "postgresql");
    CHECK(m.target.type.id == TypeId::TimestampTz);
    CHECK(m.target.type.fsp == 3);
    CHECK(conv(m, Value::timestamp("2024-01-02 03:04:05.678")) == Value::timestamp_tz("2024-01-02 03:04:05.678+00:00"));
  }
  SECTION("TIME becomes interval (range beyond a day, negative)") {
    auto m = map(col("t", TypeId::Time, "time(6)"), "mysql", "postgresql");
    CHECK(m.target.type.id == TypeId::Interval);
    CHECK(conv(m, Value::time("-838:59:59.000000")) == Value::time("-838:59:59.000000"));
  }
  SECTION("BIT(1) is boolean, BIT(n) is a bit string") {
    Column b1 = col("b1", TypeId::Bit, "bit(1)");
    b1.type.length = 1;
    CHECK(map(b1, "mysql", "postgresql").target.type.id == TypeId::Bool);
    CHECK(conv(map(b1, "mysql", "postgresql"), Value::uint64(1)) == Value::boolean(true));
    Column b5 = col("b5", TypeId::Bit, "bit(5)");
    b5.type.length = 5;
    auto m5 = map(b5, "mysql", "postgresql");
    CHECK(m5.target.source_type == "bit(5)");  // bit(n), which maps back to BIT(n)
    CHECK(m5.target.type.fixed_length);
    CHECK(conv(m5, Value::uint64(5)) == Value::string("00101"));
  }
  SECTION("ENUM becomes an enum type of '' (MariaDB's invalid-input value, index 0) and the same labels") {
    Column e = col("e", TypeId::Enum, "enum('a','b')");
    e.type.members = {"a", "b", "it's, \"quoted\" \\ ünï"};
    auto me = map(e, "mysql", "postgresql");
    CHECK(me.target.type.id == TypeId::Enum);
    CHECK(me.target.type.members == std::vector<std::string>{"", "a", "b", "it's, \"quoted\" \\ ünï"});
    CHECK(conv(me, Value::string("b")) == Value::string("b"));
    CHECK(conv(me, Value::string("it's, \"quoted\" \\ ünï")) == Value::string("it's, \"quoted\" \\ ünï"));
    CHECK(conv(me, Value::string("")) == Value::string(""));
    CHECK(conversion_error(me, Value::string("c")) == "'c' is not one of the column's ENUM labels");
    CHECK(conversion_error(me, Value::string(std::string("a\0b", 3))).find("not one of the column's ENUM labels") != std::string::npos);
    // A declared '' label is a label like any other (and not added twice).
    e.type.members = {"x", ""};
    CHECK(map(e, "mysql", "postgresql").target.type.members == e.type.members);
    CHECK(conv(map(e, "mysql", "postgresql"), Value::string("")) == Value::string(""));
    // Other destinations: text, labels kept in the schema.
    auto sq = map(e, "mysql", "sqlite");
    CHECK(sq.target.type.id == TypeId::String);
    CHECK(sq.target.type.members == e.type.members);
  }
  SECTION("SET becomes text[]: 'red,green' -> {red,green}, the empty set -> {}") {
    Column s = col("s", TypeId::Set, "set('red','green')");
    s.type.members = {"red", "green", "with space", "q\"b\\s", "null"};
    auto m = map(s, "mysql", "postgresql");
    CHECK(m.target.type.id == TypeId::Array);
    CHECK(m.target.type.element == TypeId::String);
    CHECK(m.target.type.members == s.type.members);
    CHECK(conv(m, Value::string("red,green")) == Value::string("{red,green}"));
    CHECK(conv(m, Value::string("")) == Value::string("{}"));
    CHECK(conv(m, Value::string("with space,q\"b\\s,null")) == Value::string("{\"with space\",\"q\\\"b\\\\s\",\"null\"}"));
    CHECK(conv(m, Value::null()).is_null());
    // Elsewhere: the text MariaDB prints.
    CHECK(map(s, "mysql", "sqlite").target.type.id == TypeId::String);
    CHECK(conv(map(s, "mysql", "sqlite"), Value::string("red,green")) == Value::string("red,green"));
  }
  SECTION("JSON becomes json, the document as it is; text with NUL is refused") {
    auto mj = map(col("j", TypeId::Json, "json"), "mysql", "postgresql");
    CHECK(mj.target.source_type == "json");
    CHECK(conv(mj, Value::json("{\"b\":1, \"a\":1, \"a\":2}")) == Value::json("{\"b\":1, \"a\":1, \"a\":2}"));
    CHECK(conv(mj, Value::json("{\"a\":\"x\\u0000y\"}")) == Value::json("{\"a\":\"x\\u0000y\"}"));
    // Cast to jsonb: its choice, and \u0000 is then a conversion error.
    cdc::Config c = cdc::parse_config_yaml("source: sqlite:///a.db\ndestination: sqlite:///b.db\ncast: [{type: json, to: jsonb}]\n");
    auto jb = map(col("j", TypeId::Json, "json"), "mysql", "postgresql", cdc::make_type_mapper(c));
    CHECK(jb.target.source_type.empty());
    CHECK(conversion_error(jb, Value::json("{\"a\":\"x\\u0000y\"}")) == "JSON with \\u0000, which jsonb cannot hold");
    auto ms = map(col("s", TypeId::String, "varchar(10)"), "mysql", "postgresql");
    CHECK(conversion_error(ms, Value::string(std::string("a\0b", 3))).find("NUL byte") != std::string::npos);
  }
}

TEST_CASE("enum_as chooses how ENUM columns are created in PostgreSQL, by default and per table", "[unit][types][config]") {
  Column e = col("e", TypeId::Enum, "enum('a','b')");
  e.type.members = {"a", "b"};
  cdc::Config c = cdc::parse_config_yaml(R"Y(source: sqlite:///a.db
destination: sqlite:///b.db
defaults: {enum_as: check}
tables:
  t: {enum_as: text}
  other: {}
)Y");
  CHECK(c.defaults.enum_as == cdc::EnumAs::Check);
  CHECK(*c.settings_for("t").enum_as == cdc::EnumAs::Text);
  CHECK(*c.settings_for("other").enum_as == cdc::EnumAs::Check);
  auto mapper = cdc::make_type_mapper(c);
  // Table t (as "shop.t" or "t"): plain text, '' kept, NUL refused as for any text.
  auto text = map(e, "mysql", "postgresql", mapper);
  CHECK(text.target.type.id == TypeId::String);
  CHECK(text.target.type.members.empty());
  CHECK(conv(text, Value::string("")) == Value::string(""));
  CHECK(conversion_error(text, Value::string(std::string("a\0b", 3))).find("NUL byte") != std::string::npos);
  // Other tables: text with the labels (rendered as a CHECK constraint), values checked.
  auto check = mapper->map_column(cdc::TableId("shop", "other"), e, "mysql", "postgresql");
  CHECK(check.target.type.id == TypeId::String);
  CHECK(check.target.type.members == std::vector<std::string>{"", "a", "b"});
  CHECK(conv(check, Value::string("")) == Value::string(""));
  CHECK(conversion_error(check, Value::string("c")) == "'c' is not one of the column's ENUM labels");

  CHECK(err("defaults: {enum_as: enum}") == "defaults.enum_as: expected type | check | text, got \"enum\"");
  CHECK(err("tables: {t: {enum_as: [type]}}") == "tables.t.enum_as: expected a string, got a list");
  CHECK(err("tables: {t: {enum_az: type}}") == "tables.t.enum_az: unknown key (did you mean enum_as?)");
}

TEST_CASE("PostgreSQL arrays become JSON for MariaDB and SQLite, elements by their own type's rule", "[unit][types]") {
  auto array = [](TypeId element, const std::string& source_type) {
    Column c = col("a", TypeId::Array, source_type);
    c.type.element = element;
    return c;
  };
  auto ints = map(array(TypeId::Int32, "integer[]"), "postgresql", "mysql");
  CHECK(ints.target.type.id == TypeId::Json);
  CHECK(conv(ints, Value::string("{1,2,NULL}")) == Value::json("[1,2,null]"));
  CHECK(conv(ints, Value::string("{}")) == Value::json("[]"));
  CHECK(conv(ints, Value::string("{{1,2},{3,NULL}}")) == Value::json("[[1,2],[3,null]]"));
  CHECK(ints.converter->values_changed() == 0);
  CHECK(conv(ints, Value::string("[0:1]={7,8}")) == Value::json("[7,8]"));
  CHECK(ints.converter->values_changed() == 1);  // the bounds are gone: counted
  CHECK(conv(ints, Value::string("{{}}")) == Value::json("[[]]"));
  CHECK(conversion_error(ints, Value::string("{1,2")).rfind("malformed array literal \"{1,2\"", 0) == 0);

  auto texts = map(array(TypeId::String, "text[]"), "postgresql", "mysql");
  CHECK(conv(texts, Value::string(R"({plain,"with \"quotes\"","back\\slash","NULL",NULL,"",", {}"})")) ==
        Value::json(R"(["plain","with \"quotes\"","back\\slash","NULL",null,"",", {}"])"));
  CHECK(conv(texts, Value::string("{\"tab\there\",ünï😀}")) == Value::json("[\"tab\\there\",\"ünï😀\"]"));
  CHECK(conv(texts, Value::string("{  spaced out  }")) == Value::json("[\"spaced out\"]"));

  auto tz = map(array(TypeId::TimestampTz, "timestamp with time zone[]"), "postgresql", "mysql");
  CHECK(conv(tz, Value::string("{\"2024-03-01 01:30:00.5+05:30\",NULL}")) == Value::json("[\"2024-02-29 20:00:00.5\",null]"));
  CHECK(conversion_error(tz, Value::string("{infinity}")) == "infinity has no DATETIME equivalent");

  auto floats = map(array(TypeId::Float64, "double precision[]"), "postgresql", "mysql");
  CHECK(conv(floats, Value::string("{1.5,-0.25,1e+300}")) == Value::json("[1.5,-0.25,1e+300]"));
  CHECK(conversion_error(floats, Value::string("{NaN}")) == "array element nan has no JSON number form");
  CHECK(conversion_error(floats, Value::string("{-Infinity}")) == "array element -inf has no JSON number form");
  CHECK(conversion_error(ints, Value::string("{99999999999}")) == "99999999999 is out of range for int32");
  auto nums = map(array(TypeId::Decimal, "numeric[]"), "postgresql", "mysql");
  CHECK(conv(nums, Value::string("{1.50,-2}")) == Value::json("[1.50,-2]"));
  auto bools = map(array(TypeId::Bool, "boolean[]"), "postgresql", "mysql");
  CHECK(conv(bools, Value::string("{t,f,NULL}")) == Value::json("[true,false,null]"));
  auto docs = map(array(TypeId::Json, "jsonb[]"), "postgresql", "mysql");
  CHECK(conv(docs, Value::string(R"({"{\"a\": 1}",NULL})")) == Value::json(R"([{"a": 1},null])"));
  auto bytea = map(array(TypeId::Bytes, "bytea[]"), "postgresql", "mysql");
  CHECK(conv(bytea, Value::string(R"({"\\x00ff"})")) == Value::json(R"(["\\x00ff"])"));
  auto boxes = map(array(TypeId::String, "box[]"), "postgresql", "mysql");
  CHECK(conv(boxes, Value::string("{(1,1),(0,0);(2,2),(1,1)}")) == Value::json(R"J(["(1,1),(0,0)","(2,2),(1,1)"])J"));

  // SQLite: JSON text as well (numeric elements follow SQLite's rule: exact digits as text).
  auto sq = map(array(TypeId::Int64, "bigint[]"), "postgresql", "sqlite");
  CHECK(sq.target.type.id == TypeId::Json);
  CHECK(conv(sq, Value::string("{1,NULL}")) == Value::json("[1,null]"));
  CHECK(conv(map(array(TypeId::Decimal, "numeric[]"), "postgresql", "sqlite"), Value::string("{1.5}")) == Value::json("[\"1.5\"]"));
}

TEST_CASE("a text[] made from a MariaDB SET maps back to SET", "[unit][types]") {
  Column s = col("s", TypeId::Set, "text[]");
  s.type.members = {"red", "green", "a b"};
  auto m = map(s, "postgresql", "mysql");
  CHECK(m.target.type.id == TypeId::Set);
  CHECK(m.target.type.members == s.type.members);
  CHECK(conv(m, Value::string("{red,\"a b\"}")) == Value::string("red,a b"));
  CHECK(conv(m, Value::string("{}")) == Value::string(""));
  CHECK(conversion_error(m, Value::string("{red,NULL}")) == "'{red,NULL}' is not a list of SET labels");
  auto t = map(s, "postgresql", "sqlite");
  CHECK(t.target.type.id == TypeId::String);
  CHECK(conv(t, Value::string("{red,green}")) == Value::string("red,green"));
}

TEST_CASE("PostgreSQL to MariaDB rules", "[unit][types]") {
  SECTION("timestamptz becomes DATETIME(6) in UTC") {
    auto m = map(col("ts", TypeId::TimestampTz, "timestamp with time zone"), "postgresql", "mysql");
    CHECK(m.target.type.id == TypeId::Timestamp);
    CHECK(m.target.type.fsp == 6);
    CHECK(conv(m, Value::timestamp_tz("2024-03-01 01:30:00.5+05:30")) == Value::timestamp("2024-02-29 20:00:00.5"));
    CHECK(conv(m, Value::timestamp_tz("2023-12-31 23:00:00-02:00")) == Value::timestamp("2024-01-01 01:00:00"));
    CHECK(conversion_error(m, Value::timestamp_tz("infinity")) == "infinity has no DATETIME equivalent");
  }
  SECTION("numeric without typmod is DECIMAL(65,30), range-checked") {
    auto m = map(col("n", TypeId::Decimal, "numeric"), "postgresql", "mysql");
    CHECK(m.target.type.precision == 65);
    CHECK(m.target.type.scale == 30);
    CHECK(conv(m, Value::decimal("-12345.678")) == Value::decimal("-12345.678"));
    CHECK(conversion_error(m, Value::decimal("1." + std::string(31, '1'))).find("fractional digits") != std::string::npos);
    CHECK(conversion_error(m, Value::decimal(std::string(36, '9'))).find("does not fit numeric(65,30)") != std::string::npos);
    CHECK(conversion_error(m, Value::decimal("NaN")) == "\"NaN\" is not a decimal number");
  }
  SECTION("interval becomes text; bit(n) becomes the integer, bit varying its digits") {
    auto m = map(col("i", TypeId::Interval, "interval"), "postgresql", "mysql");
    CHECK(m.target.type.id == TypeId::String);
    Column b = col("b", TypeId::Bit, "bit(8)");
    b.type.length = 8;
    b.type.fixed_length = true;
    CHECK(map(b, "postgresql", "mysql").target.type.id == TypeId::Bit);
    CHECK(conv(map(b, "postgresql", "mysql"), Value::string("00000101")) == Value::uint64(5));
    // '0101' and '101' are two values of a bit varying: the integer would make them one.
    Column vb = col("vb", TypeId::Bit, "bit varying(8)");
    vb.type.length = 8;
    auto mv = map(vb, "postgresql", "mysql");
    CHECK(mv.target.type.id == TypeId::String);
    CHECK(mv.target.type.length == 8);
    CHECK(conv(mv, Value::string("0101")) == Value::string("0101"));
    CHECK(conv(mv, Value::string("101")) == Value::string("101"));
  }
}

TEST_CASE("values are checked against the target type across dialects", "[unit][types]") {
  // SQLite stores any value in any column: what does not fit is refused, never rounded.
  auto mi = map(col("n", TypeId::Int32, "INTEGER"), "sqlite", "postgresql");
  CHECK(conversion_error(mi, Value::string("abc")) == "string value 'abc' is not an integer");
  CHECK(conversion_error(map(col("n", TypeId::Int32, "int(11)"), "mysql", "postgresql"), Value::int64(1LL << 40)) ==
        "1099511627776 is out of range for int32");
  Column d = col("p", TypeId::Decimal, "decimal(6,2)");
  d.type.precision = 6;
  d.type.scale = 2;
  auto md = map(d, "mysql", "postgresql");
  CHECK(conv(md, Value::float64(12.5)) == Value::decimal("12.5"));
  CHECK(conv(md, Value::int64(7)) == Value::decimal("7"));
  CHECK(conversion_error(md, Value::float64(1.125)).find("would be rounded") != std::string::npos);
  auto mb = map(col("t", TypeId::String, "TEXT"), "sqlite", "postgresql");
  CHECK(mb.target.type.id == TypeId::String);
  CHECK(conv(mb, Value::bytes("ok")) == Value::string("ok"));
  CHECK(conversion_error(mb, Value::bytes("\xff\xfe")).find("not valid UTF-8") != std::string::npos);
  auto big = map(d, "mysql", "sqlite");
  CHECK(big.target.type.id == TypeId::Decimal);  // p <= 15 keeps NUMERIC affinity
  Column wide = col("w", TypeId::Decimal, "decimal(65,30)");
  wide.type.precision = 65;
  wide.type.scale = 30;
  CHECK(map(wide, "mysql", "sqlite").target.type.id == TypeId::String);
}

TEST_CASE("overrides by type and by column change the target type", "[unit][types][config]") {
  cdc::Config c = cdc::parse_config_yaml(R"Y(source: sqlite:///a.db
destination: sqlite:///b.db
cast: [{type: "tinyint(1)", to: smallint}, {column: "t.status", to: "varchar(20)"}, {column: "shop.t.d", to: text}]
keep_defaults: true
)Y");
  REQUIRE(c.cast.size() == 3);
  CHECK(c.keep_defaults);
  auto mapper = cdc::make_type_mapper(c);
  auto m = map(col("flag", TypeId::Int8, "tinyint(1)"), "mysql", "postgresql", mapper);
  CHECK(m.target.type.id == TypeId::Int16);
  CHECK(m.rule == "override: smallint");
  CHECK(conv(m, Value::int64(2)) == Value::int64(2));
  CHECK(conv(m, Value::int64(-128)) == Value::int64(-128));
  auto s = map(col("status", TypeId::Enum, "enum('a')"), "mysql", "postgresql", mapper);
  CHECK(s.target.type.id == TypeId::String);
  CHECK(s.target.type.length == 20);
  auto z = map(col("d", TypeId::Date, "date"), "mysql", "postgresql", mapper);
  CHECK(z.target.type.id == TypeId::String);
  CHECK(conv(z, Value::date("0000-00-00")) == Value::string("0000-00-00"));  // kept as text
  // Overrides apply within one dialect too.
  auto same = map(col("flag", TypeId::Int8, "tinyint(1)"), "mysql", "mysql", mapper);
  CHECK(same.target.type.id == TypeId::Int16);
  CHECK(same.target.source_type.empty());

  CHECK(err("cast: [{type: int, to: txet}]") == "cast[0].to: unknown type \"txet\" (similar: text)");
  CHECK(err("cast: [{to: text}]") ==
        "cast[0]: give either type (a source type such as \"tinyint(1)\") or column (\"table.column\")");
  CHECK(err("cast: [{column: status, to: text}]") == "cast[0].column: \"status\" must name table.column");
  CHECK(err("cast: [{type: int}]") == "cast[0]: missing key \"to\" (the target type)");
  CHECK(err("cast: [{type: int, to: text, extra: x}]") == "cast[0].extra: unknown key (known keys: type, column, to)");
}

TEST_CASE("cast tinyint(1) to boolean opts into booleans, other values are conversion errors", "[unit][types][config]") {
  cdc::Config c = cdc::parse_config_yaml(R"Y(source: sqlite:///a.db
destination: sqlite:///b.db
cast: [{type: "tinyint(1)", to: boolean}]
)Y");
  auto mapper = cdc::make_type_mapper(c);
  for (const char* to : {"postgresql", "sqlite"}) {
    auto m = map(col("flag", TypeId::Int8, "tinyint(1)"), "mysql", to, mapper);
    CHECK(m.target.type.id == TypeId::Bool);
    CHECK(m.rule == "override: boolean");
    CHECK(conv(m, Value::int64(1)) == Value::boolean(true));
    CHECK(conv(m, Value::int64(0)) == Value::boolean(false));
    CHECK(conv(m, Value()) == Value());
    CHECK(conversion_error(m, Value::int64(2)) == "2 is not a boolean (0 or 1)");
    CHECK(conversion_error(m, Value::int64(-1)) == "-1 is not a boolean (0 or 1)");
  }
  // tinyint(1) unsigned and wider tinyints are not matched by the type name.
  CHECK(map(col("u", TypeId::Int8, "tinyint(1) unsigned", true), "mysql", "postgresql", mapper).rule == "override: boolean");
  CHECK(map(col("t", TypeId::Int8, "tinyint(4)"), "mysql", "postgresql", mapper).target.type.id == TypeId::Int8);
}

TEST_CASE("values the rules change irrecoverably are counted per converter", "[unit][types]") {
  auto m = map(col("d", TypeId::Date, "date"), "mysql", "postgresql");
  REQUIRE(m.converter);
  CHECK(m.converter->values_changed() == 0);
  CHECK(conv(m, Value::date("0000-00-00")).is_null());
  CHECK(conv(m, Value::date("2024-01-01")) == Value::date("2024-01-01"));
  CHECK(conv(m, Value()).is_null());  // NULL stays NULL: not a change
  Column ts = col("ts", TypeId::Timestamp, "timestamp");
  auto mts = map(ts, "mysql", "postgresql");
  CHECK(conv(mts, Value::timestamp("0000-00-00 00:00:00")).is_null());
  CHECK(m.converter->values_changed() == 1);
  CHECK(mts.converter->values_changed() == 1);
  // Summed per table by TablePlan::values_changed (what TableStatus::values_changed shows).
  cdc::TablePlan plan;
  plan.converters = {m.converter, nullptr, mts.converter};
  CHECK(plan.values_changed() == 2);
  // SQLite holds zero dates as the text they are: kept, nothing counted.
  auto lite = map(col("d", TypeId::Date, "date"), "mysql", "sqlite");
  CHECK(conv(lite, Value::date("0000-00-00")) == Value::date("0000-00-00"));
  CHECK(conv(lite, Value::date("2024-00-10")) == Value::date("2024-00-10"));
  auto lite_ts = map(ts, "mysql", "sqlite");
  CHECK(lite_ts.target.type.id == TypeId::TimestampTz);
  CHECK(conv(lite_ts, Value::timestamp("0000-00-00 00:00:00")) == Value::timestamp_tz("0000-00-00 00:00:00"));
  CHECK(conv(lite_ts, Value::timestamp("2024-01-02 03:04:05")) == Value::timestamp_tz("2024-01-02 03:04:05+00:00"));
  CHECK(lite.converter->values_changed() + lite_ts.converter->values_changed() == 0);
}

TEST_CASE("SQLite's declared widths, lengths and precisions do not narrow the target", "[unit][types]") {
  const auto i64max = std::numeric_limits<std::int64_t>::max();
  // SQLite checks none of them: a TINYINT column holds any 64-bit integer, a VARCHAR(2) any text.
  for (const char* to : {"postgresql", "mysql"}) {
    for (auto [id, name] : {std::pair{TypeId::Int8, "TINYINT"}, {TypeId::Int16, "SMALLINT"}, {TypeId::Int24, "MEDIUMINT"},
                            {TypeId::Int64, "INT"}, {TypeId::Int64, "INTEGER"}}) {
      auto m = map(col("i", id, name), "sqlite", to);
      CHECK(m.target.type.id == TypeId::Int64);
      CHECK_FALSE(m.target.type.is_unsigned);
      CHECK(conv(m, Value::int64(std::numeric_limits<std::int64_t>::min())) == Value::int64(std::numeric_limits<std::int64_t>::min()));
      CHECK(conv(m, Value::int64(std::numeric_limits<std::int64_t>::max())) == Value::int64(std::numeric_limits<std::int64_t>::max()));
    }
    auto u = map(col("u", TypeId::Int64, "UNSIGNED BIGINT", true), "sqlite", to);
    CHECK(u.target.type.id == TypeId::Decimal);
    CHECK(conv(u, Value::int64(-1)) == Value::decimal("-1"));
    CHECK(conv(u, Value::int64(i64max)) == Value::decimal(std::to_string(i64max)));
    Column vc = col("v", TypeId::String, "VARCHAR(2)");
    vc.type.length = 2;
    Column ch = col("c", TypeId::String, "CHAR(2)");
    ch.type.length = 2;
    ch.type.fixed_length = true;
    for (const Column& s : {vc, ch}) {
      auto m = map(s, "sqlite", to);
      CHECK(m.target.type.id == TypeId::String);
      CHECK(m.target.type.length == -1);
      CHECK_FALSE(m.target.type.fixed_length);
      CHECK(conv(m, Value::string("longer than two, ü ")) == Value::string("longer than two, ü "));
    }
  }
  Column d = col("p", TypeId::Decimal, "NUMERIC(6,2)");
  d.type.precision = 6;
  d.type.scale = 2;
  auto pg = map(d, "sqlite", "postgresql");
  CHECK(pg.target.type.precision == -1);
  CHECK(conv(pg, Value::float64(12345678.125)) == Value::decimal("12345678.125"));
  // A REAL (SQLite keeps 15 digits of a long decimal literal as one) becomes its exact digits.
  CHECK(conv(pg, Value::float64(1.2345678901234567e19)) == Value::decimal("12345678901234567168"));
  CHECK(conv(pg, Value::float64(1e-7)) == Value::decimal("0.0000001"));
  CHECK(conv(pg, Value::decimal(std::string(40, '9') + ".5")) == Value::decimal(std::string(40, '9') + ".5"));
  auto my = map(d, "sqlite", "mysql");
  CHECK(my.target.type.precision == 65);
  CHECK(my.target.type.scale == 30);
  CHECK(conv(my, Value::float64(12345678.125)) == Value::decimal("12345678.125"));
  CHECK(conversion_error(my, Value::decimal(std::string(36, '9'))).find("does not fit numeric(65,30)") != std::string::npos);
  // The declared kind still counts: text in an INTEGER column has no integer to become.
  CHECK(conversion_error(map(col("i", TypeId::Int64, "INTEGER"), "sqlite", "mysql"), Value::string("x")) ==
        "string value 'x' is not an integer");
}

TEST_CASE("every rule keeps its source type's boundary values", "[unit][types]") {
  auto keeps = [](const Column& c, const char* from, const char* to, const Value& in, const Value& out) {
    INFO(c.source_type << " " << from << " -> " << to << ": " << in.to_display());
    CHECK(conv(map(c, from, to), in) == out);
  };
  auto typed = [](TypeId id, const char* source_type, int length = -1, bool is_unsigned = false) {
    Column c = col("c", id, source_type, is_unsigned);
    c.type.length = length;
    return c;
  };
  const auto i64min = std::numeric_limits<std::int64_t>::min(), i64max = std::numeric_limits<std::int64_t>::max();
  const auto u64max = std::numeric_limits<std::uint64_t>::max();
  SECTION("MariaDB to PostgreSQL and SQLite") {
    for (const char* to : {"postgresql", "sqlite"}) {
      keeps(typed(TypeId::Int8, "tinyint(1)"), "mysql", to, Value::int64(-128), Value::int64(-128));
      keeps(typed(TypeId::Int8, "tinyint(4)"), "mysql", to, Value::int64(127), Value::int64(127));
      keeps(typed(TypeId::Int8, "tinyint(3) unsigned", -1, true), "mysql", to, Value::uint64(255), Value::int64(255));
      keeps(typed(TypeId::Int16, "smallint(5) unsigned", -1, true), "mysql", to, Value::uint64(65535), Value::int64(65535));
      keeps(typed(TypeId::Int24, "mediumint(8) unsigned", -1, true), "mysql", to, Value::uint64(16777215), Value::int64(16777215));
      keeps(typed(TypeId::Int24, "mediumint(9)"), "mysql", to, Value::int64(-8388608), Value::int64(-8388608));
      keeps(typed(TypeId::Int32, "int(10) unsigned", -1, true), "mysql", to, Value::uint64(4294967295u), Value::int64(4294967295));
      keeps(typed(TypeId::Int32, "int(11)"), "mysql", to, Value::int64(-2147483648LL), Value::int64(-2147483648LL));
      keeps(typed(TypeId::Int64, "bigint(20)"), "mysql", to, Value::int64(i64min), Value::int64(i64min));
      keeps(typed(TypeId::Float32, "float"), "mysql", to, Value::float64(3.4028234663852886e38), Value::float64(3.4028234663852886e38));
      keeps(typed(TypeId::Float64, "double"), "mysql", to, Value::float64(-1.7976931348623157e308), Value::float64(-1.7976931348623157e308));
      keeps(typed(TypeId::Float64, "double"), "mysql", to, Value::float64(4.9406564584124654e-324), Value::float64(4.9406564584124654e-324));
      keeps(typed(TypeId::Bit, "bit(1)", 1), "mysql", to, Value::uint64(1), Value::boolean(true));
      keeps(typed(TypeId::Date, "date"), "mysql", to, Value::date("1000-01-01"), Value::date("1000-01-01"));
      keeps(typed(TypeId::Date, "date"), "mysql", to, Value::date("9999-12-31"), Value::date("9999-12-31"));
      keeps(typed(TypeId::Timestamp, "datetime(6)"), "mysql", to, Value::timestamp("9999-12-31 23:59:59.999999"),
            Value::timestamp("9999-12-31 23:59:59.999999"));
      keeps(typed(TypeId::Timestamp, "timestamp(6)"), "mysql", to, Value::timestamp("1970-01-01 00:00:01.000000"),
            Value::timestamp_tz("1970-01-01 00:00:01.000000+00:00"));
      keeps(typed(TypeId::Timestamp, "timestamp(6)"), "mysql", to, Value::timestamp("2038-01-19 03:14:07.999999"),
            Value::timestamp_tz("2038-01-19 03:14:07.999999+00:00"));
      keeps(typed(TypeId::Time, "time(6)"), "mysql", to, Value::time("-838:59:59.999999"), Value::time("-838:59:59.999999"));
      keeps(typed(TypeId::Time, "time(6)"), "mysql", to, Value::time("838:59:59.999999"), Value::time("838:59:59.999999"));
      keeps(typed(TypeId::Bytes, "binary(4)", 4), "mysql", to, Value::bytes(std::string("\0\xff\0\0", 4)), Value::bytes(std::string("\0\xff\0\0", 4)));
      keeps(typed(TypeId::Json, "json"), "mysql", to, Value::json("{\"a\": 1}"), Value::json("{\"a\": 1}"));
    }
    Column dec = typed(TypeId::Decimal, "decimal(65,30)");
    dec.type.precision = 65;
    dec.type.scale = 30;
    const std::string widest = "-" + std::string(35, '9') + "." + std::string(30, '9');
    keeps(dec, "mysql", "postgresql", Value::decimal(widest), Value::decimal(widest));
    keeps(dec, "mysql", "sqlite", Value::decimal(widest), Value::string(widest));  // exact digits as text
    keeps(typed(TypeId::Int64, "bigint(20) unsigned", -1, true), "mysql", "postgresql", Value::uint64(u64max),
          Value::decimal("18446744073709551615"));
    keeps(typed(TypeId::Int64, "bigint(20) unsigned", -1, true), "mysql", "sqlite", Value::uint64(u64max),
          Value::string("18446744073709551615"));
    keeps(typed(TypeId::Bit, "bit(64)", 64), "mysql", "postgresql", Value::uint64(u64max), Value::string(std::string(64, '1')));
    keeps(typed(TypeId::Bit, "bit(64)", 64), "mysql", "postgresql", Value::uint64(0), Value::string(std::string(64, '0')));
    keeps(typed(TypeId::Bit, "bit(64)", 64), "mysql", "sqlite", Value::uint64(u64max), Value::string("18446744073709551615"));
    keeps(typed(TypeId::Bit, "bit(63)", 63), "mysql", "sqlite", Value::uint64(u64max >> 1), Value::int64(i64max));
    keeps(typed(TypeId::Time, "time"), "mysql", "postgresql", Value::time("838:59:59"), Value::time("838:59:59"));
  }
  SECTION("PostgreSQL to MariaDB and SQLite") {
    for (const char* to : {"mysql", "sqlite"}) {
      keeps(typed(TypeId::Int16, "smallint"), "postgresql", to, Value::int64(-32768), Value::int64(-32768));
      keeps(typed(TypeId::Int32, "integer"), "postgresql", to, Value::int64(2147483647), Value::int64(2147483647));
      keeps(typed(TypeId::Int64, "bigint"), "postgresql", to, Value::int64(i64min), Value::int64(i64min));
      keeps(typed(TypeId::Int64, "bigint"), "postgresql", to, Value::int64(i64max), Value::int64(i64max));
      keeps(typed(TypeId::Float32, "real"), "postgresql", to, Value::float64(-3.4028234663852886e38), Value::float64(-3.4028234663852886e38));
      keeps(typed(TypeId::Float64, "double precision"), "postgresql", to, Value::float64(1.7976931348623157e308),
            Value::float64(1.7976931348623157e308));
      keeps(typed(TypeId::Bool, "boolean"), "postgresql", to, Value::boolean(false), Value::boolean(false));
      keeps(typed(TypeId::Uuid, "uuid"), "postgresql", to, Value::uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"),
            Value::uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"));
      keeps(typed(TypeId::Bytes, "bytea"), "postgresql", to, Value::bytes(std::string("\0\xff", 2)), Value::bytes(std::string("\0\xff", 2)));
      keeps(typed(TypeId::Json, "jsonb"), "postgresql", to, Value::json("{\"a\": [1, null]}"), Value::json("{\"a\": [1, null]}"));
    }
    keeps(typed(TypeId::Date, "date"), "postgresql", "mysql", Value::date("0001-01-01"), Value::date("0001-01-01"));
    keeps(typed(TypeId::Date, "date"), "postgresql", "mysql", Value::date("9999-12-31"), Value::date("9999-12-31"));
    keeps(typed(TypeId::Timestamp, "timestamp(6) without time zone"), "postgresql", "mysql",
          Value::timestamp("9999-12-31 23:59:59.999999"), Value::timestamp("9999-12-31 23:59:59.999999"));
    keeps(typed(TypeId::TimestampTz, "timestamp with time zone"), "postgresql", "mysql", Value::timestamp_tz("0001-01-01 00:00:00+00"),
          Value::timestamp("0001-01-01 00:00:00"));
    keeps(typed(TypeId::TimestampTz, "timestamp with time zone"), "postgresql", "mysql",
          Value::timestamp_tz("9999-12-31 23:59:59.999999+00"), Value::timestamp("9999-12-31 23:59:59.999999"));
    keeps(typed(TypeId::Time, "time without time zone"), "postgresql", "mysql", Value::time("24:00:00"), Value::time("24:00:00"));
    // SQLite is text: what PostgreSQL prints is kept, the values MariaDB has no place for too.
    keeps(typed(TypeId::Date, "date"), "postgresql", "sqlite", Value::date("infinity"), Value::date("infinity"));
    keeps(typed(TypeId::Decimal, "numeric"), "postgresql", "sqlite", Value::decimal("NaN"), Value::string("NaN"));
    Column bits = typed(TypeId::Bit, "bit(64)", 64);
    bits.type.fixed_length = true;
    keeps(bits, "postgresql", "mysql", Value::string(std::string(64, '1')), Value::uint64(u64max));
    Column n = typed(TypeId::Decimal, "numeric(65,30)");
    n.type.precision = 65;
    n.type.scale = 30;
    const std::string widest = std::string(35, '9') + "." + std::string(30, '9');
    keeps(n, "postgresql", "mysql", Value::decimal(widest), Value::decimal(widest));
    keeps(typed(TypeId::Decimal, "numeric"), "postgresql", "mysql", Value::decimal("-" + widest), Value::decimal("-" + widest));

    // What no MariaDB type holds is a conversion error (quarantined), never stored as something else.
    auto err_of = [&](const Column& c, const Value& v) { return conversion_error(map(c, "postgresql", "mysql"), v); };
    CHECK(err_of(typed(TypeId::Date, "date"), Value::date("10000-01-01")) == "'10000-01-01' has no MariaDB equivalent");
    CHECK(err_of(typed(TypeId::Date, "date"), Value::date("0001-01-01 BC")) == "'0001-01-01 BC' has no MariaDB equivalent");
    CHECK(err_of(typed(TypeId::Timestamp, "timestamp"), Value::timestamp("-infinity")) == "'-infinity' has no MariaDB equivalent");
    CHECK(err_of(typed(TypeId::Float64, "double precision"), Value::float64(std::nan(""))) == "nan has no MariaDB equivalent");
    CHECK(err_of(typed(TypeId::Float32, "real"), Value::float64(-HUGE_VAL)) == "-inf has no MariaDB equivalent");
    CHECK(err_of(typed(TypeId::Decimal, "numeric"), Value::decimal("Infinity")) == "\"Infinity\" is not a decimal number");
    Column wide = typed(TypeId::Decimal, "numeric(70,2)");
    wide.type.precision = 70;
    wide.type.scale = 2;
    CHECK(map(wide, "postgresql", "mysql").target.type.precision == 65);
    CHECK(err_of(wide, Value::decimal(std::string(40, '1'))).find("does not fit numeric(65,30)") != std::string::npos);
    CHECK(conversion_error(map(typed(TypeId::Float64, "double precision"), "postgresql", "sqlite"), Value::float64(std::nan(""))) ==
          "NaN has no SQLite equivalent (SQLite would store NULL)");
    keeps(typed(TypeId::Float64, "double precision"), "postgresql", "sqlite", Value::float64(HUGE_VAL), Value::float64(HUGE_VAL));
  }
  SECTION("SQLite to PostgreSQL and MariaDB") {
    for (const char* to : {"postgresql", "mysql"}) {
      keeps(typed(TypeId::Int64, "INTEGER"), "sqlite", to, Value::int64(i64min), Value::int64(i64min));
      keeps(typed(TypeId::Int64, "INTEGER"), "sqlite", to, Value::int64(i64max), Value::int64(i64max));
      keeps(typed(TypeId::Float64, "REAL"), "sqlite", to, Value::float64(-1.7976931348623157e308), Value::float64(-1.7976931348623157e308));
      keeps(typed(TypeId::String, "TEXT"), "sqlite", to, Value::string("ünï 😀\n"), Value::string("ünï 😀\n"));
      keeps(typed(TypeId::Bytes, "BLOB"), "sqlite", to, Value::bytes(std::string("\0\xff", 2)), Value::bytes(std::string("\0\xff", 2)));
      keeps(typed(TypeId::Bool, "BOOLEAN"), "sqlite", to, Value::int64(1), Value::boolean(true));
      keeps(typed(TypeId::Date, "DATE"), "sqlite", to, Value::string("9999-12-31"), Value::date("9999-12-31"));
    }
    CHECK(conversion_error(map(typed(TypeId::Float64, "REAL"), "sqlite", "mysql"), Value::float64(HUGE_VAL)) ==
          "inf has no MariaDB equivalent");
    keeps(typed(TypeId::Float64, "REAL"), "sqlite", "postgresql", Value::float64(HUGE_VAL), Value::float64(HUGE_VAL));
  }
}

TEST_CASE("type names in overrides", "[unit][types]") {
  CHECK(cdc::parse_type_name("numeric(20, 0)").precision == 20);
  CHECK(cdc::parse_type_name("NUMERIC(20,0)").scale == 0);
  CHECK(cdc::parse_type_name("varchar(12)").length == 12);
  CHECK(cdc::parse_type_name("timestamptz(3)").fsp == 3);
  CHECK(cdc::parse_type_name("double precision").id == TypeId::Float64);
  CHECK(cdc::parse_type_name("jsonb").id == TypeId::Json);
  CHECK_THROWS_AS(cdc::parse_type_name("varchar(x)"), cdc::Error);
}

TEST_CASE("docs/type-mapping.md lists exactly the rules in the code", "[unit][types]") {
  std::ifstream in(std::string(CDC_SOURCE_DIR) + "/docs/type-mapping.md");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string begin = "<!-- rules:begin -->\n", end = "<!-- rules:end -->";
  auto b = doc.find(begin), e = doc.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  std::string table = doc.substr(b + begin.size(), e - b - begin.size());
  std::string expected = "| from | to | source type | target type | values | lossless |\n|---|---|---|---|---|---|\n";
  auto esc = [](std::string s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  for (const auto& r : cdc::type_rules())
    expected += "| " + esc(r.from) + " | " + esc(r.to) + " | " + esc(r.source) + " | " + esc(r.target) + " | " + esc(r.values) +
                " | " + esc(r.lossless) + " |\n";
  INFO("regenerate the table between the markers from cdc::type_rules()");
  CHECK(table == expected);
}
