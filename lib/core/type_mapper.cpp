// The built-in type rules. Within one dialect a column keeps its native type and values pass
// unchanged. Across dialects the first matching rule of kRules picks the target LogicalType and a
// value converter; every cross-dialect column then goes through `coerce`, which checks that each
// value fits the target type (SQLite, for one, stores any value in any column) and never rounds
// or truncates silently: what does not fit is a Conversion error naming the column and the value.
// kRules is also the documented table (type_rules(), docs/type-mapping.md, kept equal by a test).
#include "core/array_literal.h"
#include "core/calendar.h"
#include "core/geometry.h"
#include "core/text_util.h"

#include <cdc/config.h>
#include <cdc/error.h>
#include <cdc/type_mapper.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>

namespace cdc {

namespace {

using detail::civil_from_days;
using detail::days_from_civil;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

[[noreturn]] void cannot(const std::string& what) { throw Error(ErrorKind::Conversion, what); }

bool is_integer(TypeId id) {
  return id == TypeId::Int8 || id == TypeId::Int16 || id == TypeId::Int24 || id == TypeId::Int32 || id == TypeId::Int64;
}

// ---- value helpers ---------------------------------------------------------------------------

// Splits canonical decimal text into sign, integer digits and fraction digits (no leading/
// trailing zeros). False for text that is not a plain decimal.
bool split_decimal(const std::string& text, bool& negative, std::string& int_digits, std::string& frac_digits) {
  std::size_t i = 0;
  negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  std::size_t dot = text.find('.', i);
  std::string ip = text.substr(i, dot == std::string::npos ? std::string::npos : dot - i);
  std::string fp = dot == std::string::npos ? "" : text.substr(dot + 1);
  if (ip.empty() && fp.empty()) return false;
  for (char c : ip + fp)
    if (c < '0' || c > '9') return false;
  ip.erase(0, std::min(ip.find_first_not_of('0'), ip.size()));
  while (!fp.empty() && fp.back() == '0') fp.pop_back();
  int_digits = ip;
  frac_digits = fp;
  return true;
}

// Decimal text that fits numeric(precision, scale): checked, never rounded.
std::string fit_decimal(const std::string& text, int precision, int scale) {
  bool neg;
  std::string ip, fp;
  if (!split_decimal(text, neg, ip, fp)) cannot(fmt::format("\"{}\" is not a decimal number", text));
  if (precision > 0) {
    int s = std::max(0, scale);
    if (static_cast<int>(fp.size()) > s)
      cannot(fmt::format("{} has more than {} fractional digits (numeric({},{})); it would be rounded", text, s, precision, s));
    if (static_cast<int>(ip.size()) > precision - s)
      cannot(fmt::format("{} does not fit numeric({},{})", text, precision, s));
  }
  return text;
}

std::int64_t to_int(const Value& v, const LogicalType& t) {
  std::int64_t min = std::numeric_limits<std::int64_t>::min(), max = std::numeric_limits<std::int64_t>::max();
  switch (t.id) {
    case TypeId::Int8: min = -128, max = 127; break;
    case TypeId::Int16: min = -32768, max = 32767; break;
    case TypeId::Int24: min = -8388608, max = 8388607; break;
    case TypeId::Int32: min = std::numeric_limits<std::int32_t>::min(), max = std::numeric_limits<std::int32_t>::max(); break;
    default: break;
  }
  if (t.is_unsigned) min = 0;
  std::int64_t out = 0;
  switch (v.kind()) {
    case ValueKind::Bool: out = v.as_bool() ? 1 : 0; break;
    case ValueKind::Int: out = v.as_int(); break;
    case ValueKind::UInt:
      if (v.as_uint() > static_cast<std::uint64_t>(max)) cannot(fmt::format("{} is out of range for {}", v.as_uint(), t.to_string()));
      out = static_cast<std::int64_t>(v.as_uint());
      break;
    case ValueKind::Decimal: {
      bool neg;
      std::string ip, fp;
      if (!split_decimal(v.text(), neg, ip, fp) || !fp.empty() || ip.size() > 19)
        cannot(fmt::format("{} is not an integer in range for {}", v.text(), t.to_string()));
      errno = 0;
      out = std::strtoll(v.text().c_str(), nullptr, 10);
      if (errno) cannot(fmt::format("{} is out of range for {}", v.text(), t.to_string()));
      break;
    }
    default: cannot(fmt::format("{} value {} is not an integer", to_string(v.kind()), v.to_display()));
  }
  if (out < min || out > max) cannot(fmt::format("{} is out of range for {}", out, t.to_string()));
  return out;
}


using detail::valid_utf8;

std::string number_text(const Value& v) {
  switch (v.kind()) {
    case ValueKind::Int: return std::to_string(v.as_int());
    case ValueKind::UInt: return std::to_string(v.as_uint());
    case ValueKind::Bool: return v.as_bool() ? "1" : "0";
    case ValueKind::Double: {
      double d = v.as_double();
      if (!std::isfinite(d)) cannot(fmt::format("{} has no decimal form", d));
      return detail::fixed_double(d);
    }
    default: return v.text();
  }
}

// Checks that a value fits the target type, converting between representations of the same
// number or text; never rounds, truncates or guesses. Nothing (no copy) when the value has the
// target's form already.
std::optional<Value> coerce_changed(const Value& v, const LogicalType& t) {
  if (v.is_null()) return std::nullopt;
  switch (t.id) {
    case TypeId::Bool:
      if (v.kind() == ValueKind::Bool) return std::nullopt;
      if (v.kind() == ValueKind::Int || v.kind() == ValueKind::UInt) {
        std::uint64_t u = v.kind() == ValueKind::Int ? static_cast<std::uint64_t>(v.as_int()) : v.as_uint();
        if (u == 0 || u == 1) return Value::boolean(u == 1);
        cannot(fmt::format("{} is not a boolean (0 or 1)", v.to_display()));
      }
      cannot(fmt::format("{} value {} is not a boolean", to_string(v.kind()), v.to_display()));
    case TypeId::Int8:
    case TypeId::Int16:
    case TypeId::Int24:
    case TypeId::Int32:
    case TypeId::Int64:
      if (t.is_unsigned && t.id == TypeId::Int64 && v.kind() == ValueKind::UInt) return std::nullopt;
      if (t.is_unsigned && t.id == TypeId::Int64 && v.kind() == ValueKind::Int && v.as_int() >= 0)
        return Value::uint64(static_cast<std::uint64_t>(v.as_int()));
      return Value::int64(to_int(v, t));
    case TypeId::Float32:
    case TypeId::Float64:
      switch (v.kind()) {
        case ValueKind::Double: return std::nullopt;
        case ValueKind::Int: return Value::float64(static_cast<double>(v.as_int()));
        case ValueKind::UInt: return Value::float64(static_cast<double>(v.as_uint()));
        case ValueKind::Decimal: return Value::float64(std::strtod(v.text().c_str(), nullptr));
        default: cannot(fmt::format("{} value {} is not a number", to_string(v.kind()), v.to_display()));
      }
    case TypeId::Decimal:
      if (v.kind() == ValueKind::Decimal || v.kind() == ValueKind::Int || v.kind() == ValueKind::UInt ||
          v.kind() == ValueKind::Double || v.kind() == ValueKind::Bool)
        return Value::decimal(fit_decimal(number_text(v), t.precision, t.scale));
      cannot(fmt::format("{} value {} is not a number", to_string(v.kind()), v.to_display()));
    case TypeId::Bytes:
      if (v.kind() == ValueKind::Bytes) return std::nullopt;
      if (v.kind() == ValueKind::Geometry) return Value::bytes(detail::geometry_to_ewkb(v.text()));  // EWKB
      if (v.has_text()) return Value::bytes(v.text());
      cannot(fmt::format("{} value {} is not binary", to_string(v.kind()), v.to_display()));
    case TypeId::String:
    case TypeId::Enum:
    case TypeId::Set:
    case TypeId::Interval:
    case TypeId::Unknown:
      if (v.kind() == ValueKind::String) return std::nullopt;
      if (t.id == TypeId::Interval && v.kind() == ValueKind::Time) return std::nullopt;  // interval input accepts it
      if (v.kind() == ValueKind::Geometry) return Value::string(detail::geometry_to_hex_ewkb(v.text()));  // hex EWKB
      if (v.kind() == ValueKind::Bytes) {
        if (!valid_utf8(v.text())) cannot(fmt::format("binary value {} is not valid UTF-8 text", v.to_display()));
        return Value::string(v.text());
      }
      if (v.has_text()) return Value::string(v.text());
      return Value::string(number_text(v));
    case TypeId::Bit:  // an integer (MariaDB) or a string of binary digits (PostgreSQL)
      if (v.kind() == ValueKind::UInt || v.kind() == ValueKind::String || v.kind() == ValueKind::Bytes) return std::nullopt;
      if (v.kind() == ValueKind::Int && v.as_int() >= 0) return Value::uint64(static_cast<std::uint64_t>(v.as_int()));
      if (v.kind() == ValueKind::Bool) return Value::uint64(v.as_bool() ? 1 : 0);
      cannot(fmt::format("{} value {} is not a bit value", to_string(v.kind()), v.to_display()));
    case TypeId::Geometry:
      if (v.kind() == ValueKind::Geometry) return std::nullopt;
      if (v.kind() == ValueKind::Bytes) return Value::geometry(detail::geometry_from_ewkb(v.text()));  // WKB or EWKB
      cannot(fmt::format("{} value {} is not a geometry", to_string(v.kind()), v.to_display()));
    default:  // temporal, JSON, UUID: the same text under the target's kind
      if (v.kind() == text_value_kind(t.id)) return std::nullopt;
      if (v.kind() == ValueKind::String || v.kind() == ValueKind::Bytes || v.has_text()) {
        if (v.kind() == ValueKind::Bytes && !valid_utf8(v.text())) cannot("binary value is not valid UTF-8 text");
        return Value::of_text(text_value_kind(t.id), v.text());
      }
      cannot(fmt::format("{} value {} is not a {}", to_string(v.kind()), v.to_display(), to_string(t.id)));
  }
}

Value coerce(const Value& v, const LogicalType& t) {
  std::optional<Value> c = coerce_changed(v, t);
  return c ? std::move(*c) : v;
}

// ---- temporal helpers ------------------------------------------------------------------------

bool zero_date(const std::string& s) { return starts_with(s, "0000-00-00"); }

// '2024-00-10' or '2024-02-00': MySQL accepts them (no NO_ZERO_IN_DATE), nothing else does.
bool zero_in_date(const std::string& s) {
  return s.size() >= 10 && (s.compare(5, 2, "00") == 0 || s.compare(8, 2, "00") == 0);
}

// "2024-03-01 01:30:00.5+05:30" -> "2024-02-29 20:00:00.5" (UTC, offset dropped).
std::string timestamptz_to_utc(const std::string& s) {
  if (s == "infinity" || s == "-infinity") cannot(fmt::format("{} has no DATETIME equivalent", s));
  if (s.size() < 19 || s.find(" BC") != std::string::npos) cannot(fmt::format("\"{}\" is out of DATETIME's range", s));
  std::size_t sign = s.find_first_of("+-", 19);
  std::string local = s.substr(0, sign);
  int off_h = 0, off_m = 0, off_s = 0;
  if (sign != std::string::npos) {
    std::string off = s.substr(sign + 1);
    if (std::sscanf(off.c_str(), "%d:%d:%d", &off_h, &off_m, &off_s) < 1) cannot(fmt::format("bad time zone in \"{}\"", s));
  }
  long offset = (off_h * 3600L + off_m * 60L + off_s) * (sign != std::string::npos && s[sign] == '-' ? -1 : 1);
  long long y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (std::sscanf(local.c_str(), "%lld-%u-%u %u:%u:%u", &y, &mo, &d, &h, &mi, &se) != 6)
    cannot(fmt::format("\"{}\" is not a timestamp", s));
  std::string frac = local.size() > 19 ? local.substr(19) : "";
  std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
  std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  std::int64_t rest = secs - days * 86400;
  std::int64_t yy;
  unsigned mm, dd;
  civil_from_days(days, yy, mm, dd);
  if (yy < 1 || yy > 9999) cannot(fmt::format("\"{}\" is out of DATETIME's range", s));
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}{}", yy, mm, dd, rest / 3600, rest / 60 % 60, rest % 60, frac);
}

// ---- converters --------------------------------------------------------------------------------

// Set by a rule's conversion that changed a value so that the target cannot tell the original
// (an array's explicit lower bounds dropped); FnConverter counts it. Per thread: conversions of
// one value run on one thread.
thread_local bool value_changed = false;

// A column's conversion. Counts the values it changed in a way the target cannot undo: a value
// that became NULL (a MariaDB zero date bound for PostgreSQL) or one its rule marked changed;
// status shows the count per table (TableStatus::values_changed).
// A value conversion: the new value, or nothing when the value stays as it is (so that a value
// that needs no change, a 20 MB text included, is never copied).
using Convert = std::function<std::optional<Value>(const Value&)>;

// The rule's conversion, then coerce to the target type, then a last check (text bound for
// PostgreSQL: no NUL). A value that none of them changes is left where it is.
class FnConverter final : public ValueConverter {
 public:
  FnConverter(Convert specific, LogicalType target, Convert check)
      : specific_(std::move(specific)), target_(std::move(target)), check_(std::move(check)) {}
  Value convert(const Value& v) const override {
    Value out = v;
    convert_in_place(out);
    return out;
  }
  void convert_in_place(Value& v) const override {
    if (v.is_null()) return;
    value_changed = false;
    std::optional<Value> out = specific_ ? specific_(v) : std::nullopt;
    if (auto c = coerce_changed(out ? *out : v, target_)) out = std::move(c);
    if (check_)
      if (auto c = check_(out ? *out : v)) out = std::move(c);
    if (!out) return;
    if (value_changed || out->is_null()) changed_.fetch_add(1, std::memory_order_relaxed);
    v = std::move(*out);
  }
  std::int64_t values_changed() const override { return changed_.load(std::memory_order_relaxed); }

