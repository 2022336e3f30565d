// PostgreSQL value codecs without a server: COPY text rows (the destination's fallback when a
// table cannot go in binary), type mapping, text -> Value, LSNs.
#include "postgres/pg_connectors.h"
#include "postgres/pg_types.h"

#include <cdc/error.h>

#include <catch2/catch.hpp>

#include <cctype>
#include <cmath>

using namespace cdc;
using namespace cdc::pg;

namespace {
// COPY text format row parsing (https://www.postgresql.org/docs/15/sql-copy.html, "Text Format"):
// fields separated by tabs, \N for NULL, backslash escapes. The library only writes this format;
// the parser checks what it writes.
void parse_copy_text_row(std::string_view line, std::vector<std::string>& fields, std::vector<bool>& nulls) {
  std::size_t n = 0;
  std::size_t i = 0;
  auto field = [&]() -> std::string& {
    if (fields.size() <= n) fields.emplace_back();
    if (nulls.size() <= n) nulls.push_back(false);
    fields[n].clear();
    nulls[n] = false;
    return fields[n];
  };
  std::string* cur = &field();
  while (i < line.size()) {
    char c = line[i];
    if (c == '\t') {
      ++n;
      cur = &field();
      ++i;
      continue;
    }
    if (c != '\\') {
      // Fast path: copy the run of plain bytes.
      std::size_t j = i;
      while (j < line.size() && line[j] != '\t' && line[j] != '\\') ++j;
      cur->append(line.data() + i, j - i);
      i = j;
      continue;
    }
    if (i + 1 >= line.size()) {
      ++i;
      continue;
    }
    char e = line[i + 1];
    i += 2;
    switch (e) {
      case 'N':
        if (cur->empty()) nulls[n] = true;
        break;
      case 'n': *cur += '\n'; break;
      case 't': *cur += '\t'; break;
      case 'r': *cur += '\r'; break;
      case 'b': *cur += '\b'; break;
      case 'f': *cur += '\f'; break;
      case 'v': *cur += '\v'; break;
      case 'x': {
        int v = 0, k = 0;
        while (k < 2 && i < line.size() && std::isxdigit(static_cast<unsigned char>(line[i]))) {
          char h = line[i++];
          v = v * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
          ++k;
        }
        *cur += static_cast<char>(v);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0', k = 1;
          while (k < 3 && i < line.size() && line[i] >= '0' && line[i] <= '7') {
            v = v * 8 + (line[i++] - '0');
            ++k;
          }
          *cur += static_cast<char>(v);
        } else {
          *cur += e;
        }
    }
  }
  fields.resize(n + 1);
  nulls.resize(n + 1);
}

}  // namespace

TEST_CASE("COPY text rows: tabs, NULL and escapes", "[pg-unit]") {
  std::vector<std::string> f;
  std::vector<bool> n;
  parse_copy_text_row("1\t\\N\ta\\tb\\nc\\\\d\t\\x41\\101\t", f, n);
  REQUIRE(f.size() == 5);
  CHECK(f[0] == "1");
  CHECK(n[1]);
  CHECK(f[2] == "a\tb\nc\\d");
  CHECK(f[3] == "AA");
  CHECK(f[4].empty());
  CHECK_FALSE(n[4]);
  parse_copy_text_row("x", f, n);
  CHECK(f.size() == 1);
  CHECK(f[0] == "x");
}

TEST_CASE("COPY text writing round-trips through the parser", "[pg-unit]") {
  std::string line;
  std::vector<Value> vals = {Value::string("a\tb\nc\\"), Value(), Value::bytes(std::string("\x00\xff", 2)), Value::boolean(true),
                             Value::float64(std::nan(""))};
  for (std::size_t i = 0; i < vals.size(); ++i) {
    if (i) line += '\t';
    append_copy_text(vals[i], line);
  }
  std::vector<std::string> f;
  std::vector<bool> n;
  parse_copy_text_row(line, f, n);
  REQUIRE(f.size() == 5);
  CHECK(f[0] == "a\tb\nc\\");
  CHECK(n[1]);
  CHECK(f[2] == "\\x00ff");
  CHECK(f[3] == "t");
  CHECK(f[4] == "NaN");
}

