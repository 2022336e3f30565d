// The change event encoder (lib/core/event/change_event_json.h): each column type's JSON form,
// the Debezium envelope and source block, key-changing updates split into delete + create,
// schemas: true, decimal_handling.
#include "core/event/change_event_json.h"

#include <cdc/error.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace cdc;
using namespace cdc::detail;
namespace json = boost::json;

namespace {

Column col(const std::string& name, TypeId id, const std::string& source_type = "", bool is_unsigned = false) {
  Column c;
  c.name = name;
  c.type.id = id;
  c.type.is_unsigned = is_unsigned;
  c.source_type = source_type;
  return c;
}

DestinationTable mysql_table() {
  DestinationTable t;
  t.schema.id = TableId("shop", "orders");
  t.schema.columns = {col("id", TypeId::Int64, "bigint(20) unsigned", true),
                      col("qty", TypeId::Int32, "int(11)"),
                      col("price", TypeId::Decimal, "decimal(10,2)"),
                      col("ratio", TypeId::Float64, "double"),
                      col("ok", TypeId::Bool, "tinyint(1)"),
                      col("blob", TypeId::Bytes, "varbinary(10)"),
                      col("made", TypeId::Timestamp, "datetime(6)"),
                      col("seen", TypeId::Timestamp, "timestamp(3)"),
                      col("day", TypeId::Date, "date"),
                      col("doc", TypeId::Json, "json"),
                      col("note", TypeId::String, "varchar(20)")};
  t.schema.primary_key = {"id"};
  return t;
}

Row mysql_row(std::uint64_t id, const std::string& note) {
  return {Value::uint64(id),
          Value::int64(-3),
          Value::decimal("1234.50"),
          Value::float64(0.25),
          Value::boolean(true),
          Value::bytes(std::string("\x00\xff\x10", 3)),
          Value::timestamp("2024-02-29 13:01:02.123456"),
          Value::timestamp("2024-02-29 23:30:00.500"),
          Value::date("2024-02-29"),
          Value::json(R"({"a": [1, 2]})"),
          Value::string(note)};
}

json::object parse(const std::string& s) { return json::parse(s).as_object(); }

}  // namespace

TEST_CASE("each column type has one JSON form in a change event", "[unit][events]") {
  EventEncoder enc({}, {"mysql", "shop", "shop"});
  DestinationTable t = mysql_table();
  ChangeEvent ch;
  ch.op = ChangeOp::Insert;
  ch.table = TableId("shop", "orders");
  ch.after = mysql_row(18446744073709551615ull, "hi");
  ch.position = Position("mariadb-bin.000003:4567");
  ch.commit_time_us = 1709211662123456;
  ch.transaction_id = "0-1-42";
  std::vector<EncodedEvent> out;
  enc.encode_change(t, ch, 1709211663000, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].op == 'c');
  CHECK(out[0].stream == "shop.orders");
  CHECK(out[0].key == R"({"id":"18446744073709551615"})");
  auto v = parse(out[0].value);
  CHECK(v.at("before").is_null());
  CHECK(v.at("op") == "c");
  CHECK(v.at("ts_ms") == 1709211663000);
  const auto& a = v.at("after").as_object();
  CHECK(a.at("id") == "18446744073709551615");  // BIGINT UNSIGNED: a string, never rounded
  CHECK(a.at("qty") == -3);
  CHECK(a.at("price") == "1234.50");  // decimal: exact digits
  CHECK(a.at("ratio") == 0.25);
  CHECK(a.at("ok") == true);
  CHECK(a.at("blob") == "AP8Q");                                // base64
  CHECK(a.at("made") == "2024-02-29T13:01:02.123456");          // DATETIME: no zone invented
  CHECK(a.at("seen") == "2024-02-29T23:30:00.500Z");            // MariaDB TIMESTAMP: UTC
  CHECK(a.at("day") == "2024-02-29");
  CHECK(a.at("doc") == json::parse(R"({"a":[1,2]})"));           // JSON as JSON
  CHECK(a.at("note") == "hi");
  const auto& s = v.at("source").as_object();
  CHECK(s.at("connector") == "mysql");
  CHECK(s.at("name") == "shop");
  CHECK(s.at("db") == "shop");
  CHECK(s.at("table") == "orders");
  CHECK(s.at("file") == "mariadb-bin.000003");
  CHECK(s.at("pos") == 4567);
  CHECK(s.at("ts_ms") == 1709211662123);
  CHECK(s.at("snapshot") == "false");
  CHECK(s.at("txId") == "0-1-42");
}

