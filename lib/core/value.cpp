#include <cdc/error.h>
#include <cdc/value.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>

namespace cdc {

std::string_view to_string(ValueKind kind) {
  switch (kind) {
    case ValueKind::Null: return "null";
    case ValueKind::Bool: return "bool";
    case ValueKind::Int: return "int";
    case ValueKind::UInt: return "uint";
    case ValueKind::Double: return "double";
    case ValueKind::Decimal: return "decimal";
    case ValueKind::String: return "string";
    case ValueKind::Bytes: return "bytes";
    case ValueKind::Date: return "date";
    case ValueKind::Time: return "time";
    case ValueKind::Timestamp: return "timestamp";
    case ValueKind::TimestampTz: return "timestamptz";
    case ValueKind::Json: return "json";
    case ValueKind::Uuid: return "uuid";
    case ValueKind::Geometry: return "geometry";
  }
  return "?";
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = ValueKind::Bool;
  v.num_.b = b;
  return v;
}
Value Value::int64(std::int64_t i) {
  Value v;
  v.kind_ = ValueKind::Int;
  v.num_.i = i;
  return v;
}
Value Value::uint64(std::uint64_t u) {
  Value v;
  v.kind_ = ValueKind::UInt;
  v.num_.u = u;
  return v;
}
Value Value::float64(double d) {
  Value v;
  v.kind_ = ValueKind::Double;
  v.num_.d = d;
  return v;
}
Value Value::of_text(ValueKind kind, std::string text) {
  Value v;
  v.kind_ = kind;
  if (!v.has_text())
    throw Error(ErrorKind::Internal, fmt::format("Value::of_text: kind {} carries no text", to_string(kind)));
  v.str_ = std::move(text);
  return v;
}
void Value::assign_text(ValueKind kind, std::string_view text) {
  ValueKind was = kind_;
  kind_ = kind;
  if (!has_text()) {
    kind_ = was;
    throw Error(ErrorKind::Internal, fmt::format("Value::assign_text: kind {} carries no text", to_string(kind)));
  }
  num_.i = 0;
  str_.assign(text.data(), text.size());
}
Value Value::decimal(std::string t) { return of_text(ValueKind::Decimal, std::move(t)); }
Value Value::string(std::string t) { return of_text(ValueKind::String, std::move(t)); }
Value Value::bytes(std::string t) { return of_text(ValueKind::Bytes, std::move(t)); }
Value Value::date(std::string t) { return of_text(ValueKind::Date, std::move(t)); }
Value Value::time(std::string t) { return of_text(ValueKind::Time, std::move(t)); }
Value Value::timestamp(std::string t) { return of_text(ValueKind::Timestamp, std::move(t)); }
Value Value::timestamp_tz(std::string t) { return of_text(ValueKind::TimestampTz, std::move(t)); }
Value Value::json(std::string t) { return of_text(ValueKind::Json, std::move(t)); }
Value Value::uuid(std::string t) { return of_text(ValueKind::Uuid, std::move(t)); }
Value Value::geometry(std::string t) { return of_text(ValueKind::Geometry, std::move(t)); }

bool Value::has_text() const noexcept {
  switch (kind_) {
    case ValueKind::Null:
    case ValueKind::Bool:
    case ValueKind::Int:
    case ValueKind::UInt:
    case ValueKind::Double: return false;
    default: return true;
  }
}

namespace {
[[noreturn]] void wrong_kind(ValueKind have, std::string_view want) {
  throw Error(ErrorKind::Conversion, fmt::format("value of kind {} read as {}", to_string(have), want));
}
}  // namespace

bool Value::as_bool() const {
  if (kind_ != ValueKind::Bool) wrong_kind(kind_, "bool");
  return num_.b;
}
std::int64_t Value::as_int() const {
  if (kind_ != ValueKind::Int) wrong_kind(kind_, "int");
  return num_.i;
}
std::uint64_t Value::as_uint() const {
  if (kind_ != ValueKind::UInt) wrong_kind(kind_, "uint");
  return num_.u;
}
double Value::as_double() const {
  if (kind_ != ValueKind::Double) wrong_kind(kind_, "double");
  return num_.d;
}
const std::string& Value::text() const {
  if (!has_text()) wrong_kind(kind_, "text");
  return str_;
}

std::string Value::to_display(std::size_t max_len) const {
  switch (kind_) {
    case ValueKind::Null: return "NULL";
    case ValueKind::Bool: return num_.b ? "true" : "false";
    case ValueKind::Int: return std::to_string(num_.i);
    case ValueKind::UInt: return std::to_string(num_.u);
    case ValueKind::Double: return fmt::format("{}", num_.d);
    case ValueKind::Geometry:
    case ValueKind::Bytes: {
      std::string out = kind_ == ValueKind::Geometry ? "geometry \\x" : "\\x";
      for (unsigned char c : str_) {
        if (out.size() >= max_len) return out + "...";
        out += fmt::format("{:02x}", c);
      }
      return out;
    }
    default: {
      std::string out = "'";
      for (char c : str_) {
        if (out.size() >= max_len) return out + "...'";
        if (c == '\0') out += "\\0";
        else out += c;
      }
      return out + "'";
    }
  }
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case ValueKind::Null: return true;
    case ValueKind::Bool: return a.num_.b == b.num_.b;
    case ValueKind::Int: return a.num_.i == b.num_.i;
    case ValueKind::UInt: return a.num_.u == b.num_.u;
    case ValueKind::Double:
      if (std::isnan(a.num_.d) && std::isnan(b.num_.d)) return true;
      return std::memcmp(&a.num_.d, &b.num_.d, sizeof(double)) == 0 || a.num_.d == b.num_.d;
    default: return a.str_ == b.str_;
  }
}

}  // namespace cdc
