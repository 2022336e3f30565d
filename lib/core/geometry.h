// Spatial values: the one conversion point between the wire forms of a geometry and cdc's
// canonical Value (ValueKind::Geometry: SRID as 4 bytes little-endian, then little-endian ISO WKB;
// see value.h).
//
// Inputs read here:
//   - WKB (OGC 06-103r4 / ISO 13249-3): either byte order per (sub)geometry, 2-D or ISO Z/M/ZM
//     type codes (1001, 2001, 3001, ...);
//   - PostGIS EWKB (what geometry_send and the hex text output give): the type word's high bits
//     0x80000000 (Z), 0x40000000 (M) and 0x20000000 (an SRID follows the type word);
//   - MariaDB's storage form: SRID (4 bytes little-endian) then WKB, which is what its binlog,
//     its text protocol and its binary protocol return for a GEOMETRY column.
// Every nested geometry is walked and checked (lengths, counts, known type codes: the OGC 1..7
// and PostGIS's curves, surfaces and TINs, 8..17), so a truncated or foreign value is an error
// that says where, not bytes passed on. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cdc::detail {

// What a canonical geometry holds at its top level.
struct GeometryInfo {
  std::uint32_t srid = 0;
  int type = 0;      // base type code 1..17 (1 point ... 7 collection)
  bool z = false;
  bool m = false;
  bool empty = false;  // no coordinates at all (a collection with no members, a point of NaNs)
};

// WKB or EWKB with `srid` as the spatial reference id when the input carries none of its own
// (plain WKB). Throws cdc::Error(Conversion) on malformed input.
std::string geometry_from_wkb(std::string_view wkb, std::uint32_t srid);
// EWKB (PostGIS), SRID 0 when it has none.
inline std::string geometry_from_ewkb(std::string_view ewkb) { return geometry_from_wkb(ewkb, 0); }
// MariaDB's storage form (SRID little-endian, then WKB).
std::string geometry_from_mariadb(std::string_view value);
// Hex text of EWKB (PostGIS's text output, pgoutput's text form), upper or lower case.
std::string geometry_from_hex_ewkb(std::string_view hex);

// The canonical form's parts.
GeometryInfo geometry_info(std::string_view canonical);
inline std::string_view geometry_wkb(std::string_view canonical) { return canonical.substr(4); }

// PostGIS EWKB, little-endian: Z/M as the type word's flags, the SRID flag and SRID on the top
// level only when the SRID is not 0 (as PostGIS writes it). What geometry_recv and (as hex)
// geometry_in read, and the form cdc stores where a target has no geometry type (bytea, BLOB).
std::string geometry_to_ewkb(std::string_view canonical);
// The same as lowercase hex, without a prefix (geometry_in's text input).
std::string geometry_to_hex_ewkb(std::string_view canonical);

// Names of the base type codes as PostGIS typmods print them ("Point", "MultiPolygon",
// "GeometryCollection"; "Geometry" for 0), and back (case-insensitive; -1 when unknown).
std::string_view geometry_type_name(int base_type);
int geometry_type_code(std::string_view name);

}  // namespace cdc::detail
