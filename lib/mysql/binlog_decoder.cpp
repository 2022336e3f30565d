// See binlog_decoder.h. Every read is bounds-checked: a short or corrupt event throws
// cdc::Error(Protocol) instead of reading past the buffer, so the decoder can be fuzzed.
#include "mysql/binlog_decoder.h"

#include "mysql/mysql_types.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace cdc::mysql::binlog {

std::string_view to_string(EventType t) {
  switch (t) {
    case EventType::Query: return "QUERY";
    case EventType::Stop: return "STOP";
    case EventType::Rotate: return "ROTATE";
    case EventType::Intvar: return "INTVAR";
    case EventType::Rand: return "RAND";
    case EventType::UserVar: return "USER_VAR";
    case EventType::FormatDescription: return "FORMAT_DESCRIPTION";
    case EventType::Xid: return "XID";
    case EventType::TableMap: return "TABLE_MAP";
    case EventType::WriteRowsV1: return "WRITE_ROWS_V1";
    case EventType::UpdateRowsV1: return "UPDATE_ROWS_V1";
    case EventType::DeleteRowsV1: return "DELETE_ROWS_V1";
    case EventType::Heartbeat: return "HEARTBEAT";
    case EventType::RowsQuery: return "ROWS_QUERY";
    case EventType::WriteRows: return "WRITE_ROWS";
    case EventType::UpdateRows: return "UPDATE_ROWS";
    case EventType::DeleteRows: return "DELETE_ROWS";
    case EventType::MysqlGtid: return "MYSQL_GTID";
    case EventType::MysqlAnonymousGtid: return "MYSQL_ANONYMOUS_GTID";
    case EventType::MysqlPreviousGtids: return "MYSQL_PREVIOUS_GTIDS";
    case EventType::AnnotateRows: return "ANNOTATE_ROWS";
    case EventType::BinlogCheckpoint: return "BINLOG_CHECKPOINT";
    case EventType::Gtid: return "GTID";
    case EventType::GtidList: return "GTID_LIST";
    case EventType::StartEncryption: return "START_ENCRYPTION";
    case EventType::QueryCompressed: return "QUERY_COMPRESSED";
    case EventType::WriteRowsCompressedV1: return "WRITE_ROWS_COMPRESSED_V1";
    case EventType::UpdateRowsCompressedV1: return "UPDATE_ROWS_COMPRESSED_V1";
    case EventType::DeleteRowsCompressedV1: return "DELETE_ROWS_COMPRESSED_V1";
    case EventType::WriteRowsCompressed: return "WRITE_ROWS_COMPRESSED";
    case EventType::UpdateRowsCompressed: return "UPDATE_ROWS_COMPRESSED";
    case EventType::DeleteRowsCompressed: return "DELETE_ROWS_COMPRESSED";
    case EventType::Unknown: break;
  }
  return "UNKNOWN";
}

std::string Event::gtid() const { return fmt::format("{}-{}-{}", gtid_domain, header.server_id, gtid_sequence); }

namespace {

[[noreturn]] void bad(const std::string& what) { throw Error(ErrorKind::Protocol, "binlog: " + what); }

// Bounds-checked little-endian reader over one event.
struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  std::size_t off = 0;
  const char* what;

  void need(std::size_t k) const {
    if (off + k > n) bad(fmt::format("{} truncated (need {} bytes at offset {}, have {})", what, k, off, n));
  }
  std::uint64_t le(std::size_t k) {
    need(k);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < k; ++i) v |= std::uint64_t(p[off + i]) << (8 * i);
    off += k;
    return v;
  }
  std::uint8_t u8() { return std::uint8_t(le(1)); }
  std::uint64_t lenenc() {
    std::uint8_t b = u8();
    if (b < 0xfb) return b;
    if (b == 0xfc) return le(2);
    if (b == 0xfd) return le(3);
    if (b == 0xfe) return le(8);
    bad(fmt::format("{}: bad length-encoded integer", what));
  }
  std::string_view bytes(std::size_t k) {
    need(k);
    std::string_view s(reinterpret_cast<const char*>(p + off), k);
    off += k;
    return s;
  }
  const std::uint8_t* ptr() const { return p + off; }
  std::size_t left() const { return n - off; }
  void skip(std::size_t k) {
    need(k);
    off += k;
  }
};

std::uint64_t be(const std::uint8_t* p, std::size_t k) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < k; ++i) v = (v << 8) | p[i];
  return v;
}

std::uint64_t le_at(const std::uint8_t* p, std::size_t k) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < k; ++i) v |= std::uint64_t(p[i]) << (8 * i);
  return v;
}

bool bit(const std::uint8_t* bitmap, std::size_t i) { return (bitmap[i / 8] >> (i % 8)) & 1; }