TEST_CASE("COPY text writing: escapes, NUL dropped, numbers and bytes", "[pg-unit]") {
  auto text = [](const Value& v) {
    std::string out = "prefix|";  // appends, never overwrites
    append_copy_text(v, out);
    return out;
  };
  CHECK(text(Value::string(std::string("a\0b\rc\\d\te\nf", 11))) == "prefix|ab\\rc\\\\d\\te\\nf");
  CHECK(text(Value::string("plain run")) == "prefix|plain run");
  CHECK(text(Value::string("")) == "prefix|");
  CHECK(text(Value::int64(-9223372036854775807LL - 1)) == "prefix|-9223372036854775808");
  CHECK(text(Value::uint64(18446744073709551615ULL)) == "prefix|18446744073709551615");
  CHECK(text(Value::float64(0.1)) == "prefix|0.1");
  CHECK(text(Value::bytes(std::string("\x00\xab", 2))) == "prefix|\\\\x00ab");
  CHECK(text(Value()) == "prefix|\\N");
}

namespace {
PgTypeInfo info(std::string name, std::string formatted, int typmod, char typtype = 'b', char category = 'U',
                std::string element = "") {
  PgTypeInfo t;
  t.name = std::move(name);
  t.formatted = std::move(formatted);
  t.typmod = typmod;
  t.typtype = typtype;
  t.category = category;
  t.element = std::move(element);
  return t;
}
}  // namespace

TEST_CASE("PostgreSQL types map to logical types", "[pg-unit]") {
  std::string st;
  PgTypeInfo num = info("numeric", "numeric(10,2)", (10 << 16 | 2) + 4);
  auto t = logical_type(num, st);
  CHECK(t.id == TypeId::Decimal);
  CHECK(t.precision == 10);
  CHECK(t.scale == 2);
  CHECK(st == "numeric(10,2)");
  PgTypeInfo vc = info("varchar", "character varying(20)", 24);
  CHECK(logical_type(vc, st).length == 20);
  PgTypeInfo arr = info("_int4", "integer[]", -1, 'b', 'A', "int4");
  t = logical_type(arr, st);
  CHECK(t.id == TypeId::Array);
  CHECK(t.element == TypeId::Int32);
  PgTypeInfo en = info("mood", "mood", -1, 'e', 'E');
  en.enum_labels = {"sad", "happy"};
  t = logical_type(en, st);
  CHECK(t.id == TypeId::Enum);
  CHECK(t.members.size() == 2);
  CHECK(st == "text");
  PgTypeInfo ts = info("timestamptz", "timestamp(3) with time zone", 3);
  CHECK(logical_type(ts, st).fsp == 3);
}

TEST_CASE("a text[] with cdc's SET comment is a SET again, arrays render as element[]", "[pg-unit]") {
  std::string st;
  PgTypeInfo set = info("_text", "text[]", -1, 'b', 'A', "text");
  set.comment = std::string(cdc::pg::kSetComment) + R"({red,"a b","q\"x"})";
  auto t = logical_type(set, st);
  CHECK(t.id == TypeId::Set);
  CHECK(t.members == std::vector<std::string>{"red", "a b", "q\"x"});
  CHECK(st == "text[]");  // PostgreSQL to PostgreSQL: text[] verbatim
  set.comment = std::string(cdc::pg::kSetComment) + "{unterminated";  // edited by hand: an ordinary array
  CHECK(logical_type(set, st).id == TypeId::Array);
  set.comment = "some other comment";
  CHECK(logical_type(set, st).id == TypeId::Array);

  cdc::LogicalType arr;
  arr.id = TypeId::Array;
  arr.element = TypeId::Int32;
  CHECK(cdc::pg::pg_type_for(arr) == "integer[]");
  arr.element = TypeId::String;
  CHECK(cdc::pg::pg_type_for(arr) == "text[]");
}

