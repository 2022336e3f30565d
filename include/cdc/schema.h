// Table and column descriptions shared by sources, destinations and the type mapper.
// LogicalType says what a column holds, independent of any database; the source type text
// (`Column::source_type`) is kept for messages and for type mappers that need the detail.
// All types here are plain values; not synchronised.
#pragma once

#include <cdc/export.h>
#include <cdc/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cdc {

enum class TypeId : std::uint8_t {
  Bool,
  Int8,
  Int16,
  Int24,
  Int32,
  Int64,
  Float32,
  Float64,
  Decimal,      // precision/scale when known (-1 = unconstrained)
  String,       // length in characters when known
  Bytes,        // length in bytes when known
  Date,
  Time,         // fsp = fractional digits
  Timestamp,    // fsp
  TimestampTz,  // fsp
  Interval,
  Json,
  Uuid,
  Enum,         // members
  Set,          // members
  Bit,          // length in bits
  Array,        // element
  Unknown,      // carried as text
};

CDC_API std::string_view to_string(TypeId id);

// The Value kind that carries a column of this type when its value arrives as text: Date, Time,
// Timestamp, TimestampTz, Json, Uuid and Decimal keep their own kind, everything else is String.
CDC_API ValueKind text_value_kind(TypeId id);

struct CDC_API LogicalType {
  TypeId id = TypeId::Unknown;
  bool is_unsigned = false;       // integers only
  int length = -1;                // characters (String), bytes (Bytes), bits (Bit); -1 = unbounded
  int precision = -1;             // Decimal
  int scale = -1;                 // Decimal
  int fsp = -1;                   // fractional second digits of Time/Timestamp*; -1 = source default
  bool fixed_length = false;      // CHAR(n) / BINARY(n)
  std::vector<std::string> members;  // Enum / Set labels in declaration order
  TypeId element = TypeId::Unknown;  // Array element type

  // "int64", "decimal(10,2)", "string(255)", "uint32", "enum(a,b)": stable, for logs and DDL previews.
  std::string to_string() const;
  bool operator==(const LogicalType& o) const;
  bool operator!=(const LogicalType& o) const { return !(*this == o); }
};

struct CDC_API Column {
  std::string name;
  LogicalType type;
  bool nullable = true;
  std::optional<std::string> default_expr;  // source default as SQL text, if any
  std::string source_type;                  // the source's own type text, e.g. "INTEGER", "varchar(20)"
};

// Schema-qualified table name. `schema` is empty where the database has no schemas (SQLite).
struct CDC_API TableId {
  std::string schema;
  std::string name;

  TableId() = default;
  TableId(std::string schema_, std::string name_) : schema(std::move(schema_)), name(std::move(name_)) {}
  explicit TableId(std::string name_) : name(std::move(name_)) {}

  // "schema.name", or "name" without a schema. Not quoted; for messages and keys.
  std::string to_string() const;
  friend bool operator==(const TableId& a, const TableId& b) { return a.schema == b.schema && a.name == b.name; }
  friend bool operator!=(const TableId& a, const TableId& b) { return !(a == b); }
  friend bool operator<(const TableId& a, const TableId& b) {
    return a.schema != b.schema ? a.schema < b.schema : a.name < b.name;
  }
};

struct CDC_API TableSchema {
  TableId id;
  std::vector<Column> columns;
  std::vector<std::string> primary_key;  // column names in key order; empty = no key
  std::int64_t estimated_rows = -1;      // from statistics; -1 = unknown
  std::int64_t estimated_bytes = -1;

  // Index of a column by exact name, or -1.
  int index_of(std::string_view column) const;
  // Indexes of the primary-key columns in `columns`, in key order.
  std::vector<int> key_indexes() const;
  bool has_primary_key() const { return !primary_key.empty(); }
};

}  // namespace cdc
