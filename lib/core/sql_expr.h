// SQL expression text across dialects: what a source's catalog says about a column default, a
// generated column, a CHECK constraint or an index key, rewritten for another database
// ("postgresql", "mysql", "sqlite", as connectors name their dialect), with column names
// following the table's renames. Within one dialect the text is kept as the source wrote it and
// only renamed columns change. Across dialects an expression is parsed with the source's
// operator precedence and printed fully parenthesised in the target's terms; only what is known
// to mean the same on both sides translates (listed operators, literals, casts and functions):
// anything else fails with the reason, never with a guess. Expressions are catalog text, never
// user data. Pure functions; thread-safe.
#pragma once

#include <cdc/schema.h>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cdc::detail {

// Whether expressions can be translated from and to this dialect.
bool known_dialect(std::string_view dialect);

// `name` quoted as an identifier of `dialect` ("x" for postgresql and sqlite, `x` for mysql).
std::string quote_identifier(std::string_view name, std::string_view dialect);

// Names joined with ", ": as they are (already quoted, or for a message), or each quoted as an
// identifier of `dialect`.
std::string join_names(const std::vector<std::string>& names);
std::string join_quoted(const std::vector<std::string>& names, std::string_view dialect);

// A foreign key's ON DELETE / ON UPDATE action as SQL says it ("SET NULL", "NO ACTION").
std::string action_sql(ForeignKeyAction action);

// `text` as a string literal of `dialect` ('...' with quotes doubled; MariaDB also doubles
// backslashes, which it reads as escapes).
std::string quote_string(std::string_view text, std::string_view dialect);

// Where an expression comes from and goes to, and the table's columns.
struct ExprScope {
  std::string from;  // source dialect
  std::string to;    // target dialect
  std::vector<std::string> source_columns;       // every column of the source table
  std::map<std::string, std::string> target_of;  // source column -> target column (copied ones only)
};

struct ExprResult {
  bool ok = false;
  std::string text;                  // in the target's dialect (ok)
  std::string why;                   // why it does not translate (!ok)
  std::vector<std::string> columns;  // target columns it uses, in order of first use
  bool plain_columns = false;        // a key list of bare columns (with ASC/DESC) only
};

// A scalar expression (generated column, CHECK, partial index predicate).
ExprResult translate_expression(std::string_view text, const ExprScope& scope);

// An index key list ("lower(email), created_at DESC"), without its outer parentheses.
ExprResult translate_key_list(std::string_view text, const ExprScope& scope);

// A column default for a target column of type `target`: literals that fit the type, NULL
// (ok with empty text: no default), and the current date/time. Across dialects nothing else.
// Within one dialect the text as it is.
ExprResult translate_default(std::string_view text, const LogicalType& target, const ExprScope& scope);

// The parts of an SQLite CREATE TABLE statement that are expressions: each column's generated
// expression (with VIRTUAL/STORED) and the CHECK constraints (table and column ones, with their
// names where given). Read from sqlite_schema.sql, which keeps the statement as written.
struct SqliteTableSql {
  struct Generated {
    std::string expression;
    bool stored = false;
  };
  std::map<std::string, Generated> generated;  // by column name (as written)
  std::vector<CheckDef> checks;
  bool autoincrement = false;
};
SqliteTableSql parse_sqlite_create_table(std::string_view sql);

// The contents of the parentheses that open at or after `from` in `text` (quotes respected), and
// the position just past the closing one; empty contents and npos when there are none.
std::pair<std::string, std::size_t> parenthesized(std::string_view text, std::string_view dialect, std::size_t from = 0);

// The parts of a comma-separated list, split at top-level commas (quotes and parentheses
// respected), each as written without surrounding blanks.
std::vector<std::string> split_list(std::string_view text, std::string_view dialect);

// An SQLite CREATE INDEX statement's key list (without parentheses) and WHERE predicate.
struct SqliteIndexSql {
  std::string keys;
  std::string where;
};
SqliteIndexSql parse_sqlite_create_index(std::string_view sql);

}  // namespace cdc::detail