// Slicing-by-8 tables: tables[0] is the byte-at-a-time table, tables[k][i] the CRC of byte i
// followed by k zero bytes, so eight bytes are folded per step (every byte of the binlog goes
// through here: byte-at-a-time was two thirds of decoding).
using CrcTables = std::uint32_t[8][256];
const CrcTables& crc_tables() {
  static CrcTables tables;
  static bool init = [] {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      tables[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
      for (int k = 1; k < 8; ++k) tables[k][i] = (tables[k - 1][i] >> 8) ^ tables[0][tables[k - 1][i] & 0xFF];
    return true;
  }();
  (void)init;
  return tables;
}

// Fractional seconds stored in (fsp+1)/2 big-endian bytes -> microseconds.
std::size_t frac_bytes(unsigned fsp) { return (fsp + 1) / 2; }

std::string frac_text(std::uint32_t usec, unsigned fsp) {
  if (fsp == 0) return {};
  std::string s = fmt::format("{:06d}", usec);
  return "." + s.substr(0, std::min(fsp, 6u));
}

std::uint32_t read_frac_usec(const std::uint8_t* p, unsigned fsp) {
  switch (frac_bytes(fsp)) {
    case 1: return std::uint32_t(p[0]) * 10000;
    case 2: return std::uint32_t(be(p, 2)) * 100;
    case 3: return std::uint32_t(be(p, 3));
    default: return 0;
  }
}

// cp1252 code points for 0x80..0x9F as MariaDB's latin1 maps them (undefined ones map to
// themselves, like MariaDB does).
const std::uint16_t kCp1252[32] = {0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
                                   0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
                                   0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

void put_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool is_latin1(std::uint32_t c) { return c == 5 || c == 8 || c == 15 || c == 31 || c == 47 || c == 48 || c == 49 || c == 94; }
bool is_utf8_family(std::uint32_t c) {
  // utf8mb3 (33, 83, 192-247 minus 224+ range), utf8mb4 (45, 46, 224-247, 255+ in MariaDB 10.10+)
  return c == 33 || c == 83 || c == 45 || c == 46 || (c >= 192 && c <= 247) || (c >= 255 && c < 2048);
}
bool is_ascii(std::uint32_t c) { return c == 11 || c == 65; }

}  // namespace

std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t crc) {
  const CrcTables& t = crc_tables();
  crc = ~crc;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const std::uint8_t* p = data + i;
    const std::uint32_t lo = crc ^ (std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24);
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^
          t[1][p[6]] ^ t[0][p[7]];
  }
  for (; i < size; ++i) crc = t[0][(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

bool to_utf8(std::uint32_t collation, std::string_view in, std::string& out) {
  out.clear();
  if (collation == 0 || is_utf8_family(collation) || is_ascii(collation) || collation == 63) {
    out.assign(in);
    return true;
  }
  if (is_latin1(collation)) {
    out.reserve(in.size() + in.size() / 4);
    for (unsigned char c : in) {
      if (c < 0x80) out += char(c);
      else if (c < 0xA0) put_utf8(out, kCp1252[c - 0x80]);
      else put_utf8(out, c);
    }
    return true;
  }
  return false;
}

std::size_t decode_decimal(const std::uint8_t* p, std::size_t n, int precision, int scale, std::string& out) {
  static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
  if (precision <= 0 || precision > 65 || scale < 0 || scale > precision) bad(fmt::format("bad DECIMAL({},{}) metadata", precision, scale));
  int intg = precision - scale;
  int intg0 = intg / 9, intg0x = intg % 9, frac0 = scale / 9, frac0x = scale % 9;
  std::size_t size = std::size_t(intg0 * 4 + dig2bytes[intg0x] + frac0 * 4 + dig2bytes[frac0x]);
  if (size > n) bad("DECIMAL value truncated");
  std::uint8_t buf[40];
  std::memcpy(buf, p, size);
  bool negative = (buf[0] & 0x80) == 0;
  buf[0] ^= 0x80;
  if (negative)
    for (std::size_t i = 0; i < size; ++i) buf[i] = std::uint8_t(~buf[i]);
  std::size_t off = 0;
  std::string ip;
  auto group = [&](int bytes) {
    std::uint64_t v = be(buf + off, std::size_t(bytes));
    off += std::size_t(bytes);
    return v;
  };
  if (intg0x) ip += std::to_string(group(dig2bytes[intg0x]));
  for (int i = 0; i < intg0; ++i) ip += fmt::format("{:09d}", group(4));
  std::size_t nz = ip.find_first_not_of('0');
  ip = nz == std::string::npos ? "0" : ip.substr(nz);
  std::string fp;
  for (int i = 0; i < frac0; ++i) fp += fmt::format("{:09d}", group(4));
  if (frac0x) fp += fmt::format("{:0{}d}", group(dig2bytes[frac0x]), frac0x);
  out.clear();
  bool zero = ip == "0" && fp.find_first_not_of('0') == std::string::npos;
  if (negative && !zero) out += '-';
  out += ip;
  if (scale > 0) out += "." + fp;
  return size;
}

namespace {

Value time_value(std::int64_t packed, unsigned fsp) {
  bool neg = packed < 0;
  std::uint64_t u = neg ? std::uint64_t(-packed) : std::uint64_t(packed);
  std::uint64_t hms = u >> 24;
  std::uint32_t usec = std::uint32_t(u % (1u << 24));
  unsigned hour = unsigned((hms >> 12) % (1u << 10));
  unsigned minute = unsigned((hms >> 6) % (1u << 6));
  unsigned second = unsigned(hms % (1u << 6));
  return Value::time(fmt::format("{}{:02d}:{:02d}:{:02d}{}", neg ? "-" : "", hour, minute, second, frac_text(usec, fsp)));
}

}  // namespace

namespace {

// The QUERY event's status variables up to the ones cdc reads (sql_mode and the client character
// set), each a one-byte code and a value of its own layout
// (https://mariadb.com/kb/en/query_event/). Stops at a code whose layout it does not know: those
// come later than the ones wanted.
void read_query_status(std::string_view vars, Event& e) {
  std::size_t i = 0;
  auto le = [&](std::size_t at, std::size_t k) {
    std::uint64_t v = 0;
    for (std::size_t b = 0; b < k; ++b) v |= std::uint64_t(static_cast<std::uint8_t>(vars[at + b])) << (8 * b);
    return v;
  };
  auto fits = [&](std::size_t k) { return i + k <= vars.size(); };
  while (i < vars.size()) {
    std::uint8_t code = static_cast<std::uint8_t>(vars[i++]);
    std::size_t len;
    switch (code) {
      case 0: len = 4; break;  // Q_FLAGS2_CODE
      case 1:                  // Q_SQL_MODE_CODE
        if (!fits(8)) return;
        e.sql_mode = le(i, 8);
        e.has_sql_mode = true;
        len = 8;
        break;
      case 2:  // Q_CATALOG_CODE: length, name, NUL
        if (!fits(1)) return;
        len = 2 + static_cast<std::uint8_t>(vars[i]);
        break;
      case 3: len = 4; break;  // Q_AUTO_INCREMENT
      case 4:                  // Q_CHARSET_CODE: client, connection, server collations
        if (!fits(6)) return;
        e.client_collation = std::uint32_t(le(i, 2));
        len = 6;
        break;
      case 5:  // Q_TIME_ZONE_CODE
      case 6:  // Q_CATALOG_NZ_CODE
        if (!fits(1)) return;
        len = 1 + static_cast<std::uint8_t>(vars[i]);
        break;
      case 7:                  // Q_LC_TIME_NAMES_CODE
      case 8: len = 2; break;  // Q_CHARSET_DATABASE_CODE
      case 9: len = 8; break;  // Q_TABLE_MAP_FOR_UPDATE_CODE
      default: return;
    }
    if (!fits(len)) return;
    i += len;
  }
}

}  // namespace

std::size_t decode_value(const ColumnDef& col, const std::uint8_t* p, std::size_t n, Value& out) {
  auto need = [&](std::size_t k) {
    if (k > n) bad(fmt::format("value of column {} truncated", col.name.empty() ? std::string("?") : col.name));
  };
  auto integer = [&](std::size_t k) {
    need(k);
    std::uint64_t v = le_at(p, k);
    if (col.is_unsigned) {
      out = Value::uint64(v);
    } else {
      unsigned shift = unsigned(64 - 8 * k);
      out = Value::int64(std::int64_t(v << shift) >> shift);
    }
    return k;
  };
  switch (col.real_type) {
    case kTiny: return integer(1);
    case kShort: return integer(2);
    case kInt24: return integer(3);
    case kLong: return integer(4);
    case kLongLong: return integer(8);
    case kYear:
      need(1);
      out = Value::int64(p[0] == 0 ? 0 : 1900 + p[0]);
      return 1;
    case kFloat: {
      need(4);
      float f;
      std::uint32_t bits = std::uint32_t(le_at(p, 4));
      std::memcpy(&f, &bits, 4);
      out = Value::float64(canonical_float(f));
      return 4;
    }
    case kDouble: {
      need(8);
      double d;
      std::uint64_t bits = le_at(p, 8);
      std::memcpy(&d, &bits, 8);
      out = Value::float64(d);
      return 8;
    }
    case kNewDecimal: {
      std::string s;
      std::size_t used = decode_decimal(p, n, int(col.meta & 0xFF), int(col.meta >> 8), s);
      out = Value::decimal(std::move(s));
      return used;
    }
    case kDate:
    case kNewDate: {
      need(3);
      std::uint32_t v = std::uint32_t(le_at(p, 3));
      out = Value::date(fmt::format("{:04d}-{:02d}-{:02d}", v >> 9, (v >> 5) & 15, v & 31));
      return 3;
    }
    case kDateTime2: {
      unsigned fsp = col.meta;
      std::size_t k = 5 + frac_bytes(fsp);
      need(k);
      std::int64_t v = std::int64_t(be(p, 5)) - 0x8000000000LL;
      std::uint32_t usec = read_frac_usec(p + 5, fsp);
      std::uint64_t u = std::uint64_t(v < 0 ? -v : v);
      std::uint64_t ymd = u >> 17, hms = u % (1 << 17);
      std::uint64_t ym = ymd >> 5;
      out = Value::timestamp(fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}{}", ym / 13, ym % 13, ymd % 32,
                                         hms >> 12, (hms >> 6) % 64, hms % 64, frac_text(usec, fsp)));
      return k;
    }
    case kTimestamp2: {
      unsigned fsp = col.meta;
      std::size_t k = 4 + frac_bytes(fsp);
      need(k);
      std::time_t secs = std::time_t(be(p, 4));
      std::uint32_t usec = read_frac_usec(p + 4, fsp);
      if (secs == 0) {
        out = Value::timestamp("0000-00-00 00:00:00" + frac_text(usec, fsp));
      } else {
        std::tm tm{};
        gmtime_r(&secs, &tm);
        out = Value::timestamp(fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}{}", tm.tm_year + 1900, tm.tm_mon + 1,
                                           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac_text(usec, fsp)));
      }
      return k;
    }
    case kTime2: {
      unsigned fsp = col.meta;
      std::size_t k = 3 + frac_bytes(fsp);
      need(k);
      std::int64_t packed;
      std::int64_t intpart = std::int64_t(be(p, 3)) - 0x800000LL;
      switch (fsp) {
        case 0: packed = intpart * (1LL << 24); break;
        case 1:
        case 2: {
          std::int64_t frac = p[3];
          if (intpart < 0 && frac) {
            intpart++;
            frac -= 0x100;
          }
          packed = intpart * (1LL << 24) + frac * 10000;
          break;
        }
        case 3:
        case 4: {
          std::int64_t frac = std::int64_t(be(p + 3, 2));
          if (intpart < 0 && frac) {
            intpart++;
            frac -= 0x10000;
          }
          packed = intpart * (1LL << 24) + frac * 100;
          break;
        }
        default: packed = std::int64_t(be(p, 6)) - 0x800000000000LL; break;
      }
      out = time_value(packed, fsp);
      return k;
    }
    case kTimestamp: {  // pre-5.6 format: seconds, little-endian
      need(4);
      std::time_t secs = std::time_t(le_at(p, 4));
      if (secs == 0) {
        out = Value::timestamp("0000-00-00 00:00:00");
      } else {
        std::tm tm{};
        gmtime_r(&secs, &tm);
        out = Value::timestamp(fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}", tm.tm_year + 1900, tm.tm_mon + 1,
                                           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec));
      }
      return 4;
    }
    case kDateTime: {  // pre-5.6 format: YYYYMMDDhhmmss as an integer
      need(8);
      std::uint64_t v = le_at(p, 8);
      std::uint64_t d = v / 1000000, t = v % 1000000;
      out = Value::timestamp(fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}", d / 10000, d / 100 % 100, d % 100,
                                         t / 10000, t / 100 % 100, t % 100));
      return 8;
    }
    case kTime: {  // pre-5.6 format: [-]HHMMSS as a 3-byte signed integer
      need(3);
      std::int32_t v = std::int32_t(le_at(p, 3) << 8) >> 8;
      bool neg = v < 0;
      std::uint32_t u = std::uint32_t(neg ? -v : v);
      out = Value::time(fmt::format("{}{:02d}:{:02d}:{:02d}", neg ? "-" : "", u / 10000, u / 100 % 100, u % 100));
      return 3;
    }
    case kBit: {
      std::size_t k = ((col.meta >> 8) & 0xFF) + ((col.meta & 0xFF) ? 1 : 0);
      if (k < 1 || k > 8) bad(fmt::format("column {}: BIT of {} bytes (at most 64 bits)", col.name, k));
      need(k);
      out = Value::uint64(be(p, k));
      return k;
    }
    case kEnum: {
      std::size_t k = col.max_length;
      if (k != 1 && k != 2) bad(fmt::format("column {}: ENUM of {} bytes (1 or 2)", col.name, k));
      need(k);
      std::uint64_t idx = le_at(p, k);
      if (idx == 0) out = Value::string("");
      else if (idx <= col.members.size()) out = Value::string(col.members[idx - 1]);
      else bad(fmt::format("ENUM index {} out of range for column {}", idx, col.name));
      return k;
    }
    case kSet: {
      std::size_t k = col.max_length;
      if (k < 1 || k > 8) bad(fmt::format("column {}: SET of {} bytes (1 to 8)", col.name, k));
      need(k);
      std::uint64_t bits = le_at(p, k);
      std::string s;
      for (std::size_t i = 0; i < col.members.size() && i < 64; ++i)
        if (bits & (1ULL << i)) {
          if (!s.empty()) s += ',';
          s += col.members[i];
        }
      out = Value::string(std::move(s));
      return k;
    }
    case kVarchar:
    case kVarString:
    case kString: {
      std::size_t lb = col.max_length > 255 ? 2 : 1;
      need(lb);
      std::size_t len = std::size_t(le_at(p, lb));
      need(lb + len);
      std::string_view raw(reinterpret_cast<const char*>(p + lb), len);
      if (col.collation == 63) {
        out = Value::bytes(std::string(raw));
      } else {
        std::string s;
        if (!to_utf8(col.collation, raw, s))
          bad(fmt::format("column {}: character set of collation {} is not supported", col.name, col.collation));
        out = Value::string(std::move(s));
      }
      return lb + len;
    }
    case kBlob:
    case kTinyBlob:
    case kMediumBlob:
    case kLongBlob:
    case kGeometry:
    case kJson: {
      std::size_t lb = col.meta;
      if (lb < 1 || lb > 4) bad(fmt::format("column {}: bad BLOB length size {}", col.name, lb));
      need(lb);
      std::size_t len = std::size_t(le_at(p, lb));
      need(lb + len);
      std::string_view raw(reinterpret_cast<const char*>(p + lb), len);
      if (col.real_type == kJson)
        bad(fmt::format("column {}: MySQL's binary JSON is not supported (MariaDB stores JSON as text)", col.name));
      if (col.collation == 63 || col.real_type == kGeometry) {
        out = Value::bytes(std::string(raw));
      } else {
        std::string s;
        if (!to_utf8(col.collation, raw, s))
          bad(fmt::format("column {}: character set of collation {} is not supported", col.name, col.collation));
        out = Value::string(std::move(s));
      }
      return lb + len;
    }
    case kNull: out = Value(); return 0;
    default: bad(fmt::format("column {}: column type {} is not supported", col.name, int(col.real_type)));
  }
}

