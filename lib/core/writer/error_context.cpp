#include "core/writer/error_context.h"

#include "core/text_util.h"

#include <fmt/format.h>

namespace cdc::detail {

namespace {
constexpr std::size_t kKeysShown = 3;
}

std::string change_text(ChangeOp op, const TableSchema& schema, const Row& image) {
  return fmt::format("{} of key {}", to_string(op), row_key_text(schema, image));
}

std::string rows_text(std::string_view what, const TableSchema& schema, const std::vector<const Row*>& rows) {
  std::string keys;
  for (std::size_t i = 0; i < rows.size() && i < kKeysShown; ++i)
    keys += (keys.empty() ? "" : "; ") + row_key_text(schema, *rows[i]);
  if (rows.size() > kKeysShown) keys += "; ...";
  const bool one = rows.size() == 1;
  return fmt::format("{} {}{} ({} {})", rows.size(), what, one ? "" : "s", one ? "key" : "keys", keys);
}

void rethrow_applying(const Error& e, const std::string& what, const std::string& table) {
  throw Error(e.kind(), fmt::format("{} (applying {} to table {})", e.message(), what, table), e.retryable(), e.where());
}

}  // namespace cdc::detail
