// Spatial columns across dialects, against both throwaway servers: MariaDB's GEOMETRY types to
// PostGIS geometry (SRID kept) and to a PostgreSQL without PostGIS (EWKB in bytea), by snapshot
// and by the binlog stream; PostGIS back to MariaDB's spatial types by snapshot and by pgoutput.
// Every value is compared by each database's own ST_AsText and ST_SRID, and by verify.
#include "maria_test_util.h"
#include "pg_test_util.h"
#include "session_test_util.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

namespace {

using namespace maria_test;
using namespace hetero_test;
using pg_test::eventually;

// POINT with a declared SRID; GEOMETRY holding every shape, several SRIDs, an empty collection, NULL.
const char* kShapes = R"SQL(CREATE TABLE shapes (id INT PRIMARY KEY, p POINT REF_SYSTEM_ID=4326, g GEOMETRY))SQL";
const char* kShapeRows = R"SQL(INSERT INTO shapes VALUES
  (1, ST_GeomFromText('POINT(1 2)', 4326), ST_GeomFromText('LINESTRING(0 0,1 1,2 0.5)', 3857)),
  (2, ST_GeomFromText('POINT(-71.0601 42.3584)', 4326), ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))')),
  (3, NULL, ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 5)))', 4326)),
  (4, NULL, ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))')),
  (5, NULL, ST_GeomFromText('GEOMETRYCOLLECTION EMPTY')),
  (6, NULL, NULL))SQL";

// Each database prints WKT in its own function; both print these shapes alike.
const char* kMariaText = "SELECT id, ST_AsText(p), ST_SRID(p), ST_AsText(g), ST_SRID(g) FROM shapes ORDER BY id";
const char* kPgText = "SELECT id, ST_AsText(p), ST_SRID(p), ST_AsText(g), ST_SRID(g) FROM shapes ORDER BY id";

std::vector<std::string> maria_shapes(const std::string& db) {
  Maria m;
  m.exec("USE " + db);
  return m.rows(kMariaText);
}

void create_shapes(const std::string& db) {
  Maria m;
  m.exec("USE " + db);
  m.exec(kShapes);
  m.exec(kShapeRows);
}

// Through the binlog: the same shapes again (ids + 10), an update to another SRID, a delete.
void change_shapes(const std::string& db) {
  Maria m;
  m.exec("USE " + db);
  m.exec("INSERT INTO shapes SELECT id + 10, p, g FROM shapes");
  m.exec("UPDATE shapes SET g = ST_GeomFromText('POLYGON((1 1,2 1,2 2,1 1))', 2154), p = ST_GeomFromText('POINT(3 4)', 4326) "
         "WHERE id = 1");
  m.exec("DELETE FROM shapes WHERE id = 13");
}

}  // namespace

