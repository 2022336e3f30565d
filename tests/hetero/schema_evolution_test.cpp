// Schema evolution from the stream, against both throwaway servers: columns added, widened,
// dropped and renamed at the source while a session streams reach the target without a
// restart; incompatible changes follow the table's `ddl` policy; every change is in the
// schema history table of the destination.
#include "maria_test_util.h"
#include "pg_test_util.h"
#include "session_test_util.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <map>

namespace {

using maria_test::Maria;
using maria_test::MariaDb;
using maria_test::mariadb_url;
using pg_test::eventually;
using hetero_test::stop_streaming;

using hetero_test::by_table;
using hetero_test::stream_config;

std::string pg_type(pg_test::Conn& p, const std::string& table, const std::string& column) {
  return p.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '" + table +
                  "'::regclass AND attname = '" + column + "' AND NOT attisdropped");
}

}  // namespace

TEST_CASE("MariaDB columns added, widened, dropped and renamed reach PostgreSQL while streaming", "[hetero][schema]") {
  pg_test::QuietLog quiet;
  MariaDb src("evo");
  pg_test::TempDb pg("evo");
  Maria m;
  m.exec("USE " + src.name);
  m.exec("CREATE TABLE items (id INT PRIMARY KEY, qty INT, name VARCHAR(10), price DECIMAL(5,2), old_note VARCHAR(20), "
         "gone INT NOT NULL)");
  m.exec("INSERT INTO items VALUES (1, 10, 'ten', 1.50, 'first', 7)");
  m.exec("CREATE TABLE other (id INT PRIMARY KEY, v INT)");
  auto config = stream_config(mariadb_url(src.name), pg.url());
  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return session.status().state == cdc::SessionState::Streaming; }, 60));
  pg_test::Conn p(pg.url());
  REQUIRE(eventually([&] { return p.count("items") == 1; }));

  // Added: the column appears and new rows carry its values.
  m.exec("ALTER TABLE items ADD COLUMN extra VARCHAR(30)");
  m.exec("INSERT INTO items VALUES (2, 20, 'twenty', 2.50, 'second', 8, 'more')");
  REQUIRE(eventually([&] { return p.count("items") == 2; }));
  CHECK(p.rows("SELECT id, extra FROM items ORDER BY id") == std::vector<std::string>{"1 | NULL", "2 | more"});
  CHECK(pg_type(p, "items", "extra") == "character varying(30)");

  // Widened: the target types follow, and values only the wider types hold arrive.
  m.exec("ALTER TABLE items MODIFY qty BIGINT, MODIFY name VARCHAR(100), MODIFY price DECIMAL(10,2)");
  const std::string long_name(60, 'n');
  m.exec("INSERT INTO items VALUES (3, 5000000000, '" + long_name + "', 12345678.91, 'third', 9, NULL)");
  REQUIRE(eventually([&] { return p.count("items") == 3; }));
  CHECK(pg_type(p, "items", "qty") == "bigint");
  CHECK(pg_type(p, "items", "name") == "character varying(100)");
  CHECK(pg_type(p, "items", "price") == "numeric(10,2)");
  CHECK(p.rows("SELECT qty, name, price FROM items WHERE id = 3") ==
        std::vector<std::string>{"5000000000 | " + long_name + " | 12345678.91"});

  // Dropped: the target keeps the column, nullable; later rows have NULL there.
  m.exec("ALTER TABLE items DROP COLUMN gone");
  m.exec("INSERT INTO items (id, qty, name, price, old_note) VALUES (4, 4, 'four', 4.00, 'fourth')");
  REQUIRE(eventually([&] { return p.count("items") == 4; }));
  CHECK(p.scalar("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'gone'") == "YES");
  CHECK(p.rows("SELECT id, gone FROM items ORDER BY id") == std::vector<std::string>{"1 | 7", "2 | 8", "3 | 9", "4 | NULL"});

  // Renamed where the statement says so, data kept; CHANGE renames and widens at once.
  m.exec("ALTER TABLE items RENAME COLUMN old_note TO note");
  m.exec("INSERT INTO items (id, qty, name, price, note) VALUES (5, 5, 'five', 5.00, 'fifth')");
  REQUIRE(eventually([&] { return p.count("items") == 5; }));
  CHECK(p.rows("SELECT id, note FROM items ORDER BY id") ==
        std::vector<std::string>{"1 | first", "2 | second", "3 | third", "4 | fourth", "5 | fifth"});
  m.exec("ALTER TABLE items CHANGE note remark VARCHAR(40)");
  m.exec("UPDATE items SET remark = 'a remark longer than twenty' WHERE id = 1");
  REQUIRE(eventually([&] { return pg_type(p, "items", "remark") == "character varying(40)"; }));
  REQUIRE(eventually([&] { return p.scalar("SELECT remark FROM items WHERE id = 1") == "a remark longer than twenty"; }));
  CHECK(p.rows("SELECT id, remark FROM items ORDER BY id") ==
        std::vector<std::string>{"1 | a remark longer than twenty", "2 | second", "3 | third", "4 | fourth", "5 | fifth"});
  CHECK(pg_type(p, "items", "remark") == "character varying(40)");

  // The other table went on all along.
  m.exec("INSERT INTO other VALUES (1, 1)");
  REQUIRE(eventually([&] { return p.count("other") == 1; }));
  stop_streaming(session);

  // Types as the source spells them (the default character set left out here for brevity).
  CHECK(p.rows("SELECT source_table, target_table, kind, column_name, coalesce(old_column, '-'), "
               "replace(coalesce(old_type, '-'), ' CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci', ''), "
               "replace(coalesce(new_type, '-'), ' CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci', ''), action "
               "FROM cdc_metadata.schema_history ORDER BY id") ==
        std::vector<std::string>{
            "items | items | added | extra | - | - | varchar(30) | applied",
            "items | items | widened | qty | - | int(11) | bigint(20) | applied",
            "items | items | widened | name | - | varchar(10) | varchar(100) | applied",
            "items | items | widened | price | - | decimal(5,2) | decimal(10,2) | applied",
            "items | items | dropped | gone | - | int(11) | - | applied",
            "items | items | renamed | note | old_note | varchar(20) | varchar(20) | applied",
            "items | items | renamed | remark | note | varchar(20) | varchar(40) | applied",
            "items | items | widened | remark | - | varchar(20) | varchar(40) | applied",
        });
  CHECK(p.rows("SELECT ddl FROM cdc_metadata.schema_history WHERE column_name IN ('qty', 'gone') ORDER BY id") ==
        std::vector<std::string>{"ALTER TABLE \"public\".\"items\" ALTER COLUMN \"qty\" TYPE bigint USING \"qty\"::bigint",
                                 "ALTER TABLE \"public\".\"items\" ALTER COLUMN \"gone\" DROP NOT NULL"});
}

