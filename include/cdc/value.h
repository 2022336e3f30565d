// cdc::Value: one database value, independent of any database's types.
// A Value is a small tagged union (integers, double, bool inline; text-like kinds in one string).
// Decimals and temporal values are kept as exact canonical text, so nothing is rounded on the way:
//   Decimal      "-123.4500"            (as the source printed it, no exponent)
//   Date         "2024-02-29"           (zero dates are the source's business; see the type mapper)
//   Time         "-838:59:59.000000"    (may be negative or beyond 24h)
//   Timestamp    "2024-02-29 13:01:02.123456"
//   TimestampTz  "2024-02-29 13:01:02.123456+00:00"
//   Geometry     binary: the spatial reference id as 4 bytes little-endian, then the shape as
//                little-endian ISO WKB (OGC 06-103r4: byte order 1, type code with +1000 for Z,
//                +2000 for M, +3000 for ZM, coordinates as IEEE doubles), every nested geometry
//                little-endian too. For 2-D shapes this is byte for byte MariaDB's own storage
//                format; an encoder wanting plain WKB drops the first 4 bytes (base64 of them for
//                JSON), one wanting PostGIS EWKB uses detail::geometry_to_ewkb. Decoders bring
//                every input (big-endian WKB, EWKB with its SRID flag) to this one form, so equal
//                shapes are equal Values.
// Values are regular types: copyable, movable, comparable; not synchronised (treat like std::string).
#pragma once

#include <cdc/export.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cdc {

enum class ValueKind : std::uint8_t {
  Null,
  Bool,
  Int,          // signed 64-bit
  UInt,         // unsigned 64-bit (only where the source type is unsigned)
  Double,       // IEEE double, NaN and infinities included
  Decimal,      // exact decimal as text
  String,       // UTF-8 text (may hold NUL bytes)
  Bytes,        // raw bytes
  Date,
  Time,
  Timestamp,    // without time zone
  TimestampTz,  // with explicit offset
  Json,         // JSON document as text
  Uuid,         // canonical 8-4-4-4-12 lowercase text
  Geometry,     // SRID + WKB, see above
};

CDC_API std::string_view to_string(ValueKind kind);

class CDC_API Value {
 public:
  Value() noexcept : kind_(ValueKind::Null) { num_.i = 0; }

  static Value null() { return Value(); }
  static Value boolean(bool b);
  static Value int64(std::int64_t v);
  static Value uint64(std::uint64_t v);
  static Value float64(double v);
  static Value decimal(std::string text);
  static Value string(std::string text);
  static Value bytes(std::string data);
  static Value date(std::string iso);
  static Value time(std::string iso);
  static Value timestamp(std::string iso);
  static Value timestamp_tz(std::string iso);
  static Value json(std::string text);
  static Value uuid(std::string text);
  // From the canonical form above (SRID + little-endian ISO WKB); not checked here: decoders build
  // it with the functions of lib/core/geometry.h, which check.
  static Value geometry(std::string srid_wkb);
  // Any text-carrying kind from its text; used by decoders that get text from the wire.
  static Value of_text(ValueKind kind, std::string text);
  // Makes this value a text-carrying `kind` holding a copy of `text`, reusing this value's string
  // storage (decoders refilling the same rows batch after batch allocate nothing). Throws like
  // of_text for kinds without text.
  void assign_text(ValueKind kind, std::string_view text);

  ValueKind kind() const noexcept { return kind_; }
  bool is_null() const noexcept { return kind_ == ValueKind::Null; }
  // True for kinds whose payload is text (Decimal, String, Bytes, temporal, Json, Uuid) or bytes
  // held like text (Geometry).
  bool has_text() const noexcept;

  // Accessors throw cdc::Error (kind Conversion) when the kind does not match.
  bool as_bool() const;
  std::int64_t as_int() const;
  std::uint64_t as_uint() const;
  double as_double() const;
  const std::string& text() const;

  // Human-readable rendering for logs and error messages ("NULL", numbers, quoted text,
  // bytes as \x hex, truncated past `max_len` characters).
  std::string to_display(std::size_t max_len = 64) const;

  // Exact equality: same kind and same payload (doubles compared bitwise-equal or both NaN).
  friend CDC_API bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  ValueKind kind_;
  union {
    bool b;
    std::int64_t i;
    std::uint64_t u;
    double d;
  } num_;
  std::string str_;
};

// A row is the values of a table's columns, in the order of its TableSchema.
using Row = std::vector<Value>;

}  // namespace cdc
