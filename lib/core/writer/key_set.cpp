#include "core/writer/key_set.h"

#include "core/text_util.h"

#include <cdc/plan.h>

#include <fmt/format.h>

namespace cdc::detail {

std::string key_set_table_name(std::string_view prefix, const TableId& target, const std::string& set,
                               std::size_t max_length) {
  const std::uint64_t h = fnv1a(target.schema + '\0' + target.name + '\0' + set);
  std::string name(prefix);
  if (!target.schema.empty()) name += target.schema + "_";
  name += fmt::format("{}_{}_{:08x}", target.name, set, static_cast<std::uint32_t>(h ^ (h >> 32)));
  return fit_identifier(name, max_length);
}

}  // namespace cdc::detail
