// COPY binary: the tuple parser, the codecs' round trips and edge values without a server, and
// against the test server that the binary path gives exactly the Values of the text path.
#include "pg_test_util.h"

#include "postgres/copy_binary.h"
#include "postgres/pg_types.h"

#include <cdc/error.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using namespace cdc;
using namespace cdc::pg;

namespace {

Column column(std::string name, std::string typname, std::string formatted, int typmod = -1, char typtype = 'b') {
  PgTypeInfo t;
  t.name = std::move(typname);
  t.formatted = std::move(formatted);
  t.typmod = typmod;
  t.typtype = typtype;
  Column c;
  c.name = std::move(name);
  c.type = logical_type(t, c.source_type);
  return c;
}

// Encodes `v` as `type`, then decodes it for `col`.
Value round_trip(BinaryType type, const Column& col, const Value& v) {
  ByteBuffer bb;
  REQUIRE(append_binary_field(type, v, bb));
  std::string buf(bb.view());
  REQUIRE(buf.size() >= 4);
  std::int32_t len = static_cast<std::int32_t>((static_cast<unsigned char>(buf[0]) << 24) | (static_cast<unsigned char>(buf[1]) << 16) |
                                               (static_cast<unsigned char>(buf[2]) << 8) | static_cast<unsigned char>(buf[3]));
  if (len < 0) return Value();
  REQUIRE(buf.size() == 4 + static_cast<std::size_t>(len));
  return value_from_binary(type, col, buf.data() + 4, static_cast<std::size_t>(len));
}

std::string numeric_round_trip(const std::string& text) {
  ByteBuffer bin;
  std::string out;
  REQUIRE(numeric_text_to_binary(text, bin));
  REQUIRE(numeric_binary_to_text(bin.data() + 4, bin.size() - 4, out));
  return out;
}

}  // namespace

TEST_CASE("COPY binary: header, tuples, NULLs, trailer and partial data", "[pg-unit]") {
  ByteBuffer bb;
  append_copy_binary_header(bb);
  bb.append("\x00\x02", 2);
  append_binary_field(BinaryType::Int4, Value::int64(7), bb);
  append_binary_field(BinaryType::Text, Value(), bb);
  bb.append("\x00\x01", 2);
  append_binary_field(BinaryType::Text, Value::string("abc"), bb);
  append_copy_binary_trailer(bb);
  const std::string s(bb.view());

  std::string_view in(s);
  std::vector<BinaryField> f;
  REQUIRE(parse_copy_binary_header(in));
  REQUIRE(parse_copy_binary_tuple(in, f) == TupleStatus::Row);
  REQUIRE(f.size() == 2);
  CHECK(f[0].len == 4);
  CHECK(f[1].len == -1);
  // A cut anywhere inside the second tuple is incomplete and leaves the input as it was.
  for (std::size_t cut = 0; cut < 2 + 4 + 3; ++cut) {
    std::string_view part = in.substr(0, cut);
    CHECK(parse_copy_binary_tuple(part, f) == TupleStatus::Incomplete);
    CHECK(part.size() == cut);
  }
  REQUIRE(parse_copy_binary_tuple(in, f) == TupleStatus::Row);
  REQUIRE(f.size() == 1);
  CHECK(std::string(f[0].data, static_cast<std::size_t>(f[0].len)) == "abc");
  CHECK(parse_copy_binary_tuple(in, f) == TupleStatus::End);
  CHECK(in.empty());

  std::string_view short_header(s.data(), 10);
  CHECK_FALSE(parse_copy_binary_header(short_header));
  std::string bad = "PGCOPY\nXXXXXXXXXXXXXXXX";
  std::string_view b(bad);
  CHECK_THROWS_AS(parse_copy_binary_header(b), Error);
}