TEST_CASE("a narrowing change follows each table's ddl policy while the others stream on", "[hetero][schema]") {
  pg_test::QuietLog quiet;
  MariaDb src("pol");
  pg_test::TempDb pg("pol");
  Maria m;
  m.exec("USE " + src.name);
  for (const char* t : {"pf", "pp", "pi", "ok"}) {
    m.exec(std::string("CREATE TABLE ") + t + " (id INT PRIMARY KEY, v BIGINT)");
    m.exec(std::string("INSERT INTO ") + t + " VALUES (1, 1)");
  }
  auto config = stream_config(mariadb_url(src.name), pg.url());
  config.tables["pf"].ddl = cdc::DdlPolicy::Fail;
  config.tables["pp"].ddl = cdc::DdlPolicy::Pause;
  config.tables["pi"].ddl = cdc::DdlPolicy::Ignore;
  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return session.status().state == cdc::SessionState::Streaming; }, 60));
  pg_test::Conn p(pg.url());
  REQUIRE(eventually([&] { return p.count("ok") == 1 && p.count("pf") == 1 && p.count("pp") == 1 && p.count("pi") == 1; }));

  for (const char* t : {"pf", "pp", "pi"}) {
    m.exec(std::string("ALTER TABLE ") + t + " MODIFY v INT");
    m.exec(std::string("INSERT INTO ") + t + " VALUES (2, 2)");
  }
  m.exec("INSERT INTO ok VALUES (2, 2)");
  REQUIRE(eventually([&] { return p.count("ok") == 2; }));
  REQUIRE(eventually([&] { return p.count("pi") == 2; }));
  auto status = by_table(session.status());
  // fail: the table fails with table, column, old and new type in the message.
  CHECK(status["pf"].phase == cdc::TablePhase::Failed);
  CHECK(status["pf"].error ==
        "schema change of table pf: column v changed from bigint(20) to int(11): narrowing (int64 to int32) (ddl: fail)");
  CHECK(p.count("pf") == 1);
  // pause: held (its row after the change waits), resumable.
  CHECK(status["pp"].phase == cdc::TablePhase::Streaming);
  CHECK(status["pp"].paused);
  CHECK(p.count("pp") == 1);
  // ignore: goes on with the target as it was.
  CHECK(status["pi"].phase == cdc::TablePhase::Streaming);
  CHECK(pg_type(p, "pi", "v") == "bigint");
  CHECK(status["ok"].phase == cdc::TablePhase::Streaming);

  // Resuming the paused table applies the change and replays its rows.
  session.resume_table("pp");
  REQUIRE(eventually([&] { return p.count("pp") == 2; }));
  CHECK(pg_type(p, "pp", "v") == "integer");
  m.exec("INSERT INTO pi VALUES (3, 3)");
  m.exec("INSERT INTO pp VALUES (3, 3)");
  REQUIRE(eventually([&] { return p.count("pi") == 3 && p.count("pp") == 3; }));
  session.stop();
  session.wait();

  CHECK(p.rows("SELECT source_table, kind, column_name, old_type, new_type, action FROM cdc_metadata.schema_history "
               "ORDER BY source_table, id") ==
        std::vector<std::string>{"pf | incompatible | v | bigint(20) | int(11) | failed",
                                 "pi | incompatible | v | bigint(20) | int(11) | ignored",
                                 "pp | incompatible | v | bigint(20) | int(11) | paused",
                                 "pp | incompatible | v | bigint(20) | int(11) | applied"});
}

