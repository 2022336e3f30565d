// Spatial values: WKB / EWKB / MariaDB's storage form to cdc's canonical geometry and back,
// byte for byte, in both byte orders; and the type rules for spatial columns.
#include "core/geometry.h"

#include <cdc/error.h>
#include <cdc/type_mapper.h>

#include <catch2/catch.hpp>

#include <cstring>

using namespace cdc::detail;

namespace {

// Writes WKB in either byte order, so one shape can be written both ways.
struct Wkb {
  bool big = false;
  std::string s;
  Wkb& header(std::uint32_t type) {
    s += big ? '\0' : '\1';
    return u32(type);
  }
  Wkb& u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) s += char(big ? (v >> (24 - 8 * i)) & 0xff : (v >> (8 * i)) & 0xff);
    return *this;
  }
  Wkb& dbl(double d) {
    std::uint64_t b;
    std::memcpy(&b, &d, 8);
    for (int i = 0; i < 8; ++i) s += char(big ? (b >> (56 - 8 * i)) & 0xff : (b >> (8 * i)) & 0xff);
    return *this;
  }
  Wkb& points(std::initializer_list<double> xy) {
    u32(static_cast<std::uint32_t>(xy.size() / 2));
    for (double d : xy) dbl(d);
    return *this;
  }
};

std::string le32(std::uint32_t v) { return Wkb{false, {}}.u32(v).s; }

// A polygon with a hole, a multipolygon of it and a point, in a collection: every container kind.
Wkb sample(bool big) {
  Wkb w{big, {}};
  w.header(7).u32(2);
  w.header(6).u32(1);
  w.header(3).u32(2).points({0, 0, 10, 0, 10, 10, 0, 10, 0, 0}).points({2, 2, 3, 2, 3, 3, 2, 2});
  w.header(1).dbl(-1.5).dbl(2.25);
  return w;
}

std::string hex(const std::string& b) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

}  // namespace

TEST_CASE("geometry: WKB of either byte order becomes one canonical little-endian form", "[unit][geometry]") {
  const std::string little = sample(false).s, big = sample(true).s;
  REQUIRE(little != big);
  const std::string want = le32(4326) + little;
  CHECK(geometry_from_wkb(little, 4326) == want);
  CHECK(geometry_from_wkb(big, 4326) == want);
  // Mixed: a big-endian member inside a little-endian collection.
  Wkb mixed{false, {}};
  mixed.header(4).u32(2);
  mixed.s += Wkb{true, {}}.header(1).dbl(1).dbl(2).s;
  mixed.header(1).dbl(3).dbl(4);
  Wkb mixed_le{false, {}};
  mixed_le.header(4).u32(2).header(1).dbl(1).dbl(2).header(1).dbl(3).dbl(4);
  CHECK(geometry_from_wkb(mixed.s, 0) == le32(0) + mixed_le.s);
}

TEST_CASE("geometry: MariaDB's storage form is the canonical form of 2-D shapes", "[unit][geometry]") {
  // POINT(1 2) with SRID 4326 as MariaDB stores it (HEX(col) on a real server).
  const std::string value("\xE6\x10\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xF0\x3F\x00\x00\x00\x00\x00\x00\x00\x40", 25);
  CHECK(geometry_from_mariadb(value) == value);
  const auto info = geometry_info(value);
  CHECK(info.srid == 4326);
  CHECK(info.type == 1);
  CHECK_FALSE(info.z);
  CHECK_FALSE(info.empty);
  // GEOMETRYCOLLECTION EMPTY as MariaDB stores it.
  const std::string empty("\0\0\0\0\x01\x07\0\0\0\0\0\0\0", 13);
  CHECK(geometry_from_mariadb(empty) == empty);
  CHECK(geometry_info(empty).empty);
  CHECK(geometry_info(empty).type == 7);
  // A big-endian WKB inside MariaDB's form (MariaDB takes it as input) is made little-endian.
  CHECK(geometry_from_mariadb(le32(3857) + sample(true).s) == le32(3857) + sample(false).s);
}

