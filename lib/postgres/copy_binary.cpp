// COPY binary tuples and per-type binary codecs; see copy_binary.h. The binary forms are the
// types' send/receive functions in PostgreSQL's src/backend/utils/adt (boolsend, int4send,
// float8send, numeric_send, textsend, date_send, time_send, timestamp_send, uuid_send,
// jsonb_send): all big-endian, dates as int32 days and times/timestamps as int64 microseconds
// since 2000-01-01 (PostgreSQL's epoch), infinities as the extreme integers.
#include "postgres/copy_binary.h"

#include "core/geometry.h"

#include "core/array_literal.h"
#include "core/calendar.h"
#include "postgres/pg_types.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace cdc::pg {

namespace {

using detail::civil_from_days;
using detail::days_from_civil;
using detail::floor_div;

constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // + '\0': 11 bytes
constexpr std::size_t kHeaderSize = 11 + 4 + 4;
constexpr std::int64_t kEpochDays = 10957;  // 2000-01-01 in days since 1970-01-01
constexpr std::int64_t kUsPerDay = 86400LL * 1000000LL;
constexpr std::int64_t kUsPerSec = 1000000LL;

// Years (astronomical: 0 = 1 BC) the strict parsers accept; PostgreSQL's own ranges are wider
// (dates to 5874897, timestamps to 294276), and what lies beyond goes the text way.
constexpr std::int64_t kMinYear = -4712;  // 4713 BC
constexpr std::int64_t kMaxDateYear = 5874896;
constexpr std::int64_t kMaxTimestampYear = 294276;

constexpr std::uint16_t kNumericPos = 0x0000, kNumericNeg = 0x4000, kNumericNaN = 0xC000, kNumericPInf = 0xD000,
                        kNumericNInf = 0xF000;

[[noreturn]] void malformed(const char* what) {
  throw Error(ErrorKind::Source, fmt::format("malformed COPY binary data: {}", what), false);
}

std::uint16_t get16(const char* p) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint16_t>((u[0] << 8) | u[1]);
}
std::uint32_t get32(const char* p) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  return (static_cast<std::uint32_t>(u[0]) << 24) | (static_cast<std::uint32_t>(u[1]) << 16) |
         (static_cast<std::uint32_t>(u[2]) << 8) | u[3];
}
std::uint64_t get64(const char* p) { return (static_cast<std::uint64_t>(get32(p)) << 32) | get32(p + 4); }

char* grow(ByteBuffer& out, std::size_t n) { return out.grow(n); }

char* w16(char* p, std::uint16_t v) {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v);
  return p + 2;
}
char* w32(char* p, std::uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
  return p + 4;
}
char* w64(char* p, std::uint64_t v) { return w32(w32(p, static_cast<std::uint32_t>(v >> 32)), static_cast<std::uint32_t>(v)); }

void fixed32(ByteBuffer& out, std::uint32_t v) { w32(w32(grow(out, 8), 4), v); }
void fixed64(ByteBuffer& out, std::uint64_t v) { w64(w32(grow(out, 12), 8), v); }

void put16(ByteBuffer& out, std::uint16_t v) { w16(grow(out, 2), v); }
void put32(ByteBuffer& out, std::uint32_t v) { w32(grow(out, 4), v); }

// ---- text output of temporal values, as PostgreSQL prints them with DateStyle=ISO ----------------

// Writes `v` (>= 0) as at least `width` digits, zero-padded.
char* put_digits(char* p, std::int64_t v, int width) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  while (n < width) tmp[n++] = '0';
  while (n > 0) *p++ = tmp[--n];
  return p;
}

// Writes "YYYY-MM-DD" for days since 1970-01-01; `bc` tells a BC year (" BC" goes last).
// Rows in key order often share a day: the last day's text is kept per thread.
char* put_date(char* p, std::int64_t days, bool& bc) {
  thread_local std::int64_t last_days = std::numeric_limits<std::int64_t>::min();
  thread_local char last[16];
  thread_local std::size_t last_len = 0;
  thread_local bool last_bc = false;
  if (days != last_days) {
    std::int64_t y;
    unsigned m, d;
    civil_from_days(days, y, m, d);
    last_bc = y <= 0;
    char* e = put_digits(last, last_bc ? 1 - y : y, 4);
    *e++ = '-';
    e = put_digits(e, m, 2);
    *e++ = '-';
    e = put_digits(e, d, 2);
    last_len = static_cast<std::size_t>(e - last);
    last_days = days;
  }
  bc = last_bc;
  std::memcpy(p, last, last_len);
  return p + last_len;
}

// "HH:MM:SS" and the fraction without trailing zeros.
char* put_time(char* p, std::int64_t us) {
  std::int64_t secs = us / kUsPerSec, frac = us % kUsPerSec;
  p = put_digits(p, secs / 3600, 2);
  *p++ = ':';
  p = put_digits(p, secs / 60 % 60, 2);
  *p++ = ':';
  p = put_digits(p, secs % 60, 2);
  if (frac == 0) return p;
  int n = 6;
  while (frac % 10 == 0) {
    frac /= 10;
    --n;
  }
  *p++ = '.';
  return put_digits(p, frac, n);
}

