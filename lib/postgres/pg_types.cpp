// PostgreSQL type mapping and value text codecs; see pg_types.h.
#include "postgres/pg_types.h"

#include "core/array_literal.h"
#include "core/geometry.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>

namespace cdc::pg {

namespace {

TypeId scalar_id(const std::string& n, char typtype) {
  if (typtype == 'e') return TypeId::Enum;
  if (n == "bool") return TypeId::Bool;
  if (n == "int2") return TypeId::Int16;
  if (n == "int4") return TypeId::Int32;
  if (n == "int8") return TypeId::Int64;
  if (n == "oid" || n == "xid" || n == "cid") return TypeId::Int64;
  if (n == "float4") return TypeId::Float32;
  if (n == "float8") return TypeId::Float64;
  if (n == "numeric" || n == "money") return TypeId::Decimal;
  if (n == "text" || n == "varchar" || n == "bpchar" || n == "name" || n == "char" || n == "citext") return TypeId::String;
  if (n == "bytea") return TypeId::Bytes;
  if (n == "date") return TypeId::Date;
  if (n == "time" || n == "timetz") return TypeId::Time;
  if (n == "timestamp") return TypeId::Timestamp;
  if (n == "timestamptz") return TypeId::TimestampTz;
  if (n == "interval") return TypeId::Interval;
  if (n == "uuid") return TypeId::Uuid;
  if (n == "json" || n == "jsonb") return TypeId::Json;
  if (n == "bit" || n == "varbit") return TypeId::Bit;
  if (n == "geometry") return TypeId::Geometry;  // PostGIS
  if (n == "inet" || n == "cidr" || n == "macaddr" || n == "macaddr8" || n == "xml" || n == "tsvector" ||
      n == "point" || n == "line" || n == "box" || n == "int4range" || n == "int8range" || n == "numrange")
    return TypeId::String;
  return TypeId::Unknown;
}

// Time zone offsets print as "+00", "+05:30" or "-03:00:00": make them +HH:MM (seconds kept).
std::string normalise_tz(std::string_view text) {
  std::string s(text);
  if (s.size() >= 3 && (s.compare(s.size() - 3, 3, " BC") == 0)) return s;
  std::size_t sign = s.find_last_of("+-");
  if (sign == std::string::npos || sign < 8) return s;  // "infinity", or no offset
  std::string off = s.substr(sign + 1);
  if (off.size() == 2) s += ":00";
  return s;
}

}  // namespace

LogicalType logical_type(const PgTypeInfo& t, std::string& source_type) {
  LogicalType lt;
  source_type = t.formatted;
  if (t.category == 'A' || (!t.name.empty() && t.name[0] == '_' && !t.element.empty())) {
    lt.id = TypeId::Array;
    lt.element = scalar_id(t.element, t.element_typtype);
    if (lt.element == TypeId::Enum) source_type = "text[]";
    const std::string marker = kSetComment;
    if (lt.element == TypeId::String && t.comment.compare(0, marker.size(), marker) == 0) {
      try {
        detail::ArrayNode labels = detail::parse_array_literal(std::string_view(t.comment).substr(marker.size()));
        LogicalType set;
        set.id = TypeId::Set;
        for (const auto& l : labels.items)
          if (!l.is_array && !l.is_null) set.members.push_back(l.text);
        if (set.members.size() == labels.items.size()) return set;
      } catch (const Error&) {
        // An edited comment: the column is an ordinary text[].
      }
    }
    return lt;
  }
  lt.id = scalar_id(t.name, t.typtype);
  const std::string& n = t.name;
  if (n == "bytea" && t.comment.compare(0, std::strlen(kGeometryComment), kGeometryComment) == 0) {
    // "geometry", "geometry(PointZ)", "geometry(Point,4326)"
    std::string_view spec = std::string_view(t.comment).substr(std::strlen(kGeometryComment));
    LogicalType g;
    g.id = TypeId::Geometry;
    if (spec == "geometry") return g;
    if (spec.substr(0, 9) == "geometry(" && spec.back() == ')') {
      spec = spec.substr(9, spec.size() - 10);
      std::string_view shape = spec.substr(0, spec.find(','));
      int dims = 0;
      auto strip = [&](char upper, int flag) {
        if (!shape.empty() && (shape.back() == upper || shape.back() == upper + 32)) {
          dims |= flag;
          shape.remove_suffix(1);
        }
      };
      strip('M', 2);
      strip('Z', 1);
      const int code = detail::geometry_type_code(shape);
      char* end = nullptr;
      const std::string srid = spec.find(',') == std::string_view::npos ? "" : std::string(spec.substr(spec.find(',') + 1));
      const long s = srid.empty() ? -1 : std::strtol(srid.c_str(), &end, 10);
      if (code >= 0 && (srid.empty() || (*end == '\0' && s >= 0))) {
        g.geometry = code + 1000 * dims;
        g.srid = static_cast<int>(s);
        return g;
      }
    }
    // An edited comment: the column is an ordinary bytea.
  }
  int mod = t.typmod;
  switch (lt.id) {
    case TypeId::Decimal:
      if (n == "money") {
        lt.precision = 19;
        lt.scale = 2;
      } else if (mod >= 4) {
        lt.precision = ((mod - 4) >> 16) & 0xffff;
        lt.scale = (mod - 4) & 0xffff;
        if (lt.scale > 1000) lt.scale -= 2048;  // PG15 allows negative scales (11-bit signed)
      }
      break;
    case TypeId::String:
      if ((n == "varchar" || n == "bpchar") && mod >= 4) lt.length = mod - 4;
      if (n == "bpchar") {
        lt.fixed_length = true;
        if (lt.length < 0) lt.length = 1;
      }
      if (n == "char") lt.length = 1;
      break;
    case TypeId::Time:
    case TypeId::Timestamp:
    case TypeId::TimestampTz:
      if (mod >= 0) lt.fsp = mod;
      break;
    case TypeId::Bit:
      if (mod >= 0) lt.length = mod;
      lt.fixed_length = n == "bit";
      break;
    case TypeId::Enum:
      lt.members = t.enum_labels;
      source_type = "text";
      break;
    case TypeId::Geometry:
      // PostGIS's typmod: SRID in bits 8..27 (signed by bit 28), shape in bits 2..7, Z bit 1, M bit 0.
      if (mod >= 0) {
        const int srid = ((mod & 0x0FFFFF00) - (mod & 0x10000000)) >> 8;
        lt.geometry = ((mod & 0xFC) >> 2) + ((mod & 2) ? 1000 : 0) + ((mod & 1) ? 2000 : 0);
        lt.srid = srid > 0 ? srid : -1;
      }
      break;
    default: break;
  }
  return lt;
}

bool decode_bytea_hex(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || (text.size() % 2) != 0) return false;
  out.reserve((text.size() - 2) / 2);
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 2; i + 1 < text.size(); i += 2) {
    int h = nib(text[i]), l = nib(text[i + 1]);
    if (h < 0 || l < 0) return false;
    out.push_back(static_cast<char>((h << 4) | l));
  }
  return true;
}

