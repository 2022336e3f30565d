#include "core/writer/table_layout.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <algorithm>

namespace cdc::detail {

bool TableLayout::is_key(std::size_t i) const {
  return std::find(key.begin(), key.end(), static_cast<int>(i)) != key.end();
}

std::vector<bool> TableLayout::writable() const {
  std::vector<bool> out(ncols, true);
  for (std::size_t i = 0; i < ncols; ++i)
    if (is_computed(i)) out[i] = false;
  return out;
}

const Value& TableLayout::value(const Row& row, std::size_t i) const {
  static const Value kLive = Value::boolean(false);
  if (is_flag(i) && (i >= row.size() || row[i].is_null())) return kLive;
  return row[i];
}

TableLayout make_table_layout(const DestinationTable& table, std::string name) {
  WriteLayout w = write_layout(table);
  TableLayout t;
  t.signature = shape_signature(table);
  t.name = std::move(name);
  t.where = "table " + t.name;
  t.ncols = table.schema.columns.size();
  t.key = std::move(w.key);
  t.soft_delete = w.soft_delete;
  return t;
}

void check_width(const TableLayout& layout, const Row& row) {
  if (row.size() == layout.ncols) return;
  if (layout.soft_delete >= 0 && static_cast<std::size_t>(layout.soft_delete) + 1 == layout.ncols &&
      row.size() + 1 == layout.ncols)
    return;
  throw Error(ErrorKind::Internal,
              fmt::format("row has {} values, table {} has {} columns", row.size(), layout.name, layout.ncols), false,
              layout.where);
}

}  // namespace cdc::detail
