// One statement for a derived foreign-key cascade (DestinationWriter::apply_cascade), in any SQL
// dialect: DELETE (or the soft-delete flag set), or UPDATE ... SET NULL / new values, WHERE the
// rows are selected by literal keys or, deeper, by the referenced columns of the rows the level
// above selects (a nested IN (SELECT ...)). Values go through the dialect's placeholders, never
// into the text.
#pragma once

#include <cdc/destination.h>

#include <functional>
#include <string>

namespace cdc::detail {

struct CascadeDialect {
  std::function<std::string(const std::string&)> quote_ident;
  std::function<std::string(const TableSchema&)> table_name;  // the quoted, qualified target name
  // A placeholder for `value` of `column`, recorded by the writer for binding (or its escaped
  // literal, for a writer that sends values that way).
  std::function<std::string(const Value& value, const Column& column)> value;
  std::string true_literal = "TRUE";
  // MariaDB refuses a subquery on the table a statement changes unless it is materialised first.
  bool materialise_subqueries = false;
};

std::string cascade_statement(const CascadeChange& change, const CascadeDialect& dialect);

}  // namespace cdc::detail