// Text of a timestamp's binary value, written into `buf` (64 bytes).
std::string_view timestamp_text(std::int64_t us, bool with_zone, char* buf) {
  if (us == std::numeric_limits<std::int64_t>::max()) return "infinity";
  if (us == std::numeric_limits<std::int64_t>::min()) return "-infinity";
  // Day and time of day without `days * kUsPerDay`, which overflows near the int64 ends (values
  // PostgreSQL never sends, but the bytes are not ours to trust).
  std::int64_t tod = us % kUsPerDay;
  std::int64_t days = us / kUsPerDay;
  if (tod < 0) {
    tod += kUsPerDay;
    --days;
  }
  bool bc;
  char* p = put_date(buf, days + kEpochDays, bc);
  *p++ = ' ';
  p = put_time(p, tod);
  // The session's time zone is UTC (pg_conn.cpp); value_from_text writes its offset as +00:00,
  // except before a " BC" suffix, which it leaves as printed.
  if (with_zone) {
    std::memcpy(p, bc ? "+00" : "+00:00", bc ? 3 : 6);
    p += bc ? 3 : 6;
  }
  if (bc) {
    std::memcpy(p, " BC", 3);
    p += 3;
  }
  return std::string_view(buf, static_cast<std::size_t>(p - buf));
}

// ---- strict parsers of the canonical text forms -------------------------------------------------

bool digits(std::string_view s, std::size_t pos, std::size_t n, std::int64_t& v) {
  if (pos + n > s.size()) return false;
  v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  return true;
}

// "YYYY-MM-DD" (4 or more year digits) at the front of `s`; removes it. Days since 1970-01-01 and
// the astronomical year once " BC" is known are computed by the caller via `y`.
bool take_date(std::string_view& s, std::int64_t& y, std::int64_t& m, std::int64_t& d) {
  std::size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  if (n < 4 || n > 7 || !digits(s, 0, n, y)) return false;
  if (s.size() < n + 6 || s[n] != '-' || s[n + 3] != '-') return false;
  if (!digits(s, n + 1, 2, m) || !digits(s, n + 4, 2, d)) return false;
  s.remove_prefix(n + 6);
  return m >= 1 && m <= 12 && d >= 1;
}

bool take_bc(std::string_view& s) {
  if (s.size() >= 3 && s.substr(s.size() - 3) == " BC") {
    s.remove_suffix(3);
    return true;
  }
  return false;
}

// Validates the day and turns (year as printed, BC) into days since 1970-01-01.
bool civil_days(std::int64_t y, bool bc, std::int64_t m, std::int64_t d, std::int64_t max_year, std::int64_t& days) {
  if (y == 0) return false;
  if (bc) y = 1 - y;
  if (y < kMinYear || y > max_year) return false;
  if (d > detail::days_in_month(y, static_cast<unsigned>(m))) return false;
  days = days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return true;
}

// ":MM:SS[.f{1,6}]" at s[i..]: minutes, seconds and fraction in microseconds; moves `i` past it.
bool take_min_sec(std::string_view s, std::size_t& i, std::int64_t& us) {
  std::int64_t mi, se;
  if (s.size() < i + 6 || s[i] != ':' || s[i + 3] != ':') return false;
  if (!digits(s, i + 1, 2, mi) || !digits(s, i + 4, 2, se) || mi > 59 || se > 59) return false;
  i += 6;
  std::int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    std::size_t n = 0;
    ++i;
    while (i + n < s.size() && s[i + n] >= '0' && s[i + n] <= '9') ++n;
    if (n < 1 || n > 6 || !digits(s, i, n, frac)) return false;
    for (std::size_t k = n; k < 6; ++k) frac *= 10;
    i += n;
  }
  us = (mi * 60 + se) * kUsPerSec + frac;
  return true;
}

// "HH:MM:SS[.f{1,6}]" at the front of `s`; removes it. 24:00:00 only when `allow_24`.
bool take_time(std::string_view& s, std::int64_t& us, bool allow_24) {
  std::int64_t h, rest;
  std::size_t i = 2;
  if (!digits(s, 0, 2, h) || !take_min_sec(s, i, rest)) return false;
  if (h > 23 && !(allow_24 && h == 24 && rest == 0)) return false;
  us = h * 3600 * kUsPerSec + rest;
  s.remove_prefix(i);
  return true;
}

// "+HH", "+HH:MM" or "+HH:MM:SS" (or '-'), the whole of `s`: seconds east of UTC.
bool parse_offset(std::string_view s, std::int64_t& secs) {
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return false;
  std::int64_t h = 0, m = 0, sec = 0;
  if (!digits(s, 1, 2, h)) return false;
  if (s.size() == 6 || s.size() == 9) {
    if (s[3] != ':' || !digits(s, 4, 2, m)) return false;
    if (s.size() == 9 && (s[6] != ':' || !digits(s, 7, 2, sec))) return false;
  } else if (s.size() != 3) {
    return false;
  }
  if (h > 15 || m > 59 || sec > 59) return false;
  secs = (h * 3600 + m * 60 + sec) * (s[0] == '-' ? -1 : 1);
  return true;
}

