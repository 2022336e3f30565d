// WKB / EWKB / MariaDB storage form <-> cdc's canonical geometry; see geometry.h.
#include "core/geometry.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstring>

namespace cdc::detail {

namespace {

constexpr std::uint32_t kEwkbZ = 0x80000000u, kEwkbM = 0x40000000u, kEwkbSrid = 0x20000000u;
constexpr int kMaxDepth = 64;

[[noreturn]] void bad(const std::string& what) { throw Error(ErrorKind::Conversion, "malformed geometry: " + what); }

enum class Out { Canonical, Ewkb };

// One pass over a (E)WKB geometry: checks it and writes it little-endian in the chosen form.
class Walker {
 public:
  Walker(std::string_view in, Out mode, std::string& out) : in_(in), mode_(mode), out_(out) {}

  // Walks the geometry at the front; `srid` is set when the input has an EWKB SRID, and written
  // (Ewkb mode, top level, non-zero) from `write_srid`.
  void geometry(int depth, std::uint32_t write_srid, bool* has_srid, std::uint32_t* srid, GeometryInfo* info) {
    if (depth > kMaxDepth) bad(fmt::format("nested deeper than {} levels", kMaxDepth));
    const std::size_t at = pos_;
    need(5, "byte order and type");
    const unsigned char order = static_cast<unsigned char>(in_[pos_++]);
    if (order > 1) bad(fmt::format("byte order {} at byte {} (0 or 1 expected)", int(order), at));
    big_ = order == 0;
    std::uint32_t word = u32();
    bool z = word & kEwkbZ, m = word & kEwkbM;
    const bool with_srid = word & kEwkbSrid;
    std::uint32_t base = word & 0x0fffffffu;
    if (base >= 1000) {
      const std::uint32_t dim = base / 1000;
      if (dim > 3 || z || m) bad(fmt::format("type code {} at byte {}", word, at));
      z = dim == 1 || dim == 3;
      m = dim == 2 || dim == 3;
      base %= 1000;
    }
    if (base < 1 || base > 17 || base == 13 || base == 14) bad(fmt::format("unknown geometry type {} at byte {}", word, at));
    if (with_srid) {
      need(4, "SRID");
      const std::uint32_t s = u32();
      if (depth == 0 && has_srid) {
        *has_srid = true;
        *srid = s;
      }
    }
    out_ += '\x01';
    if (mode_ == Out::Canonical) {
      put32(base + (z ? 1000 : 0) + (m ? 2000 : 0));
    } else {
      const bool top_srid = depth == 0 && write_srid != 0;
      put32(base | (z ? kEwkbZ : 0) | (m ? kEwkbM : 0) | (top_srid ? kEwkbSrid : 0));
      if (top_srid) put32(write_srid);
    }
    const int dims = 2 + int(z) + int(m);
    if (info) {
      info->type = int(base);
      info->z = z;
      info->m = m;
    }
    switch (base) {
      case 1: {  // point
        bool all_nan = true;
        for (int i = 0; i < dims; ++i) all_nan = coordinate() && all_nan;
        if (info) info->empty = all_nan;
        return;
      }
      case 2:  // linestring
      case 8: {  // circularstring
        const std::uint32_t n = count(std::size_t(dims) * 8);
        if (info) info->empty = n == 0;
        points(n, dims);
        return;
      }
      case 3:     // polygon
      case 17: {  // triangle
        const std::uint32_t rings = count(4);
        put32(rings);
        if (info) info->empty = rings == 0;
        for (std::uint32_t r = 0; r < rings; ++r) {
          const bool big = big_;
          points(count(std::size_t(dims) * 8), dims);
          big_ = big;
        }
        return;
      }
      default: {  // multi*, collection, compound curve, curve polygon, multicurve, multisurface, polyhedral surface, TIN
        const std::uint32_t n = count(9);
        put32(n);
        if (info) info->empty = n == 0;
        for (std::uint32_t i = 0; i < n; ++i) {
          const bool big = big_;
          geometry(depth + 1, 0, nullptr, nullptr, nullptr);
          big_ = big;
        }
        return;
      }
    }
  }

  std::size_t pos() const { return pos_; }

 private:
  void need(std::size_t n, const char* what) {
    if (in_.size() - pos_ < n) bad(fmt::format("{} bytes end inside the {} at byte {}", in_.size(), what, pos_));
  }
  std::uint32_t u32() {
    const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + pos_);
    pos_ += 4;
    return big_ ? (std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3])
                : (std::uint32_t(p[3]) << 24 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[1]) << 8 | p[0]);
  }
  // A count of items each at least `item` bytes long: checked against what is left, so a corrupt
  // count fails here instead of allocating or looping.
  std::uint32_t count(std::size_t item) {
    need(4, "count");
    const std::uint32_t n = u32();
    if (std::uint64_t(n) * item > in_.size() - pos_) bad(fmt::format("count {} at byte {} exceeds the {} bytes left", n, pos_ - 4, in_.size() - pos_));
    return n;
  }
  void put32(std::uint32_t v) {
    char b[4] = {char(v & 0xff), char((v >> 8) & 0xff), char((v >> 16) & 0xff), char(v >> 24)};
    out_.append(b, 4);
  }
  // Copies one coordinate (bit pattern kept, NaN payloads included); true when it is NaN.
  bool coordinate() {
    need(8, "coordinates");
    char b[8];
    std::memcpy(b, in_.data() + pos_, 8);
    pos_ += 8;
    if (big_)
      for (int i = 0; i < 4; ++i) std::swap(b[i], b[7 - i]);
    out_.append(b, 8);
    double d;
    std::memcpy(&d, b, 8);
    return std::isnan(d);
  }
  void points(std::uint32_t n, int dims) {
    put32(n);
    need(std::size_t(n) * std::size_t(dims) * 8, "coordinates");
    if (!big_) {  // already little-endian: one copy
      out_.append(in_.data() + pos_, std::size_t(n) * std::size_t(dims) * 8);
      pos_ += std::size_t(n) * std::size_t(dims) * 8;
      return;
    }
    for (std::uint64_t i = 0; i < std::uint64_t(n) * std::uint64_t(dims); ++i) coordinate();
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  bool big_ = false;
  Out mode_;
  std::string& out_;
};