TEST_CASE("PostgreSQL text output becomes exact values", "[pg-unit]") {
  auto col = [](TypeId id, std::string source = "") {
    Column c;
    c.name = "c";
    c.type.id = id;
    c.source_type = std::move(source);
    return c;
  };
  CHECK(value_from_text(col(TypeId::Int64), "-9223372036854775808") == Value::int64(INT64_MIN));
  CHECK(value_from_text(col(TypeId::Bool), "t") == Value::boolean(true));
  CHECK(std::isnan(value_from_text(col(TypeId::Float64), "NaN").as_double()));
  CHECK(value_from_text(col(TypeId::Float64), "-Infinity").as_double() == -INFINITY);
  CHECK(value_from_text(col(TypeId::Float64), "0.1") == Value::float64(0.1));
  CHECK(value_from_text(col(TypeId::Decimal), "123.4500") == Value::decimal("123.4500"));
  CHECK(value_from_text(col(TypeId::Decimal, "money"), "-$1,234.56") == Value::decimal("-1234.56"));
  CHECK(value_from_text(col(TypeId::Bytes), "\\x00ff") == Value::bytes(std::string("\x00\xff", 2)));
  CHECK(value_from_text(col(TypeId::TimestampTz), "2024-02-29 13:01:02.5+00") == Value::timestamp_tz("2024-02-29 13:01:02.5+00:00"));
  CHECK(value_from_text(col(TypeId::TimestampTz), "infinity") == Value::timestamp_tz("infinity"));
  CHECK(value_from_text(col(TypeId::Timestamp), "2024-02-29 13:01:02.123456") == Value::timestamp("2024-02-29 13:01:02.123456"));
  CHECK(value_from_text(col(TypeId::Uuid), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").kind() == ValueKind::Uuid);
  CHECK(value_from_text(col(TypeId::Json), "{\"a\": 1}").kind() == ValueKind::Json);
  CHECK(value_from_text(col(TypeId::Interval), "1 day").kind() == ValueKind::String);
}

TEST_CASE("LSN text round-trips", "[pg-unit]") {
  CHECK(parse_lsn("16/B374D848") == 0x16B374D848ull);
  CHECK(format_lsn(0x16B374D848ull) == "16/B374D848");
  CHECK(format_lsn(0) == "0/0");
  CHECK_THROWS_AS(parse_lsn("nonsense"), cdc::Error);
  CHECK_THROWS_AS(parse_lsn("1/"), cdc::Error);
}

TEST_CASE("a missing privilege names the GRANT to add", "[pg-unit]") {
  using cdc::ErrorKind;
  using cdc::pg::missing_privilege;
  const auto src = ErrorKind::Source, dst = ErrorKind::Destination;
  CHECK(missing_privilege(dst, "ERROR:  permission denied to set parameter \"session_replication_role\"\n", "cdc", "replica") ==
        "GRANT SET ON PARAMETER session_replication_role TO \"cdc\"");
  CHECK(missing_privilege(src, "ERROR:  permission denied for table orders\n", "cdc", "shop") ==
        "GRANT SELECT ON TABLE \"orders\" TO \"cdc\"");
  CHECK(missing_privilege(src, "ERROR:  permission denied for view order_totals\n", "cdc", "shop") ==
        "GRANT SELECT ON TABLE \"order_totals\" TO \"cdc\"");
  CHECK(missing_privilege(src, "ERROR:  permission denied for schema sales\n", "cdc", "shop") ==
        "GRANT USAGE ON SCHEMA \"sales\" TO \"cdc\"");
  CHECK(missing_privilege(dst, "ERROR:  permission denied for schema public\nLINE 1: CREATE TABLE", "cdc", "replica") ==
        "GRANT USAGE, CREATE ON SCHEMA \"public\" TO \"cdc\"");
  CHECK(missing_privilege(dst, "ERROR:  permission denied for database replica\n", "cdc", "replica")
            .rfind("GRANT CREATE ON DATABASE \"replica\" TO \"cdc\"", 0) == 0);
  CHECK(missing_privilege(dst, "FATAL:  permission denied for database \"replica\"\nDETAIL:  User does not have CONNECT privilege.\n",
                          "cdc", "replica") == "GRANT CONNECT ON DATABASE \"replica\" TO \"cdc\"");
  CHECK(missing_privilege(dst, "ERROR:  permission denied to create temporary tables in database \"replica\"\n", "cdc",
                          "replica") == "GRANT TEMPORARY ON DATABASE \"replica\" TO \"cdc\"");
  CHECK(missing_privilege(src, "FATAL:  must be superuser or replication role to start walsender\n", "cdc", "shop") ==
        "ALTER ROLE \"cdc\" REPLICATION");
  const std::string owner = missing_privilege(src, "ERROR:  must be owner of table orders\n", "cdc", "shop");
  CHECK(owner.find("ALTER TABLE \"orders\" OWNER TO \"cdc\"") != std::string::npos);
  CHECK(owner.find("publication=NAME") != std::string::npos);
  CHECK(missing_privilege(src, "ERROR:  relation \"x\" does not exist\n", "cdc", "shop").empty());
}

TEST_CASE("a lock timeout is retried, a read-only server or database is retried as a lost connection is", "[pg-unit]") {
  Error lock = make_error(ErrorKind::Destination, "applying changes", "55P03", "canceling statement due to lock timeout", "");
  CHECK(lock.retryable());
  CHECK(lock.kind() == ErrorKind::Destination);
  Error ro = make_error(ErrorKind::Destination, "applying changes", "25006", "cannot execute INSERT in a read-only transaction", "");
  CHECK(ro.retryable());
  CHECK(ro.kind() == ErrorKind::Connection);
  CHECK(ro.message().find("(SQLSTATE 25006)") != std::string::npos);
  CHECK_FALSE(make_error(ErrorKind::Destination, "applying changes", "42501", "permission denied for table t", "").retryable());
}