TEST_CASE("an update that changes the key is a delete of the old key, then a create", "[unit][events]") {
  EventEncoder enc({}, {"mysql", "shop", "shop"});
  DestinationTable t = mysql_table();
  ChangeEvent ch;
  ch.op = ChangeOp::Update;
  ch.table = TableId("shop", "orders");
  ch.before = mysql_row(1, "old");
  ch.after = mysql_row(2, "new");
  std::vector<EncodedEvent> out;
  enc.encode_change(t, ch, 1, out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].op == 'd');
  CHECK(out[0].key == R"({"id":"1"})");
  CHECK(parse(out[0].value).at("after").is_null());
  CHECK(out[1].op == 'c');
  CHECK(out[1].key == R"({"id":"2"})");
  CHECK(parse(out[1].value).at("before").is_null());

  ch.after = mysql_row(1, "same key");
  out.clear();
  enc.encode_change(t, ch, 1, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].op == 'u');
  CHECK(parse(out[0].value).at("before").at("note") == "old");
  CHECK(parse(out[0].value).at("after").at("note") == "same key");
}

TEST_CASE("snapshot rows are op r, deletes op d, truncates op t without a key", "[unit][events]") {
  EventEncoder enc({}, {"mysql", "shop", "shop"});
  DestinationTable t = mysql_table();
  std::vector<EncodedEvent> out;
  enc.encode_row(t, mysql_row(7, "x"), 1, out);
  ChangeEvent del;
  del.op = ChangeOp::Delete;
  del.table = t.schema.id;
  del.before = mysql_row(7, "x");
  enc.encode_change(t, del, 1, out);
  enc.encode_truncate(t, 1, out);
  REQUIRE(out.size() == 3);
  CHECK(parse(out[0].value).at("op") == "r");
  CHECK(parse(out[0].value).at("source").at("snapshot") == "true");
  CHECK(out[1].key == R"({"id":"7"})");
  CHECK(parse(out[1].value).at("op") == "d");
  CHECK(parse(out[1].value).at("before").at("id") == "7");
  CHECK(out[2].key.empty());
  auto tr = parse(out[2].value);
  CHECK(tr.at("op") == "t");
  CHECK(tr.at("before").is_null());
  CHECK(tr.at("after").is_null());
}

TEST_CASE("a table without a key is keyed by its whole row", "[unit][events]") {
  EventEncoder enc({}, {"sqlite", "app", "app"});
  DestinationTable t;
  t.schema.id = TableId("log");
  t.schema.columns = {col("at", TypeId::Int64, "INTEGER"), col("what", TypeId::String, "TEXT")};
  std::vector<EncodedEvent> out;
  enc.encode_row(t, {Value::int64(5), Value::string("boot")}, 1, out);
  CHECK(out.at(0).key == R"({"at":5,"what":"boot"})");
  CHECK(out.at(0).stream == "app.log");  // SQLite: the file's stem stands for the schema
  CHECK(parse(out.at(0).value).at("source").at("schema").is_null());
}

TEST_CASE("PostgreSQL events carry the LSN, the schema, and timestamptz in UTC", "[unit][events]") {
  EventEncoder enc({}, {"postgresql", "inventory", "inventory_db"});
  DestinationTable t;
  t.schema.id = TableId("public", "items");
  t.schema.columns = {col("id", TypeId::Int32, "integer"), col("at", TypeId::TimestampTz, "timestamp with time zone"),
                      col("tags", TypeId::Array, "text[]"), col("amount", TypeId::Decimal, "numeric")};
  t.schema.columns[2].type.element = TypeId::String;
  t.schema.primary_key = {"id"};
  ChangeEvent ch;
  ch.op = ChangeOp::Insert;
  ch.table = t.schema.id;
  ch.after = {Value::int64(1), Value::timestamp_tz("2024-03-01 01:30:00.25+05:30"), Value::string("{a,\"b c\",NULL}"),
              Value::decimal("NaN")};
  ch.position = Position("1/A0");
  std::vector<EncodedEvent> out;
  enc.encode_change(t, ch, 1, out);
  auto v = parse(out.at(0).value);
  CHECK(v.at("after").at("at") == "2024-02-29T20:00:00.25Z");
  CHECK(v.at("after").at("tags") == json::parse(R"(["a","b c",null])"));
  CHECK(v.at("after").at("amount") == "NaN");
  CHECK(v.at("source").at("lsn") == (std::int64_t(1) << 32) + 0xA0);
  CHECK(v.at("source").at("schema") == "public");
  CHECK(v.at("source").at("db") == "inventory_db");
  CHECK(out.at(0).stream == "public.items");
}