bool parse_date(std::string_view s, std::int32_t& out) {
  if (s == "infinity") return out = std::numeric_limits<std::int32_t>::max(), true;
  if (s == "-infinity") return out = std::numeric_limits<std::int32_t>::min(), true;
  bool bc = take_bc(s);
  std::int64_t y, m, d, days;
  if (!take_date(s, y, m, d) || !s.empty() || !civil_days(y, bc, m, d, kMaxDateYear, days)) return false;
  out = static_cast<std::int32_t>(days - kEpochDays);
  return true;
}

// timestamp (`zone` false: no offset allowed) or timestamptz (offset optional: the session's
// time zone, UTC, when absent).
bool parse_timestamp(std::string_view s, bool zone, std::int64_t& out) {
  if (s == "infinity") return out = std::numeric_limits<std::int64_t>::max(), true;
  if (s == "-infinity") return out = std::numeric_limits<std::int64_t>::min(), true;
  bool bc = take_bc(s);
  std::int64_t y, m, d, days, tod, offset = 0;
  if (!take_date(s, y, m, d) || s.empty() || s[0] != ' ') return false;
  s.remove_prefix(1);
  if (!take_time(s, tod, false)) return false;
  if (!s.empty() && (!zone || !parse_offset(s, offset))) return false;
  if (!civil_days(y, bc, m, d, kMaxTimestampYear, days)) return false;
  out = (days - kEpochDays) * kUsPerDay + tod - offset * kUsPerSec;
  return true;
}

bool parse_int(std::string_view s, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = b + s.size();
  if (*b == '+') ++b;
  if (b == e || (*b == '-' && b + 1 == e)) return false;
  auto r = std::from_chars(b, e, out);
  return r.ec == std::errc() && r.ptr == e && out >= lo && out <= hi;
}

// What float8in/float4in read: decimal forms and the spelled-out specials.
bool parse_float(std::string_view s, bool single, double& out) {
  if (s == "NaN") return out = std::numeric_limits<double>::quiet_NaN(), true;
  if (s == "Infinity" || s == "+Infinity") return out = std::numeric_limits<double>::infinity(), true;
  if (s == "-Infinity") return out = -std::numeric_limits<double>::infinity(), true;
  std::size_t i = 0, n = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++n;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++n;
  }
  if (n == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t e = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++e;
    if (e == 0) return false;
  }
  if (i != s.size()) return false;
  std::string z(s);
  char* end = nullptr;
  errno = 0;
  out = single ? static_cast<double>(std::strtof(z.c_str(), &end)) : std::strtod(z.c_str(), &end);
  return errno == 0 && end == z.c_str() + z.size();
}

int hex_nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_uuid(std::string_view s, char (&raw)[16]) {
  bool hyphens = s.size() == 36;
  if (!hyphens && s.size() != 32) return false;
  std::size_t k = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (hyphens && (i == 8 || i == 13 || i == 18 || i == 23)) {
      if (s[i] != '-') return false;
      ++i;
      continue;
    }
    int h = hex_nibble(s[i]), l = i + 1 < s.size() ? hex_nibble(s[i + 1]) : -1;
    if (h < 0 || l < 0) return false;
    raw[k++] = static_cast<char>((h << 4) | l);
    i += 2;
  }
  return k == 16;
}

// The text COPY text would carry for `v` (before escaping); false for kinds whose text form is
// not a plain value (bytes print as \x hex).
bool value_text(const Value& v, std::string& scratch, std::string_view& out) {
  switch (v.kind()) {
    case ValueKind::Null:
    case ValueKind::Bytes: return false;
    case ValueKind::Bool:
    case ValueKind::Int:
    case ValueKind::UInt:
    case ValueKind::Double:
      scratch.clear();
      append_copy_text(v, scratch);
      out = scratch;
      return true;
    default: out = v.text(); return true;
  }
}

// Text bytes as the text path delivers them: COPY text cannot carry NUL, so it drops them.
void append_text_field(std::string_view text, ByteBuffer& out, bool jsonb) {
  if (text.find('\0') == std::string_view::npos) {
    std::size_t n = text.size() + (jsonb ? 1 : 0);
    char* q = w32(grow(out, 4 + n), static_cast<std::uint32_t>(n));
    if (jsonb) *q++ = '\x01';
    if (!text.empty()) std::memcpy(q, text.data(), text.size());
    return;
  }
  std::string kept;
  for (char c : text)
    if (c != '\0') kept += c;
  append_text_field(kept, out, jsonb);
}

double float4_as_double(float f) {
  // value_from_text reads a real's shortest text (extra_float_digits=3) as a double.
  if (std::isnan(f)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(f)) return f > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf - 1, f);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

}  // namespace