 private:
  Convert specific_;
  LogicalType target_;
  Convert check_;
  mutable std::atomic<std::int64_t> changed_{0};
};

// ---- rules ---------------------------------------------------------------------------------

// What a rule may look at besides the column.
struct Ctx {
  std::string_view from, to;          // source and target dialects
  EnumAs enum_as = EnumAs::Type;      // the table's enum_as setting
};

struct Rule {
  const char* from;      // source dialect, "any"
  const char* to;        // target dialect, "any"
  const char* source;    // documented source type
  const char* target;    // documented target type
  const char* values;    // documented value rule
  const char* lossless;  // documented: does the target hold every value of the source type ("yes", "no: why")
  std::function<bool(const Column&, const Ctx&)> match;
  std::function<LogicalType(const Column&)> type;  // target type (before coerce)
  std::function<Convert(const Column&, const LogicalType&, const Ctx&)> convert;  // may return {} = none
  // The target's own type text where the logical type alone would render another one (a
  // destination creates Column::source_type verbatim); empty = rendered from the logical type.
  std::function<std::string(const Column&)> native = nullptr;
};

// The first matching rule's target type and value conversion (before coerce), and its name.
struct Resolved {
  LogicalType type;
  Convert specific;
  std::string rule;
  std::string native;
};
Resolved resolve(const Column& source, const Ctx& ctx);

std::string source_type_of(const Column& c) { return lower(c.source_type); }

// MariaDB's TIMESTAMP (a UTC instant), as opposed to DATETIME; both are TypeId::Timestamp.
bool is_mysql_timestamp(const Column& c) { return c.type.id == TypeId::Timestamp && starts_with(source_type_of(c), "timestamp"); }

int bit_width(const Column& c) { return c.type.length > 0 ? c.type.length : 64; }

// MariaDB's ENUM holds '' (index 0, what an invalid input becomes without strict mode) besides
// its labels: the PostgreSQL type gets it as its first label, unless it is declared already.
std::vector<std::string> with_empty_label(const std::vector<std::string>& labels) {
  if (std::find(labels.begin(), labels.end(), std::string()) != labels.end()) return labels;
  std::vector<std::string> out{std::string()};
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

// Floating point values bound for a database without NaN and infinities.
Convert finite_only(const char* database) {
  return [database](const Value& v) -> std::optional<Value> {
    if (v.kind() == ValueKind::Double && !std::isfinite(v.as_double()))
      cannot(fmt::format("{} has no {} equivalent", v.as_double(), database));
    return std::nullopt;
  };
}

bool is_tinyint1(const Column& c) {
  return c.type.id == TypeId::Int8 && !c.type.is_unsigned && starts_with(source_type_of(c), "tinyint(1)");
}

LogicalType widened(const LogicalType& t) {
  LogicalType out = t;
  out.is_unsigned = false;
  switch (t.id) {
    case TypeId::Int8: out.id = TypeId::Int16; break;
    case TypeId::Int16:
    case TypeId::Int24: out.id = TypeId::Int32; break;
    case TypeId::Int32: out.id = TypeId::Int64; break;
    default: break;
  }
  return out;
}

LogicalType decimal(int p, int s) {
  LogicalType t;
  t.id = TypeId::Decimal;
  t.precision = p;
  t.scale = s;
  return t;
}

LogicalType of(TypeId id) {
  LogicalType t;
  t.id = id;
  return t;
}

Convert reject_nul_text(std::string why) {
  return [why](const Value& v) -> std::optional<Value> {
    if (v.has_text() && v.text().find('\0') != std::string::npos) cannot(why);
    return std::nullopt;
  };
}

// ENUM values bound for a constrained target (PostgreSQL enum type or CHECK): one of its labels.
Convert enum_member(const std::vector<std::string>& labels) {
  return [members = labels](const Value& v) {
    std::string s = v.has_text() ? v.text() : v.to_display();
    if (std::find(members.begin(), members.end(), s) != members.end()) return Value::string(std::move(s));
    if (s.empty()) cannot("'' (MariaDB's value for an invalid ENUM input) is not one of the column's labels");
    cannot(fmt::format("{} is not one of the column's ENUM labels", Value::string(s).to_display()));
  };
}

// Elements of a text array literal, which must all be non-NULL text (a SET's labels).
std::vector<std::string> set_labels(const Value& v) {
  detail::ArrayNode a = detail::parse_array_literal(v.text());
  std::vector<std::string> out;
  for (const auto& e : a.items) {
    if (e.is_array || e.is_null) cannot(fmt::format("{} is not a list of SET labels", v.to_display()));
    if (e.text.find(',') != std::string::npos) cannot(fmt::format("SET label '{}' contains a comma", e.text));
    out.push_back(e.text);
  }
  return out;
}

// {red,green} -> 'red,green', as MariaDB prints a SET.
Value joined_set_labels(const Value& v) {
  std::string out;
  for (const auto& l : set_labels(v)) out += (out.empty() ? "" : ",") + l;
  return Value::string(out);
}

// One array element's text as a Value of its column type's kind; numbers travel as their digits,
// which coerce parses (and range-checks) for the element's type.
Value element_value(TypeId id, const std::string& text) {
  if (id == TypeId::Bool) return Value::boolean(text == "t" || text == "true");
  if (is_integer(id) || id == TypeId::Float32 || id == TypeId::Float64) return Value::decimal(text);
  return Value::of_text(text_value_kind(id), text);
}

// A converted element as JSON: numbers and booleans as such, json embedded, the rest as strings.
void append_json(const Value& v, std::string& out) {
  switch (v.kind()) {
    case ValueKind::Null: out += "null"; return;
    case ValueKind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case ValueKind::Int: out += std::to_string(v.as_int()); return;
    case ValueKind::UInt: out += std::to_string(v.as_uint()); return;
    case ValueKind::Double:
      if (!std::isfinite(v.as_double())) cannot(fmt::format("array element {} has no JSON number form", v.as_double()));
      out += fmt::format("{}", v.as_double());
      return;
    case ValueKind::Decimal: {
      bool neg;
      std::string ip, fp;
      if (!split_decimal(v.text(), neg, ip, fp)) cannot(fmt::format("array element {} has no JSON number form", v.text()));
      out += v.text();
      return;
    }
    case ValueKind::Json: out += v.text(); return;
    default:
      if (!valid_utf8(v.text())) cannot(fmt::format("array element {} is not valid UTF-8 text", v.to_display()));
      out += boost::json::serialize(boost::json::string_view(v.text()));
  }
}

// PostgreSQL array literal -> JSON array, each element converted by its element type's rule.
Convert array_to_json(const Column& c, const Ctx& ctx) {
  Column element;
  element.name = c.name;
  element.type = of(c.type.element);
  element.source_type = c.source_type;
  while (element.source_type.size() > 2 && element.source_type.compare(element.source_type.size() - 2, 2, "[]") == 0)
    element.source_type.resize(element.source_type.size() - 2);
  const char delimiter = starts_with(lower(element.source_type), "box") ? ';' : ',';
  Resolved r = resolve(element, ctx);
  const TypeId id = element.type.id;
  return [r, id, delimiter](const Value& v) {
    std::function<void(const detail::ArrayNode&, std::string&)> emit = [&](const detail::ArrayNode& n, std::string& out) {
      if (n.is_array) {
        out += '[';
        for (std::size_t i = 0; i < n.items.size(); ++i) {
          if (i) out += ',';
          emit(n.items[i], out);
        }
        out += ']';
        return;
      }
      if (n.is_null) {
        out += "null";
        return;
      }
      Value e = element_value(id, n.text);
      if (r.specific)
        if (auto c = r.specific(e)) e = std::move(*c);
      append_json(coerce(e, r.type), out);
    };
    std::string out;
    emit(detail::parse_array_literal(v.text(), delimiter), out);
    if (!v.text().empty() && v.text()[0] == '[') value_changed = true;  // "[0:1]={7,8}": the bounds are dropped
    return Value::json(std::move(out));
  };
}


// ---- spatial ---------------------------------------------------------------------------------

// A geometry whose SRID differs from the one its target column fixes (MariaDB does not enforce
// its REF_SYSTEM_ID; PostGIS does).
Convert geometry_in_column(const LogicalType& target) {
  if (target.srid < 0) return {};
  return [srid = static_cast<std::uint32_t>(target.srid)](const Value& v) -> std::optional<Value> {
    if (v.kind() == ValueKind::Geometry) {
      const auto info = detail::geometry_info(v.text());
      if (info.srid != srid)
        cannot(fmt::format("geometry with SRID {} in a column of SRID {} (MariaDB does not enforce REF_SYSTEM_ID; cast the column "
                           "to geometry to keep each value's own SRID)",
                           info.srid, srid));
    }
    return std::optional<Value>();
  };
}

// A geometry bound for MariaDB's spatial types: 2-D, OGC types 1..7, no empty point.
Value mariadb_geometry(const Value& v) {
  if (v.kind() != ValueKind::Geometry) return v;
  const auto info = detail::geometry_info(v.text());
  if (info.z || info.m) cannot(fmt::format("a {} geometry with {} coordinates, which MariaDB's 2-D spatial types cannot hold",
                                           detail::geometry_type_name(info.type), info.z && info.m ? "ZM" : info.z ? "Z" : "M"));
  if (info.type > 7) cannot(fmt::format("a {}, which MariaDB's spatial types cannot hold", detail::geometry_type_name(info.type)));
  if (info.type == 1 && info.empty) cannot("an empty point (POINT EMPTY), which MariaDB cannot store");
  return v;
}

LogicalType mariadb_geometry_type(const Column& c) {
  LogicalType t = c.type;
  t.geometry %= 1000;
  if (t.geometry > 7) t.geometry = 0;
  return t;
}

// The column fixes an SRID only when the source said one (MariaDB: REF_SYSTEM_ID > 0).
LogicalType geometry_type(const Column& c) {
  LogicalType t = c.type;
  if (t.srid == 0) t.srid = -1;
  return t;
}

Value geometry_as_ewkb(const Value& v) {
  if (v.kind() != ValueKind::Geometry) return v;
  return Value::bytes(detail::geometry_to_ewkb(v.text()));
}

const std::vector<Rule>& rules() {
  static const std::vector<Rule> r = {
      // ---- spatial ----
      {"mysql", "postgresql", "GEOMETRY, POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING, MULTIPOLYGON, GEOMETRYCOLLECTION",
       "with PostGIS: geometry(Subtype,SRID) (GEOMETRY: geometry(Geometry,SRID); the SRID from REF_SYSTEM_ID, none when 0); "
       "without PostGIS: bytea, commented \"cdc: EWKB of geometry(Subtype,SRID)\" so that it maps back",
       "the shape and its SRID exactly: PostGIS geometry, or EWKB in bytea (ST_GeomFromEWKB reads it); a value whose SRID "
       "differs from the column's REF_SYSTEM_ID is a conversion error (cast the column to geometry to keep it)",
       "yes (an SRID other than the declared REF_SYSTEM_ID: MariaDB does not enforce it, PostGIS does)",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Geometry; }, geometry_type,
       [](const Column&, const LogicalType& t, const Ctx&) -> Convert { return geometry_in_column(t); }},
      {"postgresql", "mysql", "geometry(Subtype,SRID) with Z or M (PostGIS)", "LONGBLOB", "EWKB (MariaDB's spatial types are 2-D)",
       "yes", [](const Column& c, const Ctx&) { return c.type.id == TypeId::Geometry && c.type.geometry >= 1000; },
       [](const Column&) { return of(TypeId::Bytes); },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert { return geometry_as_ewkb; }},
      {"postgresql", "mysql", "geometry, geometry(Subtype,SRID) (PostGIS), or a bytea cdc made of one (comment \"cdc: EWKB of geometry(...)\")",
       "the MariaDB type of that name (GEOMETRY for geometry and for curved subtypes) with REF_SYSTEM_ID=SRID",
       "the shape and its SRID; Z/M coordinates, curves and POINT EMPTY are conversion errors",
       "yes (Z/M coordinates in an untyped geometry column, curves, POINT EMPTY: MariaDB's spatial types hold none)",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Geometry; }, mariadb_geometry_type,
       [](const Column&, const LogicalType& t, const Ctx&) -> Convert {
         Convert srid = geometry_in_column(t);
         return [srid](const Value& v) {
           std::optional<Value> checked = srid ? srid(v) : std::nullopt;
           return mariadb_geometry(checked ? *checked : v);
         };
       }},
      {"any", "sqlite", "GEOMETRY and its subtypes (MariaDB), geometry (PostGIS)", "BLOB",
       "EWKB: little-endian WKB with PostGIS's SRID flag and SRID (none when the SRID is 0)", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Geometry; }, [](const Column&) { return of(TypeId::Bytes); },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert { return geometry_as_ewkb; }},
      // ---- MariaDB/MySQL as source ----
      {"mysql", "any", "TINYINT(1)", "smallint, as any TINYINT (SQLite: TINYINT)",
       "unchanged, -128..127 (cast tinyint(1) to boolean for booleans: 0/1 -> false/true, other values then go to quarantine)",
       "yes", [](const Column& c, const Ctx&) { return is_tinyint1(c); }, [](const Column& c) { return c.type; }, nullptr},
      {"mysql", "sqlite", "BIGINT UNSIGNED", "text", "exact digits (SQLite integers are signed 64-bit)", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Int64 && c.type.is_unsigned; },
       [](const Column&) { return of(TypeId::String); }, nullptr},
      {"mysql", "any", "BIGINT UNSIGNED", "numeric(20,0)", "exact digits", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Int64 && c.type.is_unsigned; },
       [](const Column&) { return decimal(20, 0); }, nullptr},
      {"mysql", "any", "TINYINT/SMALLINT/MEDIUMINT/INT UNSIGNED", "next wider signed integer (smallint/integer/integer/bigint)",
       "unchanged", "yes", [](const Column& c, const Ctx&) { return is_integer(c.type.id) && c.type.is_unsigned; },
       [](const Column& c) { return widened(c.type); }, nullptr},
      {"mysql", "any", "BIT(1)", "boolean", "0/1 -> false/true", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Bit && c.type.length == 1; },
       [](const Column&) { return of(TypeId::Bool); }, nullptr},
      {"mysql", "postgresql", "BIT(n)", "bit(n)", "the integer as n binary digits", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Bit; },
       [](const Column& c) {
         LogicalType t = c.type;
         t.length = bit_width(c);
         t.fixed_length = true;
         return t;
       },
       [](const Column& c, const LogicalType&, const Ctx&) -> Convert {
         int n = bit_width(c);
         return [n](const Value& v) {
           std::uint64_t u = v.kind() == ValueKind::UInt ? v.as_uint() : static_cast<std::uint64_t>(v.as_int());
           std::string bits;
           for (int i = n - 1; i >= 0; --i) bits += (i < 64 && ((u >> i) & 1)) ? '1' : '0';
           return Value::string(bits);
         };
       },
       // PostgreSQL's bit(n), not bit varying: a BIT(n) value always has n digits, and bit(n) maps
       // back to BIT(n) (a bit varying could hold values whose leading zeros tell them apart).
       [](const Column& c) { return fmt::format("bit({})", bit_width(c)); }},
      {"mysql", "sqlite", "BIT(n)", "integer (BIT(64): text)",
       "the integer value (BIT(64): its exact digits, as SQLite integers are signed 64-bit)", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Bit; },
       [](const Column& c) { return bit_width(c) < 64 ? of(TypeId::Int64) : of(TypeId::String); }, nullptr},
      {"mysql", "postgresql", "TIME(p)", "interval", "same text (-838:59:59 .. 838:59:59 fit an interval, not a time)", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Time; }, [](const Column&) { return of(TypeId::Interval); },
       nullptr},
      {"mysql", "sqlite", "DATE, DATETIME(p), TIMESTAMP(p)", "DATE, TIMESTAMP, TIMESTAMPTZ (SQLite text)",
       "as MariaDB prints them, zero dates ('0000-00-00...') and zero parts ('2024-00-10') included; TIMESTAMP read in UTC "
       "with +00:00 appended",
       "yes", [](const Column& c, const Ctx&) { return c.type.id == TypeId::Date || c.type.id == TypeId::Timestamp; },
       [](const Column& c) {
         LogicalType t = c.type;
         if (is_mysql_timestamp(c)) t.id = TypeId::TimestampTz;
         return t;
       },
       [](const Column& c, const LogicalType&, const Ctx&) -> Convert {
         if (!is_mysql_timestamp(c)) return nullptr;
         return [](const Value& v) {
           const std::string& s = v.text();
           if (zero_date(s) || zero_in_date(s)) return v;
           return Value::timestamp_tz(s + "+00:00");
         };
       }},
      {"mysql", "any", "TIMESTAMP(p)", "timestamptz(p)",
       "read in UTC; +00:00 appended; zero ('0000-00-00 00:00:00') -> NULL, counted in status as a value changed", "no: zero -> NULL",
       [](const Column& c, const Ctx&) { return is_mysql_timestamp(c); },
       [](const Column& c) {
         LogicalType t = c.type;
         t.id = TypeId::TimestampTz;
         return t;
       },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert {
         return [](const Value& v) {
           const std::string& s = v.text();
           if (zero_date(s)) return Value::null();
           if (zero_in_date(s)) cannot(fmt::format("'{}' is not a valid date", s));
           return Value::timestamp_tz(s + "+00:00");
         };
       }},
      {"mysql", "any", "DATE, DATETIME(p)", "date, timestamp(p)",
       "zero dates ('0000-00-00...') -> NULL, counted in status as values changed (cast the column to text to keep them); "
       "'2024-00-10' is a conversion error",
       "no: zero dates -> NULL; zero month or day: no date type holds it",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Date || c.type.id == TypeId::Timestamp; },
       [](const Column& c) { return c.type; },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert {
         return [](const Value& v) {
           const std::string& s = v.text();
           if (zero_date(s)) return Value::null();
           if (zero_in_date(s)) cannot(fmt::format("'{}' is not a valid date", s));
           return v;
         };
       }},
      {"mysql", "postgresql", "ENUM(...) with enum_as: type (the default)",
       "enum type {table}_{column} in the table's schema: '' first (unless declared), then the labels in the same order "
       "(created once, name shortened like other identifiers)",
       "the label; '' (MariaDB's value for an invalid ENUM input, index 0) is the type's first label, so it sorts first as "
       "in MariaDB",
       "yes", [](const Column& c, const Ctx& x) { return c.type.id == TypeId::Enum && x.enum_as == EnumAs::Type; },
       [](const Column& c) {
         LogicalType t = of(TypeId::Enum);
         t.members = with_empty_label(c.type.members);
         return t;
       },
       [](const Column&, const LogicalType& t, const Ctx&) -> Convert { return enum_member(t.members); }},
      {"mysql", "postgresql", "ENUM(...) with enum_as: check", "text CHECK (column IN ('', labels))", "the label; '' as with enum_as: type",
       "yes", [](const Column& c, const Ctx& x) { return c.type.id == TypeId::Enum && x.enum_as == EnumAs::Check; },
       [](const Column& c) {
         LogicalType t = of(TypeId::String);
         t.members = with_empty_label(c.type.members);
         return t;
       },
       [](const Column&, const LogicalType& t, const Ctx&) -> Convert { return enum_member(t.members); }},
      {"mysql", "postgresql", "ENUM(...) with enum_as: text", "text", "the label ('' kept)", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Enum; }, [](const Column&) { return of(TypeId::String); },
       nullptr},
      {"mysql", "any", "ENUM(...)", "text (members kept in the schema)", "the label", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Enum; },
       [](const Column& c) {
         LogicalType t = of(TypeId::String);
         t.members = c.type.members;
         return t;
       },
       nullptr},
      {"mysql", "postgresql", "SET(...)", "text[] (the labels kept in a column comment, so the column maps back to SET)",
       "'red,green' -> {red,green}; '' -> {}", "yes", [](const Column& c, const Ctx&) { return c.type.id == TypeId::Set; },
       [](const Column& c) {
         LogicalType t = of(TypeId::Array);
         t.element = TypeId::String;
         t.members = c.type.members;
         return t;
       },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert {
         return [](const Value& v) {
           std::vector<std::string> labels;
           const std::string& s = v.text();
           for (std::size_t p = 0; !s.empty();) {
             std::size_t q = s.find(',', p);
             labels.push_back(s.substr(p, q == std::string::npos ? std::string::npos : q - p));
             if (q == std::string::npos) break;
             p = q + 1;
           }
           return Value::string(detail::text_array_literal(labels));
         };
       }},
      {"mysql", "any", "SET(...)", "text", "comma-separated labels as MariaDB prints them", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Set; }, [](const Column&) { return of(TypeId::String); },
       nullptr},
      {"any", "postgresql", "JSON", "json",
       "the document as the source stores it: key order, spaces, duplicate keys and \\u0000 kept (cast the column to jsonb "
       "for jsonb, which normalises documents and refuses \\u0000)",
       "yes", [](const Column& c, const Ctx&) { return c.type.id == TypeId::Json; }, [](const Column&) { return of(TypeId::Json); },
       nullptr,
       // json, not jsonb: jsonb keeps the value, not the document (it reorders keys, drops
       // duplicates and spaces) and cannot hold \u0000.
       [](const Column&) { return std::string("json"); }},
      // ---- SQLite as source: its declared widths, lengths and precisions are names, not limits ----
      {"sqlite", "any", "integer types of any declared width (TINYINT, SMALLINT, MEDIUMINT, INT, INTEGER, BIGINT)", "bigint",
       "unchanged (SQLite stores any 64-bit integer in any of them)", "yes",
       [](const Column& c, const Ctx&) { return is_integer(c.type.id) && !(c.type.id == TypeId::Int64 && c.type.is_unsigned); },
       [](const Column&) { return of(TypeId::Int64); }, nullptr},
      {"sqlite", "any", "UNSIGNED BIGINT", "numeric(20,0)", "exact digits (negative values included: SQLite does not check)", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Int64 && c.type.is_unsigned; },
       [](const Column&) { return decimal(20, 0); }, nullptr},
      {"sqlite", "any", "CHAR(n), VARCHAR(n), TEXT, CLOB", "text",
       "unchanged (SQLite neither limits a declared length nor pads CHAR); to PostgreSQL a NUL byte is a conversion error",
       "yes (NUL to PostgreSQL: no PostgreSQL text holds it)", [](const Column& c, const Ctx&) { return c.type.id == TypeId::String; },
       [](const Column&) { return of(TypeId::String); }, nullptr},
      {"sqlite", "postgresql", "DECIMAL(p,s), NUMERIC(p,s)", "numeric", "exact digits (SQLite does not limit p and s)", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Decimal; }, [](const Column&) { return decimal(-1, -1); },
       nullptr},
      {"sqlite", "mysql", "DECIMAL(p,s), NUMERIC(p,s)", "DECIMAL(65,30)",
       "exact digits (SQLite does not limit p and s); more than 35 integer or 30 fractional digits is a conversion error",
       "no: beyond DECIMAL(65,30), MariaDB's widest", [](const Column& c, const Ctx&) { return c.type.id == TypeId::Decimal; },
       [](const Column&) { return decimal(65, 30); }, nullptr},
      {"any", "postgresql", "CHAR(n)/VARCHAR(n)/TEXT", "character(n)/character varying(n)/text (lengths in characters)",
       "text with a NUL byte is a conversion error (PostgreSQL text cannot hold NUL; cast the column to bytea to keep it)",
       "yes (NUL: no PostgreSQL text holds it)", [](const Column& c, const Ctx&) { return c.type.id == TypeId::String; },
       [](const Column& c) { return c.type; },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert {
         return reject_nul_text("text with a NUL byte, which PostgreSQL text cannot hold (cast the column to bytea to keep it)");
       }},
      // ---- PostgreSQL as source ----
      {"postgresql", "mysql", "timestamptz(p)", "DATETIME(p) in UTC (DATETIME(6) when p is unset)",
       "converted to UTC, offset dropped; ±infinity and years outside 1..9999 are conversion errors",
       "yes (the instant; ±infinity, BC and years past 9999: no MariaDB type holds them)",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::TimestampTz; },
       [](const Column& c) {
         LogicalType t = c.type;
         t.id = TypeId::Timestamp;
         if (t.fsp < 0) t.fsp = 6;
         return t;
       },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert {
         return [](const Value& v) { return Value::timestamp(timestamptz_to_utc(v.text())); };
       }},
      {"postgresql", "mysql", "timestamp(p), date", "DATETIME(p), DATE", "±infinity, BC and years past 9999 are conversion errors",
       "yes (±infinity, BC and years past 9999: no MariaDB type holds them)",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Timestamp || c.type.id == TypeId::Date; },
       [](const Column& c) {
         LogicalType t = c.type;
         if (t.id == TypeId::Timestamp && t.fsp < 0) t.fsp = 6;
         return t;
       },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert {
         return [](const Value& v) {
           const std::string& s = v.text();
           if (s == "infinity" || s == "-infinity" || s.find(" BC") != std::string::npos || s.find('-') > 4)
             cannot(fmt::format("'{}' has no MariaDB equivalent", s));
           return v;
         };
       }},
      {"postgresql", "mysql", "numeric without typmod, or beyond DECIMAL's limits (p > 65, s > 30, s < 0)", "DECIMAL(65,30)",
       "range-checked: more than 35 integer or 30 fractional digits, NaN or ±Infinity is a conversion error",
       "no: MariaDB's DECIMAL holds at most 65 digits and no NaN (cast the column to text to keep every value)",
       [](const Column& c, const Ctx&) {
         return c.type.id == TypeId::Decimal && (c.type.precision <= 0 || c.type.precision > 65 || c.type.scale > 30 || c.type.scale < 0);
       },
       [](const Column&) { return decimal(65, 30); }, nullptr},
      {"postgresql", "mysql", "interval, time with time zone", "text", "as PostgreSQL prints it", "yes",
       [](const Column& c, const Ctx&) {
         return c.type.id == TypeId::Interval || (c.type.id == TypeId::Time && lower(c.source_type).find("with time zone") != std::string::npos);
       },
       [](const Column&) { return of(TypeId::String); }, nullptr},
      {"postgresql", "mysql", "bit(n) (n <= 64)", "BIT(n)", "binary digits -> the integer they spell", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Bit && c.type.fixed_length && c.type.length >= 1 && c.type.length <= 64; },
       [](const Column& c) { return c.type; },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert {
         return [](const Value& v) {
           std::uint64_t u = 0;
           for (char ch : v.text()) {
             if (ch != '0' && ch != '1') cannot(fmt::format("'{}' is not a bit string", v.text()));
             u = (u << 1) | static_cast<std::uint64_t>(ch == '1');
           }
           return Value::uint64(u);
         };
       }},
      {"postgresql", "mysql", "bit varying(n), bit(n) with n > 64", "text (VARCHAR(n))",
       "the binary digits as PostgreSQL prints them (an integer would lose a bit varying's leading zeros)", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Bit; },
       [](const Column& c) {
         LogicalType t = of(TypeId::String);
         t.length = c.type.length > 0 ? c.type.length : -1;
         return t;
       },
       nullptr},
      {"postgresql", "mysql", "text[] made from a MariaDB SET (column comment \"cdc: MariaDB SET {...}\")", "SET(labels)",
       "{red,green} -> 'red,green'", "yes", [](const Column& c, const Ctx&) { return c.type.id == TypeId::Set; },
       [](const Column& c) { return c.type; },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert { return joined_set_labels; }},
      {"postgresql", "any", "text[] made from a MariaDB SET", "text", "{red,green} -> 'red,green'", "yes",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Set; }, [](const Column&) { return of(TypeId::String); },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert { return joined_set_labels; }},
      {"postgresql", "any", "arrays: any element type, any number of dimensions",
       "json (MariaDB: LONGTEXT utf8mb4_bin; SQLite: JSON text)",
       "a JSON array, nested per dimension (lower bounds dropped); NULL elements -> null; each element converted by its "
       "type's rule, then numbers and booleans as JSON numbers and booleans, json elements embedded, the rest (text, "
       "dates, uuid, bytea as \\x hex) as JSON strings: {1,NULL} -> [1,null], {\"a\\\"b\"} -> [\"a\\\"b\"]; NaN/Infinity "
       "elements are conversion errors",
       "no: explicit lower bounds ([0:1]={7,8}) are dropped, counted in status as values changed; NaN/Infinity elements have "
       "no JSON number",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Array; }, [](const Column&) { return of(TypeId::Json); },
       [](const Column& c, const LogicalType&, const Ctx& x) -> Convert { return array_to_json(c, x); }},
      // ---- floating point into MariaDB and SQLite ----
      {"any", "mysql", "real, double precision", "FLOAT, DOUBLE", "NaN and ±Infinity are conversion errors", "yes (NaN, ±Infinity: "
       "MariaDB holds neither)",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Float32 || c.type.id == TypeId::Float64; },
       [](const Column& c) { return c.type; }, [](const Column&, const LogicalType&, const Ctx&) -> Convert { return finite_only("MariaDB"); }},
      {"any", "sqlite", "real, double precision", "REAL", "NaN is a conversion error (SQLite would store NULL)",
       "yes (NaN: SQLite stores none)",
       [](const Column& c, const Ctx&) { return c.type.id == TypeId::Float32 || c.type.id == TypeId::Float64; },
       [](const Column& c) { return c.type; },
       [](const Column&, const LogicalType&, const Ctx&) -> Convert {
         return [](const Value& v) -> std::optional<Value> {
           if (v.kind() == ValueKind::Double && std::isnan(v.as_double())) cannot("NaN has no SQLite equivalent (SQLite would store NULL)");
           return std::nullopt;
         };
       }},
      // ---- into SQLite ----
      {"any", "sqlite", "decimal(p,s) with p > 15", "text", "exact digits (SQLite's NUMERIC affinity would round them to a double)",
       "yes", [](const Column& c, const Ctx&) { return c.type.id == TypeId::Decimal && (c.type.precision <= 0 || c.type.precision > 15); },
       [](const Column&) { return of(TypeId::String); }, nullptr},
  };
  return r;
}