Value value_from_text(const Column& column, std::string_view text) {
  switch (column.type.id) {
    case TypeId::Bool: return Value::boolean(text == "t" || text == "true");
    case TypeId::Int8:
    case TypeId::Int16:
    case TypeId::Int24:
    case TypeId::Int32:
    case TypeId::Int64: {
      std::string s(text);
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (errno || !end || *end) break;
      return Value::int64(v);
    }
    case TypeId::Float32:
    case TypeId::Float64: {
      std::string s(text);
      if (s == "NaN") return Value::float64(std::numeric_limits<double>::quiet_NaN());
      if (s == "Infinity") return Value::float64(std::numeric_limits<double>::infinity());
      if (s == "-Infinity") return Value::float64(-std::numeric_limits<double>::infinity());
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (!end || *end) break;
      // real: PostgreSQL prints the shortest text that reads back as the same float; the double
      // nearest that text is the canonical value (as the MariaDB connector reads FLOAT), so a
      // float copied between the two compares equal.
      return Value::float64(d);
    }
    case TypeId::Decimal: {
      if (column.source_type == "money") {
        // "-$1,234.56": keep sign, digits and the decimal point.
        std::string s;
        for (char c : text)
          if ((c >= '0' && c <= '9') || c == '.' || c == '-') s += c;
        return Value::decimal(s);
      }
      return Value::decimal(std::string(text));
    }
    case TypeId::Bytes: {
      std::string raw;
      if (!decode_bytea_hex(text, raw))
        throw Error(ErrorKind::Conversion, "malformed bytea text", false, "column " + column.name);
      return Value::bytes(std::move(raw));
    }
    case TypeId::Date: return Value::date(std::string(text));
    case TypeId::Time:
      return Value::time(column.source_type.find("with time zone") != std::string::npos ? normalise_tz(text) : std::string(text));
    case TypeId::Timestamp: return Value::timestamp(std::string(text));
    case TypeId::TimestampTz: return Value::timestamp_tz(normalise_tz(text));
    case TypeId::Json: return Value::json(std::string(text));
    case TypeId::Uuid: return Value::uuid(std::string(text));
    case TypeId::Geometry:
      if (text.substr(0, 2) == "\\x") {  // a bytea holding EWKB (kGeometryComment)
        std::string raw;
        if (!decode_bytea_hex(text, raw)) throw Error(ErrorKind::Conversion, "malformed bytea text", false, "column " + column.name);
        return Value::geometry(detail::geometry_from_ewkb(raw));
      }
      return Value::geometry(detail::geometry_from_hex_ewkb(text));  // geometry_out: hex EWKB
    default: break;
  }
  return Value::string(std::string(text));
}