// Walks `wkb` fully (no trailing bytes) in `mode`, returning its EWKB SRID if any.
std::string walk(std::string_view wkb, Out mode, std::uint32_t write_srid, bool& has_srid, std::uint32_t& srid, GeometryInfo* info) {
  std::string out;
  out.reserve(wkb.size() + 8);
  if (mode == Out::Canonical) out.append(4, '\0');  // SRID, filled in by the caller
  Walker w(wkb, mode, out);
  has_srid = false;
  w.geometry(0, write_srid, &has_srid, &srid, info);
  if (w.pos() != wkb.size()) bad(fmt::format("{} bytes after the geometry ends at byte {}", wkb.size() - w.pos(), w.pos()));
  return out;
}

void set_srid(std::string& canonical, std::uint32_t srid) {
  for (int i = 0; i < 4; ++i) canonical[std::size_t(i)] = char((srid >> (8 * i)) & 0xff);
}

std::uint32_t le32(std::string_view b) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  return std::uint32_t(p[3]) << 24 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[1]) << 8 | p[0];
}

}  // namespace

std::string geometry_from_wkb(std::string_view wkb, std::uint32_t srid) {
  bool has_srid = false;
  std::uint32_t own = 0;
  std::string out = walk(wkb, Out::Canonical, 0, has_srid, own, nullptr);
  set_srid(out, has_srid ? own : srid);
  return out;
}

std::string geometry_from_mariadb(std::string_view value) {
  if (value.size() < 4) bad(fmt::format("{} bytes, fewer than MariaDB's 4-byte SRID", value.size()));
  return geometry_from_wkb(value.substr(4), le32(value));
}

std::string geometry_from_hex_ewkb(std::string_view hex) {
  if (hex.size() % 2) bad("odd number of hex digits");
  std::string raw(hex.size() / 2, '\0');
  auto nib = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    bad(fmt::format("'{}' is not a hex digit", c));
  };
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = char(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
  return geometry_from_ewkb(raw);
}

GeometryInfo geometry_info(std::string_view canonical) {
  if (canonical.size() < 4) bad("fewer than 4 bytes");
  GeometryInfo info;
  bool has_srid = false;
  std::uint32_t own = 0;
  walk(canonical.substr(4), Out::Canonical, 0, has_srid, own, &info);
  info.srid = le32(canonical);
  return info;
}

std::string geometry_to_ewkb(std::string_view canonical) {
  if (canonical.size() < 4) bad("fewer than 4 bytes");
  bool has_srid = false;
  std::uint32_t own = 0;
  return walk(canonical.substr(4), Out::Ewkb, le32(canonical), has_srid, own, nullptr);
}

std::string geometry_to_hex_ewkb(std::string_view canonical) {
  static const char* digits = "0123456789abcdef";
  const std::string raw = geometry_to_ewkb(canonical);
  std::string out(raw.size() * 2, '0');
  for (std::size_t i = 0; i < raw.size(); ++i) {
    out[2 * i] = digits[static_cast<unsigned char>(raw[i]) >> 4];
    out[2 * i + 1] = digits[static_cast<unsigned char>(raw[i]) & 15];
  }
  return out;
}

namespace {
constexpr const char* kTypeNames[] = {"Geometry",         "Point",          "LineString",         "Polygon",
                                      "MultiPoint",       "MultiLineString", "MultiPolygon",      "GeometryCollection",
                                      "CircularString",   "CompoundCurve",  "CurvePolygon",       "MultiCurve",
                                      "MultiSurface",     "Curve",          "Surface",            "PolyhedralSurface",
                                      "Tin",              "Triangle"};
}  // namespace

std::string_view geometry_type_name(int base_type) {
  return base_type >= 0 && base_type <= 17 ? kTypeNames[base_type] : "Geometry";
}

int geometry_type_code(std::string_view name) {
  for (int i = 0; i <= 17; ++i) {
    std::string_view n = kTypeNames[i];
    if (n.size() != name.size()) continue;
    bool same = true;
    for (std::size_t k = 0; k < n.size() && same; ++k)
      same = std::tolower(static_cast<unsigned char>(n[k])) == std::tolower(static_cast<unsigned char>(name[k]));
    if (same) return i;
  }
  return -1;
}

}  // namespace cdc::detail