std::shared_ptr<const TableMap> Decoder::table(std::uint64_t table_id) const {
  auto it = tables_.find(table_id);
  return it == tables_.end() ? nullptr : it->second;
}

Event Decoder::decode(const std::uint8_t* data, std::size_t size) {
  if (size < 19) bad(fmt::format("event of {} bytes is shorter than its header", size));
  Event e;
  EventHeader& h = e.header;
  h.timestamp = std::uint32_t(le_at(data, 4));
  h.raw_type = data[4];
  h.type = static_cast<EventType>(data[4]);
  h.server_id = std::uint32_t(le_at(data + 5, 4));
  h.event_size = std::uint32_t(le_at(data + 9, 4));
  h.log_pos = std::uint32_t(le_at(data + 13, 4));
  h.flags = std::uint16_t(le_at(data + 17, 2));
  if (h.event_size != size) bad(fmt::format("{} event says {} bytes, got {}", to_string(h.type), h.event_size, size));

  std::size_t body_end = size;
  if (h.type == EventType::FormatDescription) {
    // Its checksum algorithm byte sits before its own CRC (5.6.1+/MariaDB 5.3+ layout).
    if (size < 19 + 57 + 5) bad("FORMAT_DESCRIPTION too short");
    std::uint8_t alg = data[size - 5];
    checksums_ = alg == 1;
    e.checksums = checksums_;
    if (alg == 1) {
      std::uint32_t want = std::uint32_t(le_at(data + size - 4, 4));
      std::uint32_t got = crc32(data, size - 4);
      if (got != want && (h.flags & 1)) {
        // A binlog file still being written has LOG_EVENT_BINLOG_IN_USE_F set in its
        // FORMAT_DESCRIPTION, which was not set when the checksum was computed.
        std::string copy(reinterpret_cast<const char*>(data), size - 4);
        copy[17] = char(copy[17] & ~1);
        got = crc32(reinterpret_cast<const std::uint8_t*>(copy.data()), copy.size());
      }
      if (got != want) bad("FORMAT_DESCRIPTION checksum mismatch");
    }
    body_end = size - (alg == 1 ? 5 : 1);
    if (alg != 0 && alg != 1) body_end = size - 1;
  } else if (checksums_) {
    if (size < 23) bad("event too short for its checksum");
    std::uint32_t want = std::uint32_t(le_at(data + size - 4, 4));
    std::uint32_t got = crc32(data, size - 4);
    if (got != want)
      bad(fmt::format("{} event at {} fails its CRC32 check (0x{:08x} != 0x{:08x})", to_string(h.type), h.log_pos, got, want));
    body_end = size - 4;
  }
  const std::uint8_t* p = data + 19;
  std::size_t n = body_end - 19;
  Reader r{p, n, 0, "event"};

  switch (h.type) {
    case EventType::FormatDescription: {
      r.what = "FORMAT_DESCRIPTION";
      r.le(2);
      std::string_view ver = r.bytes(50);
      e.server_version = std::string(ver.substr(0, ver.find('\0')));
      r.le(4);
      std::uint8_t hl = r.u8();
      if (hl != 19) bad(fmt::format("unsupported event header length {}", hl));
      std::memset(post_header_len_, 0, sizeof post_header_len_);
      for (std::size_t i = 0; r.left() > 0 && i < 255; ++i) post_header_len_[i + 1] = r.u8();
      have_fde_ = true;
      tables_.clear();
      raw_maps_.clear();
      break;
    }
    case EventType::Rotate: {
      r.what = "ROTATE";
      e.next_position = r.le(8);
      e.next_file = std::string(r.bytes(r.left()));
      break;
    }
    case EventType::Heartbeat: {
      r.what = "HEARTBEAT";
      e.heartbeat_file = std::string(r.bytes(r.left()));
      break;
    }
    case EventType::Query: {
      r.what = "QUERY";
      r.le(4);  // thread id
      r.le(4);  // execution time
      std::uint8_t db_len = r.u8();
      r.le(2);  // error code
      std::size_t status_len = have_fde_ && post_header_len_[2] >= 13 ? std::size_t(r.le(2)) : 0;
      if (have_fde_ && post_header_len_[2] > 13) r.skip(post_header_len_[2] - 13u);
      read_query_status(r.bytes(status_len), e);
      e.schema = std::string(r.bytes(db_len));
      r.skip(1);
      e.sql = std::string(r.bytes(r.left()));
      break;
    }
    case EventType::Xid: {
      r.what = "XID";
      e.xid = r.le(8);
      break;
    }
    case EventType::Gtid: {
      r.what = "GTID";
      e.gtid_sequence = r.le(8);
      e.gtid_domain = std::uint32_t(r.le(4));
      std::uint8_t flags = r.u8();
      e.gtid_standalone = (flags & 1) != 0;
      break;
    }
    case EventType::AnnotateRows:
    case EventType::RowsQuery: {
      e.sql = std::string(r.bytes(r.left()));
      break;
    }
    case EventType::TableMap: decode_table_map(e, p, n); break;
    case EventType::WriteRowsV1:
    case EventType::UpdateRowsV1:
    case EventType::DeleteRowsV1:
    case EventType::WriteRows:
    case EventType::UpdateRows:
    case EventType::DeleteRows: decode_rows(e, p, n); break;
    case EventType::WriteRowsCompressedV1:
    case EventType::UpdateRowsCompressedV1:
    case EventType::DeleteRowsCompressedV1:
    case EventType::WriteRowsCompressed:
    case EventType::UpdateRowsCompressed:
    case EventType::DeleteRowsCompressed:
    case EventType::QueryCompressed:
      bad(fmt::format("{} events are not supported: set log_bin_compress=OFF on the server", to_string(h.type)));
    case EventType::StartEncryption:
      bad("the binlog is encrypted (START_ENCRYPTION); cdc cannot read encrypted binlogs");
    default: break;  // STOP, INTVAR, RAND, USER_VAR, GTID_LIST, BINLOG_CHECKPOINT, MySQL GTIDs: nothing to decode
  }
  return e;
}