void append_copy_text(const Value& v, std::string& out) {
  switch (v.kind()) {
    case ValueKind::Null: out += "\\N"; return;
    case ValueKind::Bool: out += v.as_bool() ? 't' : 'f'; return;
    case ValueKind::Int:
    case ValueKind::UInt: {
      char buf[24];
      auto r = v.kind() == ValueKind::Int ? std::to_chars(buf, buf + sizeof buf, v.as_int())
                                          : std::to_chars(buf, buf + sizeof buf, v.as_uint());
      out.append(buf, r.ptr);
      return;
    }
    case ValueKind::Double: {
      double d = v.as_double();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
      else fmt::format_to(std::back_inserter(out), "{}", d);
      return;
    }
    case ValueKind::Geometry: out += detail::geometry_to_hex_ewkb(v.text()); return;  // geometry_in's input
    case ValueKind::Bytes: {
      static const char* hex = "0123456789abcdef";
      const std::string& b = v.text();
      std::size_t at = out.size();
      out.resize(at + 3 + 2 * b.size());
      char* p = out.data() + at;
      *p++ = '\\';
      *p++ = '\\';
      *p++ = 'x';
      for (unsigned char c : b) {
        *p++ = hex[c >> 4];
        *p++ = hex[c & 15];
      }
      return;
    }
    default: break;
  }
  // Runs of bytes that need no escaping are appended whole.
  const std::string& t = v.text();
  const char* p = t.data();
  const char* end = p + t.size();
  while (p < end) {
    const char* run = p;
    while (p < end && *p != '\\' && *p != '\n' && *p != '\r' && *p != '\t' && *p != '\0') ++p;
    out.append(run, static_cast<std::size_t>(p - run));
    if (p == end) break;
    switch (*p++) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: break;  // NUL: PostgreSQL text cannot hold it
    }
  }
}

std::string pg_type_for(const LogicalType& t, bool postgis) {
  switch (t.id) {
    case TypeId::Geometry: {
      if (!postgis) return "bytea";  // EWKB
      const int base = t.geometry % 1000;
      if (base == 0 && t.geometry < 1000 && t.srid < 0) return "geometry";
      std::string out = fmt::format("geometry({}{}{}", detail::geometry_type_name(base), ((t.geometry / 1000) & 1) ? "Z" : "",
                                    ((t.geometry / 1000) & 2) ? "M" : "");
      return out + (t.srid >= 0 ? fmt::format(",{})", t.srid) : ")");
    }
    case TypeId::Bool: return "boolean";
    case TypeId::Int8:
    case TypeId::Int16: return t.is_unsigned && t.id == TypeId::Int16 ? "integer" : "smallint";
    case TypeId::Int24: return "integer";
    case TypeId::Int32: return t.is_unsigned ? "bigint" : "integer";
    case TypeId::Int64: return t.is_unsigned ? "numeric(20,0)" : "bigint";
    case TypeId::Float32: return "real";
    case TypeId::Float64: return "double precision";
    case TypeId::Decimal:
      if (t.precision > 0) return t.scale >= 0 ? fmt::format("numeric({},{})", t.precision, t.scale)
                                               : fmt::format("numeric({})", t.precision);
      return "numeric";
    case TypeId::String:
      if (t.length > 0) return fmt::format("{}({})", t.fixed_length ? "character" : "character varying", t.length);
      return "text";
    case TypeId::Bytes: return "bytea";
    case TypeId::Date: return "date";
    case TypeId::Time: return t.fsp >= 0 ? fmt::format("time({})", std::min(t.fsp, 6)) : "time";
    case TypeId::Timestamp: return t.fsp >= 0 ? fmt::format("timestamp({})", std::min(t.fsp, 6)) : "timestamp";
    case TypeId::TimestampTz: return t.fsp >= 0 ? fmt::format("timestamptz({})", std::min(t.fsp, 6)) : "timestamptz";
    case TypeId::Interval: return "interval";
    case TypeId::Json: return "jsonb";
    case TypeId::Uuid: return "uuid";
    case TypeId::Bit: return t.length > 0 ? fmt::format("bit varying({})", t.length) : "bit varying";
    case TypeId::Array: {
      LogicalType element;
      element.id = t.element;
      return pg_type_for(element, postgis) + "[]";
    }
    case TypeId::Enum:
    case TypeId::Set:
    case TypeId::Unknown: return "text";
  }
  return "text";
}

std::uint64_t parse_lsn(const std::string& text) {
  auto slash = text.find('/');
  char* end = nullptr;
  if (slash == std::string::npos || slash == 0 || slash + 1 >= text.size())
    throw Error(ErrorKind::State, fmt::format("\"{}\" is not a PostgreSQL LSN (X/Y)", text));
  std::string hi = text.substr(0, slash), lo = text.substr(slash + 1);
  unsigned long long h = std::strtoull(hi.c_str(), &end, 16);
  if (*end) throw Error(ErrorKind::State, fmt::format("\"{}\" is not a PostgreSQL LSN (X/Y)", text));
  unsigned long long l = std::strtoull(lo.c_str(), &end, 16);
  if (*end || h > 0xffffffffull || l > 0xffffffffull)
    throw Error(ErrorKind::State, fmt::format("\"{}\" is not a PostgreSQL LSN (X/Y)", text));
  return (static_cast<std::uint64_t>(h) << 32) | l;
}

std::string format_lsn(std::uint64_t lsn) {
  return fmt::format("{:X}/{:X}", static_cast<std::uint32_t>(lsn >> 32), static_cast<std::uint32_t>(lsn));
}

}  // namespace cdc::pg
