// TypeMapper: how a source column becomes a destination column, and how its values convert.
// One mapping per column serves the snapshot and the stream, so a value converts the same way
// whichever path it took. Within one dialect columns keep their native type and values pass
// unchanged; across dialects the rules listed by type_rules() (docs/type-mapping.md) apply,
// then user overrides (Config::cast). Mappers are immutable and thread-safe.
#pragma once

#include <cdc/export.h>
#include <cdc/schema.h>
#include <cdc/value.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cdc {

struct Config;

// Converts the values of one column. Throws cdc::Error(Conversion) for a value the target
// cannot represent; the message says why (and, where there is one, which override keeps it).
class CDC_API ValueConverter {
 public:
  virtual ~ValueConverter() = default;
  virtual Value convert(const Value& value) const = 0;
  // What the engine calls: converts `value` where it is, and leaves it alone (no copy of a large
  // value) when it needs no change. Throws as convert() does, with `value` as it was. The default
  // assigns convert(value).
  virtual void convert_in_place(Value& value) const { value = convert(value); }
  // How many values convert() changed so that the target cannot tell the original (the built-in
  // rules: a MariaDB zero date that became NULL). Counted since construction; thread-safe.
  virtual std::int64_t values_changed() const { return 0; }
};

struct ColumnMapping {
  Column target;                                     // name kept; renames happen elsewhere
  std::shared_ptr<const ValueConverter> converter;   // nullptr = values pass unchanged
  std::string rule;                                  // which rule applied, for `discover` and logs
};

class CDC_API TypeMapper {
 public:
  virtual ~TypeMapper() = default;
  virtual ColumnMapping map_column(const TableId& table, const Column& source, std::string_view source_dialect,
                                   std::string_view target_dialect) const = 0;
};

// The built-in rules without overrides.
CDC_API std::shared_ptr<const TypeMapper> default_type_mapper();
// The built-in rules plus the config's overrides (cast, keep_defaults).
CDC_API std::shared_ptr<const TypeMapper> make_type_mapper(const Config& config);

// A target type named in an override: "smallint", "integer", "bigint", "boolean", "text",
// "varchar(n)", "numeric(p,s)", "double", "real", "bytea"/"blob", "date", "time", "timestamp(p)",
// "timestamptz(p)", "interval", "json"/"jsonb", "uuid", "geometry" (any shape, each value's own
// SRID: PostGIS geometry, MariaDB GEOMETRY). Throws cdc::Error(Config) otherwise.
CDC_API LogicalType parse_type_name(std::string_view name);

// One documented rule: what a source type becomes and how its values convert.
struct TypeRuleRow {
  std::string from;    // source dialect ("mysql", "postgresql", "sqlite", "any")
  std::string to;      // target dialect (or "any other")
  std::string source;  // source type
  std::string target;  // target type
  std::string values;  // value rule
  std::string lossless;  // "yes" when the target holds every value of the source type, else "no: why"
};
CDC_API std::vector<TypeRuleRow> type_rules();

}  // namespace cdc
