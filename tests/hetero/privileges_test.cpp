// Least privilege (docs/privileges.md): users with exactly the documented grants copy and
// replicate (MariaDB -> PostgreSQL and PostgreSQL -> MariaDB, every value compared), and with one
// grant taken away cdc-cli fails with an error that names the GRANT to add. A PostgreSQL
// destination user that may not set session_replication_role stops cdc before anything is
// written: a trigger on the target table stays unfired.
#include "maria_test_util.h"
#include "pg_test_util.h"

#include "support/cli_process.h"

#include <catch2/catch.hpp>

#include <fstream>

namespace {

// The URL with `user` (no password: the test servers trust loopback) and extra parameters.
std::string as_user(const std::string& url, const std::string& user, const std::string& params = "") {
  auto scheme = url.find("://") + 3;
  auto at = url.find('@', scheme);
  auto host = at == std::string::npos ? scheme : at + 1;
  return url.substr(0, scheme) + user + "@" + url.substr(host) + params;
}

// What a cdc-cli run printed (stdout and stderr) and how it ended.
struct Run {
  int code = -1;
  std::string output;
};

class Cli {
 public:
  Run operator()(std::vector<std::string> args) {
    const std::string out = dir_.file("out" + std::to_string(++n_)), err = dir_.file("err" + std::to_string(n_));
    Run r;
    r.code = cdc_test::run_cli(args, "", err, out).code;
    r.output = cdc_test::slurp(out) + cdc_test::slurp(err);
    return r;
  }
  std::string config(const std::string& name, const std::string& source, const std::string& destination,
                     const std::string& extra = "") {
    const std::string path = dir_.file(name + ".yaml");
    std::ofstream(path) << "name: " << name << "\nsource: \"" << source << "\"\ndestination: \"" << destination
                        << "\"\npoll_interval_ms: 50\nretry: {max_attempts: 1}\n"
                        << extra;
    return path;
  }

 private:
  pg_test::TempDir dir_;
  int n_ = 0;
};

// A PostgreSQL login role for one test (roles belong to the server, not to a database): dropped
// with what it owns and its parameter grant at the end.
struct PgRole {
  std::string name;
  std::vector<std::string> databases;  // where it may own objects
  explicit PgRole(const std::string& tag) : name("cdc_" + tag + "_" + std::to_string(::getpid())) {
    pg_test::Conn admin(pg_test::server_url());
    admin.exec("DROP ROLE IF EXISTS " + name);
    admin.exec("CREATE ROLE " + name + " LOGIN");
  }
  ~PgRole() {
    for (const auto& db : databases) {
      PGconn* c = PQconnectdb(pg_test::db_url(db).c_str());
      if (PQstatus(c) == CONNECTION_OK) PQclear(PQexec(c, ("DROP OWNED BY " + name).c_str()));
      PQfinish(c);
    }
    PGconn* c = PQconnectdb(pg_test::server_url().c_str());
    if (PQstatus(c) == CONNECTION_OK) {
      PQclear(PQexec(c, ("REVOKE SET ON PARAMETER session_replication_role FROM " + name).c_str()));
      PQclear(PQexec(c, ("DROP ROLE IF EXISTS " + name).c_str()));
    }
    PQfinish(c);
  }
};

// A MariaDB account 'name'@'%' for one test.
struct MariaUser {
  std::string name;
  explicit MariaUser(const std::string& tag) : name("cdc_" + tag + "_" + std::to_string(::getpid())) {
    maria_test::Maria m;
    m.exec("DROP USER IF EXISTS '" + name + "'@'%'");
    m.exec("CREATE USER '" + name + "'@'%'");
  }
  ~MariaUser() {
    try {
      maria_test::Maria m;
      m.exec("DROP USER IF EXISTS '" + name + "'@'%'");
    } catch (...) {
    }
  }
  std::string account() const { return "'" + name + "'@'%'"; }
};

// The grants docs/privileges.md gives, with `drop` left out of the list (by its exact text).
std::string grant_list(std::vector<std::string> privileges, const std::string& drop = "") {
  std::string out;
  for (const auto& p : privileges)
    if (p != drop) out += (out.empty() ? "" : ", ") + p;
  return out;
}

const std::vector<std::string> kMariaDestination = {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP",
                                                    "CREATE TEMPORARY TABLES"};

// PostgreSQL destination grants (docs/privileges.md) on database `db` to `role`.
void grant_pg_destination(const std::string& db, const std::string& role) {
  pg_test::Conn c(pg_test::db_url(db));
  c.exec("GRANT CREATE ON DATABASE " + db + " TO " + role);
  c.exec("GRANT CREATE ON SCHEMA public TO " + role);
  c.exec("GRANT SET ON PARAMETER session_replication_role TO " + role);
}

// Runs `replicate --until-idle` on `cfg`, which must succeed.
void replicated(Cli& cli, const std::string& cfg) {
  Run r = cli({"replicate", "-c", cfg, "--until-idle"});
  INFO(r.output);
  REQUIRE(r.code == 0);
}

}  // namespace

