// TypeMapper: how a source column becomes a destination column, and how values convert.
// One mapper serves the snapshot and the stream, so a value converts the same way whichever
// path it took. Implementations are immutable after construction and thread-safe.
#pragma once

#include <cdc/export.h>
#include <cdc/schema.h>
#include <cdc/value.h>

#include <memory>
#include <string_view>

namespace cdc {

class CDC_API TypeMapper {
 public:
  virtual ~TypeMapper() = default;
  // The destination column for `source` (its name is kept; renames happen before).
  virtual Column map_column(const Column& source, std::string_view source_dialect,
                            std::string_view target_dialect) const = 0;
  // Converts one value; throws cdc::Error(Conversion) when the target cannot represent it.
  virtual Value convert(const Value& value, const Column& source, const Column& target) const = 0;
  // True when convert() returns its input unchanged for this pair (lets callers skip it).
  virtual bool is_identity(const Column& source, const Column& target) const = 0;
};

// The built-in rules (identity within one dialect; cross-dialect rules grow with connectors).
CDC_API std::shared_ptr<const TypeMapper> default_type_mapper();

}  // namespace cdc