TEST_CASE("COPY binary: numeric text and binary forms", "[pg-unit]") {
  CHECK(numeric_round_trip("0") == "0");
  CHECK(numeric_round_trip("-0") == "0");
  CHECK(numeric_round_trip("0.000") == "0.000");
  CHECK(numeric_round_trip("-123.4500") == "-123.4500");
  CHECK(numeric_round_trip("10000") == "10000");
  CHECK(numeric_round_trip("99990000") == "99990000");
  CHECK(numeric_round_trip("0.00001") == "0.00001");
  CHECK(numeric_round_trip("+7.") == "7");
  CHECK(numeric_round_trip(".5") == "0.5");
  CHECK(numeric_round_trip("1e5") == "100000");
  CHECK(numeric_round_trip("1.5e-3") == "0.0015");
  CHECK(numeric_round_trip("1.25E+1") == "12.5");
  CHECK(numeric_round_trip("NaN") == "NaN");
  CHECK(numeric_round_trip("Infinity") == "Infinity");
  CHECK(numeric_round_trip("-Infinity") == "-Infinity");
  const std::string big = "-12345678901234567890123456789.123456789012345678901234567890000";
  CHECK(numeric_round_trip(big) == big);
  const std::string tiny = "0." + std::string(999, '0') + "1";
  CHECK(numeric_round_trip(tiny) == tiny);
  ByteBuffer bin;
  for (const char* bad : {"", "-", ".", "1.2.3", "1e", "12a", " 1", "nan", "0x10", "1e2000"}) {
    INFO(bad);
    CHECK_FALSE(numeric_text_to_binary(bad, bin));
  }
  CHECK(bin.size() == 0);
}