TEST_CASE("privileges: MariaDB source and PostgreSQL destination with exactly the documented grants", "[hetero][privileges]") {
  maria_test::MariaDb src("priv_ms");
  pg_test::TempDb dst("priv_pd");
  MariaUser reader("mr");
  PgRole writer("pw");
  writer.databases = {dst.name()};
  maria_test::Maria m;
  m.exec("CREATE TABLE " + src.name + ".items (id INT PRIMARY KEY, v VARCHAR(20), n DECIMAL(10,2))");
  m.exec("INSERT INTO " + src.name + ".items VALUES (1, 'a', 1.50), (2, NULL, 2.25), (3, 'c', NULL)");
  m.exec("GRANT SELECT ON " + src.name + ".* TO " + reader.account());
  m.exec("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO " + reader.account());
  grant_pg_destination(dst.name(), writer.name);

  const std::string source = as_user(maria_test::mariadb_url(src.name), reader.name);
  const std::string destination = as_user(dst.url(), writer.name);
  pg_test::Conn p(dst.url());
  auto same = [&] {
    return m.rows("SELECT id, v, n FROM " + src.name + ".items ORDER BY id") == p.rows("SELECT id, v, n FROM items ORDER BY id");
  };
  Cli cli;

  SECTION("copy and replicate work, every value equal") {
    Run copy = cli({"copy", source, destination});
    INFO(copy.output);
    REQUIRE(copy.code == 0);
    CHECK(same());
    const std::string cfg = cli.config("priv_mp", source, destination);
    replicated(cli, cfg);
    m.exec("INSERT INTO " + src.name + ".items VALUES (4, 'd', 4.00)");
    m.exec("UPDATE " + src.name + ".items SET v = 'b', n = 9.99 WHERE id = 2");
    m.exec("DELETE FROM " + src.name + ".items WHERE id = 1");
    replicated(cli, cfg);
    CHECK(p.rows("SELECT id, v, n FROM items ORDER BY id") ==
          std::vector<std::string>{"2 | b | 9.99", "3 | c | NULL", "4 | d | 4.00"});
    CHECK(same());
  }

  SECTION("incremental needs SELECT only") {
    m.exec("REVOKE REPLICATION SLAVE, BINLOG MONITOR ON *.* FROM " + reader.account());
    const std::string cfg = cli.config("priv_minc", source, destination, "tables: {items: {mode: incremental, watermark: id}}\n");
    replicated(cli, cfg);
    m.exec("INSERT INTO " + src.name + ".items VALUES (4, 'd', 4.00), (5, NULL, 0.01)");
    replicated(cli, cfg);
    CHECK(p.count("items") == 5);
    CHECK(same());
  }

  SECTION("the source without SELECT: the GRANT to add") {
    m.exec("REVOKE SELECT ON " + src.name + ".* FROM " + reader.account());
    Run r = cli({"copy", source, destination});
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(r.output.find("GRANT SELECT ON `" + src.name + "`.* TO " + reader.account()) != std::string::npos);
  }

  SECTION("the source without REPLICATION SLAVE: the GRANT to add, before any snapshot") {
    m.exec("REVOKE REPLICATION SLAVE ON *.* FROM " + reader.account());
    Run r = cli({"replicate", "-c", cli.config("priv_noslave", source, destination), "--until-idle"});
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(r.output.find("GRANT REPLICATION SLAVE ON *.* TO " + reader.account()) != std::string::npos);
    CHECK(p.count("items") == 0);  // stopped before the snapshot, not after it
  }

  SECTION("the source without BINLOG MONITOR: the GRANT to add") {
    m.exec("REVOKE BINLOG MONITOR ON *.* FROM " + reader.account());
    Run r = cli({"replicate", "-c", cli.config("priv_nomonitor", source, destination), "--until-idle"});
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(r.output.find("GRANT BINLOG MONITOR ON *.* TO " + reader.account()) != std::string::npos);
  }

  SECTION("the destination without CREATE on the database: the GRANT to add") {
    p.exec("REVOKE CREATE ON DATABASE " + dst.name() + " FROM " + writer.name);
    Run r = cli({"copy", source, destination});
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(r.output.find("GRANT CREATE ON DATABASE \"" + dst.name() + "\" TO \"" + writer.name + "\"") != std::string::npos);
  }

  SECTION("the destination without CREATE on its schema: the GRANT to add") {
    p.exec("REVOKE CREATE ON SCHEMA public FROM " + writer.name);
    Run r = cli({"copy", source, destination});
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(r.output.find("GRANT USAGE, CREATE ON SCHEMA \"public\" TO \"" + writer.name + "\"") != std::string::npos);
  }

  SECTION("the destination without TEMPORARY (granted to PUBLIC by default): the GRANT to add") {
    p.exec("REVOKE TEMPORARY ON DATABASE " + dst.name() + " FROM PUBLIC");
    const std::string cfg = cli.config("priv_notemp", source, destination);
    replicated(cli, cfg);  // the snapshot loads with COPY
    m.exec("UPDATE " + src.name + ".items SET v = 'x' WHERE id = 1");  // changes are staged in a temporary table
    Run r = cli({"replicate", "-c", cfg, "--until-idle"});
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(r.output.find("GRANT TEMPORARY ON DATABASE \"" + dst.name() + "\" TO \"" + writer.name + "\"") != std::string::npos);
  }

  SECTION("the destination without SET ON PARAMETER session_replication_role: cdc stops, no trigger fires") {
    // A target made beforehand, owned by the cdc user, whose trigger writes an audit row per row.
    p.exec("CREATE TABLE audit (id int, at timestamptz DEFAULT now())");
    p.exec("CREATE TABLE items (id int PRIMARY KEY, v varchar(20), n numeric(10,2))");
    p.exec("CREATE FUNCTION audit_items() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit (id) VALUES (NEW.id); "
           "RETURN NEW; END $$");
    p.exec("CREATE TRIGGER items_audit AFTER INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION audit_items()");
    p.exec("ALTER TABLE items OWNER TO " + writer.name);
    p.exec("GRANT INSERT ON audit TO " + writer.name);
    p.exec("REVOKE SET ON PARAMETER session_replication_role FROM " + writer.name);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"replicate", "-c", cli.config("priv_noset", source, destination), "--until-idle"},
          std::vector<std::string>{"copy", source, destination}}) {
      Run r = cli(args);
      INFO(r.output);
      CHECK(r.code != 0);
      CHECK(r.output.find("GRANT SET ON PARAMETER session_replication_role TO \"" + writer.name + "\"") != std::string::npos);
      CHECK(r.output.find("triggers and foreign keys would fire") != std::string::npos);
    }
    CHECK(p.count("items") == 0);
    CHECK(p.count("audit") == 0);
  }
}