bool dialect_matches(const char* rule, std::string_view actual) { return std::strcmp(rule, "any") == 0 || actual == rule; }

Resolved resolve(const Column& source, const Ctx& ctx) {
  for (const auto& r : rules()) {
    if (!dialect_matches(r.from, ctx.from) || !dialect_matches(r.to, ctx.to) || !r.match(source, ctx)) continue;
    Resolved out;
    out.type = r.type(source);
    if (r.convert) out.specific = r.convert(source, out.type, ctx);
    out.rule = std::string(r.source) + " -> " + r.target;
    if (r.native) out.native = r.native(source);
    return out;
  }
  return {source.type, {}, "same logical type", {}};
}

// ---- the mapper ------------------------------------------------------------------------------

class BuiltinTypeMapper final : public TypeMapper {
 public:
  BuiltinTypeMapper(std::vector<TypeCast> casts, bool keep_defaults, EnumAs enum_as = EnumAs::Type,
                    std::map<std::string, EnumAs> enum_as_by_table = {})
      : keep_defaults_(keep_defaults), enum_as_(enum_as), enum_as_by_table_(std::move(enum_as_by_table)) {
    for (auto& c : casts) {
      LogicalType to = parse_type_name(c.to);
      if (!c.column.empty()) by_column_.emplace(c.column, std::make_pair(to, c.to));
      else by_type_.emplace_back(lower(c.type), std::make_pair(to, c.to));
    }
  }