TEST_CASE("geometry: EWKB with and without SRID, byte-exact both ways", "[unit][geometry]") {
  // PostGIS: '0101000020E6100000000000000000F03F0000000000000040' is SRID=4326;POINT(1 2).
  const std::string ewkb_hex = "0101000020e6100000000000000000f03f0000000000000040";
  const std::string canonical = geometry_from_hex_ewkb(ewkb_hex);
  CHECK(canonical == le32(4326) + Wkb{false, {}}.header(1).dbl(1).dbl(2).s);
  CHECK(geometry_to_hex_ewkb(canonical) == ewkb_hex);
  CHECK(geometry_from_hex_ewkb("0101000020E6100000000000000000F03F0000000000000040") == canonical);  // upper case
  // SRID 0: no SRID flag, EWKB is plain WKB.
  const std::string plain = le32(0) + sample(false).s;
  CHECK(geometry_to_ewkb(plain) == sample(false).s);
  CHECK(geometry_from_ewkb(sample(false).s) == plain);
  // The SRID goes on the top level only; nested geometries keep no flag.
  const std::string with_srid = le32(2154) + sample(false).s;
  const std::string ewkb = geometry_to_ewkb(with_srid);
  Wkb want{false, {}};
  want.u32(0);  // placeholder, replaced below
  std::string expect = sample(false).s;
  expect.replace(1, 4, le32(7 | 0x20000000u) + le32(2154));
  CHECK(ewkb == expect);
  CHECK(geometry_from_ewkb(ewkb) == with_srid);
  // Big-endian EWKB with SRID.
  Wkb be{true, {}};
  be.header(1 | 0x20000000u).u32(4326).dbl(1).dbl(2);
  CHECK(geometry_from_ewkb(be.s) == canonical);
}

TEST_CASE("geometry: Z and M as EWKB flags and ISO type codes", "[unit][geometry]") {
  // PostGIS: ST_AsEWKB('POINT Z(1 2 3)') = 0101000080 000000000000f03f 0000000000000040 0000000000000840
  Wkb ewkb{false, {}};
  ewkb.header(1 | 0x80000000u).dbl(1).dbl(2).dbl(3);
  Wkb iso{false, {}};
  iso.header(1001).dbl(1).dbl(2).dbl(3);
  const std::string c = geometry_from_ewkb(ewkb.s);
  CHECK(c == le32(0) + iso.s);
  CHECK(geometry_from_wkb(iso.s, 0) == c);
  CHECK(geometry_to_ewkb(c) == ewkb.s);
  CHECK(geometry_info(c).z);
  CHECK_FALSE(geometry_info(c).m);
  // ZM linestring, big-endian ISO.
  Wkb zm{true, {}};
  zm.header(3002).u32(1).dbl(1).dbl(2).dbl(3).dbl(4);
  Wkb zm_ewkb{false, {}};
  zm_ewkb.header(2 | 0xC0000000u).u32(1).dbl(1).dbl(2).dbl(3).dbl(4);
  CHECK(geometry_to_ewkb(geometry_from_wkb(zm.s, 0)) == zm_ewkb.s);
  // POINT EMPTY (NaN coordinates, as PostGIS writes it).
  const std::string point_empty = geometry_from_hex_ewkb("0101000000000000000000f87f000000000000f87f");
  CHECK(geometry_info(point_empty).empty);
  CHECK(hex(geometry_to_ewkb(point_empty)) == "0101000000000000000000f87f000000000000f87f");
}

TEST_CASE("geometry: malformed input is an error that says where", "[unit][geometry]") {
  const std::string good = sample(false).s;
  auto fails = [](const std::string& in, const char* what) {
    try {
      geometry_from_wkb(in, 0);
      FAIL("no error for " << what);
    } catch (const cdc::Error& e) {
      CHECK(e.kind() == cdc::ErrorKind::Conversion);
      CHECK_THAT(e.what(), Catch::Contains(what));
    }
  };
  fails(good.substr(0, good.size() - 3), "bytes end inside the coordinates");
  fails(good + "x", "1 bytes after the geometry ends");
  fails("\x02" + good.substr(1), "byte order 2 at byte 0");
  fails(Wkb{false, {}}.header(99).s, "unknown geometry type 99 at byte 0");
  fails(Wkb{false, {}}.header(2).u32(0x7fffffff).s, "count 2147483647 at byte 5 exceeds");
  fails("", "bytes end inside the byte order and type");
  CHECK_THROWS_WITH(geometry_from_mariadb("ab"), Catch::Contains("fewer than MariaDB's 4-byte SRID"));
  CHECK_THROWS_WITH(geometry_from_hex_ewkb("0g"), Catch::Contains("not a hex digit"));
}

