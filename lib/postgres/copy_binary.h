// COPY binary format (https://www.postgresql.org/docs/15/sql-copy.html, "Binary Format"): the
// tuple parser and the per-type codecs between a type's binary send/receive form and cdc::Value.
//
// Decoding gives exactly the Value that value_from_text() gives for the same column's text output
// under the connection settings pg_conn.cpp forces (DateStyle=ISO, TimeZone=UTC,
// extra_float_digits=3), so the binary and text paths are interchangeable. Types without a native
// codec are selected as their text output (format('%s', col)), whose binary form is that text,
// and go through value_from_text().
//
// Encoding writes a Value into the binary form of the *target* column's type. It accepts a value
// only when it is sure the bytes mean what the text COPY path would have made of the value's
// text (strict parsers for the canonical text forms); otherwise it returns false and the caller
// writes the batch as COPY text. Pure functions; thread-safe.
#pragma once

#include <cdc/schema.h>
#include <cdc/value.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cdc::pg {

// The types with a native binary codec.
enum class BinaryType : std::uint8_t {
  None,  // no native codec: read as its text output, written as COPY text
  Bool,
  Int2,
  Int4,
  Int8,
  Float4,
  Float8,
  Numeric,
  Text,  // text, varchar, bpchar, name: the bytes themselves
  Bytea,
  Date,
  Time,
  Timestamp,
  TimestampTz,
  Uuid,
  Json,
  Jsonb,
  Geometry,  // PostGIS geometry: geometry_send/geometry_recv's form is EWKB
  // Written only (a destination column's type; sources read these as their text output):
  TextArray,  // text[], one dimension: from an array literal ("{red,green}")
  VarBit,     // bit(n) and bit varying(n): from a string of binary digits
  Interval,   // interval: from a time-of-day-like text ("-838:59:59.5"), hours beyond 24 allowed
};

// The binary type a pg_type.typname has (domains resolved to their base type first); None when
// there is no native codec.
BinaryType binary_type_of(std::string_view typname);
// The binary type a destination column of that pg_type.typname and typtype is written in: as
// binary_type_of, plus enum types (their label as text) and the written-only types above.
BinaryType target_binary_type(std::string_view typname, char typtype);

// How a source column is read: the codec, and the SQL the COPY's SELECT list uses for it: the
// column itself when `column_of_table` (it is read from the table it was described from, so its
// type is the described one), else cast (`"col"::int4`); the column's text output for None, so
// the server never sends a form we cannot read.
BinaryType source_binary_type(const Column& column);
std::string binary_select_expr(const Column& column, const std::string& quoted_name, bool column_of_table);

// A growing byte buffer the encoders write into: like std::string, but growing by `n` bytes
// does not fill them first (the encoders write every byte).
class ByteBuffer {
 public:
  char* grow(std::size_t n) {
    if (cap_ - size_ < n) reserve_more(n);
    char* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  void append(const char* p, std::size_t n) {
    if (n) std::memcpy(grow(n), p, n);
  }
  void clear() { size_ = 0; }
  const char* data() const { return data_.get(); }
  char* at(std::size_t offset) { return data_.get() + offset; }  // to fill in a length written last
  std::size_t size() const { return size_; }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  void reserve_more(std::size_t n);
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0, cap_ = 0;
};

// ---- the COPY binary stream --------------------------------------------------------------------

// One field of a tuple: points into the buffer parsed; `len` -1 is NULL.
struct BinaryField {
  const char* data = nullptr;
  std::int32_t len = -1;
};

// Checks the 19-byte header (signature, flags, extension area) at the start of `in` and removes
// it. Returns false when `in` is shorter than the header (more data needed); throws
// cdc::Error(Source) on a wrong signature or a critical flag.
bool parse_copy_binary_header(std::string_view& in);

enum class TupleStatus { Row, End, Incomplete };

// Parses one tuple from the front of `in` into `fields` (reusing its storage) and removes it.
// End is the trailer (field count -1); Incomplete leaves `in` untouched. Throws cdc::Error(Source)
// on malformed data.
TupleStatus parse_copy_binary_tuple(std::string_view& in, std::vector<BinaryField>& fields);

// The header every binary COPY FROM stream starts with, and the trailer it ends with.
void append_copy_binary_header(ByteBuffer& out);
void append_copy_binary_trailer(ByteBuffer& out);

// ---- values ------------------------------------------------------------------------------------

// Binary form of `type` (as source_binary_type(column) chose it) -> Value, exactly as
// value_from_text(column, text output) would give. Throws cdc::Error(Source) on malformed input.
Value value_from_binary(BinaryType type, const Column& column, const char* data, std::size_t len);
// The same into `out`, reusing its string storage.
void read_binary_value(BinaryType type, const Column& column, const char* data, std::size_t len, Value& out);

// Appends one field (int32 length + bytes) holding `v` in the binary form of `type` (not None).
// NULL is written as length -1. Returns false, with `out` unchanged, when the value cannot be
// written exactly in that form (the caller falls back to COPY text).
bool append_binary_field(BinaryType type, const Value& v, ByteBuffer& out);

// Text output of a numeric's binary form ("-12.3400", "NaN", "Infinity"), as numeric_out gives it.
bool numeric_binary_to_text(const char* data, std::size_t len, std::string& out);
// A numeric's text input (as numeric_in reads the canonical forms: sign, digits, point, exponent,
// NaN, Infinity, -Infinity) -> its binary form appended to `out`. False when not such a form.
bool numeric_text_to_binary(std::string_view text, ByteBuffer& out);

}  // namespace cdc::pg