  ColumnMapping map_column(const TableId& table, const Column& source, std::string_view from,
                           std::string_view to) const override {
    ColumnMapping m;
    m.target = source;
    const auto* cast = find_cast(table, source);
    if (from == to && !cast) {
      m.rule = "same dialect: native type kept";
      return m;
    }
    m.target.source_type.clear();
    if (!keep_defaults_ || from != to) m.target.default_expr.reset();
    Convert specific;
    if (cast) {
      m.target.type = cast->first;
      m.rule = "override: " + cast->second;
    } else {
      Resolved r = resolve(source, Ctx{from, to, enum_as_for(table)});
      m.target.type = std::move(r.type);
      m.target.source_type = std::move(r.native);
      specific = std::move(r.specific);
      m.rule = std::move(r.rule);
    }
    const LogicalType target_type = m.target.type;
    Convert nul;
    if (to == "postgresql" && target_type.id == TypeId::String && (cast || !specific))
      nul = reject_nul_text("text with a NUL byte, which PostgreSQL text cannot hold (cast the column to bytea to keep it)");
    if (to == "postgresql" && target_type.id == TypeId::Json && m.target.source_type != "json")
      nul = [](const Value& v) -> std::optional<Value> {  // jsonb (a cast): it cannot hold \u0000
        if (v.has_text() && v.text().find("\\u0000") != std::string::npos) cannot("JSON with \\u0000, which jsonb cannot hold");
        return std::nullopt;
      };
    // Values are always checked against the target type across dialects (coerce), after any
    // rule-specific conversion.
    m.converter = std::make_shared<FnConverter>(std::move(specific), target_type, std::move(nul));
    return m;
  }