TEST_CASE("privileges: PostgreSQL source and MariaDB destination with exactly the documented grants", "[hetero][privileges]") {
  pg_test::TempDb src("priv_ps");
  maria_test::MariaDb dst("priv_md");
  PgRole reader("pr");
  reader.databases = {src.name()};
  MariaUser writer("mw");
  pg_test::Conn s(src.url());
  s.exec("CREATE TABLE items (id int PRIMARY KEY, v varchar(20), n numeric(10,2))");
  s.exec("INSERT INTO items VALUES (1, 'a', 1.50), (2, NULL, 2.25), (3, 'c', NULL)");
  s.exec("CREATE INDEX items_v ON items (v)");  // a secondary index: the destination adds it with ALTER TABLE
  // The documented source grants: REPLICATION, SELECT, and a publication its owner made.
  s.exec("ALTER ROLE " + reader.name + " REPLICATION");
  s.exec("GRANT SELECT ON items TO " + reader.name);
  s.exec("CREATE PUBLICATION priv_pub FOR TABLE items WITH (publish_via_partition_root = true)");
  maria_test::Maria m;
  m.exec("GRANT " + grant_list(kMariaDestination) + " ON " + dst.name + ".* TO " + writer.account());

  const std::string url = src.url();
  auto source = [&](const std::string& params) { return as_user(url, reader.name, params); };
  const std::string destination = as_user(maria_test::mariadb_url(dst.name), writer.name);
  auto same = [&](const std::string& db) {
    return s.rows("SELECT id, v, n FROM items ORDER BY id") == m.rows("SELECT id, v, n FROM " + db + ".items ORDER BY id");
  };
  Cli cli;

  SECTION("copy, and replicate through a publication made beforehand, every value equal") {
    Run copy = cli({"copy", source(""), destination});
    INFO(copy.output);
    REQUIRE(copy.code == 0);
    CHECK(same(dst.name));
    const std::string cfg = cli.config("priv_pm", source("?publication=priv_pub&slot=priv_pm"), destination);
    replicated(cli, cfg);
    s.exec("INSERT INTO items VALUES (4, 'd', 4.00)");
    s.exec("UPDATE items SET v = 'b', n = 9.99 WHERE id = 2");
    s.exec("DELETE FROM items WHERE id = 1");
    replicated(cli, cfg);
    CHECK(m.rows("SELECT id, v, n FROM " + dst.name + ".items ORDER BY id") ==
          std::vector<std::string>{"2 | b | 9.99", "3 | c | NULL", "4 | d | 4.00"});
    CHECK(same(dst.name));
    CHECK(cli({"teardown", "-c", cfg}).code == 0);
  }

  SECTION("replicate with its own publication: the table's owner, CREATE on the database") {
    s.exec("ALTER TABLE items OWNER TO " + reader.name);
    s.exec("GRANT CREATE ON DATABASE " + src.name() + " TO " + reader.name);
    const std::string cfg = cli.config("priv_own", source("?slot=priv_own"), destination);
    replicated(cli, cfg);
    s.exec("UPDATE items SET v = 'z' WHERE id = 3");
    replicated(cli, cfg);
    CHECK(same(dst.name));
    CHECK(cli({"teardown", "-c", cfg}).code == 0);
  }

  SECTION("incremental needs SELECT only") {
    s.exec("ALTER ROLE " + reader.name + " NOREPLICATION");
    const std::string cfg = cli.config("priv_pinc", source(""), destination, "tables: {items: {mode: incremental, watermark: id}}\n");
    replicated(cli, cfg);
    s.exec("INSERT INTO items VALUES (4, 'd', 4.00), (5, NULL, 0.01)");
    replicated(cli, cfg);
    CHECK(m.rows("SELECT count(*) FROM " + dst.name + ".items") == std::vector<std::string>{"5"});
    CHECK(same(dst.name));
  }

  SECTION("the source without SELECT: the GRANT to add") {
    s.exec("REVOKE SELECT ON items FROM " + reader.name);
    Run r = cli({"copy", source(""), destination});
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(r.output.find("GRANT SELECT ON TABLE \"items\" TO \"" + reader.name + "\"") != std::string::npos);
  }

  SECTION("the source without REPLICATION: the ALTER ROLE to run") {
    s.exec("ALTER ROLE " + reader.name + " NOREPLICATION");
    Run r = cli({"replicate", "-c", cli.config("priv_norep", source("?publication=priv_pub&slot=priv_norep"), destination),
                 "--until-idle"});
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(r.output.find("ALTER ROLE \"" + reader.name + "\" REPLICATION") != std::string::npos);
  }

  SECTION("its own publication on a table it does not own: ownership or publication= named") {
    s.exec("GRANT CREATE ON DATABASE " + src.name() + " TO " + reader.name);
    Run r = cli({"replicate", "-c", cli.config("priv_noown", source("?slot=priv_noown"), destination), "--until-idle"});
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(r.output.find("ALTER TABLE \"items\" OWNER TO \"" + reader.name + "\"") != std::string::npos);
    CHECK(r.output.find("publication=NAME") != std::string::npos);
  }

  SECTION("its own publication without CREATE on the database: the GRANT to add") {
    s.exec("ALTER TABLE items OWNER TO " + reader.name);
    Run r = cli({"replicate", "-c", cli.config("priv_nocreate", source("?slot=priv_nocreate"), destination), "--until-idle"});
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(r.output.find("GRANT CREATE ON DATABASE \"" + src.name() + "\" TO \"" + reader.name + "\"") != std::string::npos);
  }

  SECTION("the destination without CREATE TEMPORARY TABLES: a backfill names the GRANT") {
    maria_test::MariaDb fresh("priv_mtmp");
    m.exec("GRANT " + grant_list(kMariaDestination, "CREATE TEMPORARY TABLES") + " ON " + fresh.name + ".* TO " +
           writer.account());
    const std::string to = as_user(maria_test::mariadb_url(fresh.name), writer.name);
    // A failed table is otherwise tried again after a cooldown (a grant added meanwhile is then used).
    const std::string cfg = cli.config("priv_mtmp", source("?publication=priv_pub&slot=priv_mtmp"), to, "stop_on_error: true\n");
    replicated(cli, cfg);
    // A type change that rewrites the values: the column is read again (a backfill, staged in a
    // temporary table).
    s.exec("ALTER TABLE items ALTER COLUMN n TYPE numeric(12,2) USING n * 10");
    s.exec("UPDATE items SET v = 'q' WHERE id = 1");
    Run r = cli({"replicate", "-c", cfg, "--until-idle"});
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(r.output.find("CREATE TEMPORARY TABLES ON `" + fresh.name + "`.* TO " + writer.account()) != std::string::npos);
    CHECK(cli({"teardown", "-c", cfg}).code == 0);
  }

  SECTION("the destination without each of its grants in turn: the GRANT to add") {
    // DROP and CREATE TEMPORARY TABLES serve resyncs and backfills only, which a copy does not run.
    for (const std::string missing : {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER"}) {
      maria_test::MariaDb fresh("priv_m" + std::to_string(missing.size()) + missing.substr(0, 2));
      m.exec("GRANT " + grant_list(kMariaDestination, missing) + " ON " + fresh.name + ".* TO " + writer.account());
      Run r = cli({"copy", source(""), as_user(maria_test::mariadb_url(fresh.name), writer.name)});
      INFO(missing << ": " << r.output);
      // ALTER only adds secondary objects: the copy goes on and reports each one not created.
      if (missing != "ALTER") CHECK(r.code != 0);
      CHECK(r.output.find("GRANT " + missing + " ON `" + fresh.name + "`.* TO " + writer.account()) != std::string::npos);
    }
  }
}
