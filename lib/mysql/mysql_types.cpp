#include "mysql/mysql_types.h"

#include "mysql/mysql_conn.h"

#include "core/geometry.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace cdc::mysql {

namespace {

bool has_word(const std::string& s, const char* w) { return s.find(w) != std::string::npos; }

int clamp_int(std::int64_t v) { return v < 0 ? -1 : v > 0x7fffffff ? 0x7fffffff : int(v); }

constexpr const char* kSpatialTypes[] = {"geometry",   "point",           "linestring",   "polygon",
                                         "multipoint", "multilinestring", "multipolygon", "geometrycollection"};

}  // namespace

int spatial_type_code(std::string_view d) {
  for (int i = 0; i < 8; ++i)
    if (d == kSpatialTypes[i]) return i;
  return -1;
}

std::vector<std::string> parse_members(std::string_view t) {
  std::vector<std::string> out;
  std::size_t i = t.find('(');
  if (i == std::string_view::npos) return out;
  ++i;
  while (i < t.size()) {
    while (i < t.size() && (t[i] == ',' || t[i] == ' ')) ++i;
    if (i >= t.size() || t[i] != '\'') break;
    ++i;
    std::string m;
    while (i < t.size()) {
      if (t[i] == '\'' && i + 1 < t.size() && t[i + 1] == '\'') {
        m += '\'';
        i += 2;
      } else if (t[i] == '\'') {
        ++i;
        break;
      } else if (t[i] == '\\' && i + 1 < t.size()) {
        m += t[i + 1];
        i += 2;
      } else {
        m += t[i++];
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

LogicalType logical_type_of(const ColumnInfo& c) {
  LogicalType t;
  const std::string& d = c.data_type;
  const bool uns = has_word(c.column_type, "unsigned");
  auto integer = [&](TypeId id) {
    t.id = id;
    t.is_unsigned = uns;
  };
  if (d == "tinyint") integer(TypeId::Int8);
  else if (d == "smallint") integer(TypeId::Int16);
  else if (d == "mediumint") integer(TypeId::Int24);
  else if (d == "int" || d == "integer") integer(TypeId::Int32);
  else if (d == "bigint") integer(TypeId::Int64);
  else if (d == "year") t.id = TypeId::Int16;
  else if (d == "decimal" || d == "numeric") {
    t.id = TypeId::Decimal;
    t.precision = clamp_int(c.numeric_precision);
    t.scale = clamp_int(c.numeric_scale);
  } else if (d == "float") t.id = TypeId::Float32;
  else if (d == "double" || d == "real") t.id = TypeId::Float64;
  else if (d == "bit") {
    t.id = TypeId::Bit;
    t.length = clamp_int(c.numeric_precision);
  } else if (d == "date") t.id = TypeId::Date;
  else if (d == "datetime" || d == "timestamp") {
    t.id = TypeId::Timestamp;
    t.fsp = clamp_int(c.datetime_precision < 0 ? 0 : c.datetime_precision);
  } else if (d == "time") {
    t.id = TypeId::Time;
    t.fsp = clamp_int(c.datetime_precision < 0 ? 0 : c.datetime_precision);
  } else if (d == "char" || d == "varchar") {
    t.id = c.is_json ? TypeId::Json : TypeId::String;
    t.length = clamp_int(c.char_length);
    t.fixed_length = d == "char";
  } else if (d == "tinytext" || d == "text" || d == "mediumtext" || d == "longtext") {
    t.id = c.is_json ? TypeId::Json : TypeId::String;
    if (d == "tinytext") t.length = 255;
  } else if (d == "json") t.id = TypeId::Json;
  else if (d == "binary" || d == "varbinary") {
    t.id = TypeId::Bytes;
    t.length = clamp_int(c.char_length);
    t.fixed_length = d == "binary";
  } else if (d == "tinyblob" || d == "blob" || d == "mediumblob" || d == "longblob") {
    t.id = TypeId::Bytes;
    if (d == "tinyblob") t.length = 255;
  } else if (d == "enum") {
    t.id = TypeId::Enum;
    t.members = parse_members(c.column_type);
  } else if (d == "set") {
    t.id = TypeId::Set;
    t.members = parse_members(c.column_type);
  } else if (d == "uuid") t.id = TypeId::Uuid;
  else if (d == "inet6" || d == "inet4") t.id = TypeId::String;
  else if (int code = spatial_type_code(d); code >= 0) {
    t.id = TypeId::Geometry;
    t.geometry = code;
    t.srid = c.srid > 0 ? c.srid : -1;
  } else t.id = TypeId::Unknown;
  return t;
}

std::string native_type_of(const ColumnInfo& c) {
  if (c.is_json) return "json";  // MariaDB: LONGTEXT utf8mb4_bin with CHECK (json_valid(col))
  const std::string& d = c.data_type;
  bool texty = d == "char" || d == "varchar" || d == "tinytext" || d == "text" || d == "mediumtext" ||
               d == "longtext" || d == "enum" || d == "set";
  std::string out = c.column_type;
  if (c.srid > 0 && spatial_type_code(d) >= 0) out += " REF_SYSTEM_ID=" + std::to_string(c.srid);
  if (texty && !c.charset.empty()) out += " CHARACTER SET " + c.charset;
  if (texty && !c.collation.empty()) out += " COLLATE " + c.collation;
  return out;
}

double canonical_float(float f) {
  if (!std::isfinite(f)) return double(f);
  std::string s = fmt::format("{}", f);
  return std::strtod(s.c_str(), nullptr);
}

namespace {

std::uint64_t big_endian_uint(std::string_view b) {
  std::uint64_t v = 0;
  for (unsigned char c : b) v = (v << 8) | c;
  return v;
}

Value parse_int(std::string_view text, bool is_unsigned) {
  std::string s(text);
  errno = 0;
  char* end = nullptr;
  if (is_unsigned) {
    std::uint64_t v = std::strtoull(s.c_str(), &end, 10);
    if (errno || end == s.c_str() || *end) throw Error(ErrorKind::Conversion, "bad unsigned integer \"" + s + "\"");
    return Value::uint64(v);
  }
  std::int64_t v = std::strtoll(s.c_str(), &end, 10);
  if (errno || end == s.c_str() || *end) throw Error(ErrorKind::Conversion, "bad integer \"" + s + "\"");
  return Value::int64(v);
}

}  // namespace

Value value_from_text(const LogicalType& t, std::string_view text) {
  switch (t.id) {
    case TypeId::Bool: return Value::boolean(text != "0");
    case TypeId::Int8:
    case TypeId::Int16:
    case TypeId::Int24:
    case TypeId::Int32:
    case TypeId::Int64: return parse_int(text, t.is_unsigned);
    case TypeId::Float32: return Value::float64(canonical_float(std::strtof(std::string(text).c_str(), nullptr)));
    case TypeId::Float64: return Value::float64(std::strtod(std::string(text).c_str(), nullptr));
    case TypeId::Decimal: return Value::decimal(std::string(text));
    case TypeId::Bit: return Value::uint64(big_endian_uint(text));
    case TypeId::Bytes:
    case TypeId::Unknown: return Value::bytes(std::string(text));
    case TypeId::Date: return Value::date(std::string(text));
    case TypeId::Time: return Value::time(std::string(text));
    case TypeId::Timestamp: return Value::timestamp(std::string(text));
    case TypeId::TimestampTz: return Value::timestamp_tz(std::string(text));
    case TypeId::Json: return Value::json(std::string(text));
    case TypeId::Uuid: return Value::uuid(std::string(text));
    case TypeId::Geometry: return Value::geometry(detail::geometry_from_mariadb(text));
    default: return Value::string(std::string(text));
  }
}

namespace {

// A finite double: a FLOAT column gets the float the value is, written with every digit: a
// float's shortest text read as a double (3.4028235e38 for the largest float) can lie beyond
// FLT_MAX, which MariaDB refuses as out of range.
void append_double(std::string& out, double d, const Column& target) {
  if (target.type.id == TypeId::Float32 && std::isfinite(static_cast<float>(d))) d = static_cast<double>(static_cast<float>(d));
  fmt::format_to(std::back_inserter(out), "{}", d);
}

// MariaDB has no zoned type: UTC text without the offset when the offset is zero.
std::string_view zoned_text(std::string_view s) {
  if (s.size() > 6 && (s.substr(s.size() - 6) == "+00:00" || s.substr(s.size() - 6) == "-00:00")) s.remove_suffix(6);
  return s;
}

}  // namespace

void append_literal(const Conn& conn, std::string& out, const Value& v, const Column& target) {
  switch (v.kind()) {
    case ValueKind::Null: out += "NULL"; return;
    case ValueKind::Bool: out += v.as_bool() ? '1' : '0'; return;
    case ValueKind::Int: fmt::format_to(std::back_inserter(out), "{}", v.as_int()); return;
    case ValueKind::UInt: fmt::format_to(std::back_inserter(out), "{}", v.as_uint()); return;
    case ValueKind::Double: {
      const double d = v.as_double();
      if (!std::isfinite(d))
        throw Error(ErrorKind::Conversion, fmt::format("MariaDB cannot store {} in column {}", d, target.name), false,
                    "column " + target.name);
      append_double(out, d, target);
      return;
    }
    case ValueKind::Bytes:
      if (target.type.id == TypeId::Bit) {
        // BIT from raw bytes (a source that sends BIT as bytes): the integer they spell.
        fmt::format_to(std::back_inserter(out), "{}", big_endian_uint(v.text().substr(0, 8)));
        return;
      }
      out += "_binary";
      conn.append_quoted(out, v.text());
      return;
    case ValueKind::Geometry:
      // The canonical form is MariaDB's own storage form (SRID + little-endian WKB), which a
      // spatial column takes as a binary string; the type rules keep 3-D shapes away.
      out += "_binary";
      if (target.type.id == TypeId::Bytes) conn.append_quoted(out, detail::geometry_to_ewkb(v.text()));  // a BLOB: EWKB
      else conn.append_quoted(out, v.text());
      return;
    case ValueKind::TimestampTz: conn.append_quoted(out, zoned_text(v.text())); return;
    default: conn.append_quoted(out, v.text()); return;
  }
}

LoadForm load_form(const Column& target) {
  switch (target.type.id) {
    case TypeId::Bit: return LoadForm::Bits;
    case TypeId::Bytes:
    case TypeId::Unknown:
    case TypeId::Geometry: return LoadForm::Hex;
    default: return LoadForm::Text;
  }
}

namespace {

// LOAD DATA's escapes (ESCAPED BY '\\'): the field and line separators, the escape itself, and
// NUL and CR, which the server reads back as themselves.
void append_load_escaped(std::string& out, std::string_view s) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char esc;
    switch (s[i]) {
      case '\\': esc = '\\'; break;
      case '\t': esc = 't'; break;
      case '\n': esc = 'n'; break;
      case '\r': esc = 'r'; break;
      case '\0': esc = '0'; break;
      default: continue;
    }
    out.append(s.data() + start, i - start);
    out += '\\';
    out += esc;
    start = i + 1;
  }
  out.append(s.data() + start, s.size() - start);
}

void append_hex(std::string& out, std::string_view s) {
  const std::size_t at = out.size();
  out.resize(at + 2 * s.size());
  write_hex(out.data() + at, s);
}

}  // namespace

void write_hex(char* out, std::string_view bytes) {
  static constexpr char digits[] = "0123456789ABCDEF";
  for (unsigned char c : bytes) {
    *out++ = digits[c >> 4];
    *out++ = digits[c & 15];
  }
}

bool append_load_field(std::string& out, const Value& v, const Column& target, LoadForm form) {
  const ValueKind k = v.kind();
  if (k == ValueKind::Null) {
    out += "\\N";
    return true;
  }
  switch (form) {
    case LoadForm::Bits:
      switch (k) {
        case ValueKind::Bool: out += v.as_bool() ? '1' : '0'; return true;
        case ValueKind::UInt: fmt::format_to(std::back_inserter(out), "{}", v.as_uint()); return true;
        case ValueKind::Int:
          if (v.as_int() < 0) return false;  // CAST would wrap it; the INSERT path reports it
          fmt::format_to(std::back_inserter(out), "{}", v.as_int());
          return true;
        case ValueKind::Bytes: fmt::format_to(std::back_inserter(out), "{}", big_endian_uint(v.text().substr(0, 8))); return true;
        default: return false;
      }
    case LoadForm::Hex:
      if (k == ValueKind::Geometry && target.type.id == TypeId::Bytes) append_hex(out, detail::geometry_to_ewkb(v.text()));
      else if (k == ValueKind::Bytes || k == ValueKind::Geometry) append_hex(out, v.text());
      else return false;
      return true;
    case LoadForm::Text: break;
  }
  switch (k) {
    case ValueKind::Bool: out += v.as_bool() ? '1' : '0'; return true;
    case ValueKind::Int: fmt::format_to(std::back_inserter(out), "{}", v.as_int()); return true;
    case ValueKind::UInt: fmt::format_to(std::back_inserter(out), "{}", v.as_uint()); return true;
    case ValueKind::Double:
      if (!std::isfinite(v.as_double())) return false;
      append_double(out, v.as_double(), target);
      return true;
    case ValueKind::Bytes:
    case ValueKind::Geometry: return false;  // raw bytes into a text column: append_literal's _binary
    case ValueKind::TimestampTz: append_load_escaped(out, zoned_text(v.text())); return true;
    default: append_load_escaped(out, v.text()); return true;
  }
}

std::string render_column_type(const Column& c, int key_chars) {
  const bool is_key = key_chars > 0;
  const std::string key_text = fmt::format("VARCHAR({}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", key_chars);
  if (!c.source_type.empty()) return c.source_type;
  const LogicalType& t = c.type;
  auto uns = [&](const char* base) { return std::string(base) + (t.is_unsigned ? " UNSIGNED" : ""); };
  auto frac = [&](const char* base) { return fmt::format("{}({})", base, t.fsp < 0 ? 6 : std::min(t.fsp, 6)); };
  auto members = [&](const char* base) {
    std::string s = std::string(base) + "(";
    for (std::size_t i = 0; i < t.members.size(); ++i) {
      if (i) s += ",";
      s += "'";
      for (char ch : t.members[i]) {
        if (ch == '\'') s += '\'';
        if (ch == '\\') s += '\\';
        s += ch;
      }
      s += "'";
    }
    return s + ") CHARACTER SET utf8mb4 COLLATE utf8mb4_bin";
  };
  switch (t.id) {
    case TypeId::Bool: return "BOOLEAN";
    case TypeId::Int8: return uns("TINYINT");
    case TypeId::Int16: return uns("SMALLINT");
    case TypeId::Int24: return uns("MEDIUMINT");
    case TypeId::Int32: return uns("INT");
    case TypeId::Int64: return uns("BIGINT");
    case TypeId::Float32: return "FLOAT";
    case TypeId::Float64: return "DOUBLE";
    case TypeId::Decimal:
      if (t.precision > 0 && t.precision <= 65) return fmt::format("DECIMAL({},{})", t.precision, std::max(0, std::min(t.scale, 30)));
      return "DECIMAL(65,30)";
    case TypeId::String:
      if (t.length >= 0 && t.length <= (is_key ? key_chars : 16383)) {
        const char* base = t.fixed_length && t.length <= 255 ? "CHAR" : "VARCHAR";
        return fmt::format("{}({}) CHARACTER SET utf8mb4{}", base, t.length, is_key ? " COLLATE utf8mb4_bin" : "");
      }
      return is_key ? key_text : "LONGTEXT CHARACTER SET utf8mb4";
    case TypeId::Bytes:
    case TypeId::Unknown:
      if (t.length >= 0 && t.length <= (is_key ? key_chars * 4 : 65532))
        return fmt::format("{}({})", t.fixed_length && t.length <= 255 ? "BINARY" : "VARBINARY", t.length);
      return is_key ? fmt::format("VARBINARY({})", key_chars * 4) : "LONGBLOB";
    case TypeId::Date: return "DATE";
    case TypeId::Time: return frac("TIME");
    case TypeId::Timestamp:
    case TypeId::TimestampTz: return frac("DATETIME");
    case TypeId::Json: return is_key ? key_text : "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin";
    case TypeId::Uuid: return "CHAR(36) CHARACTER SET ascii";
    case TypeId::Enum: return members("ENUM");
    case TypeId::Set: return members("SET");
    case TypeId::Bit: return fmt::format("BIT({})", t.length > 0 && t.length <= 64 ? t.length : 64);
    case TypeId::Interval:
    case TypeId::Array: return is_key ? key_text : "LONGTEXT CHARACTER SET utf8mb4";
    case TypeId::Geometry: {
      std::string out = kSpatialTypes[t.geometry >= 0 && t.geometry <= 7 ? t.geometry : 0];
      for (auto& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (t.srid > 0) out += " REF_SYSTEM_ID=" + std::to_string(t.srid);
      return out;
    }
  }
  return "LONGTEXT";
}

}  // namespace cdc::mysql