TEST_CASE("COPY binary: values round-trip through every codec", "[pg-unit]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  Column b = column("b", "bool", "boolean");
  CHECK(round_trip(BinaryType::Bool, b, Value::boolean(true)) == Value::boolean(true));
  CHECK(round_trip(BinaryType::Bool, b, Value::string("f")) == Value::boolean(false));
  CHECK(round_trip(BinaryType::Bool, b, Value()) == Value());

  Column i2 = column("i", "int2", "smallint"), i4 = column("i", "int4", "integer"), i8 = column("i", "int8", "bigint");
  CHECK(round_trip(BinaryType::Int2, i2, Value::int64(-32768)) == Value::int64(-32768));
  CHECK(round_trip(BinaryType::Int4, i4, Value::uint64(2147483647)) == Value::int64(2147483647));
  CHECK(round_trip(BinaryType::Int8, i8, Value::int64(std::numeric_limits<std::int64_t>::min())) ==
        Value::int64(std::numeric_limits<std::int64_t>::min()));
  CHECK(round_trip(BinaryType::Int8, i8, Value::decimal("42")) == Value::int64(42));
  ByteBuffer out;
  CHECK_FALSE(append_binary_field(BinaryType::Int2, Value::int64(32768), out));
  CHECK_FALSE(append_binary_field(BinaryType::Int4, Value::uint64(1ULL << 31), out));
  CHECK_FALSE(append_binary_field(BinaryType::Int8, Value::decimal("1.5"), out));
  CHECK_FALSE(append_binary_field(BinaryType::Int8, Value::float64(1), out));
  CHECK(out.size() == 0);

  Column f4 = column("f", "float4", "real"), f8 = column("f", "float8", "double precision");
  for (double d : {0.0, -0.0, 1.0 / 3, 1e300, -5e-324, nan, inf, -inf}) {
    INFO(d);
    CHECK(round_trip(BinaryType::Float8, f8, Value::float64(d)) == Value::float64(d));
  }
  // real: the double nearest the float's shortest text, as value_from_text("0.1") gives.
  CHECK(round_trip(BinaryType::Float4, f4, Value::float64(0.1)) == value_from_text(f4, "0.1"));
  CHECK(round_trip(BinaryType::Float4, f4, Value::float64(3.4028234663852886e38)) == value_from_text(f4, "3.4028235e+38"));
  CHECK(round_trip(BinaryType::Float4, f4, Value::float64(nan)) == Value::float64(nan));
  CHECK(round_trip(BinaryType::Float4, f4, Value::float64(-inf)) == Value::float64(-inf));
  CHECK(round_trip(BinaryType::Float8, f8, Value::int64(9007199254740993LL)) == Value::float64(9007199254740992.0));

  Column n = column("n", "numeric", "numeric(10,2)", (10 << 16 | 2) + 4);
  CHECK(round_trip(BinaryType::Numeric, n, Value::decimal("-0.50")) == Value::decimal("-0.50"));
  CHECK(round_trip(BinaryType::Numeric, n, Value::int64(-12)) == Value::decimal("-12"));
  CHECK(round_trip(BinaryType::Numeric, n, Value::string("3.25")) == Value::decimal("3.25"));
  CHECK(round_trip(BinaryType::Numeric, n, Value::float64(1e20)) == Value::decimal("100000000000000000000"));
  CHECK_FALSE(append_binary_field(BinaryType::Numeric, Value::string("twelve"), out));

  Column t = column("t", "text", "text");
  CHECK(round_trip(BinaryType::Text, t, Value::string("tab\tnew\nline\\ é")) == Value::string("tab\tnew\nline\\ é"));
  CHECK(round_trip(BinaryType::Text, t, Value::string(std::string("a\0b", 3))) == Value::string("ab"));  // as COPY text drops NUL
  CHECK(round_trip(BinaryType::Text, t, Value::int64(5)) == Value::string("5"));
  CHECK_FALSE(append_binary_field(BinaryType::Text, Value::bytes("x"), out));

  Column by = column("b", "bytea", "bytea");
  const std::string raw("\x00\xff\x00\\x", 5);
  CHECK(round_trip(BinaryType::Bytea, by, Value::bytes(raw)) == Value::bytes(raw));
  CHECK(round_trip(BinaryType::Bytea, by, Value::bytes("")) == Value::bytes(""));
  CHECK_FALSE(append_binary_field(BinaryType::Bytea, Value::string("\\x00"), out));

  Column d = column("d", "date", "date");
  for (const char* s : {"2024-02-29", "2000-01-01", "1999-12-31", "0001-01-01", "0001-12-31 BC", "0044-03-15 BC", "4713-01-01 BC",
                        "9999-12-31", "12345-06-07", "infinity", "-infinity"}) {
    INFO(s);
    CHECK(round_trip(BinaryType::Date, d, Value::date(s)) == Value::date(s));
  }
  for (const char* s : {"2023-02-29", "0000-00-00", "2024-13-01", "2024-1-01", "24-01-01", "2024-01-01 00:00:00", "0000-01-01"}) {
    INFO(s);
    CHECK_FALSE(append_binary_field(BinaryType::Date, Value::date(s), out));
  }

  Column tm = column("t", "time", "time without time zone");
  for (const char* s : {"00:00:00", "13:01:02.5", "23:59:59.999999", "24:00:00", "00:00:00.000001"}) {
    INFO(s);
    CHECK(round_trip(BinaryType::Time, tm, Value::time(s)) == Value::time(s));
  }
  CHECK(round_trip(BinaryType::Time, tm, Value::time("01:02:03.100")) == Value::time("01:02:03.1"));
  for (const char* s : {"-01:00:00", "838:59:59", "24:00:01", "12:00", "12:00:00.1234567"}) {
    INFO(s);
    CHECK_FALSE(append_binary_field(BinaryType::Time, Value::time(s), out));
  }

  Column ts = column("ts", "timestamp", "timestamp without time zone");
  for (const char* s : {"2024-02-29 13:01:02.123456", "2000-01-01 00:00:00", "1999-12-31 23:59:59.999999", "1970-01-01 00:00:00",
                        "0044-03-15 12:00:00 BC", "0001-01-01 00:00:00.5 BC", "294276-12-31 23:59:59.999999", "infinity", "-infinity"}) {
    INFO(s);
    CHECK(round_trip(BinaryType::Timestamp, ts, Value::timestamp(s)) == Value::timestamp(s));
  }
  CHECK_FALSE(append_binary_field(BinaryType::Timestamp, Value::timestamp_tz("2024-01-01 00:00:00+00:00"), out));
  CHECK_FALSE(append_binary_field(BinaryType::Timestamp, Value::timestamp("2024-01-01T00:00:00"), out));

  Column tz = column("tz", "timestamptz", "timestamp with time zone");
  for (const char* s : {"2024-02-29 13:01:02.123456+00:00", "1901-12-13 20:45:52+00:00", "1969-07-20 20:17:40+00:00",
                        "0044-03-15 12:00:00+00 BC", "infinity", "-infinity"}) {
    INFO(s);
    CHECK(round_trip(BinaryType::TimestampTz, tz, Value::timestamp_tz(s)) == Value::timestamp_tz(s));
  }
  CHECK(round_trip(BinaryType::TimestampTz, tz, Value::timestamp_tz("2024-03-01 01:30:00.5+05:30")) ==
        Value::timestamp_tz("2024-02-29 20:00:00.5+00:00"));
  CHECK(round_trip(BinaryType::TimestampTz, tz, Value::timestamp_tz("2000-01-01 00:00:00-03:00:30")) ==
        Value::timestamp_tz("2000-01-01 03:00:30+00:00"));
  // No offset: the session's time zone, UTC.
  CHECK(round_trip(BinaryType::TimestampTz, tz, Value::timestamp("2024-02-29 13:01:02")) ==
        Value::timestamp_tz("2024-02-29 13:01:02+00:00"));

  Column u = column("u", "uuid", "uuid");
  CHECK(round_trip(BinaryType::Uuid, u, Value::uuid("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")) ==
        Value::uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
  CHECK(round_trip(BinaryType::Uuid, u, Value::string("a0eebc999c0b4ef8bb6d6bb9bd380a11")) ==
        Value::uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
  CHECK_FALSE(append_binary_field(BinaryType::Uuid, Value::uuid("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"), out));

  Column j = column("j", "json", "json"), jb = column("j", "jsonb", "jsonb");
  CHECK(round_trip(BinaryType::Json, j, Value::json("{\"a\": [1, 2]}")) == Value::json("{\"a\": [1, 2]}"));
  CHECK(round_trip(BinaryType::Jsonb, jb, Value::json("{\"a\": [1, 2]}")) == Value::json("{\"a\": [1, 2]}"));
  CHECK(out.size() == 0);
}

TEST_CASE("COPY binary: timestamps at the ends of int64 decode without overflow", "[pg-unit]") {
  // fuzz_copy_binary: the day's start in microseconds overflowed int64 within a day of its minimum.
  Column ts = column("t", "timestamp", "timestamp without time zone");
  Column tz = column("t", "timestamptz", "timestamp with time zone");
  const char min_plus_one[8] = {'\x80', 0, 0, 0, 0, 0, 0, 1};
  CHECK(value_from_binary(BinaryType::Timestamp, ts, min_plus_one, 8) == Value::timestamp("290279-12-22 19:59:05.224193 BC"));
  CHECK(value_from_binary(BinaryType::TimestampTz, tz, min_plus_one, 8) ==
        Value::timestamp_tz("290279-12-22 19:59:05.224193+00 BC"));
  const char minus_one[8] = {'\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff'};
  CHECK(value_from_binary(BinaryType::Timestamp, ts, minus_one, 8) == Value::timestamp("1999-12-31 23:59:59.999999"));
}

TEST_CASE("COPY binary: source columns read natively or as text", "[pg-unit]") {
  CHECK(source_binary_type(column("a", "int4", "integer")) == BinaryType::Int4);
  CHECK(source_binary_type(column("a", "bpchar", "character(3)", 7)) == BinaryType::Text);
  CHECK(binary_select_expr(column("a", "bpchar", "character(3)", 7), "\"a\"", false) == "\"a\"::bpchar");
  CHECK(binary_select_expr(column("a", "bpchar", "character(3)", 7), "\"a\"", true) == "\"a\"");
  CHECK(binary_select_expr(column("a", "mood", "mood", -1, 'e'), "\"a\"", true) == "\"a\"::text");
  CHECK(source_binary_type(column("a", "timestamptz", "timestamp(3) with time zone", 3)) == BinaryType::TimestampTz);
  CHECK(source_binary_type(column("a", "timetz", "time with time zone")) == BinaryType::None);
  CHECK(source_binary_type(column("a", "money", "money")) == BinaryType::None);
  CHECK(source_binary_type(column("a", "inet", "inet")) == BinaryType::None);
  CHECK(source_binary_type(column("a", "interval", "interval")) == BinaryType::None);
  CHECK(binary_select_expr(column("a", "interval", "interval"), "\"a\"", true) ==
        "CASE WHEN num_nulls(\"a\") = 0 THEN format('%s', \"a\") END");
  CHECK(source_binary_type(column("a", "mood", "mood", -1, 'e')) == BinaryType::Text);
  CHECK(source_binary_type(column("a", "oid", "oid")) == BinaryType::None);
}

namespace {

const char* kOptions = "-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c TimeZone=UTC -c bytea_output=hex";

struct RawConn {
  explicit RawConn(const std::string& url) {
    const char* keys[] = {"dbname", "options", nullptr};
    const char* vals[] = {url.c_str(), kOptions, nullptr};
    c = PQconnectdbParams(keys, vals, 1);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
  }
  ~RawConn() { PQfinish(c); }
  PGconn* c;
};

// Columns of the test table as the source connector describes them (format_type and typmod).
std::vector<Column> describe_columns(pg_test::Conn& db, const std::string& table) {
  std::vector<std::string> rows = db.rows(
      "SELECT a.attname || '|' || t.typname || '|' || format_type(t.oid, a.atttypmod) || '|' || a.atttypmod || '|' || "
      "  t.typtype::text || '|' || t.typcategory::text || '|' || coalesce(et.typname, '') "
      "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' "
      "WHERE a.attrelid = '" + table +
      "'::regclass AND a.attnum > 0 ORDER BY a.attnum");
  std::vector<Column> out;
  for (const auto& r : rows) {
    std::vector<std::string> p;
    std::size_t at = 0;
    for (;;) {
      auto bar = r.find('|', at);
      p.push_back(r.substr(at, bar == std::string::npos ? std::string::npos : bar - at));
      if (bar == std::string::npos) break;
      at = bar + 1;
    }
    Column c = column(p[0], p[1], p[2], std::stoi(p[3]), p[4][0]);
    if (p[5] == "A") {
      PgTypeInfo t;
      t.name = p[1];
      t.formatted = p[2];
      t.category = 'A';
      t.element = p[6];
      c.type = logical_type(t, c.source_type);
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

TEST_CASE("postgres: COPY binary gives the Values of the text output, row by row", "[postgres]") {
  pg_test::TempDb tmp("copybin");
  pg_test::Conn db(tmp.url());
  db.exec("CREATE TYPE mood AS ENUM ('sad', 'happy')");
  db.exec("CREATE TYPE pt AS (x int, y text)");
  db.exec(
      "CREATE TABLE v (id int PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 real, f8 float8, n numeric, n2 numeric(12,3), "
      "t text, vc varchar(10), c char(4), nm name, by bytea, d date, tm time, tm3 time(3), ts timestamp, tz timestamptz, "
      "tz0 timestamptz(0), u uuid, j json, jb jsonb, m mood, mo money, ip inet, iv interval, ttz timetz, arr int[], bt bit(3), ch \"char\", ci cidr, rw pt)");
  db.exec(
      "INSERT INTO v VALUES "
      "(1, true, -32768, 2147483647, -9223372036854775808, 0.1, 0.1, 0, 1.5, 'a\tb\\c', 'x', 'ab', 'nm', '\\x00ff00', "
      " '2024-02-29', '24:00:00', '01:02:03.456', '2024-02-29 13:01:02.123456', '2024-02-29 13:01:02.123456+05:30', "
      " '2024-02-29 13:01:02.6+00', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{\"b\": 1,  \"a\": [1, 2.50]}', "
      " '{\"b\": 1,  \"a\": [1, 2.50]}', 'happy', '-1234.56', '10.0.0.1/8', '1 day 02:03:04', '12:00:00+05:30', '{1,NULL,3}', B'101', '\\351', '10.1/16', ROW(NULL, NULL)), "
      "(2, false, 32767, -2147483648, 9223372036854775807, 'NaN', 'Infinity', 'NaN', -0.001, '', '', '', '', '\\x', "
      " 'infinity', '00:00:00', '23:59:59.999', 'infinity', '-infinity', 'infinity', '00000000-0000-0000-0000-000000000000', "
      " '[]', 'null', 'sad', '0', '::1', '-1 mon', '00:00:00-03', '{}', B'000', 'a', '::1', ROW(1, 'a\tb')), "
      "(3, NULL, 0, 0, 0, '-Infinity', '-Infinity', 'Infinity', 123456789.123, 'é', 'long enoug', 'abcd', 'x', '\\xdeadbeef', "
      " '-infinity', '12:34:56.000001', '00:00:00', '-infinity', 'infinity', '-infinity', NULL, '\"s\"', '\"s\"', NULL, NULL, NULL, "
      " NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
      "(4, true, 1, 1, 1, 3.4028235e38, 1e308, '-Infinity', 0, 'x', 'y', 'z', 'w', '\\x', '0044-03-15 BC', '00:00:00.5', "
      " '12:00:00.1', '0044-03-15 12:00:00.25 BC', '0044-03-15 12:00:00 BC', '4713-01-01 00:00:00 BC', NULL, '1', '1', NULL, "
      " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
      "(5, false, -1, -1, -1, 1.17549435e-38, 5e-324, -0.000000001, 999999999.999, 'y', 'z', ' ', 'v', '\\x', '0001-01-01', "
      " '00:00:01', '00:00:00', '1899-12-31 23:59:59.999999', '1901-12-13 20:45:51.5-02:30', '2000-01-01 00:00:00', NULL, NULL, "
      " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
      "(6, NULL, NULL, NULL, NULL, -0.0, -0.0, 12345678901234567890.12345678901234567890000, NULL, NULL, NULL, NULL, NULL, NULL, "
      " '1999-12-31', NULL, NULL, '1999-12-31 23:59:59.000001', '1970-01-01 00:00:00+00', '294276-12-31 23:59:59', NULL, NULL, "
      " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
  // Big scales and long values.
  db.exec("INSERT INTO v (id, n, t) SELECT 100 + g, (g::numeric / 7) ^ 3, repeat('x', g * 100) FROM generate_series(1, 30) g");
  const std::vector<Column> cols = describe_columns(db, "v");

  RawConn raw(tmp.url());
  // Text: each column's text output (a text-format result, as COPY text carries it before
  // escaping), read the way the text path read it.
  std::string text_sql = "SELECT ";
  std::string bin_sql = "COPY (SELECT ";
  for (std::size_t i = 0; i < cols.size(); ++i) {
    text_sql += (i ? ", " : "") + ("\"" + cols[i].name + "\"");
    // Each column twice: as read from its table, and cast as for a user's query.
    bin_sql += (i ? ", " : "") + binary_select_expr(cols[i], ("\"" + cols[i].name + "\""), true) + ", " +
               binary_select_expr(cols[i], ("\"" + cols[i].name + "\""), false);
  }
  text_sql += " FROM v ORDER BY v.id";
  bin_sql += " FROM v ORDER BY v.id) TO STDOUT (FORMAT binary)";
  PGresult* tr = PQexec(raw.c, text_sql.c_str());
  REQUIRE(PQresultStatus(tr) == PGRES_TUPLES_OK);
  std::vector<Row> expected;
  for (int r = 0; r < PQntuples(tr); ++r) {
    Row row;
    for (int c = 0; c < PQnfields(tr); ++c)
      row.push_back(PQgetisnull(tr, r, c) ? Value() : value_from_text(cols[static_cast<std::size_t>(c)],
                                                                      std::string_view(PQgetvalue(tr, r, c), static_cast<std::size_t>(PQgetlength(tr, r, c)))));
    expected.push_back(std::move(row));
  }
  PQclear(tr);

  PGresult* cr = PQexec(raw.c, bin_sql.c_str());
  REQUIRE(PQresultStatus(cr) == PGRES_COPY_OUT);
  PQclear(cr);
  std::string all;  // the whole stream, then parsed as one buffer
  char* buf = nullptr;
  int n;
  while ((n = PQgetCopyData(raw.c, &buf, 0)) > 0) {
    all.append(buf, static_cast<std::size_t>(n));
    PQfreemem(buf);
  }
  while (PGresult* r = PQgetResult(raw.c)) {
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
  }
  std::string_view in(all);
  REQUIRE(parse_copy_binary_header(in));
  std::vector<BinaryField> f;
  std::size_t row = 0;
  for (;;) {
    TupleStatus st = parse_copy_binary_tuple(in, f);
    REQUIRE(st != TupleStatus::Incomplete);
    if (st == TupleStatus::End) break;
    REQUIRE(row < expected.size());
    REQUIRE(f.size() == 2 * cols.size());
    for (std::size_t k = 0; k < f.size(); ++k) {
      std::size_t c = k / 2;
      Value got = f[k].len < 0 ? Value()
                               : value_from_binary(source_binary_type(cols[c]), cols[c], f[k].data, static_cast<std::size_t>(f[k].len));
      INFO("row " << row << " column " << cols[c].name << (k % 2 ? " (cast)" : "") << ": text " << expected[row][c].to_display(200)
                  << ", binary " << got.to_display(200));
      CHECK(got == expected[row][c]);
    }
    ++row;
  }
  CHECK(row == expected.size());
  CHECK(in.empty());
}

namespace {
// Writes `rows` into two tables of columns `ddl`, by binary COPY (as `types`) and by text COPY,
// and checks that the server holds the same in both.
void check_binary_writes_as_text(const std::string& db_name, const std::string& ddl, const std::vector<BinaryType>& types,
                                 const std::vector<Row>& rows, const std::string& setup = "") {
  pg_test::TempDb tmp(db_name);
  pg_test::Conn db(tmp.url());
  if (!setup.empty()) db.exec(setup);
  db.exec("CREATE TABLE bin " + ddl);
  db.exec("CREATE TABLE txt " + ddl);
  const std::uint16_t ncols = static_cast<std::uint16_t>(types.size());
  const char count[2] = {static_cast<char>(ncols >> 8), static_cast<char>(ncols & 0xff)};
  ByteBuffer bin;
  append_copy_binary_header(bin);
  std::string txt;
  for (const Row& r : rows) {
    bin.append(count, 2);
    for (std::size_t i = 0; i < r.size(); ++i) {
      INFO("column " << i << " value " << r[i].to_display());
      REQUIRE(append_binary_field(types[i], r[i], bin));
      if (i) txt += '\t';
      append_copy_text(r[i], txt);
    }
    txt += '\n';
  }
  append_copy_binary_trailer(bin);
  RawConn raw(tmp.url());
  auto copy_in = [&](const std::string& sql, const std::string& data) {
    PGresult* r = PQexec(raw.c, sql.c_str());
    REQUIRE(PQresultStatus(r) == PGRES_COPY_IN);
    PQclear(r);
    REQUIRE(PQputCopyData(raw.c, data.data(), static_cast<int>(data.size())) == 1);
    REQUIRE(PQputCopyEnd(raw.c, nullptr) == 1);
    while (PGresult* res = PQgetResult(raw.c)) {
      INFO(PQresultErrorMessage(res));
      CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
      PQclear(res);
    }
  };
  copy_in("COPY bin FROM STDIN (FORMAT binary)", std::string(bin.view()));
  copy_in("COPY txt FROM STDIN", txt);
  std::vector<std::string> a = db.rows("SELECT row_number() OVER (), * FROM bin");
  std::vector<std::string> b = db.rows("SELECT row_number() OVER (), * FROM txt");
  REQUIRE(a.size() == rows.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == b[i]);
}
}  // namespace

TEST_CASE("postgres: COPY binary writes what COPY text writes, for Values of any kind", "[postgres]") {
  const std::string ddl =
      "(b bool, i2 int2, i4 int4, i8 int8, f4 real, f8 float8, n numeric, n2 numeric(6,2), t text, vc varchar(5), c char(3), "
      "by bytea, d date, tm time, tm0 time(0), ts timestamp, tz timestamptz, u uuid, j json, jb jsonb)";
  const std::vector<BinaryType> types = {BinaryType::Bool, BinaryType::Int2, BinaryType::Int4, BinaryType::Int8,
                                         BinaryType::Float4, BinaryType::Float8, BinaryType::Numeric, BinaryType::Numeric,
                                         BinaryType::Text, BinaryType::Text, BinaryType::Text, BinaryType::Bytea,
                                         BinaryType::Date, BinaryType::Time, BinaryType::Time, BinaryType::Timestamp,
                                         BinaryType::TimestampTz, BinaryType::Uuid, BinaryType::Json, BinaryType::Jsonb};
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  // Values as other sources deliver them: kinds other than the column's own included.
  const std::vector<Row> rows = {
      {Value::boolean(true), Value::int64(-5), Value::uint64(7), Value::int64(1LL << 40), Value::float64(0.1), Value::float64(0.1),
       Value::decimal("-123.4500"), Value::decimal("1.005"), Value::string("x\ty"), Value::string("abc"), Value::string("a"),
       Value::bytes(std::string("\0\1", 2)), Value::date("2024-02-29"), Value::time("13:01:02.123456"), Value::time("13:01:02.5"),
       Value::timestamp("2024-02-29 13:01:02.123456"), Value::timestamp_tz("2024-03-01 01:30:00.5+05:30"),
       Value::uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), Value::json("{\"a\": 1}"), Value::json("{\"b\": [1, 2], \"a\": null}")},
      {Value::string("false"), Value::decimal("12"), Value::string("-2147483648"), Value::int64(0), Value::float64(nan),
       Value::float64(-inf), Value::int64(-42), Value::float64(2.5), Value::int64(9), Value::decimal("1.50"), Value::string("ab "),
       Value::bytes(""), Value::date("infinity"), Value::time("24:00:00"), Value::time("23:59:59.9"), Value::timestamp("-infinity"),
       Value::timestamp("2024-02-29 13:01:02"), Value::string("A0EEBC999C0B4EF8BB6D6BB9BD380A11"), Value::string("[1, 2]"),
       Value::string("\"s\"")},
      {Value(), Value(), Value(), Value(), Value::float64(3.4028235677973366e38), Value::float64(-0.0), Value::float64(1e20),
       Value::string("3.14159"), Value::json("{}"), Value(), Value(), Value(), Value::date("0044-03-15 BC"), Value(), Value(),
       Value::timestamp("0044-03-15 12:00:00 BC"), Value::timestamp_tz("0044-03-15 12:00:00+00 BC"), Value(), Value(), Value()},
      {Value::boolean(false), Value::uint64(32767), Value(), Value::string("+17"), Value::int64(16777217), Value::int64(9007199254740993LL),
       Value::string("NaN"), Value::decimal("-0.00"), Value::timestamp("2024-02-29 13:01:02"), Value::string(""), Value::string(""),
       Value(), Value::date("1999-12-31"), Value::time("00:00:00"), Value(), Value::timestamp("1999-12-31 23:59:59.999999"),
       Value::timestamp_tz("1969-12-31 23:59:59.999999-00:30"), Value(), Value(), Value()},
  };
  check_binary_writes_as_text("copybinw", ddl, types, rows);
}

TEST_CASE("postgres: COPY binary writes enum, text[], bit, bit varying and interval columns as text would", "[postgres]") {
  const std::string ddl = "(e mood, a text[], b bit(4), vb bit varying(8), iv interval)";
  const std::vector<BinaryType> types = {target_binary_type("mood", 'e'), target_binary_type("_text", 'b'),
                                         target_binary_type("bit", 'b'), target_binary_type("varbit", 'b'),
                                         target_binary_type("interval", 'b')};
  CHECK(types == std::vector<BinaryType>{BinaryType::Text, BinaryType::TextArray, BinaryType::VarBit, BinaryType::VarBit,
                                         BinaryType::Interval});
  // As MariaDB's ENUM, SET, BIT and TIME columns arrive after the type mapper.
  const std::vector<Row> rows = {
      {Value::string("happy"), Value::string("{red,green}"), Value::string("1010"), Value::string("00010101"),
       Value::time("-838:59:59.000000")},
      {Value::string("sad"), Value::string("{}"), Value::string("0000"), Value::string(""), Value::time("838:59:59.5")},
      {Value(), Value::string(R"({"with space","a\"b","",NULL,"ünï"})"), Value(), Value::string("1"), Value::time("00:00:00")},
      {Value::string("ok"), Value::string("{x}"), Value::string("1111"), Value::string("11111111"), Value::string("24:00:01.000001")},
  };
  check_binary_writes_as_text("copybinw2", ddl, types, rows, "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
  // What has no exact binary form is refused, so the writer falls back to text.
  ByteBuffer out;
  CHECK_FALSE(append_binary_field(BinaryType::TextArray, Value::string("{{1,2},{3,4}}"), out));
  CHECK_FALSE(append_binary_field(BinaryType::TextArray, Value::string("red,green"), out));
  CHECK_FALSE(append_binary_field(BinaryType::TextArray, Value::string("[0:1]={a,b}"), out));
  CHECK_FALSE(append_binary_field(BinaryType::VarBit, Value::string("10a1"), out));
  CHECK_FALSE(append_binary_field(BinaryType::Interval, Value::string("1 day 02:00:00"), out));
  CHECK_FALSE(append_binary_field(BinaryType::Interval, Value::time("12:61:00"), out));
  CHECK(out.size() == 0);
}