TEST_CASE("PostgreSQL's unsent TOAST columns are absent from after", "[unit][events]") {
  EventEncoder enc({}, {"postgresql", "p", "db"});
  DestinationTable t;
  t.schema.id = TableId("public", "docs");
  t.schema.columns = {col("id", TypeId::Int64), col("body", TypeId::String)};
  t.schema.primary_key = {"id"};
  ChangeEvent ch;
  ch.op = ChangeOp::Update;
  ch.table = t.schema.id;
  ch.after = {Value::int64(1), Value()};
  ch.unchanged = {false, true};
  std::vector<EncodedEvent> out;
  enc.encode_change(t, ch, 1, out);
  auto v = parse(out.at(0).value);
  CHECK(v.at("before").is_null());
  CHECK(v.at("after").as_object().size() == 1);
  CHECK_FALSE(v.at("after").as_object().contains("body"));
}

TEST_CASE("decimal_handling: double writes decimals as numbers", "[unit][events]") {
  EventOptions o;
  o.decimal = DecimalHandling::Double;
  EventEncoder enc(o, {"mysql", "shop", "shop"});
  std::vector<EncodedEvent> out;
  enc.encode_row(mysql_table(), mysql_row(3, "x"), 1, out);
  auto a = parse(out.at(0).value).at("after").as_object();
  CHECK(a.at("price") == 1234.5);
  CHECK(a.at("id") == 3.0);
}

TEST_CASE("schemas: true wraps key and value with Kafka Connect schemas", "[unit][events]") {
  EventOptions o;
  o.schemas = true;
  EventEncoder enc(o, {"mysql", "shop", "shop"});
  std::vector<EncodedEvent> out;
  enc.encode_row(mysql_table(), mysql_row(3, "x"), 1, out);
  auto k = parse(out.at(0).key);
  CHECK(k.at("payload") == json::parse(R"({"id":"3"})"));
  CHECK(k.at("schema").at("name") == "shop.shop.orders.Key");
  CHECK(k.at("schema").at("fields").as_array().size() == 1);
  auto v = parse(out.at(0).value);
  CHECK(v.at("schema").at("name") == "shop.shop.orders.Envelope");
  const auto& fields = v.at("schema").at("fields").as_array();
  REQUIRE(fields.size() == 5);
  CHECK(fields[0].at("field") == "before");
  const auto& cols = fields[1].at("fields").as_array();
  auto type_of = [&](const char* name) {
    for (const auto& f : cols)
      if (f.at("field") == name) return json::value_to<std::string>(f.at("type"));
    return std::string("?");
  };
  CHECK(type_of("id") == "string");
  CHECK(type_of("qty") == "int32");
  CHECK(type_of("ratio") == "double");
  CHECK(type_of("blob") == "bytes");
  CHECK(type_of("ok") == "boolean");
  // With schemas, a JSON column is its text (Debezium's io.debezium.data.Json).
  CHECK(v.at("payload").at("after").at("doc") == R"({"a": [1, 2]})");
  CHECK(v.at("payload").at("op") == "r");
}

TEST_CASE("a value a column's form cannot hold is a conversion error naming the column", "[unit][events]") {
  EventEncoder enc({}, {"sqlite", "app", "app"});
  DestinationTable t;
  t.schema.id = TableId("t");
  t.schema.columns = {col("n", TypeId::Int64, "INTEGER")};
  std::vector<EncodedEvent> out;
  enc.encode_row(t, {Value::string("42")}, 1, out);  // SQLite: digits in text are the number
  CHECK(json::parse(out.at(0).value).at("after").at("n") == 42);
  try {
    enc.encode_row(t, {Value::string("forty-two")}, 1, out);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Conversion);
    CHECK(std::string(e.what()) == "column t.n: 'forty-two' is not an integer");
  }
}

TEST_CASE("utc_iso8601 and base64", "[unit][events]") {
  CHECK(utc_iso8601("2024-01-01 00:30:00-01:00") == "2024-01-01T01:30:00Z");
  CHECK(utc_iso8601("2023-12-31 23:59:59.999+00") == "2023-12-31T23:59:59.999Z");
  CHECK(utc_iso8601("2024-03-01 00:00:00+01") == "2024-02-29T23:00:00Z");
  CHECK(utc_iso8601("infinity") == "infinity");
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
}

