// PostgreSQL column types the pgoutput and COPY binary fuzz targets decode values of: the built-in
// types with a binary codec (copy_binary.h) and a few read as their text output. A column is made
// the way discovery makes it (pg::logical_type), so each value goes through the same conversion as
// in a real stream or snapshot.
#pragma once

#include "postgres/pg_types.h"

#include <cdc/schema.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace cdc::fuzz {

struct PgFuzzType {
  std::uint32_t oid;
  const char* name;       // pg_type.typname
  const char* formatted;  // format_type() as discovery reads it
  int typmod;
  const char* element;    // arrays: element typname
};

// The order is part of the corpus format (fuzz_copy_binary picks types by index): append only.
inline constexpr PgFuzzType kPgFuzzTypes[] = {
    {16, "bool", "boolean", -1, ""},
    {21, "int2", "smallint", -1, ""},
    {23, "int4", "integer", -1, ""},
    {20, "int8", "bigint", -1, ""},
    {700, "float4", "real", -1, ""},
    {701, "float8", "double precision", -1, ""},
    {1700, "numeric", "numeric", -1, ""},
    {1700, "numeric", "numeric(12,3)", (12 << 16 | 3) + 4, ""},
    {25, "text", "text", -1, ""},
    {1043, "varchar", "character varying(20)", 24, ""},
    {1042, "bpchar", "character(4)", 8, ""},
    {19, "name", "name", -1, ""},
    {17, "bytea", "bytea", -1, ""},
    {1082, "date", "date", -1, ""},
    {1083, "time", "time without time zone", -1, ""},
    {1114, "timestamp", "timestamp without time zone", -1, ""},
    {1184, "timestamptz", "timestamp with time zone", -1, ""},
    {2950, "uuid", "uuid", -1, ""},
    {114, "json", "json", -1, ""},
    {3802, "jsonb", "jsonb", -1, ""},
    {1186, "interval", "interval", -1, ""},
    {869, "inet", "inet", -1, ""},
    {1266, "timetz", "time with time zone", -1, ""},
    {790, "money", "money", -1, ""},
    {1560, "bit", "bit(8)", 8, ""},
    {1562, "varbit", "bit varying", -1, ""},
    {1007, "_int4", "integer[]", -1, "int4"},
    {1009, "_text", "text[]", -1, "text"},
    {1000, "_bool", "boolean[]", -1, "bool"},
    {1182, "_date", "date[]", -1, "date"},
    {1231, "_numeric", "numeric[]", -1, "numeric"},
    {600, "point", "point", -1, ""},
    {3904, "int4range", "int4range", -1, ""},
};
inline constexpr std::size_t kPgFuzzTypeCount = sizeof kPgFuzzTypes / sizeof kPgFuzzTypes[0];

inline Column pg_fuzz_column(const PgFuzzType& t) {
  pg::PgTypeInfo info;
  info.name = t.name;
  info.formatted = t.formatted;
  info.typmod = t.typmod;
  info.typtype = std::string(t.name) == "int4range" ? 'r' : 'b';
  if (*t.element) {
    info.category = 'A';
    info.element = t.element;
  }
  Column c;
  c.name = t.name;
  c.type = pg::logical_type(info, c.source_type);
  return c;
}

// The type of a pgoutput RELATION column's oid; nullptr for an oid not in the table (read as text).
inline const PgFuzzType* pg_fuzz_type_of_oid(std::uint32_t oid) {
  for (const auto& t : kPgFuzzTypes)
    if (t.oid == oid) return &t;
  return nullptr;
}

}  // namespace cdc::fuzz