void Decoder::decode_table_map(Event& e, const std::uint8_t* p, std::size_t n) {
  // A table is mapped again before every rows event group with the same bytes: reuse the parsed
  // map when nothing changed (cheaper, and its identity stays stable for callers' caches).
  std::string_view raw(reinterpret_cast<const char*>(p), n);
  {
    std::size_t id_len0 = have_fde_ && post_header_len_[19] == 6 ? 4 : 6;
    if (n >= id_len0) {
      auto it = tables_.find(le_at(p, id_len0));
      auto rit = raw_maps_.find(it == tables_.end() ? ~0ull : it->first);
      if (it != tables_.end() && rit != raw_maps_.end() && rit->second == raw) {
        e.table_map = it->second;
        return;
      }
    }
  }
  Reader r{p, n, 0, "TABLE_MAP"};
  auto tm = std::make_shared<TableMap>();
  std::size_t id_len = have_fde_ && post_header_len_[19] == 6 ? 4 : 6;
  tm->table_id = r.le(id_len);
  r.le(2);
  std::uint8_t slen = r.u8();
  tm->schema = std::string(r.bytes(slen));
  r.skip(1);
  std::uint8_t tlen = r.u8();
  tm->table = std::string(r.bytes(tlen));
  r.skip(1);
  std::size_t ncols = std::size_t(r.lenenc());
  if (ncols > 4096) bad(fmt::format("TABLE_MAP of {}.{} has {} columns", tm->schema, tm->table, ncols));
  tm->columns.resize(ncols);
  std::string_view types = r.bytes(ncols);
  for (std::size_t i = 0; i < ncols; ++i) tm->columns[i].type = tm->columns[i].real_type = std::uint8_t(types[i]);
  std::size_t meta_len = std::size_t(r.lenenc());
  Reader m{r.ptr(), std::min(meta_len, r.left()), 0, "TABLE_MAP metadata"};
  r.skip(meta_len);
  for (auto& c : tm->columns) {
    switch (c.type) {
      case kFloat:
      case kDouble:
      case kBlob:
      case kTinyBlob:
      case kMediumBlob:
      case kLongBlob:
      case kGeometry:
      case kJson:
      case kTimestamp2:
      case kDateTime2:
      case kTime2: c.meta = m.u8(); break;
      case kVarchar:
      case kVarString:
        c.meta = std::uint32_t(m.le(2));
        c.max_length = c.meta;
        break;
      case kBit: c.meta = std::uint32_t(m.le(2)); break;
      case kNewDecimal: {
        std::uint32_t prec = m.u8(), scale = m.u8();
        c.meta = prec | (scale << 8);
        break;
      }
      case kString:
      case kEnum:
      case kSet: {
        std::uint8_t b0 = m.u8(), b1 = m.u8();
        if ((b0 & 0x30) != 0x30) {
          c.max_length = std::uint32_t(((b0 & 0x30) ^ 0x30) << 4) | b1;
          c.real_type = std::uint8_t(b0 | 0x30);
        } else {
          c.real_type = b0;
          c.max_length = b1;
        }
        c.meta = std::uint32_t(b0) << 8 | b1;
        break;
      }
      default: break;
    }
  }
  std::string_view nulls = r.bytes((ncols + 7) / 8);
  for (std::size_t i = 0; i < ncols; ++i)
    tm->columns[i].nullable = bit(reinterpret_cast<const std::uint8_t*>(nulls.data()), i);

  auto is_numeric = [](const ColumnDef& c) {
    switch (c.real_type) {
      // MariaDB counts YEAR (a Field_tiny) among the numeric columns.
      case kTiny: case kShort: case kInt24: case kLong: case kLongLong: case kYear: case kNewDecimal: case kFloat:
      case kDouble:
        return true;
      default: return false;
    }
  };
  auto is_char = [](const ColumnDef& c) {
    switch (c.real_type) {
      case kString: case kVarString: case kVarchar: case kBlob: case kTinyBlob: case kMediumBlob: case kLongBlob:
        return true;
      default: return false;
    }
  };
  auto is_enum_set = [](const ColumnDef& c) { return c.real_type == kEnum || c.real_type == kSet; };
  std::vector<std::size_t> numeric, chars, enumsets, enums, sets;
  for (std::size_t i = 0; i < ncols; ++i) {
    if (is_numeric(tm->columns[i])) numeric.push_back(i);
    if (is_char(tm->columns[i])) chars.push_back(i);
    if (is_enum_set(tm->columns[i])) enumsets.push_back(i);
    if (tm->columns[i].real_type == kEnum) enums.push_back(i);
    if (tm->columns[i].real_type == kSet) sets.push_back(i);
  }
  // Character columns default to utf8mb4 until metadata says otherwise; binary (63) BLOBs and
  // BINARYs are only told apart by the charset metadata.
  auto apply_charsets = [&](Reader& f, const std::vector<std::size_t>& cols, bool per_column) {
    if (per_column) {
      for (std::size_t k = 0; k < cols.size() && f.left() > 0; ++k) tm->columns[cols[k]].collation = std::uint32_t(f.lenenc());
      return;
    }
    std::uint32_t def = std::uint32_t(f.lenenc());
    for (std::size_t k : cols) tm->columns[k].collation = def;
    while (f.left() > 0) {
      std::size_t idx = std::size_t(f.lenenc());
      std::uint32_t coll = std::uint32_t(f.lenenc());
      if (idx < cols.size()) tm->columns[cols[idx]].collation = coll;
    }
  };
  auto string_lists = [&](Reader& f, const std::vector<std::size_t>& cols) {
    for (std::size_t k = 0; k < cols.size() && f.left() > 0; ++k) {
      std::size_t count = std::size_t(f.lenenc());
      auto& members = tm->columns[cols[k]].members;
      members.clear();
      for (std::size_t j = 0; j < count; ++j) {
        std::size_t len = std::size_t(f.lenenc());
        members.emplace_back(f.bytes(len));
      }
    }
  };
  while (r.left() > 0) {
    std::uint8_t type = r.u8();
    std::size_t len = std::size_t(r.lenenc());
    Reader f{r.ptr(), len, 0, "TABLE_MAP optional metadata"};
    f.need(0);
    r.skip(len);
    switch (type) {
      case 1: {  // SIGNEDNESS: one bit per numeric column, most significant bit first
        for (std::size_t k = 0; k < numeric.size(); ++k) {
          f.need(k / 8 + 1);
          tm->columns[numeric[k]].is_unsigned = (f.p[k / 8] >> (7 - k % 8)) & 1;
        }
        break;
      }
      case 2: apply_charsets(f, chars, false); break;   // DEFAULT_CHARSET
      case 3: apply_charsets(f, chars, true); break;    // COLUMN_CHARSET
      case 4: {                                         // COLUMN_NAME
        for (auto& c : tm->columns) {
          std::size_t l = std::size_t(f.lenenc());
          c.name = std::string(f.bytes(l));
        }
        tm->has_names = true;
        break;
      }
      case 5: string_lists(f, sets); break;   // SET_STR_VALUE
      case 6: string_lists(f, enums); break;  // ENUM_STR_VALUE
      case 10: apply_charsets(f, enumsets, false); break;  // ENUM_AND_SET_DEFAULT_CHARSET
      case 11: apply_charsets(f, enumsets, true); break;   // ENUM_AND_SET_COLUMN_CHARSET
      default: break;  // geometry types, primary keys, visibility
    }
  }
  if (wanted_) tm->skip_rows = !wanted_(tm->schema, tm->table);
  e.table_map = tm;
  tables_[tm->table_id] = tm;
  raw_maps_[tm->table_id] = std::string(raw);
}