BinaryType binary_type_of(std::string_view n) {
  using B = BinaryType;
  static const std::pair<std::string_view, BinaryType> kByName[] = {
      {"bool", B::Bool},       {"int2", B::Int2},   {"int4", B::Int4},           {"int8", B::Int8},
      {"float4", B::Float4},   {"float8", B::Float8}, {"numeric", B::Numeric},   {"text", B::Text},
      {"varchar", B::Text},    {"bpchar", B::Text}, {"name", B::Text},           {"bytea", B::Bytea},
      {"date", B::Date},       {"time", B::Time},   {"timestamp", B::Timestamp}, {"timestamptz", B::TimestampTz},
      {"uuid", B::Uuid},       {"json", B::Json},   {"jsonb", B::Jsonb},           {"geometry", B::Geometry},
  };
  for (const auto& [name, type] : kByName)
    if (n == name) return type;
  return B::None;
}

BinaryType target_binary_type(std::string_view typname, char typtype) {
  if (typtype == 'e') return BinaryType::Text;  // enum_recv reads the label's text
  if (typname == "_text") return BinaryType::TextArray;
  if (typname == "bit" || typname == "varbit") return BinaryType::VarBit;
  if (typname == "interval") return BinaryType::Interval;
  return binary_type_of(typname);
}

namespace {

// The typname behind a source column's format_type() text, when its logical type is the one
// value_from_text() expects of that type; "" otherwise (read as text).
std::string_view source_typname(const Column& c) {
  const std::string& s = c.source_type;
  auto starts = [&](std::string_view p) { return s.compare(0, p.size(), p) == 0; };
  auto ends = [&](std::string_view p) { return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0; };
  switch (c.type.id) {
    case TypeId::Bool: return s == "boolean" ? "bool" : "";
    case TypeId::Int16: return s == "smallint" ? "int2" : "";
    case TypeId::Int32: return s == "integer" ? "int4" : "";
    case TypeId::Int64: return s == "bigint" ? "int8" : "";
    case TypeId::Float32: return s == "real" ? "float4" : "";
    case TypeId::Float64: return s == "double precision" ? "float8" : "";
    case TypeId::Decimal: return s == "numeric" || starts("numeric(") ? "numeric" : "";
    case TypeId::String:
      if (s == "text") return "text";
      if (s == "character varying" || starts("character varying(")) return "varchar";
      if (s == "bpchar" || starts("character(")) return "bpchar";
      if (s == "name") return "name";
      return "";
    case TypeId::Enum: return "text";  // the label (enum::text); value_from_text makes a string of it
    case TypeId::Bytes: return s == "bytea" ? "bytea" : "";
    case TypeId::Date: return s == "date" ? "date" : "";
    case TypeId::Time: return starts("time") && ends("without time zone") ? "time" : "";
    case TypeId::Timestamp: return starts("timestamp") && ends("without time zone") ? "timestamp" : "";
    case TypeId::TimestampTz: return starts("timestamp") && ends("with time zone") ? "timestamptz" : "";
    case TypeId::Uuid: return s == "uuid" ? "uuid" : "";
    case TypeId::Json: return s == "json" || s == "jsonb" ? std::string_view(s) : "";
    case TypeId::Geometry: return s == "geometry" || starts("geometry(") ? "geometry" : "";
    default: return "";
  }
}

}  // namespace

BinaryType source_binary_type(const Column& column) { return binary_type_of(source_typname(column)); }

std::string binary_select_expr(const Column& column, const std::string& quoted_name, bool column_of_table) {
  std::string_view t = source_typname(column);
  // A table's column of the described type sends that type's binary form as it is (a domain
  // sends its base type's, typmods do not change it); an enum is cast to get its label as text.
  if (!t.empty() && column_of_table && column.type.id != TypeId::Enum) return quoted_name;
  if (!t.empty()) return quoted_name + "::" + std::string(t);
  // The type's output function, as COPY text prints it: `::text` would take a cast of its own
  // where the type has one (inet and cidr show the netmask, "char" its raw byte). num_nulls, not
  // IS NULL, so that a composite value of NULL fields is not taken for NULL.
  return fmt::format("CASE WHEN num_nulls({0}) = 0 THEN format('%s', {0}) END", quoted_name);
}

void ByteBuffer::reserve_more(std::size_t n) {
  std::size_t cap = std::max<std::size_t>({cap_ * 2, size_ + n, std::size_t{4096}});
  std::unique_ptr<char[]> bigger(new char[cap]);
  if (size_) std::memcpy(bigger.get(), data_.get(), size_);
  data_ = std::move(bigger);
  cap_ = cap;
}

// ---- stream --------------------------------------------------------------------------------------

