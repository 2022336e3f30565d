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
  Geometry,     // geometry (subtype) and srid; values are ValueKind::Geometry
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
  // Geometry: the shape the column holds as its ISO WKB type code (0 any geometry, 1 point,
  // 2 linestring, 3 polygon, 4 multipoint, 5 multilinestring, 6 multipolygon, 7 collection;
  // +1000 Z, +2000 M, +3000 ZM), and the spatial reference id the column fixes (-1: none, each
  // value carries its own).
  int geometry = 0;
  int srid = -1;

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
  // Values the database generates itself: AUTO_INCREMENT, identity and serial columns.
  bool identity = false;
  // A generated column's expression in the source's dialect (empty: not generated), and whether
  // its values are stored (else computed on read: MariaDB VIRTUAL).
  std::string generated;
  bool generated_stored = true;
  std::string comment;
  // MariaDB's ON UPDATE clause ("current_timestamp()"): the value the database sets when a row
  // changes without naming the column. Empty: none.
  std::string on_update;
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

// A secondary or unique index of a table, as the source has it.
struct CDC_API IndexDef {
  std::string name;
  std::vector<std::string> columns;  // in index order; empty for an expression index
  std::vector<int> prefix_lengths;   // per column, a leading-prefix length (MariaDB), -1 = whole value
  bool unique = false;
  // "btree" for the plain kind every SQL database has; otherwise what the source calls it
  // ("fulltext", "spatial", "hash", "gin", ...): a destination creates what it can translate and
  // reports the rest.
  std::string method = "btree";
  // The whole key list in the source's dialect, without its outer parentheses, when it is more
  // than plain columns ("lower(email), created_at DESC"): expressions, sort orders, operator
  // classes. Empty for an index of plain columns (then `columns` says it all).
  std::string expression;
  std::string where;                 // a partial index's predicate in the source's dialect
  std::vector<std::string> include;  // covering columns outside the key (PostgreSQL INCLUDE)
};

// Referential actions of a foreign key.
enum class ForeignKeyAction : std::uint8_t { NoAction, Restrict, Cascade, SetNull, SetDefault };
CDC_API std::string_view to_string(ForeignKeyAction action);

// A foreign key of a table (the child) referencing another table (the parent).
struct CDC_API ForeignKeyDef {
  std::string name;
  std::vector<std::string> columns;            // in the child
  TableId references;                          // the parent
  std::vector<std::string> referenced_columns; // in the parent, in the same order
  ForeignKeyAction on_delete = ForeignKeyAction::NoAction;
  ForeignKeyAction on_update = ForeignKeyAction::NoAction;
};

// A CHECK constraint, its expression in the source's dialect.
struct CDC_API CheckDef {
  std::string name;
  std::string expression;
};

struct CDC_API TableSchema {
  TableId id;
  std::vector<Column> columns;
  std::vector<std::string> primary_key;  // column names in key order; empty = no key
  std::int64_t estimated_rows = -1;      // from statistics; -1 = unknown
  std::int64_t estimated_bytes = -1;
  // A view (PostgreSQL: also a materialized view) rather than a base table: it has no primary key
  // and no change log of its own, and is copied by reading it like a table (mode copy or
  // incremental). Its estimated_rows is -1: counting would run its query.
  bool view = false;
  // Schema objects beyond columns and key (described by discover(); empty where a source does not
  // read them). They are carried to SQL destinations (docs/schema-objects.md) and, for foreign
  // keys, used to derive the changes a MariaDB source makes by itself (cascades) without logging.
  std::vector<IndexDef> indexes;
  std::vector<ForeignKeyDef> foreign_keys;
  std::vector<CheckDef> checks;
  std::string comment;

  // Index of a column by exact name, or -1.
  int index_of(std::string_view column) const;
  // Indexes of the primary-key columns in `columns`, in key order.
  std::vector<int> key_indexes() const;
  bool has_primary_key() const { return !primary_key.empty(); }
};

}  // namespace cdc