TEST_CASE("PostgreSQL columns added, widened and dropped reach MariaDB while streaming", "[hetero][schema]") {
  pg_test::QuietLog quiet;
  pg_test::TempDb pg("evosrc");
  MariaDb dst("evodst");
  pg_test::Conn p(pg.url());
  p.exec("CREATE TABLE items (id int PRIMARY KEY, qty int, name varchar(10), price numeric(5,2), gone int NOT NULL)");
  p.exec("INSERT INTO items VALUES (1, 10, 'ten', 1.50, 7)");
  auto config = stream_config(pg.url(), mariadb_url(dst.name));
  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return session.status().state == cdc::SessionState::Streaming; }, 60));
  Maria m;
  m.exec("USE " + dst.name);
  auto count = [&] { return m.rows("SELECT count(*) FROM items").at(0); };
  auto column_types = [&] {
    return m.rows("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" + dst.name +
                  "' AND TABLE_NAME = 'items' ORDER BY ORDINAL_POSITION");
  };
  REQUIRE(eventually([&] { return count() == "1"; }));

  p.exec("ALTER TABLE items ADD COLUMN extra text");
  p.exec("INSERT INTO items VALUES (2, 20, 'twenty', 2.50, 8, 'more')");
  REQUIRE(eventually([&] { return count() == "2"; }));
  p.exec("ALTER TABLE items ALTER COLUMN qty TYPE bigint, ALTER COLUMN name TYPE varchar(100), ALTER COLUMN price TYPE numeric(10,2)");
  const std::string long_name(60, 'n');
  p.exec("INSERT INTO items VALUES (3, 5000000000, '" + long_name + "', 12345678.91, 9, NULL)");
  REQUIRE(eventually([&] { return count() == "3"; }));
  p.exec("ALTER TABLE items DROP COLUMN gone");
  p.exec("INSERT INTO items (id, qty, name, price) VALUES (4, 4, 'four', 4.00)");
  REQUIRE(eventually([&] { return count() == "4"; }));
  stop_streaming(session);
  CHECK(column_types() == std::vector<std::string>{"id | int(11) | NO", "qty | bigint(20) | YES", "name | varchar(100) | YES",
                                                   "price | decimal(10,2) | YES", "gone | int(11) | YES", "extra | longtext | YES"});
  CHECK(m.rows("SELECT id, qty, name, price, gone, extra FROM items ORDER BY id") ==
        std::vector<std::string>{"1 | 10 | ten | 1.50 | 7 | NULL", "2 | 20 | twenty | 2.50 | 8 | more",
                                 "3 | 5000000000 | " + long_name + " | 12345678.91 | 9 | NULL", "4 | 4 | four | 4.00 | NULL | NULL"});
  CHECK(m.rows("SELECT source_table, kind, column_name, old_type, new_type, action FROM _cdc_schema_history ORDER BY id") ==
        std::vector<std::string>{"public.items | added | extra | NULL | text | applied",
                                 "public.items | widened | qty | integer | bigint | applied",
                                 "public.items | widened | name | character varying(10) | character varying(100) | applied",
                                 "public.items | widened | price | numeric(5,2) | numeric(10,2) | applied",
                                 "public.items | dropped | gone | integer | NULL | applied"});
}