bool parse_copy_binary_header(std::string_view& in) {
  if (in.size() < kHeaderSize) {
    if (in.compare(0, in.size(), std::string_view(kSignature, 11).substr(0, std::min<std::size_t>(in.size(), 11))) != 0)
      malformed("no PGCOPY signature");
    return false;
  }
  if (in.compare(0, 11, std::string_view(kSignature, 11)) != 0) malformed("no PGCOPY signature");
  std::uint32_t flags = get32(in.data() + 11);
  // Bit 16: OIDs included; bits 17-31: critical flags a reader must understand.
  if (flags & 0xffff0000u) malformed("unsupported header flags");
  std::uint32_t ext = get32(in.data() + 15);
  if (in.size() < kHeaderSize + ext) return false;
  in.remove_prefix(kHeaderSize + ext);
  return true;
}

TupleStatus parse_copy_binary_tuple(std::string_view& in, std::vector<BinaryField>& fields) {
  if (in.size() < 2) return TupleStatus::Incomplete;
  auto count = static_cast<std::int16_t>(get16(in.data()));
  if (count == -1) {
    in.remove_prefix(2);
    return TupleStatus::End;
  }
  if (count < 0) malformed("negative field count");
  fields.resize(static_cast<std::size_t>(count));
  std::size_t pos = 2;
  for (auto& f : fields) {
    if (in.size() < pos + 4) return TupleStatus::Incomplete;
    auto len = static_cast<std::int32_t>(get32(in.data() + pos));
    pos += 4;
    if (len < -1) malformed("negative field length");
    f.len = len;
    f.data = in.data() + pos;
    if (len > 0) {
      if (in.size() - pos < static_cast<std::size_t>(len)) return TupleStatus::Incomplete;
      pos += static_cast<std::size_t>(len);
    }
  }
  in.remove_prefix(pos);
  return TupleStatus::Row;
}

void append_copy_binary_header(ByteBuffer& out) {
  out.append(kSignature, 11);
  put32(out, 0);
  put32(out, 0);
}

void append_copy_binary_trailer(ByteBuffer& out) { put16(out, 0xffff); }

// ---- numeric -----------------------------------------------------------------------------------

bool numeric_binary_to_text(const char* p, std::size_t len, std::string& out) {
  if (len < 8) return false;
  int ndigits = static_cast<std::int16_t>(get16(p));
  int weight = static_cast<std::int16_t>(get16(p + 2));
  std::uint16_t sign = get16(p + 4);
  int dscale = get16(p + 6);
  if (ndigits < 0 || len != 8 + 2 * static_cast<std::size_t>(ndigits)) return false;
  switch (sign) {
    case kNumericNaN: out += "NaN"; return true;
    case kNumericPInf: out += "Infinity"; return true;
    case kNumericNInf: out += "-Infinity"; return true;
    case kNumericPos:
    case kNumericNeg: break;
    default: return false;
  }
  auto digit = [&](int i) -> int {
    if (i < 0 || i >= ndigits) return 0;
    int d = static_cast<std::int16_t>(get16(p + 8 + 2 * i));
    return d;
  };
  for (int i = 0; i < ndigits; ++i)
    if (digit(i) < 0 || digit(i) > 9999) return false;
  if (sign == kNumericNeg) out += '-';
  char buf[4];
  auto four = [&](int d) {
    buf[0] = static_cast<char>('0' + d / 1000);
    buf[1] = static_cast<char>('0' + d / 100 % 10);
    buf[2] = static_cast<char>('0' + d / 10 % 10);
    buf[3] = static_cast<char>('0' + d % 10);
  };
  if (weight < 0) {
    out += '0';
  } else {
    for (int i = 0; i <= weight; ++i) {
      four(digit(i));
      if (i == 0) {
        int skip = 0;
        while (skip < 3 && buf[skip] == '0') ++skip;
        out.append(buf + skip, static_cast<std::size_t>(4 - skip));
      } else {
        out.append(buf, 4);
      }
    }
  }
  if (dscale > 0) {
    out += '.';
    int left = dscale;
    for (int i = weight + 1; left > 0; ++i) {
      four(digit(i));
      int n = std::min(4, left);
      out.append(buf, static_cast<std::size_t>(n));
      left -= n;
    }
  }
  return true;
}

