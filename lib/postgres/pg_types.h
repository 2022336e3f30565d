// PostgreSQL types <-> cdc: the one place that knows how a PostgreSQL type maps to LogicalType,
// how its text output becomes a cdc::Value, and how a Value is written in COPY text format (the
// binary forms are in copy_binary.h).
// Text output is exact because every connection forces DateStyle=ISO, IntervalStyle=postgres,
// extra_float_digits=3, TimeZone=UTC and bytea_output=hex. Pure functions; thread-safe.
#pragma once

#include <cdc/schema.h>
#include <cdc/value.h>

#include <string>
#include <string_view>
#include <vector>

namespace cdc::pg {

// What discovery knows about a column's type (after resolving domains to their base type).
struct PgTypeInfo {
  std::string name;        // base type's pg_type.typname ("int4", "_text", "my_enum")
  std::string formatted;   // format_type(base oid, typmod): "numeric(10,2)", "text[]"
  int typmod = -1;
  char typtype = 'b';      // b base, e enum, d domain (resolved), c composite, r range
  char category = 'U';     // pg_type.typcategory ('A' arrays)
  std::string element;     // element typname for arrays
  char element_typtype = 'b';
  std::vector<std::string> enum_labels;
  std::string comment;     // col_description of the column (kSetComment marks a MariaDB SET)
};

// The column comment cdc puts on a text[] it creates from a MariaDB SET, followed by the labels
// as a text[] literal; discovery reads it back, so the column maps to SET again.
inline constexpr const char* kSetComment = "cdc: MariaDB SET ";
// The column comment cdc puts on the bytea it creates for a geometry column where the database
// has no PostGIS, followed by the type it would have had ("geometry(Point,4326)"); discovery reads
// it back, so the column is a geometry column again (values: EWKB) for MariaDB or PostGIS.
inline constexpr const char* kGeometryComment = "cdc: EWKB of ";

// LogicalType and the source type text a same-dialect destination creates verbatim
// (enums and domains become their base text type, since the type may not exist there).
LogicalType logical_type(const PgTypeInfo& t, std::string& source_type);

// Text output of a value of `column` -> Value (exact). `text` is not NULL.
Value value_from_text(const Column& column, std::string_view text);

// Appends a value in COPY text format (escaped; NULL = \N).
void append_copy_text(const Value& v, std::string& out);

// "\x0a0b" -> raw bytes. Returns false on malformed input.
bool decode_bytea_hex(std::string_view text, std::string& out);

// A PostgreSQL type for a LogicalType (cross-dialect destinations). `postgis`: the target has
// PostGIS's geometry type; without it a geometry column is bytea holding EWKB.
std::string pg_type_for(const LogicalType& t, bool postgis = false);

// SQL that is true when the connected database has PostGIS's geometry type on its search path.
inline constexpr const char* kHasPostgisSql = "SELECT to_regtype('geometry') IS NOT NULL";

// LSN text "X/Y" <-> 64-bit value. Parse throws cdc::Error(State) on malformed text.
std::uint64_t parse_lsn(const std::string& text);
std::string format_lsn(std::uint64_t lsn);

}  // namespace cdc::pg