TEST_CASE("MariaDB spatial columns reach PostGIS with their SRIDs by snapshot and stream, and come back", "[hetero][spatial]") {
  MariaDb src("geo"), back("geoback");
  pg_test::TempDb pg("geo");
  pg_test::Conn(pg.url()).exec("CREATE EXTENSION postgis");
  create_shapes(src.name);
  cdc::Config config;
  config.source = mariadb_url(src.name);
  config.destination = pg.url();
  config.poll_interval_ms = 50;
  config.retry.initial_delay_ms = 50;

  // discover --to shows the PostGIS types.
  {
    auto source = cdc::ConnectorRegistry::instance().open_source(config.source);
    auto dest = cdc::ConnectorRegistry::instance().open_destination(config.destination);
    auto plans = cdc::plan_tables(config, *source, *cdc::make_type_mapper(config), dest->dialect(), dest->max_identifier_length());
    REQUIRE(plans.size() == 1);
    CHECK_THAT(dest->render_ddl(plans[0].target), Catch::Contains("\"p\" geometry(Point,4326), \"g\" geometry"));
  }

  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return session.status().state == cdc::SessionState::Streaming; }));
  pg_test::Conn p(pg.url());
  CHECK(p.rows(kPgText) == maria_shapes(src.name));  // the snapshot
  change_shapes(src.name);
  REQUIRE(eventually([&] { return p.count("shapes") == 11 && p.scalar("SELECT ST_SRID(g) FROM shapes WHERE id = 1") == "2154"; }));
  {
    // A spatial column added while streaming maps by the same rules.
    Maria m;
    m.exec("USE " + src.name);
    m.exec("ALTER TABLE shapes ADD COLUMN l LINESTRING REF_SYSTEM_ID=4326");
    m.exec("UPDATE shapes SET l = ST_GeomFromText('LINESTRING(1 1,2 2)', 4326) WHERE id = 2");
  }
  REQUIRE(eventually([&] {
    return p.scalar("SELECT count(*) FROM pg_attribute WHERE attrelid = 'shapes'::regclass AND attname = 'l' AND NOT attisdropped") == "1" &&
           p.scalar("SELECT count(*) FROM shapes WHERE l IS NOT NULL") == "1";
  }));
  CHECK(p.rows("SELECT ST_AsText(l), ST_SRID(l) FROM shapes WHERE id = 2") == std::vector<std::string>{"LINESTRING(1 1,2 2) | 4326"});
  stop_streaming(session);
  CHECK(by_table(session.status())["shapes"].quarantined == 0);

  CHECK(p.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'shapes'::regclass AND attnum > 0 "
               "ORDER BY attnum") == std::vector<std::string>{"integer", "geometry(Point,4326)", "geometry", "geometry(LineString,4326)"});
  {
    Maria m;
    m.exec("USE " + src.name);
    m.exec("ALTER TABLE shapes DROP COLUMN l");  // the comparisons below are of the original columns
  }
  p.exec("ALTER TABLE shapes DROP COLUMN l");
  const auto want = maria_shapes(src.name);
  REQUIRE(want.size() == 11);
  CHECK(want[0] == "1 | POINT(3 4) | 4326 | POLYGON((1 1,2 1,2 2,1 1)) | 2154");
  CHECK(want[4] == "5 | NULL | NULL | GEOMETRYCOLLECTION EMPTY | 0");
  CHECK(p.rows(kPgText) == want);  // snapshot and streamed rows, value by value
  CHECK(p.rows("SELECT count(*) FROM cdc_metadata.quarantine") == std::vector<std::string>{"0"});
  cdc::VerifyOptions vo;
  vo.config = &config;
  check_equal(cdc::verify(config.source, config.destination, vo));

  // PostGIS back to MariaDB: the spatial types, their SRIDs and every value.
  cdc::Config back_config;
  back_config.source = pg.url();
  back_config.destination = mariadb_url(back.name);
  back_config.include = {"*shapes"};
  check_done(copy_once(back_config));
  Maria m;
  CHECK(m.rows("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" + back.name +
               "' AND TABLE_NAME = 'shapes' ORDER BY ORDINAL_POSITION") ==
        std::vector<std::string>{"id | int", "p | point", "g | geometry"});
  CHECK(m.rows("SELECT G_GEOMETRY_COLUMN, SRID FROM information_schema.GEOMETRY_COLUMNS WHERE G_TABLE_SCHEMA = '" + back.name +
               "' ORDER BY G_GEOMETRY_COLUMN") == std::vector<std::string>{"g | 0", "p | 4326"});
  CHECK(maria_shapes(back.name) == want);
  cdc::VerifyOptions same;
  same.include = {"shapes"};
  check_equal(cdc::verify(mariadb_url(src.name), mariadb_url(back.name), same));
}

TEST_CASE("MariaDB spatial columns reach a PostgreSQL without PostGIS as EWKB in bytea, losslessly", "[hetero][spatial]") {
  MariaDb src("geob"), back("geobback");
  pg_test::TempDb pg("geob");
  create_shapes(src.name);
  cdc::Config config;
  config.source = mariadb_url(src.name);
  config.destination = pg.url();
  config.poll_interval_ms = 50;
  config.retry.initial_delay_ms = 50;
  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return session.status().state == cdc::SessionState::Streaming; }));
  change_shapes(src.name);
  pg_test::Conn p(pg.url());
  REQUIRE(eventually([&] { return p.count("shapes") == 11 && p.scalar("SELECT count(*) FROM shapes WHERE id = 13") == "0"; }));
  stop_streaming(session);
  CHECK(by_table(session.status())["shapes"].quarantined == 0);
  CHECK(p.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'shapes'::regclass AND attnum > 0 "
               "ORDER BY attnum") == std::vector<std::string>{"integer", "bytea", "bytea"});
  CHECK(p.rows("SELECT col_description('shapes'::regclass, attnum) FROM pg_attribute WHERE attrelid = 'shapes'::regclass "
               "AND attnum > 1 ORDER BY attnum") == std::vector<std::string>{"cdc: EWKB of geometry(Point,4326)", "cdc: EWKB of geometry"});
  // The bytes are EWKB: POINT(1 2) with SRID 4326 exactly as PostGIS writes it.
  CHECK(p.rows("SELECT encode(p, 'hex') FROM shapes WHERE id = 11") ==
        std::vector<std::string>{"0101000020e6100000000000000000f03f0000000000000040"});
  cdc::VerifyOptions vo;
  vo.config = &config;
  check_equal(cdc::verify(config.source, config.destination, vo));
  // SQLite: the same EWKB in a BLOB.
  pg_test::TempDir dir;
  cdc::Config lite;
  lite.source = config.source;
  lite.destination = "sqlite://" + dir.file("shapes.db");
  check_done(copy_once(lite));
  CHECK(sqlite_rows(dir.file("shapes.db"), "SELECT typeof(p), hex(p) FROM shapes WHERE id = 11") ==
        std::vector<std::string>{"blob | 0101000020E6100000000000000000F03F0000000000000040"});
  cdc::VerifyOptions lv;
  lv.config = &lite;
  check_equal(cdc::verify(lite.source, lite.destination, lv));
  // The comment makes the bytea a geometry again: back to MariaDB's spatial types, equal to the original.
  cdc::Config back_config;
  back_config.source = pg.url();
  back_config.destination = mariadb_url(back.name);
  check_done(copy_once(back_config));
  CHECK(maria_shapes(back.name) == maria_shapes(src.name));
  Maria m;
  CHECK(m.rows("SELECT G_GEOMETRY_COLUMN, SRID, GEOMETRY_TYPE FROM information_schema.GEOMETRY_COLUMNS WHERE G_TABLE_SCHEMA = '" +
               back.name + "' ORDER BY G_GEOMETRY_COLUMN") == std::vector<std::string>{"g | 0 | 0", "p | 4326 | 1"});
  // Lossless: PostGIS, installed afterwards, reads every shape and SRID back from the bytea.
  p.exec("CREATE EXTENSION postgis");
  CHECK(p.rows("SELECT id, ST_AsText(ST_GeomFromEWKB(p)), ST_SRID(ST_GeomFromEWKB(p)), ST_AsText(ST_GeomFromEWKB(g)), "
               "ST_SRID(ST_GeomFromEWKB(g)) FROM shapes ORDER BY id") == maria_shapes(src.name));
}