bool numeric_text_to_binary(std::string_view s, ByteBuffer& out) {
  if (s == "NaN") {
    put32(out, 8), put16(out, 0), put16(out, 0), put16(out, kNumericNaN), put16(out, 0);
    return true;
  }
  if (s == "Infinity" || s == "+Infinity" || s == "-Infinity") {
    put32(out, 8), put16(out, 0), put16(out, 0), put16(out, s[0] == '-' ? kNumericNInf : kNumericPInf), put16(out, 0);
    return true;
  }
  std::size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  std::size_t int_begin = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  std::string_view ip = s.substr(int_begin, i - int_begin), fp;
  if (i < s.size() && s[i] == '.') {
    std::size_t fb = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    fp = s.substr(fb, i - fb);
  }
  if (ip.empty() && fp.empty()) return false;
  std::int64_t exp = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (!parse_int(s.substr(i), -1000, 1000, exp)) return false;
    i = s.size();
  }
  if (i != s.size()) return false;
  // The digits of ip and fp are one sequence D; the decimal point sits `point` digits into it
  // (may lie outside D, which is padded with zeros both ways). Base-10000 digit w (the weight)
  // covers D positions point-4(w+1) .. point-4w-1.
  const std::int64_t ni = static_cast<std::int64_t>(ip.size()), nd = ni + static_cast<std::int64_t>(fp.size());
  const std::int64_t point = ni + exp;
  auto dig = [&](std::int64_t k) -> int {
    if (k < 0 || k >= nd) return 0;
    return (k < ni ? ip[static_cast<std::size_t>(k)] : fp[static_cast<std::size_t>(k - ni)]) - '0';
  };
  // numeric_in: the display scale is the digits after the point, less a positive exponent.
  std::int64_t dscale = std::max<std::int64_t>(0, static_cast<std::int64_t>(fp.size()) - exp);
  if (dscale > 1000) return false;
  std::int64_t first = 0, last = nd - 1;
  while (first < nd && dig(first) == 0) ++first;
  while (last >= first && dig(last) == 0) --last;
  std::int64_t n = 0, wmax = 0;
  if (first <= last) {
    wmax = floor_div(point - 1 - first, 4);
    std::int64_t wmin = floor_div(point - 1 - last, 4);
    n = wmax - wmin + 1;
  } else {
    neg = false;  // zero has no sign
  }
  if (n > 0x7fff || wmax > 0x7fff || wmax < -0x8000) return false;
  char* q = w32(grow(out, static_cast<std::size_t>(12 + 2 * n)), static_cast<std::uint32_t>(8 + 2 * n));
  q = w16(q, static_cast<std::uint16_t>(n));
  q = w16(q, static_cast<std::uint16_t>(static_cast<std::int16_t>(wmax)));
  q = w16(q, neg ? kNumericNeg : kNumericPos);
  q = w16(q, static_cast<std::uint16_t>(dscale));
  for (std::int64_t w = wmax; w > wmax - n; --w) {
    std::int64_t k = point - 4 * (w + 1);
    q = w16(q, static_cast<std::uint16_t>(dig(k) * 1000 + dig(k + 1) * 100 + dig(k + 2) * 10 + dig(k + 3)));
  }
  return true;
}

// ---- values ------------------------------------------------------------------------------------

void read_binary_value(BinaryType type, const Column& column, const char* p, std::size_t len, Value& out) {
  auto need = [&](std::size_t n) {
    if (len != n) malformed("field length does not fit its type");
  };
  char buf[64];
  switch (type) {
    case BinaryType::None:
    case BinaryType::TextArray:  // written only: sources read these types as their text output
    case BinaryType::VarBit:
    case BinaryType::Interval: out = value_from_text(column, std::string_view(p, len)); return;
    case BinaryType::Bool: need(1); out = Value::boolean(p[0] != 0); return;
    case BinaryType::Int2: need(2); out = Value::int64(static_cast<std::int16_t>(get16(p))); return;
    case BinaryType::Int4: need(4); out = Value::int64(static_cast<std::int32_t>(get32(p))); return;
    case BinaryType::Int8: need(8); out = Value::int64(static_cast<std::int64_t>(get64(p))); return;
    case BinaryType::Float4: {
      need(4);
      std::uint32_t bits = get32(p);
      float f;
      std::memcpy(&f, &bits, 4);
      out = Value::float64(float4_as_double(f));
      return;
    }
    case BinaryType::Float8: {
      need(8);
      std::uint64_t bits = get64(p);
      double d;
      std::memcpy(&d, &bits, 8);
      out = Value::float64(std::isnan(d) ? std::numeric_limits<double>::quiet_NaN() : d);
      return;
    }
    case BinaryType::Numeric: {
      thread_local std::string text;
      text.clear();
      if (!numeric_binary_to_text(p, len, text)) malformed("bad numeric");
      out.assign_text(ValueKind::Decimal, text);
      return;
    }
    case BinaryType::Text: out.assign_text(ValueKind::String, std::string_view(p, len)); return;
    case BinaryType::Bytea: out.assign_text(ValueKind::Bytes, std::string_view(p, len)); return;
    case BinaryType::Geometry: out = Value::geometry(detail::geometry_from_ewkb(std::string_view(p, len))); return;
    case BinaryType::Date: {
      need(4);
      auto days = static_cast<std::int32_t>(get32(p));
      if (days == std::numeric_limits<std::int32_t>::max()) return out.assign_text(ValueKind::Date, "infinity");
      if (days == std::numeric_limits<std::int32_t>::min()) return out.assign_text(ValueKind::Date, "-infinity");
      bool bc;
      char* e = put_date(buf, days + kEpochDays, bc);
      if (bc) {
        std::memcpy(e, " BC", 3);
        e += 3;
      }
      out.assign_text(ValueKind::Date, std::string_view(buf, static_cast<std::size_t>(e - buf)));
      return;
    }
    case BinaryType::Time: {
      need(8);
      auto us = static_cast<std::int64_t>(get64(p));
      if (us < 0 || us > kUsPerDay) malformed("time out of range");
      out.assign_text(ValueKind::Time, std::string_view(buf, static_cast<std::size_t>(put_time(buf, us) - buf)));
      return;
    }
    case BinaryType::Timestamp:
    case BinaryType::TimestampTz: {
      need(8);
      bool zone = type == BinaryType::TimestampTz;
      out.assign_text(zone ? ValueKind::TimestampTz : ValueKind::Timestamp,
                      timestamp_text(static_cast<std::int64_t>(get64(p)), zone, buf));
      return;
    }
    case BinaryType::Uuid: {
      need(16);
      static const char* hex = "0123456789abcdef";
      char* e = buf;
      for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *e++ = '-';
        auto b = static_cast<unsigned char>(p[i]);
        *e++ = hex[b >> 4];
        *e++ = hex[b & 15];
      }
      out.assign_text(ValueKind::Uuid, std::string_view(buf, 36));
      return;
    }
    case BinaryType::Json: out.assign_text(ValueKind::Json, std::string_view(p, len)); return;
    case BinaryType::Jsonb:
      if (len < 1 || p[0] != 1) malformed("unknown jsonb version");
      out.assign_text(ValueKind::Json, std::string_view(p + 1, len - 1));
      return;
  }
  malformed("unknown type");
}

