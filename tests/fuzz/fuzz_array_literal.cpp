// libFuzzer target: PostgreSQL array literal parsing (lib/core/array_literal.h), and writing the
// parsed elements back as a text[] literal that must parse to the same elements.
// Input: an options byte (bit 0: ';' as the delimiter, as box[] uses, else ','), then the literal.
// Seeds: tests/fuzz/corpus/array_literal/, array columns' text output from a real PostgreSQL
// (tests/fuzz/README.md).
#include "core/array_literal.h"

#include <cdc/error.h>

#include <cstdlib>
#include <string>
#include <vector>

using cdc::detail::ArrayNode;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const char delimiter = (data[0] & 1) ? ';' : ',';
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  ArrayNode root;
  try {
    root = cdc::detail::parse_array_literal(text, delimiter);
  } catch (const cdc::Error&) {
    return 0;  // malformed: refused with an error
  }
  // A one-dimensional array of non-NULL elements round-trips through text_array_literal.
  std::vector<std::string> items;
  for (const auto& item : root.items) {
    if (item.is_array || item.is_null) return 0;
    items.push_back(item.text);
  }
  ArrayNode again = cdc::detail::parse_array_literal(cdc::detail::text_array_literal(items));
  if (again.items.size() != items.size()) std::abort();
  for (std::size_t i = 0; i < items.size(); ++i)
    if (again.items[i].is_array || again.items[i].is_null || again.items[i].text != items[i]) std::abort();
  return 0;
}