namespace {

// A host's destination that wraps a built-in one and cannot evolve schemas (it does not override
// DestinationWriter::evolve), like examples/custom_destination.cpp.
class HostWriter final : public cdc::DestinationWriter {
 public:
  explicit HostWriter(std::unique_ptr<cdc::DestinationWriter> inner) : inner_(std::move(inner)) {}
  void begin() override { inner_->begin(); }
  void write_rows(const cdc::DestinationTable& t, const std::vector<cdc::Row>& rows) override { inner_->write_rows(t, rows); }
  void apply(const cdc::DestinationTable& t, const std::vector<cdc::ChangeEvent>& changes) override { inner_->apply(t, changes); }
  void truncate(const cdc::DestinationTable& t) override { inner_->truncate(t); }
  void commit(const std::string& session, const std::vector<cdc::CheckpointEntry>& cp) override { inner_->commit(session, cp); }
  void rollback() noexcept override { inner_->rollback(); }

 private:
  std::unique_ptr<cdc::DestinationWriter> inner_;
};

class HostDestination final : public cdc::DestinationConnector {
 public:
  explicit HostDestination(std::shared_ptr<cdc::DestinationConnector> inner) : inner_(std::move(inner)) {}
  std::string dialect() const override { return inner_->dialect(); }
  std::string render_ddl(const cdc::DestinationTable& t) const override { return inner_->render_ddl(t); }
  void prepare_table(const cdc::DestinationTable& t) override { inner_->prepare_table(t); }
  std::unique_ptr<cdc::DestinationWriter> open_writer() override { return std::make_unique<HostWriter>(inner_->open_writer()); }
  std::shared_ptr<cdc::CheckpointStore> checkpoint_store() override { return inner_->checkpoint_store(); }
  // Only what HostWriter forwards: tables, rows, changes and checkpoints with the data.
  cdc::DestinationCapabilities capabilities() const override {
    cdc::DestinationCapabilities c;
    c.ddl = c.atomic_checkpoints = true;
    return c;
  }