TEST_CASE("PostGIS geometry reaches MariaDB's spatial types by snapshot and stream", "[hetero][spatial]") {
  pg_test::TempDb pg("pgeo");
  MariaDb dst("pgeo");
  {
    pg_test::Conn p(pg.url());
    p.exec("CREATE EXTENSION postgis");
    p.exec("CREATE TABLE shapes (id int PRIMARY KEY, p geometry(Point,4326), g geometry, z geometry(PointZ))");
    p.exec("INSERT INTO shapes VALUES (1, 'SRID=4326;POINT(1 2)', 'SRID=3857;LINESTRING(0 0,1 1)', 'POINT Z(1 2 3)'), "
           "(2, NULL, 'POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))', NULL), "
           "(3, NULL, 'SRID=4326;MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 5)))', NULL), "
           "(4, NULL, 'GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))', NULL), (5, NULL, 'GEOMETRYCOLLECTION EMPTY', NULL), "
           "(6, NULL, NULL, NULL)");
    // Big-endian input: PostGIS keeps its own form; cdc reads it through geometry_send.
    p.exec("INSERT INTO shapes VALUES (7, ST_GeomFromWKB(decode('00000000013ff00000000000004000000000000000', 'hex'), 4326), NULL, NULL)");
  }
  cdc::Config config;
  config.source = pg.url();
  config.destination = mariadb_url(dst.name);
  config.poll_interval_ms = 50;
  config.retry.initial_delay_ms = 50;
  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return session.status().state == cdc::SessionState::Streaming; }));
  {
    pg_test::Conn p(pg.url());
    p.exec("INSERT INTO shapes SELECT id + 10, p, g, z FROM shapes");
    p.exec("UPDATE shapes SET g = 'SRID=2154;POINT(5 6)' WHERE id = 2");
    p.exec("DELETE FROM shapes WHERE id = 16");
  }
  Maria m;
  m.exec("USE " + dst.name);
  REQUIRE(eventually([&] { return m.rows("SELECT COUNT(*) FROM shapes") == std::vector<std::string>{"13"} &&
                                  m.rows("SELECT ST_SRID(g) FROM shapes WHERE id = 2") == std::vector<std::string>{"2154"}; }));
  stop_streaming(session);
  CHECK(by_table(session.status())["shapes"].quarantined == 0);
  // PostGIS's own spatial_ref_sys (an extension's table) is not copied.
  CHECK(m.rows("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" + dst.name + "' AND TABLE_NAME NOT LIKE '\\_cdc\\_%'") ==
        std::vector<std::string>{"shapes"});
  CHECK(m.rows("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" + dst.name +
               "' AND TABLE_NAME = 'shapes' ORDER BY ORDINAL_POSITION") ==
        std::vector<std::string>{"id | int(11)", "p | point", "g | geometry", "z | longblob"});
  CHECK(m.rows("SELECT SRID FROM information_schema.GEOMETRY_COLUMNS WHERE G_TABLE_SCHEMA = '" + dst.name +
               "' AND G_GEOMETRY_COLUMN = 'p'") == std::vector<std::string>{"4326"});
  pg_test::Conn p(pg.url());
  CHECK(m.rows("SELECT id, ST_AsText(p), ST_SRID(p), ST_AsText(g), ST_SRID(g), HEX(z) FROM shapes ORDER BY id") ==
        p.rows("SELECT id, ST_AsText(p), ST_SRID(p), ST_AsText(g), ST_SRID(g), upper(encode(ST_AsEWKB(z, 'NDR'), 'hex')) FROM shapes "
               "ORDER BY id"));
  cdc::VerifyOptions vo;
  vo.config = &config;
  check_equal(cdc::verify(config.source, config.destination, vo));
}