void Decoder::decode_rows(Event& e, const std::uint8_t* p, std::size_t n) {
  const EventType t = e.header.type;
  const bool v2 = t == EventType::WriteRows || t == EventType::UpdateRows || t == EventType::DeleteRows;
  RowsEvent& rows = e.rows;
  rows.kind = (t == EventType::WriteRowsV1 || t == EventType::WriteRows)     ? RowsEvent::Kind::Write
              : (t == EventType::UpdateRowsV1 || t == EventType::UpdateRows) ? RowsEvent::Kind::Update
                                                                              : RowsEvent::Kind::Delete;
  Reader r{p, n, 0, "ROWS"};
  std::size_t id_len = have_fde_ && post_header_len_[e.header.raw_type] == 6 ? 4 : 6;
  rows.table_id = r.le(id_len);
  rows.flags = std::uint16_t(r.le(2));
  if (v2) {
    std::size_t extra = std::size_t(r.le(2));
    if (extra < 2) bad("ROWS v2 extra data length below 2");
    r.skip(extra - 2);
  }
  std::size_t ncols = std::size_t(r.lenenc());
  auto tm = table(rows.table_id);
  if (!tm) bad(fmt::format("{} for table id {} without a TABLE_MAP", to_string(t), rows.table_id));
  if (tm->columns.size() != ncols)
    bad(fmt::format("{} for {}.{} has {} columns, its TABLE_MAP {}", to_string(t), tm->schema, tm->table, ncols,
                    tm->columns.size()));
  rows.table = tm;
  if (tm->skip_rows) return;
  auto read_bitmap = [&](std::vector<bool>& out) {
    std::string_view b = r.bytes((ncols + 7) / 8);
    out.resize(ncols);
    for (std::size_t i = 0; i < ncols; ++i) out[i] = bit(reinterpret_cast<const std::uint8_t*>(b.data()), i);
  };
  read_bitmap(rows.present);
  if (rows.kind == RowsEvent::Kind::Update) read_bitmap(rows.present_after);
  auto read_row = [&](const std::vector<bool>& present) {
    std::size_t count = 0;
    for (bool b : present) count += b;
    std::string_view nb = r.bytes((count + 7) / 8);
    const auto* nulls = reinterpret_cast<const std::uint8_t*>(nb.data());
    Row row(ncols);
    std::size_t k = 0;
    for (std::size_t i = 0; i < ncols; ++i) {
      if (!present[i]) continue;
      bool is_null = bit(nulls, k++);
      if (is_null) continue;
      r.off += decode_value(tm->columns[i], r.ptr(), r.left(), row[i]);
    }
    return row;
  };
  // An image of no columns takes no bytes: the loop below would never end (and never stop growing).
  auto none = [](const std::vector<bool>& present) { return std::find(present.begin(), present.end(), true) == present.end(); };
  if (r.left() > 0 && (none(rows.present) || (rows.kind == RowsEvent::Kind::Update && none(rows.present_after))))
    bad(fmt::format("{} for {}.{} has rows of no columns", to_string(t), tm->schema, tm->table));
  while (r.left() > 0) {
    rows.rows.push_back(read_row(rows.present));
    if (rows.kind == RowsEvent::Kind::Update) rows.rows.push_back(read_row(rows.present_after));
  }
}

}  // namespace cdc::mysql::binlog