 private:
  const std::pair<LogicalType, std::string>* find_cast(const TableId& table, const Column& c) const {
    for (const std::string& key : {table.to_string() + "." + c.name, table.name + "." + c.name}) {
      auto it = by_column_.find(key);
      if (it != by_column_.end()) return &it->second;
    }
    const std::string st = lower(c.source_type);
    for (const auto& [type, to] : by_type_)
      if (st == type || (starts_with(st, type) && (st.size() == type.size() || st[type.size()] == ' '))) return &to;
    return nullptr;
  }

  // The table's enum_as: its own setting (keyed "schema.name" or "name" as in Config::tables), else the default.
  EnumAs enum_as_for(const TableId& table) const {
    for (const std::string& key : {table.to_string(), table.name}) {
      auto it = enum_as_by_table_.find(key);
      if (it != enum_as_by_table_.end()) return it->second;
    }
    return enum_as_;
  }

  bool keep_defaults_;
  EnumAs enum_as_;
  std::map<std::string, EnumAs> enum_as_by_table_;
  std::map<std::string, std::pair<LogicalType, std::string>> by_column_;
  std::vector<std::pair<std::string, std::pair<LogicalType, std::string>>> by_type_;
};

}  // namespace

LogicalType parse_type_name(std::string_view text) {
  std::string name = lower(text);
  name.erase(std::remove(name.begin(), name.end(), ' '), name.end());
  std::vector<int> args;
  std::string base = name;
  if (auto open = name.find('('); open != std::string::npos) {
    base = name.substr(0, open);
    auto close = name.find(')', open);
    if (close == std::string::npos) throw config_error("cast", fmt::format("unbalanced parentheses in type \"{}\"", text));
    std::string inner = name.substr(open + 1, close - open - 1);
    std::size_t start = 0;
    while (start <= inner.size()) {
      auto comma = inner.find(',', start);
      std::string part = inner.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      char* end = nullptr;
      long v = std::strtol(part.c_str(), &end, 10);
      if (part.empty() || *end) throw config_error("cast", fmt::format("\"{}\" in type \"{}\" is not a number", part, text));
      args.push_back(static_cast<int>(v));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  LogicalType t;
  auto arg = [&](std::size_t i) { return i < args.size() ? args[i] : -1; };
  static const std::map<std::string, TypeId> simple = {
      {"boolean", TypeId::Bool},       {"bool", TypeId::Bool},        {"smallint", TypeId::Int16},
      {"int2", TypeId::Int16},         {"integer", TypeId::Int32},    {"int", TypeId::Int32},
      {"int4", TypeId::Int32},         {"bigint", TypeId::Int64},     {"int8", TypeId::Int64},
      {"real", TypeId::Float32},       {"float4", TypeId::Float32},   {"double", TypeId::Float64},
      {"doubleprecision", TypeId::Float64}, {"float8", TypeId::Float64}, {"text", TypeId::String},
      {"varchar", TypeId::String},     {"char", TypeId::String},      {"bytea", TypeId::Bytes},
      {"blob", TypeId::Bytes},         {"bytes", TypeId::Bytes},      {"date", TypeId::Date},
      {"time", TypeId::Time},          {"timestamp", TypeId::Timestamp}, {"datetime", TypeId::Timestamp},
      {"timestamptz", TypeId::TimestampTz}, {"interval", TypeId::Interval}, {"json", TypeId::Json},
      {"jsonb", TypeId::Json},         {"uuid", TypeId::Uuid},        {"numeric", TypeId::Decimal},
      {"decimal", TypeId::Decimal},    {"geometry", TypeId::Geometry},
  };
  auto it = simple.find(base);
  if (it == simple.end()) {
    std::vector<std::string> names;
    for (const auto& [k, v] : simple) names.push_back(k);
    std::string near = detail::similar_names(base, names);
    throw config_error("cast", fmt::format("unknown type \"{}\"{}", text, near.empty() ? "" : " (similar: " + near + ")"));
  }
  t.id = it->second;
  switch (t.id) {
    case TypeId::Decimal:
      t.precision = arg(0);
      t.scale = args.size() > 1 ? arg(1) : (args.empty() ? -1 : 0);
      break;
    case TypeId::String:
      t.length = arg(0);
      t.fixed_length = base == "char";
      break;
    case TypeId::Time:
    case TypeId::Timestamp:
    case TypeId::TimestampTz: t.fsp = arg(0); break;
    default: break;
  }
  return t;
}

std::shared_ptr<const TypeMapper> default_type_mapper() {
  static const auto mapper = std::make_shared<const BuiltinTypeMapper>(std::vector<TypeCast>{}, false);
  return mapper;
}

std::shared_ptr<const TypeMapper> make_type_mapper(const Config& config) {
  std::map<std::string, EnumAs> enum_as_by_table;
  for (const auto& [key, t] : config.tables)
    if (t.enum_as) enum_as_by_table.emplace(key, *t.enum_as);
  if (config.cast.empty() && !config.keep_defaults && config.defaults.enum_as == EnumAs::Type && enum_as_by_table.empty())
    return default_type_mapper();
  return std::make_shared<const BuiltinTypeMapper>(config.cast, config.keep_defaults, config.defaults.enum_as,
                                                   std::move(enum_as_by_table));
}

std::vector<TypeRuleRow> type_rules() {
  std::vector<TypeRuleRow> out;
  for (const auto& r : rules()) out.push_back({r.from, r.to, r.source, r.target, r.values, r.lossless});
  out.push_back({"any", "any other", "any other type", "the same logical type, rendered by the destination",
                 "checked against the target type: numbers by range and digits, text as UTF-8; never rounded or truncated",
                 "yes: the same type at the same width or wider (where a width has no equal, a rule above widens it)"});
  out.push_back({"same", "same", "every type", "the native type, verbatim", "unchanged", "yes"});
  return out;
}

}  // namespace cdc