 private:
  std::shared_ptr<cdc::DestinationConnector> inner_;
};

}  // namespace

TEST_CASE("a host destination that cannot evolve schemas follows the ddl policy", "[hetero][schema]") {
  pg_test::QuietLog quiet;
  MariaDb src("host");
  pg_test::TempDb pg("host");
  Maria m;
  m.exec("USE " + src.name);
  for (const char* t : {"ig", "fa"}) {
    m.exec(std::string("CREATE TABLE ") + t + " (id INT PRIMARY KEY, v INT, gone INT)");
    m.exec(std::string("INSERT INTO ") + t + " VALUES (1, 1, 1)");
  }
  auto config = stream_config(mariadb_url(src.name), pg.url());
  config.tables["ig"].ddl = cdc::DdlPolicy::Ignore;
  auto& registry = cdc::ConnectorRegistry::instance();
  cdc::ReplicationSession session(config, registry.open_source(config.source),
                                  std::make_shared<HostDestination>(registry.open_destination(config.destination)));
  session.start();
  REQUIRE(eventually([&] { return session.status().state == cdc::SessionState::Streaming; }, 60));
  pg_test::Conn p(pg.url());
  REQUIRE(eventually([&] { return p.count("ig") == 1 && p.count("fa") == 1; }));
  for (const char* t : {"ig", "fa"}) {
    m.exec(std::string("ALTER TABLE ") + t + " ADD COLUMN extra INT, DROP COLUMN gone");
    m.exec(std::string("INSERT INTO ") + t + " VALUES (2, 2, 22)");
  }
  REQUIRE(eventually([&] { return p.count("ig") == 2; }));
  REQUIRE(eventually([&] { return by_table(session.status())["fa"].phase == cdc::TablePhase::Failed; }));
  auto status = by_table(session.status());
  session.stop();
  session.wait();
  // ignore: the target as it was; the added column's values are dropped, the dropped one is NULL.
  CHECK(status["ig"].phase == cdc::TablePhase::Streaming);
  CHECK(p.rows("SELECT * FROM ig ORDER BY id") == std::vector<std::string>{"1 | 1 | 1", "2 | 2 | NULL"});
  // apply: the table fails, saying why.
  CHECK(status["fa"].error ==
        "schema change of table fa: the destination cannot apply it: table fa: this destination cannot evolve schemas (ddl: apply)");
  CHECK(p.count("fa") == 1);
}

using hetero_test::sqlite_rows;

TEST_CASE("MariaDB columns added, widened and renamed reach SQLite while streaming", "[hetero][schema]") {
  pg_test::QuietLog quiet;
  MariaDb src("lite");
  pg_test::TempDir dir;
  const std::string file = dir.file("dst.db");
  Maria m;
  m.exec("USE " + src.name);
  m.exec("CREATE TABLE items (id INT PRIMARY KEY, qty INT, note VARCHAR(10))");
  m.exec("INSERT INTO items VALUES (1, 1, 'one')");
  auto config = stream_config(mariadb_url(src.name), "sqlite://" + file);
  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return session.status().state == cdc::SessionState::Streaming; }, 60));
  auto count = [&] { return sqlite_rows(file, "SELECT count(*) FROM items").at(0); };
  REQUIRE(eventually([&] { return count() == "1"; }));
  m.exec("ALTER TABLE items ADD COLUMN extra VARCHAR(20), MODIFY qty BIGINT, RENAME COLUMN note TO remark");
  m.exec("INSERT INTO items VALUES (2, 5000000000, 'two', 'more')");
  REQUIRE(eventually([&] { return count() == "2"; }));
  stop_streaming(session);
  CHECK(sqlite_rows(file, "SELECT id, qty, remark, extra FROM items ORDER BY id") ==
        std::vector<std::string>{"1 | 1 | one | NULL", "2 | 5000000000 | two | more"});
  // Widening needs no DDL in SQLite; it is recorded with none.
  CHECK(sqlite_rows(file, "SELECT kind, column_name, coalesce(old_column, '-'), action, coalesce(ddl, '-') FROM _cdc_schema_history "
                          "ORDER BY id") ==
        std::vector<std::string>{"renamed | remark | note | applied | ALTER TABLE \"items\" RENAME COLUMN \"note\" TO \"remark\"",
                                 "widened | qty | - | applied | -",
                                 "added | extra | - | applied | ALTER TABLE \"items\" ADD COLUMN \"extra\" VARCHAR(20)"});
}