Value value_from_binary(BinaryType type, const Column& column, const char* data, std::size_t len) {
  Value v;
  read_binary_value(type, column, data, len, v);
  return v;
}

namespace {

// A one-dimensional text[] literal of any length (the form SET values and text arrays travel in)
// as array_recv reads it: ndim, has-NULL flag, element type (text), dimension and lower bound,
// then each element as a field. False for anything else (more dimensions, malformed text).
bool append_text_array(std::string_view literal, ByteBuffer& out) {
  // Explicit bounds ("[0:1]={a,b}") would be lost: parse_array_literal drops them.
  std::size_t first = literal.find_first_not_of(" \t\n\r\v\f");
  if (first == std::string_view::npos || literal[first] != '{') return false;
  detail::ArrayNode a;
  try {
    a = detail::parse_array_literal(literal);
  } catch (const Error&) {
    return false;
  }
  if (!a.is_array) return false;
  bool has_null = false;
  for (const auto& e : a.items) {
    if (e.is_array) return false;
    has_null = has_null || e.is_null;
  }
  constexpr std::uint32_t kTextOid = 25;
  const std::size_t start = out.size();
  grow(out, 4);  // the field's length, written last
  w32(w32(w32(grow(out, 12), a.items.empty() ? 0 : 1), has_null ? 1 : 0), kTextOid);
  if (!a.items.empty()) w32(w32(grow(out, 8), static_cast<std::uint32_t>(a.items.size())), 1);
  for (const auto& e : a.items) {
    if (e.is_null) w32(grow(out, 4), 0xffffffffu);
    else append_text_field(e.text, out, false);
  }
  w32(out.at(start), static_cast<std::uint32_t>(out.size() - start - 4));
  return true;
}

// "[-]H+:MM:SS[.f{1,6}]" (MariaDB's TIME, hours up to 838) as interval_in reads it: all of it
// in the time field, the sign applying to the whole.
bool parse_hours_interval(std::string_view s, std::int64_t& us) {
  bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  std::size_t i = s.find(':');  // the hours end there; then the rest follows it
  std::int64_t h, rest;
  if (i == std::string_view::npos || i == 0 || i > 6 || !digits(s, 0, i, h)) return false;
  if (!take_min_sec(s, i, rest) || i != s.size()) return false;
  us = h * 3600 * kUsPerSec + rest;
  if (negative) us = -us;
  return true;
}

}  // namespace