TEST_CASE("geometry: type rules keep shape and SRID across dialects", "[unit][geometry]") {
  auto mapper = cdc::default_type_mapper();
  cdc::Column point;
  point.name = "p";
  point.type.id = cdc::TypeId::Geometry;
  point.type.geometry = 1;
  point.type.srid = 4326;
  point.source_type = "point REF_SYSTEM_ID=4326";
  const std::string p4326 = le32(4326) + Wkb{false, {}}.header(1).dbl(1).dbl(2).s;
  const std::string p0 = le32(0) + Wkb{false, {}}.header(1).dbl(1).dbl(2).s;

  auto to_pg = mapper->map_column(cdc::TableId("db", "t"), point, "mysql", "postgresql");
  CHECK(to_pg.target.type.id == cdc::TypeId::Geometry);
  CHECK(to_pg.target.type.geometry == 1);
  CHECK(to_pg.target.type.srid == 4326);
  CHECK(to_pg.converter->convert(cdc::Value::geometry(p4326)) == cdc::Value::geometry(p4326));
  CHECK_THROWS_WITH(to_pg.converter->convert(cdc::Value::geometry(p0)), Catch::Contains("geometry with SRID 0 in a column of SRID 4326"));

  // No REF_SYSTEM_ID: no SRID fixed, each value keeps its own.
  cdc::Column any = point;
  any.type.geometry = 0;
  any.type.srid = -1;
  any.source_type = "geometry";
  auto loose = mapper->map_column(cdc::TableId("db", "t"), any, "mysql", "postgresql");
  CHECK(loose.target.type.srid == -1);
  CHECK(loose.converter->convert(cdc::Value::geometry(p0)) == cdc::Value::geometry(p0));

  // SQLite: EWKB in a BLOB.
  auto to_sqlite = mapper->map_column(cdc::TableId("db", "t"), point, "mysql", "sqlite");
  CHECK(to_sqlite.target.type.id == cdc::TypeId::Bytes);
  CHECK(to_sqlite.converter->convert(cdc::Value::geometry(p4326)) == cdc::Value::bytes(geometry_to_ewkb(p4326)));

  // PostGIS to MariaDB: 2-D shapes as they are; Z values and POINT EMPTY are conversion errors.
  cdc::Column pg = any;
  pg.source_type = "geometry";
  auto to_maria = mapper->map_column(cdc::TableId("public", "t"), pg, "postgresql", "mysql");
  CHECK(to_maria.target.type.id == cdc::TypeId::Geometry);
  CHECK(to_maria.converter->convert(cdc::Value::geometry(p4326)) == cdc::Value::geometry(p4326));
  Wkb z{false, {}};
  z.header(1001).dbl(1).dbl(2).dbl(3);
  CHECK_THROWS_WITH(to_maria.converter->convert(cdc::Value::geometry(le32(0) + z.s)),
                    Catch::Contains("a Point geometry with Z coordinates, which MariaDB's 2-D spatial types cannot hold"));
  CHECK_THROWS_WITH(to_maria.converter->convert(cdc::Value::geometry(geometry_from_hex_ewkb("0101000000000000000000f87f000000000000f87f"))),
                    Catch::Contains("POINT EMPTY"));
  // A typmod with Z: LONGBLOB of EWKB, nothing lost.
  cdc::Column pgz = pg;
  pgz.type.geometry = 1001;
  auto z_to_maria = mapper->map_column(cdc::TableId("public", "t"), pgz, "postgresql", "mysql");
  CHECK(z_to_maria.target.type.id == cdc::TypeId::Bytes);
  Wkb z_ewkb{false, {}};
  z_ewkb.header(1 | 0x80000000u).dbl(1).dbl(2).dbl(3);
  CHECK(z_to_maria.converter->convert(cdc::Value::geometry(le32(0) + z.s)) == cdc::Value::bytes(z_ewkb.s));

  // cast: geometry keeps each value's SRID.
  CHECK(cdc::parse_type_name("geometry").id == cdc::TypeId::Geometry);
  CHECK(cdc::parse_type_name("geometry").srid == -1);
}

TEST_CASE("geometry: every truncation and byte change of a WKB is read or refused, never misread past its end", "[unit][geometry]") {
  const std::string good = sample(false).s + Wkb{true, {}}.header(5 | 0x20000000u).u32(4326).u32(1).header(2).points({1, 2, 3, 4}).s;
  int read = 0, refused = 0;
  auto attempt = [&](const std::string& in) {
    try {
      const std::string c = geometry_from_wkb(in, 0);
      CHECK(geometry_from_ewkb(geometry_to_ewkb(c)) == c);  // whatever is read round-trips
      ++read;
    } catch (const cdc::Error& e) {
      CHECK(e.kind() == cdc::ErrorKind::Conversion);
      ++refused;
    }
  };
  for (std::size_t n = 0; n < good.size(); ++n) attempt(good.substr(0, n));
  for (std::size_t i = 0; i < good.size(); ++i)
    for (unsigned char v : {0x00, 0x01, 0x07, 0x20, 0x7f, 0x80, 0xff}) {
      std::string in = good;
      in[i] = static_cast<char>(v);
      attempt(in);
    }
  CHECK(read > 0);
  CHECK(refused > static_cast<int>(good.size()));
}
