// Expressions across dialects (lib/core/sql_expr.h): what translates, exactly how, and what is
// refused with its reason.
#include "core/sql_expr.h"

#include <catch2/catch.hpp>

using cdc::detail::ExprScope;
using cdc::detail::translate_default;
using cdc::detail::translate_expression;
using cdc::detail::translate_key_list;

namespace {

ExprScope scope(const std::string& from, const std::string& to) {
  ExprScope s;
  s.from = from;
  s.to = to;
  s.source_columns = {"id", "qty", "price", "name", "first", "last", "status", "email", "a", "b", "secret", "Mixed", "time"};
  for (const auto& c : s.source_columns)
    if (c != "secret") s.target_of[c] = c;
  s.target_of["name"] = "full_name";  // renamed
  return s;
}

std::string ok(const cdc::detail::ExprResult& r) {
  INFO(r.why);
  REQUIRE(r.ok);
  return r.text;
}

std::string why(const cdc::detail::ExprResult& r) {
  INFO(r.text);
  REQUIRE_FALSE(r.ok);
  return r.why;
}

cdc::LogicalType type(cdc::TypeId id, int fsp = -1) {
  cdc::LogicalType t;
  t.id = id;
  t.fsp = fsp;
  return t;
}

}  // namespace

TEST_CASE("sql_expr: within one dialect the text stays, renamed columns change", "[unit][sql_expr]") {
  auto pg = scope("postgresql", "postgresql");
  CHECK(ok(translate_expression("(qty > 0)", pg)) == "(qty > 0)");
  CHECK(ok(translate_expression("((name)::text <> ''::text)", pg)) == "((\"full_name\")::text <> ''::text)");
  // Type words after :: are not columns, even when a column has that name.
  CHECK(ok(translate_expression("(a > '2020-01-01 00:00:00'::timestamp without time zone)", pg)) ==
        "(a > '2020-01-01 00:00:00'::timestamp without time zone)");
  CHECK(ok(translate_expression("lower(\"Mixed\")", pg)) == "lower(\"Mixed\")");
  CHECK(why(translate_expression("(secret IS NOT NULL)", pg)) == "it uses column secret, which is not copied");
  auto my = scope("mysql", "mysql");
  CHECK(ok(translate_expression("`qty` > 0 and `NAME` <> ''", my)) == "`qty` > 0 and `full_name` <> ''");
  auto kl = translate_key_list("`a`, `b` DESC", my);
  CHECK(ok(kl) == "`a`, `b` DESC");
  CHECK(kl.plain_columns);
  CHECK(kl.columns == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(translate_key_list("lower(email) text_pattern_ops", pg).plain_columns);
}

TEST_CASE("sql_expr: MariaDB CHECKs and generated columns for PostgreSQL and SQLite", "[unit][sql_expr]") {
  auto to_pg = scope("mysql", "postgresql");
  CHECK(ok(translate_expression("`qty` > 0", to_pg)) == "(\"qty\" > 0)");
  CHECK(ok(translate_expression("`status` in ('new','it''s','a\\\\b')", to_pg)) == "(\"status\" IN ('new', 'it''s', 'a\\b'))");
  CHECK(ok(translate_expression("`qty` * `price`", to_pg)) == "(\"qty\" * \"price\")");
  // MariaDB's CONCAT is NULL when an argument is: so is ||.
  CHECK(ok(translate_expression("concat(`first`,' ',`last`)", to_pg)) == "(\"first\" || ' ' || \"last\")");
  CHECK(ok(translate_expression("char_length(`name`) between 1 and 20", to_pg)) ==
        "(char_length(\"full_name\") BETWEEN 1 AND 20)");
  CHECK(ok(translate_expression("length(`name`)", to_pg)) == "octet_length(\"full_name\")");
  CHECK(ok(translate_expression("if(`qty` > 0, 'some', 'none')", to_pg)) == "(CASE WHEN (\"qty\" > 0) THEN 'some' ELSE 'none' END)");
  // MariaDB's || is OR, and NOT binds looser than comparisons.
  CHECK(ok(translate_expression("`a` = 1 || `b` = 2", to_pg)) == "((\"a\" = 1) OR (\"b\" = 2))");
  CHECK(ok(translate_expression("not `a` = 1", to_pg)) == "(NOT (\"a\" = 1))");
  CHECK(ok(translate_expression("_utf8mb4'x' = `name`", to_pg)) == "('x' = \"full_name\")");
  CHECK(why(translate_expression("`a` / 2", to_pg)).find("divides") != std::string::npos);
  CHECK(why(translate_expression("json_valid(`name`)", to_pg)) == "json_valid() has no known counterpart in PostgreSQL");
  CHECK(why(translate_expression("`a` & 1", to_pg)).find("bitwise") != std::string::npos);
  CHECK(why(translate_expression("`nope` > 1", to_pg)) == "\"nope\" is not a column of the table");

  auto to_lite = scope("mysql", "sqlite");
  CHECK(ok(translate_expression("char_length(`name`) > 0", to_lite)) == "(length(\"full_name\") > 0)");
  CHECK(why(translate_expression("length(`name`) > 0", to_lite)).find("bytes") != std::string::npos);
}

TEST_CASE("sql_expr: PostgreSQL's catalog text for MariaDB and SQLite", "[unit][sql_expr]") {
  auto to_my = scope("postgresql", "mysql");
  // pg_get_constraintdef of CHECK (status IN ('a', 'b')) on a varchar column.
  CHECK(ok(translate_expression("((status)::text = ANY ((ARRAY['new'::character varying, 'done'::character varying])::text[]))",
                                to_my)) == "(`status` IN ('new', 'done'))");
  CHECK(ok(translate_expression("(status <> ALL (ARRAY['x'::text]))", to_my)) == "(`status` NOT IN ('x'))");
  CHECK(ok(translate_expression("(price >= (0)::numeric)", to_my)) == "(`price` >= 0)");
  CHECK(ok(translate_expression("((first || ' '::text) || last)", to_my)) == "concat(`first`, ' ', `last`)");
  CHECK(ok(translate_expression("(qty * 2)", to_my)) == "(`qty` * 2)");
  CHECK(ok(translate_expression("(a IS NOT DISTINCT FROM b)", to_my)) == "(`a` <=> `b`)");
  CHECK(ok(translate_expression("((qty)::numeric * price)", to_my)) == "(CAST(`qty` AS DECIMAL(65,30)) * `price`)");
  CHECK(ok(translate_expression("lower((email)::text)", to_my)) == "lower(`email`)");
  CHECK(ok(translate_expression("'a\\b'::text = name", to_my)) == "('a\\\\b' = `full_name`)");
  // PostgreSQL: + binds tighter than ||; SQLite: the other way round. The tree keeps PostgreSQL's.
  auto to_lite = scope("postgresql", "sqlite");
  CHECK(ok(translate_expression("((a + b) || 'x'::text)", to_lite)) == "((\"a\" + \"b\") || 'x')");
  CHECK(ok(translate_expression("a + b || 'x'", to_lite)) == "((\"a\" + \"b\") || 'x')");
  CHECK(ok(translate_expression("length(name)", to_lite)) == "length(\"full_name\")");
  CHECK(why(translate_expression("(email ~ '@'::text)", to_my)).find("operator ~") != std::string::npos);
  CHECK(why(translate_expression("(a)::interval", to_my)).find("interval") != std::string::npos);
  CHECK(why(translate_expression("concat(a, b)", to_lite)).find("SQLite") != std::string::npos);
  CHECK(ok(translate_expression("concat(a, b)", to_my)) == "concat_ws('', `a`, `b`)");
}

TEST_CASE("sql_expr: SQLite's stored text for PostgreSQL and MariaDB", "[unit][sql_expr]") {
  auto to_pg = scope("sqlite", "postgresql");
  CHECK(ok(translate_expression("qty > 0 AND length(name) > 0", to_pg)) == "((\"qty\" > 0) AND (length(\"full_name\") > 0))");
  CHECK(ok(translate_expression("[qty] == 1", to_pg)) == "(\"qty\" = 1)");
  // SQLite: || binds tighter than *: a * b || 'x' is a * (b || 'x').
  CHECK(ok(translate_expression("a * b || 'x'", to_pg)) == "(\"a\" * (\"b\" || 'x'))");
  CHECK(ok(translate_expression("ifnull(a, 0)", to_pg)) == "coalesce(\"a\", 0)");
  CHECK(ok(translate_expression("a IS NOT b", to_pg)) == "(\"a\" IS DISTINCT FROM \"b\")");
  CHECK(ok(translate_expression("max(a, b)", to_pg)) == "greatest(\"a\", \"b\")");
  CHECK(why(translate_expression("qty / price", to_pg)) == "/ by zero is NULL in SQLite and an error in PostgreSQL");
  CHECK(ok(translate_expression("qty / price", scope("postgresql", "sqlite"))) == "(\"qty\" / \"price\")");
  auto to_my = scope("sqlite", "mysql");
  CHECK(ok(translate_expression("first || ' ' || last", to_my)) == "concat(`first`, ' ', `last`)");
  CHECK(ok(translate_expression("email LIKE '%@%'", to_my)) == "(`email` LIKE '%@%')");
  CHECK(why(translate_expression("email LIKE '%\\_%'", to_my)).find("backslash") != std::string::npos);
  CHECK(ok(translate_key_list("lower(email), qty DESC", to_pg)) == "lower(\"email\"), \"qty\" DESC");
  CHECK_FALSE(translate_key_list("lower(email)", to_pg).plain_columns);
  CHECK(translate_key_list("email, qty DESC", to_pg).plain_columns);
}

TEST_CASE("sql_expr: defaults translate by the target column's type", "[unit][sql_expr]") {
  auto my_pg = scope("mysql", "postgresql");
  CHECK(ok(translate_default("current_timestamp()", type(cdc::TypeId::Timestamp), my_pg)) == "CURRENT_TIMESTAMP");
  CHECK(ok(translate_default("current_timestamp(6)", type(cdc::TypeId::Timestamp, 6), my_pg)) == "CURRENT_TIMESTAMP(6)");
  CHECK(ok(translate_default("0", type(cdc::TypeId::Bool), my_pg)) == "false");
  CHECK(ok(translate_default("'new'", type(cdc::TypeId::String), my_pg)) == "'new'");
  CHECK(ok(translate_default("'it''s'", type(cdc::TypeId::String), my_pg)) == "'it''s'");
  CHECK(ok(translate_default("-1.5", type(cdc::TypeId::Decimal), my_pg)) == "-1.5");
  CHECK(ok(translate_default("NULL", type(cdc::TypeId::Int32), my_pg)).empty());
  CHECK(ok(translate_default("'2024-01-31'", type(cdc::TypeId::Date), my_pg)) == "'2024-01-31'");
  CHECK_FALSE(translate_default("'0000-00-00 00:00:00'", type(cdc::TypeId::Timestamp), my_pg).ok);
  CHECK_FALSE(translate_default("b'1'", type(cdc::TypeId::Bit), my_pg).ok);
  CHECK_FALSE(translate_default("uuid()", type(cdc::TypeId::String), my_pg).ok);
  CHECK_FALSE(translate_default("'abc'", type(cdc::TypeId::Int32), my_pg).ok);

  auto pg_my = scope("postgresql", "mysql");
  CHECK(ok(translate_default("now()", type(cdc::TypeId::TimestampTz, 3), pg_my)) == "current_timestamp(3)");
  CHECK(ok(translate_default("CURRENT_TIMESTAMP", type(cdc::TypeId::Timestamp), pg_my)) == "current_timestamp(6)");
  CHECK(ok(translate_default("'pending'::character varying", type(cdc::TypeId::String), pg_my)) == "'pending'");
  CHECK(ok(translate_default("true", type(cdc::TypeId::Bool), pg_my)) == "1");
  CHECK(ok(translate_default("(0)::numeric", type(cdc::TypeId::Decimal), pg_my)) == "0");
  CHECK(ok(translate_default("'a\\b'::text", type(cdc::TypeId::String), pg_my)) == "'a\\\\b'");
  CHECK(why(translate_default("nextval('t_id_seq'::regclass)", type(cdc::TypeId::Int64), pg_my)) ==
        "an expression default is not translated");

  auto lite_pg = scope("sqlite", "postgresql");
  CHECK(ok(translate_default("CURRENT_TIMESTAMP", type(cdc::TypeId::Timestamp), lite_pg)) == "CURRENT_TIMESTAMP");
  CHECK(ok(translate_default("(datetime('now'))", type(cdc::TypeId::Timestamp), lite_pg)) == "CURRENT_TIMESTAMP");
  CHECK(ok(translate_default("'x'", type(cdc::TypeId::String), lite_pg)) == "'x'");
  CHECK(ok(translate_default("1", type(cdc::TypeId::Bool), lite_pg)) == "true");
  // The same dialect keeps its text.
  auto same = scope("mysql", "mysql");
  CHECK(ok(translate_default("current_timestamp(6)", type(cdc::TypeId::Timestamp), same)) == "current_timestamp(6)");
}

TEST_CASE("sql_expr: SQLite statements give their CHECKs, generated columns and index parts", "[unit][sql_expr]") {
  auto t = cdc::detail::parse_sqlite_create_table(
      "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, qty INT NOT NULL CHECK (qty >= 0), price REAL DEFAULT (1.5),\n"
      "  total REAL GENERATED ALWAYS AS (qty * price) STORED, label TEXT AS (upper(name)), name TEXT,\n"
      "  CONSTRAINT pos_price CHECK (price > 0), FOREIGN KEY (qty) REFERENCES other(id), CHECK (name <> ''))");
  CHECK(t.autoincrement);
  REQUIRE(t.checks.size() == 3);
  CHECK(t.checks[0].name.empty());
  CHECK(t.checks[0].expression == "qty >= 0");
  CHECK(t.checks[1].name == "pos_price");
  CHECK(t.checks[1].expression == "price > 0");
  CHECK(t.checks[2].expression == "name <> ''");
  REQUIRE(t.generated.size() == 2);
  CHECK(t.generated["total"].expression == "qty * price");
  CHECK(t.generated["total"].stored);
  CHECK(t.generated["label"].expression == "upper(name)");
  CHECK_FALSE(t.generated["label"].stored);

  auto i = cdc::detail::parse_sqlite_create_index("CREATE UNIQUE INDEX ix ON items (lower(name), qty DESC) WHERE qty > 0");
  CHECK(i.keys == "lower(name), qty DESC");
  CHECK(i.where == "qty > 0");
}