bool append_binary_field(BinaryType type, const Value& v, ByteBuffer& out) {
  if (v.is_null()) {
    w32(grow(out, 4), 0xffffffffu);
    return true;
  }
  const ValueKind k = v.kind();
  std::string scratch;
  std::string_view text;
  switch (type) {
    case BinaryType::None: return false;
    case BinaryType::Bool: {
      bool b;
      if (k == ValueKind::Bool) {
        b = v.as_bool();
      } else {
        if (!value_text(v, scratch, text)) return false;
        if (text != "t" && text != "f" && text != "true" && text != "false") return false;
        b = text[0] == 't';
      }
      char* q = w32(grow(out, 5), 1);
      *q = b ? '\1' : '\0';
      return true;
    }
    case BinaryType::Int2:
    case BinaryType::Int4:
    case BinaryType::Int8: {
      int bytes = type == BinaryType::Int2 ? 2 : type == BinaryType::Int4 ? 4 : 8;
      std::int64_t lo = bytes == 2 ? -32768 : bytes == 4 ? std::numeric_limits<std::int32_t>::min() : std::numeric_limits<std::int64_t>::min();
      std::int64_t hi = bytes == 2 ? 32767 : bytes == 4 ? std::numeric_limits<std::int32_t>::max() : std::numeric_limits<std::int64_t>::max();
      std::int64_t i;
      if (k == ValueKind::Int) {
        i = v.as_int();
        if (i < lo || i > hi) return false;
      } else if (k == ValueKind::UInt) {
        if (v.as_uint() > static_cast<std::uint64_t>(hi)) return false;
        i = static_cast<std::int64_t>(v.as_uint());
      } else if (k == ValueKind::Double || !value_text(v, scratch, text) || !parse_int(text, lo, hi, i)) {
        return false;
      }
      if (bytes == 2) w16(w32(grow(out, 6), 2), static_cast<std::uint16_t>(i));
      else if (bytes == 4) fixed32(out, static_cast<std::uint32_t>(i));
      else fixed64(out, static_cast<std::uint64_t>(i));
      return true;
    }
    case BinaryType::Float4:
    case BinaryType::Float8: {
      double d;
      bool single = type == BinaryType::Float4;
      if (k == ValueKind::Double && !single) {
        d = v.as_double();
      } else if (!value_text(v, scratch, text) || !parse_float(text, single, d)) {
        return false;
      }
      if (single) {
        float f = static_cast<float>(d);  // exact: d came from strtof
        std::uint32_t bits;
        std::memcpy(&bits, &f, 4);
        fixed32(out, bits);
      } else {
        std::uint64_t bits;
        std::memcpy(&bits, &d, 8);
        fixed64(out, bits);
      }
      return true;
    }
    case BinaryType::Numeric:
      if (k == ValueKind::Bool || !value_text(v, scratch, text)) return false;
      return numeric_text_to_binary(text, out);
    case BinaryType::Text:
    case BinaryType::Json:
    case BinaryType::Jsonb:
      if (!value_text(v, scratch, text)) return false;
      append_text_field(text, out, type == BinaryType::Jsonb);
      return true;
    case BinaryType::Geometry:
    case BinaryType::Bytea: {
      // A geometry as EWKB: what geometry_recv reads, and the form a bytea keeps it in.
      if (k == ValueKind::Geometry) scratch = detail::geometry_to_ewkb(v.text());
      else if (k == ValueKind::Bytes && type == BinaryType::Geometry) scratch = detail::geometry_to_ewkb(detail::geometry_from_ewkb(v.text()));
      else if (k != ValueKind::Bytes) return false;
      const std::string& b = k == ValueKind::Bytes && type == BinaryType::Bytea ? v.text() : scratch;
      char* q = w32(grow(out, 4 + b.size()), static_cast<std::uint32_t>(b.size()));
      if (!b.empty()) std::memcpy(q, b.data(), b.size());
      return true;
    }
    case BinaryType::Date: {
      std::int32_t days;
      if (!v.has_text() || k == ValueKind::Bytes || !parse_date(v.text(), days)) return false;
      fixed32(out, static_cast<std::uint32_t>(days));
      return true;
    }
    case BinaryType::Time: {
      std::string_view s;
      std::int64_t us;
      if (!v.has_text() || k == ValueKind::Bytes) return false;
      s = v.text();
      if (!take_time(s, us, true) || !s.empty()) return false;
      fixed64(out, static_cast<std::uint64_t>(us));
      return true;
    }
    case BinaryType::Timestamp:
    case BinaryType::TimestampTz: {
      std::int64_t us;
      if (!v.has_text() || k == ValueKind::Bytes || !parse_timestamp(v.text(), type == BinaryType::TimestampTz, us)) return false;
      fixed64(out, static_cast<std::uint64_t>(us));
      return true;
    }
    case BinaryType::Uuid: {
      char raw[16];
      if (!v.has_text() || k == ValueKind::Bytes || !parse_uuid(v.text(), raw)) return false;
      std::memcpy(w32(grow(out, 20), 16), raw, 16);
      return true;
    }
    case BinaryType::TextArray:
      return k == ValueKind::String && append_text_array(v.text(), out);
    case BinaryType::VarBit: {
      // varbit_recv: int32 bit count, then the bits, first bit in the high bit of the first byte.
      if (k != ValueKind::String) return false;
      const std::string& bits = v.text();
      if (bits.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max() - 8) ||
          bits.find_first_not_of("01") != std::string::npos)
        return false;
      std::size_t bytes = (bits.size() + 7) / 8;
      char* q = w32(w32(grow(out, 8 + bytes), static_cast<std::uint32_t>(4 + bytes)), static_cast<std::uint32_t>(bits.size()));
      std::memset(q, 0, bytes);
      for (std::size_t i = 0; i < bits.size(); ++i)
        if (bits[i] == '1') q[i / 8] = static_cast<char>(static_cast<unsigned char>(q[i / 8]) | (0x80u >> (i % 8)));
      return true;
    }
    case BinaryType::Interval: {
      // interval_recv: int64 microseconds, int32 days, int32 months.
      std::int64_t us;
      if ((k != ValueKind::Time && k != ValueKind::String) || !parse_hours_interval(v.text(), us)) return false;
      char* q = w64(w32(grow(out, 20), 16), static_cast<std::uint64_t>(us));
      w32(w32(q, 0), 0);
      return true;
    }
  }
  return false;
}

}  // namespace cdc::pg