TEST_CASE("a geometry is Debezium's {wkb, srid}: the WKB in base64 and the SRID", "[unit][events]") {
  DestinationTable t;
  t.schema.id = TableId("shop", "places");
  t.schema.columns = {col("id", TypeId::Int32, "int(11)"), col("p", TypeId::Geometry, "point")};
  t.schema.columns[1].nullable = true;
  t.schema.primary_key = {"id"};
  // POINT(1 2) with SRID 4326: the SRID little-endian, then little-endian WKB.
  std::string wkb("\x01\x01\x00\x00\x00", 5);
  wkb += std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f", 8) + std::string("\x00\x00\x00\x00\x00\x00\x00\x40", 8);
  ChangeEvent ch;
  ch.op = ChangeOp::Insert;
  ch.table = t.schema.id;
  ch.after = Row{Value::int64(1), Value::geometry(std::string("\xe6\x10\x00\x00", 4) + wkb)};
  std::vector<EncodedEvent> out;
  EventEncoder({}, {"mysql", "shop", "shop"}).encode_change(t, ch, 1, out);
  REQUIRE(out.size() == 1);
  auto v = parse(out[0].value);
  const auto& p = v.at("after").at("p").as_object();
  CHECK(p.at("srid") == 4326);
  CHECK(p.at("wkb") == "AQEAAAAAAAAAAADwPwAAAAAAAABA");

  EventOptions with_schemas;
  with_schemas.schemas = true;
  out.clear();
  EventEncoder(with_schemas, {"mysql", "shop", "shop"}).encode_change(t, ch, 1, out);
  REQUIRE(out.size() == 1);
  auto w = parse(out[0].value);
  const auto& fields = w.at("schema").at("fields").as_array();
  bool found = false;
  for (const auto& env : fields)
    for (const auto& f : env.as_object().contains("fields") ? env.at("fields").as_array() : json::array{})
      if (f.at("field") == "p") {
        found = true;
        CHECK(f.at("type") == "struct");
        CHECK(f.at("name") == "io.debezium.data.geometry.Geometry");
      }
  CHECK(found);
  CHECK(w.at("payload").at("after").at("p").at("srid") == 4326);
}

TEST_CASE("events are written as boost::json writes the same document: escapes, numbers, key order", "[unit][events]") {
  using namespace std::string_literals;
  // The encoder writes the text itself (no document tree per event); parsing and writing it
  // again with boost::json must give the same bytes, for every form and the awkward strings.
  DestinationTable t = mysql_table();
  ChangeEvent ch;
  ch.op = ChangeOp::Update;
  ch.table = TableId("shop", "orders");
  ch.before = mysql_row(7, "quote \" backslash \\ nul \0 ctl \x01\x1f del \x7f"s + "\n\t\r\b\f é 😀");
  ch.after = mysql_row(7, "after");
  ch.after[3] = Value::float64(1e300);
  ch.before[3] = Value::float64(-0.1);
  ch.after[1] = Value::null();
  ch.unchanged = {false, false, false, false, false, false, false, false, false, false, true};
  ch.position = Position("mariadb-bin.000003:4567#0-1-42");
  ch.transaction_id = "0-1-42";
  ch.commit_time_us = 1709211662123456;
  ch.before[0] = ch.after[0];
  for (bool schemas : {false, true}) {
    EventOptions o;
    o.schemas = schemas;
    std::vector<EncodedEvent> out;
    EventEncoder(o, {"mysql", "shop \"quoted\"", "shop"}).encode_changes(t, {ch, ch}, 1709211663000, out);
    REQUIRE(out.size() == 2);
    for (const auto& ev : out) {
      CHECK(json::serialize(json::parse(ev.value)) == ev.value);
      CHECK(json::serialize(json::parse(ev.key)) == ev.key);
    }
    auto v = parse(out[0].value);
    const auto& payload = schemas ? v.at("payload").as_object() : v;
    CHECK(json::value_to<std::string>(payload.at("before").at("note")) == "quote \" backslash \\ nul \0 ctl \x01\x1f del \x7f"s + "\n\t\r\b\f é 😀");
    CHECK(payload.at("after").at("ratio").as_double() == 1e300);
    CHECK(payload.at("after").at("qty").is_null());
    CHECK(!payload.at("after").as_object().contains("note"));  // unchanged: absent
    CHECK(payload.at("source").at("name") == "shop \"quoted\"");
    CHECK(payload.at("source").at("pos") == 4567);
    CHECK(payload.at("source").at("gtid") == "0-1-42");
  }
  // A table without a key: the whole row is the key.
  DestinationTable keyless = t;
  keyless.schema.primary_key.clear();
  std::vector<EncodedEvent> out;
  EventEncoder({}, {"mysql", "shop", "shop"}).encode_changes(keyless, {ch}, 1, out);
  REQUIRE(out.size() == 2);  // delete of the old row, create of the new one
  CHECK(json::serialize(json::parse(out[0].key)) == out[0].key);
  CHECK(parse(out[0].key).size() == t.schema.columns.size());
}
