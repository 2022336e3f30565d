// PostgreSQL array literals ("{1,NULL,\"a \\\"b\\\"\"}", "{{1,2},{3,4}}", "[0:1]={7,8}"), the text
// form in which arrays travel from a PostgreSQL source (COPY text, pgoutput) and in which cdc
// writes text[] values for PostgreSQL (either COPY format accepts it). Used by the type rules and
// by the PostgreSQL connector. Format: https://www.postgresql.org/docs/15/arrays.html#ARRAYS-IO
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cdc::detail {

// One element of an array literal, or a sub-array (one more dimension).
struct ArrayNode {
  bool is_array = false;
  bool is_null = false;        // the unquoted element NULL
  std::string text;            // the element, unquoted and unescaped
  std::vector<ArrayNode> items;  // is_array: the elements
};

// Parses a literal; dimension bounds ("[0:1]=") are read and dropped. `delimiter` is ',' for every
// type but box (';'). Throws cdc::Error(Conversion) on malformed text.
ArrayNode parse_array_literal(std::string_view text, char delimiter = ',');

// A one-dimensional literal of non-NULL text elements, quoted where PostgreSQL needs it:
// {} for none, {red,green}, {"with space","a\"b",""}.
std::string text_array_literal(const std::vector<std::string>& items);

}  // namespace cdc::detail