TEST_CASE("ENUM labels added at a MariaDB source reach PostgreSQL enum types and label checks while streaming",
          "[hetero][schema][enum]") {
  pg_test::QuietLog quiet;
  MariaDb src("lbl");
  pg_test::TempDb pg("lbl");
  Maria m;
  m.exec("USE " + src.name);
  for (const char* t : {"typed", "checked"}) {
    m.exec(std::string("CREATE TABLE ") + t + " (id INT PRIMARY KEY, s ENUM('a','b'))");
    m.exec(std::string("INSERT INTO ") + t + " VALUES (1, 'b')");
  }
  auto config = stream_config(mariadb_url(src.name), pg.url());
  config.tables["checked"].enum_as = cdc::EnumAs::Check;
  cdc::ReplicationSession session(config);
  session.start();
  REQUIRE(eventually([&] { return session.status().state == cdc::SessionState::Streaming; }, 60));
  pg_test::Conn p(pg.url());
  REQUIRE(eventually([&] { return p.count("typed") == 1 && p.count("checked") == 1; }));

  // A label appended at the source, and a row that uses it right after.
  for (const char* t : {"typed", "checked"}) {
    m.exec(std::string("ALTER TABLE ") + t + " MODIFY s ENUM('a','b','c')");
    m.exec(std::string("INSERT INTO ") + t + " VALUES (2, 'c')");
    m.exec(std::string("UPDATE ") + t + " SET s = 'c' WHERE id = 1");
  }
  REQUIRE(eventually([&] { return p.count("typed") == 2 && p.count("checked") == 2; }));
  REQUIRE(eventually([&] { return p.scalar("SELECT s FROM typed WHERE id = 1") == "c" && p.scalar("SELECT s FROM checked WHERE id = 1") == "c"; }));
  stop_streaming(session);

  CHECK(p.rows("SELECT id, s FROM typed ORDER BY id") == std::vector<std::string>{"1 | c", "2 | c"});
  CHECK(p.rows("SELECT id, s FROM checked ORDER BY id") == std::vector<std::string>{"1 | c", "2 | c"});
  CHECK(p.rows("SELECT enumlabel FROM pg_enum WHERE enumtypid = 'typed_s'::regtype ORDER BY enumsortorder") ==
        std::vector<std::string>{"", "a", "b", "c"});  // '' first: MariaDB's index 0
  CHECK(pg_type(p, "typed", "s") == "typed_s");
  CHECK(pg_type(p, "checked", "s") == "text");
  CHECK(p.rows("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'checked'::regclass AND contype = 'c'") ==
        std::vector<std::string>{"CHECK ((s = ANY (ARRAY[''::text, 'a'::text, 'b'::text, 'c'::text])))"});
  CHECK(p.rows("SELECT target_table, kind, column_name, action, ddl FROM cdc_metadata.schema_history ORDER BY target_table") ==
        std::vector<std::string>{
            "checked | widened | s | applied | ALTER TABLE \"public\".\"checked\" DROP CONSTRAINT \"checked_s_check\"; "
            "ALTER TABLE \"public\".\"checked\" ADD CONSTRAINT \"checked_s_check\" CHECK (\"s\" IN (E'', E'a', E'b', E'c'))",
            "typed | widened | s | applied | ALTER TYPE \"public\".\"typed_s\" ADD VALUE IF NOT EXISTS E'c'"});
}
