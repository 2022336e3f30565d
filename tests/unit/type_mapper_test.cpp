// The built-in type rules and overrides, on columns as the connectors describe them; and the
// documented table in docs/type-mapping.md, which must list exactly what type_rules() returns.
#include <cdc/config.h>
#include <cdc/error.h>
#include <cdc/type_mapper.h>

#include <catch2/catch.hpp>

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
  SECTION("tinyint(1) becomes boolean and a stored 2 is not lost silently") {
    auto m = map(col("flag", TypeId::Int8, "tinyint(1)"), "mysql", "postgresql");
    CHECK(m.target.type.id == TypeId::Bool);
    CHECK(m.target.source_type.empty());
    CHECK(conv(m, Value::int64(1)) == Value::boolean(true));
    CHECK(conv(m, Value::int64(0)) == Value::boolean(false));
    CHECK(conv(m, Value()) == Value());
    CHECK(conversion_error(m, Value::int64(2)) == "2 is not a boolean (0 or 1)");
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
    CHECK(conv(map(b5, "mysql", "postgresql"), Value::uint64(5)) == Value::string("00101"));
  }
  SECTION("ENUM becomes an enum type of the same labels; '' (MariaDB's invalid-input value) is refused") {
    Column e = col("e", TypeId::Enum, "enum('a','b')");
    e.type.members = {"a", "b", "it's, \"quoted\" \\ ünï"};
    auto me = map(e, "mysql", "postgresql");
    CHECK(me.target.type.id == TypeId::Enum);
    CHECK(me.target.type.members == e.type.members);
    CHECK(conv(me, Value::string("b")) == Value::string("b"));
    CHECK(conv(me, Value::string("it's, \"quoted\" \\ ünï")) == Value::string("it's, \"quoted\" \\ ünï"));
    CHECK(conversion_error(me, Value::string("")) == "'' (MariaDB's value for an invalid ENUM input) is not one of the column's labels");
    CHECK(conversion_error(me, Value::string("c")) == "'c' is not one of the column's ENUM labels");
    CHECK(conversion_error(me, Value::string(std::string("a\0b", 3))).find("not one of the column's ENUM labels") != std::string::npos);
    // A declared '' label is a label like any other.
    e.type.members = {"", "x"};
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
  SECTION("JSON with \\u0000 and text with NUL are refused") {
    auto mj = map(col("j", TypeId::Json, "json"), "mysql", "postgresql");
    CHECK(conv(mj, Value::json("{\"a\":1}")) == Value::json("{\"a\":1}"));
    CHECK(conversion_error(mj, Value::json("{\"a\":\"x\\u0000y\"}")) == "JSON with \\u0000, which jsonb cannot hold");
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
  CHECK(check.target.type.members == e.type.members);
  CHECK(conversion_error(check, Value::string("")) == "'' (MariaDB's value for an invalid ENUM input) is not one of the column's labels");

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
  CHECK(conv(ints, Value::string("[0:1]={7,8}")) == Value::json("[7,8]"));
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
  SECTION("interval becomes text; bit strings become integers") {
    auto m = map(col("i", TypeId::Interval, "interval"), "postgresql", "mysql");
    CHECK(m.target.type.id == TypeId::String);
    Column b = col("b", TypeId::Bit, "bit varying(8)");
    b.type.length = 8;
    CHECK(conv(map(b, "postgresql", "mysql"), Value::string("00000101")) == Value::uint64(5));
  }
}

TEST_CASE("values are checked against the target type across dialects", "[unit][types]") {
  // SQLite stores any value in any column: what does not fit is refused, never rounded.
  auto mi = map(col("n", TypeId::Int32, "INTEGER"), "sqlite", "postgresql");
  CHECK(conversion_error(mi, Value::string("abc")) == "string value 'abc' is not an integer");
  CHECK(conversion_error(mi, Value::int64(1LL << 40)) == "1099511627776 is out of range for int32");
  Column d = col("p", TypeId::Decimal, "NUMERIC(6,2)");
  d.type.precision = 6;
  d.type.scale = 2;
  auto md = map(d, "sqlite", "postgresql");
  CHECK(conv(md, Value::float64(12.5)) == Value::decimal("12.5"));
  CHECK(conv(md, Value::int64(7)) == Value::decimal("7"));
  CHECK(conversion_error(md, Value::float64(1.125)).find("would be rounded") != std::string::npos);
  auto mb = map(col("t", TypeId::String, "TEXT"), "sqlite", "postgresql");
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
  std::string expected = "| from | to | source type | target type | values |\n|---|---|---|---|---|\n";
  auto esc = [](std::string s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  for (const auto& r : cdc::type_rules())
    expected += "| " + esc(r.from) + " | " + esc(r.to) + " | " + esc(r.source) + " | " + esc(r.target) + " | " + esc(r.values) + " |\n";
  INFO("regenerate the table between the markers from cdc::type_rules()");
  CHECK(table == expected);
}
