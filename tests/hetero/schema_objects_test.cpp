// Schema objects carried by a migration (docs/schema-objects.md), against both throwaway servers:
// MariaDB -> PostgreSQL, PostgreSQL -> MariaDB and SQLite -> both, each with parents and children
// (composite and unique indexes, foreign keys with CASCADE and SET NULL, identity columns,
// defaults, a CHECK, a generated column, comments, and an index the target cannot have). After
// the copy and `finish` the objects are there and work: an insert without an id gets one past
// the copied ones, defaults fill in, a generated column computes, a CHECK and a foreign key
// refuse what breaks them, CASCADE and SET NULL act. A replication with the foreign keys on the
// target applies a child before its parent.
#include "maria_test_util.h"
#include "pg_test_util.h"
#include "session_test_util.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <mutex>

namespace {

using namespace maria_test;
using namespace hetero_test;
using pg_test::eventually;

// Keeps the log records' messages for the scope (and lets them through at info level).
class LogCapture final : public cdc::LogSink {
 public:
  LogCapture() : previous_(cdc::log_sink()), level_(cdc::log_level()) {}
  void write(const cdc::LogRecord& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(r.message);
  }
  bool has(const std::string& text) const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::find(lines_.begin(), lines_.end(), text) != lines_.end();
  }
  std::string all() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }
  std::shared_ptr<cdc::LogSink> previous_;
  cdc::LogLevel level_;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

struct Captured {
  std::shared_ptr<LogCapture> log = std::make_shared<LogCapture>();
  Captured() {
    cdc::set_log_sink(log);
    cdc::set_log_level(cdc::LogLevel::Info);
  }
  ~Captured() {
    cdc::set_log_sink(log->previous_);
    cdc::set_log_level(log->level_);
  }
};

bool has(const std::vector<std::string>& entries, const std::string& text) {
  for (const auto& e : entries)
    if (e == text) return true;
  for (const auto& e : entries) UNSCOPED_INFO("  " << e);
  return false;
}

// The error PostgreSQL gives for `sql`, or "" when it succeeds.
std::string pg_error(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  PGresult* r = PQexec(c, sql.c_str());
  std::string err = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? "" : PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  return err;
}

// The error MariaDB gives for `sql` in database `db` (a session with the server's defaults:
// foreign key and CHECK checks on), or "" when it succeeds.
std::string maria_error(const std::string& db, const std::string& sql) {
  auto u = cdc::ConnectorUrl::parse(mariadb_base_url());
  MYSQL* m = mysql_init(nullptr);
  if (!mysql_real_connect(m, u.host.c_str(), u.user.c_str(), u.password.empty() ? nullptr : u.password.c_str(), db.c_str(),
                          static_cast<unsigned>(u.port), nullptr, 0))
    FAIL("MariaDB connect: " << mysql_error(m));
  std::string err = mysql_real_query(m, sql.data(), sql.size()) == 0 ? "" : mysql_error(m);
  if (MYSQL_RES* r = mysql_store_result(m)) mysql_free_result(r);
  mysql_close(m);
  return err;
}

void sqlite_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string message = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  if (rc != SQLITE_OK) FAIL("SQLite: " << message);
}

const char* kMariaShop = R"SQL(
CREATE TABLE customers (
  id INT AUTO_INCREMENT PRIMARY KEY,
  email VARCHAR(100) NOT NULL,
  name VARCHAR(50) NOT NULL DEFAULT 'anon',
  bio TEXT,
  created DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY email_uq (email),
  FULLTEXT KEY bio_ft (bio)
) COMMENT 'people who buy';
CREATE TABLE orders (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  customer_id INT NULL,
  qty INT NOT NULL DEFAULT 1,
  price DECIMAL(10,2) NOT NULL,
  total DECIMAL(12,2) AS (qty * price) STORED,
  status VARCHAR(10) NOT NULL DEFAULT 'new' COMMENT 'workflow state',
  KEY cust_status (customer_id, status),
  CONSTRAINT qty_positive CHECK (qty > 0),
  CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE SET NULL
);
CREATE TABLE order_lines (
  order_id BIGINT NOT NULL, line INT NOT NULL, sku VARCHAR(20) NOT NULL,
  PRIMARY KEY (order_id, line),
  CONSTRAINT lines_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE
))SQL";

const char* kMariaShopRows[] = {
    "INSERT INTO customers (email, name, bio) VALUES ('a@x', 'Ann', 'likes tea'), ('b@x', 'Bob', NULL), ('c@x', 'Cy', 'coffee')",
    ("INSERT INTO orders (customer_id, qty, price, status) VALUES (1, 2, 9.50, 'paid'), (1, 1, 3.00, 'new'), (2, 5, 1.25, 'new'), "
     "(NULL, 1, 7.00, 'new')"),
    "INSERT INTO order_lines VALUES (1, 1, 'tea'), (1, 2, 'cup'), (2, 1, 'pot'), (3, 1, 'bag')"};

}  // namespace

TEST_CASE("schema objects: MariaDB to PostgreSQL, copy then finish", "[hetero][schema_objects]") {
  MariaDb src("objs");
  pg_test::TempDb pg("objs");
  {
    Maria m;
    m.exec("USE " + src.name);
    const std::string all(kMariaShop);  // one statement per ";\n"
    for (std::size_t at = 0; at < all.size();) {
      auto end = all.find(";\n", at);
      std::string one = all.substr(at, end == std::string::npos ? std::string::npos : end - at);
      if (one.find_first_not_of(" \n") != std::string::npos) m.exec(one);
      if (end == std::string::npos) break;
      at = end + 2;
    }
    for (const char* rows : kMariaShopRows) m.exec(rows);
  }
  cdc::Config config;
  config.source = mariadb_url(src.name);
  config.destination = pg.url();
  Captured captured;
  check_done(copy_once(config));
  // What PostgreSQL cannot have is said, with the reason.
  CHECK(captured.log->has("not created: index bio_ft on customers (bio): PostgreSQL has no FULLTEXT index"));

  pg_test::Conn p(pg.url());
  CHECK(p.rows("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1") ==
        std::vector<std::string>{"customers_email_uq", "customers_pkey", "order_lines_pkey", "orders_cust_status", "orders_pkey"});
  CHECK(p.rows("SELECT indexdef FROM pg_indexes WHERE indexname = 'orders_cust_status'") ==
        std::vector<std::string>{"CREATE INDEX orders_cust_status ON public.orders USING btree (customer_id, status)"});
  // Unique keys are plain indexes while changes are applied (finish makes them unique), and a
  // CHECK translated from MariaDB waits for finish too: neither may refuse a row the source took.
  CHECK(p.scalar("SELECT indisunique FROM pg_index WHERE indexrelid = 'customers_email_uq'::regclass") == "f");
  CHECK(p.scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conrelid = 'orders'::regclass") == "0");
  CHECK(captured.log->has("created CHECK qty_positive on public.orders ((\"qty\" > 0)): added by finish (translated from MariaDB, it "
                          "could refuse a row the source accepted)"));
  CHECK(p.scalar("SELECT attgenerated FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'total'") == "s");
  CHECK(p.scalar("SELECT obj_description('customers'::regclass, 'pg_class')") == "people who buy");
  CHECK(p.scalar("SELECT col_description('orders'::regclass, 6)") == "workflow state");
  CHECK(p.rows("SELECT id, total FROM orders ORDER BY id") ==
        std::vector<std::string>{"1 | 19.00", "2 | 3.00", "3 | 6.25", "4 | 7.00"});

  // The copy created the foreign keys among the tables it loaded, NOT VALID: finish validates them.
  CHECK(p.rows("SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' ORDER BY 1") ==
        std::vector<std::string>{"lines_order | f", "orders_customer | f"});

  // The cut-over: foreign keys validated, the CHECK validated, sequences set.
  cdc::SchemaObjectReport report = cdc::finish_migration(config);
  CHECK(has(report.skipped, "index bio_ft on customers (bio): PostgreSQL has no FULLTEXT index"));
  CHECK(has(report.created, "foreign key orders_customer on public.orders: validated"));
  CHECK(has(report.created, "foreign key lines_order on public.order_lines: validated"));
  CHECK(has(report.created, "CHECK qty_positive on public.orders: validated"));
  CHECK(has(report.created, "identity column public.orders.id: sequence continues after 4"));
  CHECK(has(report.created, "unique index customers_email_uq on public.customers (email): made unique"));
  CHECK(p.rows("SELECT contype, condeferrable FROM pg_constraint WHERE conname = 'customers_email_uq'") ==
        std::vector<std::string>{"u | f"});
  CHECK(p.rows("SELECT conname, convalidated FROM pg_constraint WHERE contype = 'c' AND conrelid = 'orders'::regclass") ==
        std::vector<std::string>{"qty_positive | t"});
  CHECK(p.rows("SELECT conrelid::regclass::text, conname, confdeltype, convalidated FROM pg_constraint WHERE contype = 'f' ORDER BY 2") ==
        std::vector<std::string>{"order_lines | lines_order | c | t", "orders | orders_customer | n | t"});
  CHECK(p.rows("SELECT attname, attidentity FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attname = 'id'") ==
        std::vector<std::string>{"id | d"});

  // An application writing to the target: ids past the copied ones, defaults, the generated
  // column, the CHECK and the foreign keys.
  CHECK(p.scalar("INSERT INTO customers (email) VALUES ('new@x') RETURNING id || ' ' || name || ' ' || (created IS NOT NULL)") ==
        "4 anon true");
  CHECK(p.scalar("INSERT INTO orders (customer_id, price) VALUES (4, 2.50) RETURNING id || ' ' || qty || ' ' || status || ' ' || total") ==
        "5 1 new 2.50");
  CHECK(pg_error(pg.url(), "INSERT INTO orders (customer_id, qty, price) VALUES (1, 0, 1)").find("qty_positive") != std::string::npos);
  CHECK(pg_error(pg.url(), "INSERT INTO order_lines VALUES (999, 1, 'x')").find("lines_order") != std::string::npos);
  CHECK(pg_error(pg.url(), "INSERT INTO customers (email) VALUES ('a@x')").find("customers_email_uq") != std::string::npos);
  p.exec("DELETE FROM customers WHERE id = 2");
  CHECK(p.scalar("SELECT coalesce(customer_id::text, 'null') FROM orders WHERE id = 3") == "null");  // SET NULL
  p.exec("DELETE FROM orders WHERE id = 1");
  CHECK(p.count("order_lines") == 2);  // CASCADE

  // Running it again changes nothing and fails nothing.
  cdc::SchemaObjectReport again = cdc::finish_migration(config);
  for (const auto& s : again.skipped) CHECK(s.find("PostgreSQL has no FULLTEXT") != std::string::npos);

  // A copy run again empties tables that foreign keys reference (DELETE: PostgreSQL refuses to
  // TRUNCATE them alone) and loads the source's rows again, the objects staying as they are.
  check_done(copy_once(config));
  check_equal(pg_test::verify_with(config), 3);
  CHECK(p.scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated") == "2");
}

TEST_CASE("schema objects: PostgreSQL to MariaDB, copy then finish", "[hetero][schema_objects]") {
  pg_test::TempDb pg("objsrc");
  MariaDb dst("objdst");
  {
    pg_test::Conn p(pg.url());
    p.exec("CREATE TABLE parents (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, code varchar(20) NOT NULL UNIQUE, "
           "note text, created timestamptz NOT NULL DEFAULT now())");
    p.exec("COMMENT ON TABLE parents IS 'the parents'");
    p.exec("CREATE TABLE kids (id serial PRIMARY KEY, parent_id bigint REFERENCES parents (id) ON DELETE CASCADE, "
           "guardian_id bigint REFERENCES parents (id) ON DELETE SET NULL, qty int NOT NULL DEFAULT 1 CHECK (qty > 0), "
           "price numeric(10,2) NOT NULL DEFAULT 0, total numeric GENERATED ALWAYS AS (qty * price) STORED, "
           "state varchar(10) NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'done')), tags text)");
    p.exec("CREATE INDEX kids_parent_state ON kids (parent_id, state)");
    p.exec("CREATE INDEX kids_tags ON kids USING gin (to_tsvector('simple', tags))");
    p.exec("CREATE INDEX kids_open ON kids (qty) WHERE state = 'new'");
    p.exec("COMMENT ON COLUMN kids.qty IS 'how many'");
    p.exec("INSERT INTO parents (code, note) VALUES ('p1', 'one'), ('p2', 'two'), ('p3', NULL)");
    p.exec("INSERT INTO kids (parent_id, guardian_id, qty, price, state, tags) VALUES (1, 2, 2, 1.50, 'new', 'a b'), "
           "(1, NULL, 1, 4.00, 'done', NULL), (2, 3, 3, 0.25, 'new', 'c')");
  }
  cdc::Config config;
  config.source = pg.url();
  config.destination = mariadb_url(dst.name);
  Captured captured;
  check_done(copy_once(config));
  INFO(captured.log->all());
  CHECK(captured.log->has("not created: index kids_tags on kids (to_tsvector('simple'::regconfig, tags)): GIN index: "
                          "MariaDB has no such index"));
  CHECK(captured.log->has("not created: index kids_open on kids: MariaDB has no partial indexes (WHERE state::text = 'new'::text)"));

  Maria m;
  m.exec("USE " + dst.name);
  CHECK(m.rows("SELECT INDEX_NAME, NON_UNIQUE, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM information_schema.STATISTICS "
               "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('kids', 'parents') GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE "
               "ORDER BY TABLE_NAME, INDEX_NAME") ==
        std::vector<std::string>{"kids_guardian_id_fkey | 1 | guardian_id",  // MariaDB's own index for the foreign key
                                 "kids_parent_state | 1 | parent_id,state", "PRIMARY | 0 | id", "parents_code_key | 1 | code",
                                 "PRIMARY | 0 | id"});
  // The copy created the foreign keys among the tables it loaded (finish checks the rows).
  CHECK(m.rows("SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() "
               "ORDER BY 1") == std::vector<std::string>{"kids_guardian_id_fkey", "kids_parent_id_fkey"});
  CHECK(m.rows("SELECT COLUMN_NAME, EXTRA, COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
               "TABLE_NAME = 'kids' AND COLUMN_NAME IN ('id', 'qty', 'total', 'state') ORDER BY ORDINAL_POSITION") ==
        std::vector<std::string>{"id | auto_increment | NULL", "qty |  | 1", "total | STORED GENERATED | NULL", "state |  | 'new'"});
  CHECK(m.rows("SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'parents'") ==
        std::vector<std::string>{"the parents"});
  CHECK(m.rows("SELECT COLUMN_COMMENT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'kids' "
               "AND COLUMN_NAME = 'qty'") == std::vector<std::string>{"how many"});
  CHECK(m.rows("SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() "
               "ORDER BY 1") ==
        std::vector<std::string>{"kids_qty_check | `qty` > 0", "kids_state_check | `state` in ('new','done')"});
  CHECK(m.rows("SELECT id, total FROM kids ORDER BY id") == std::vector<std::string>{"1 | 3.000000000000000000000000000000",
                                                                                    "2 | 4.000000000000000000000000000000",
                                                                                    "3 | 0.750000000000000000000000000000"});

  cdc::SchemaObjectReport report = cdc::finish_migration(config);
  CHECK(has(report.created, "unique index parents_code_key on parents (code): made unique"));
  CHECK(has(report.created, "foreign key kids_parent_id_fkey on kids: checked, every row has its parent"));
  CHECK(has(report.created, "foreign key kids_guardian_id_fkey on kids: checked, every row has its parent"));
  CHECK(has(report.created, "CHECK kids_qty_check on kids: checked, every row passes"));
  CHECK(has(report.created, "AUTO_INCREMENT of column parents.id: continues after 3"));
  CHECK(m.rows("SELECT CONSTRAINT_NAME, DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() "
               "ORDER BY 1") == std::vector<std::string>{"kids_guardian_id_fkey | SET NULL", "kids_parent_id_fkey | CASCADE"});

  m.exec("INSERT INTO parents (code) VALUES ('p4')");
  CHECK(m.rows("SELECT id, created IS NOT NULL FROM parents WHERE code = 'p4'") == std::vector<std::string>{"4 | 1"});
  m.exec("INSERT INTO kids (parent_id, price) VALUES (4, 2.50)");
  CHECK(m.rows("SELECT id, qty, state, total FROM kids WHERE parent_id = 4") ==
        std::vector<std::string>{"4 | 1 | new | 2.500000000000000000000000000000"});
  CHECK(maria_error(dst.name, "INSERT INTO kids (parent_id, price) VALUES (999, 1)").find("kids_parent_id_fkey") != std::string::npos);
  CHECK(maria_error(dst.name, "INSERT INTO kids (parent_id, qty, price) VALUES (1, 0, 1)").find("kids_qty_check") != std::string::npos);
  CHECK(maria_error(dst.name, "INSERT INTO parents (code) VALUES ('p1')").find("Duplicate") != std::string::npos);
  CHECK(maria_error(dst.name, "DELETE FROM parents WHERE id = 3").empty());
  CHECK(m.rows("SELECT id, COALESCE(guardian_id, 'null') FROM kids WHERE id = 3") == std::vector<std::string>{"3 | null"});
  CHECK(maria_error(dst.name, "DELETE FROM parents WHERE id = 1").empty());
  CHECK(m.rows("SELECT COUNT(*) FROM kids WHERE parent_id = 1") == std::vector<std::string>{"0"});
}

TEST_CASE("schema objects: SQLite to PostgreSQL and to MariaDB", "[hetero][schema_objects]") {
  pg_test::TempDir dir;
  const std::string path = dir.file("books.db");
  sqlite_exec(path, R"SQL(
    CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, joined TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
    CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES authors (id) ON DELETE CASCADE,
      editor_id INTEGER REFERENCES authors (id) ON DELETE SET NULL, title TEXT NOT NULL,
      pages INT NOT NULL DEFAULT 100 CHECK (pages > 0), words INT GENERATED ALWAYS AS (pages * 300) STORED);
    CREATE INDEX books_author_title ON books (author_id, title);
    INSERT INTO authors (id, name) VALUES (1, 'Austen'), (2, 'Brontë'), (7, 'Carroll');
    INSERT INTO books (id, author_id, editor_id, title, pages) VALUES (1, 1, 2, 'Emma', 400), (2, 2, 7, 'Villette', 500),
      (3, 7, NULL, 'Alice', 200);)SQL");
  const std::string source = "sqlite://" + path;

  SECTION("to PostgreSQL") {
    pg_test::TempDb pg("books");
    cdc::Config config;
    config.source = source;
    config.destination = pg.url();
    check_done(copy_once(config));
    auto report = cdc::finish_migration(config);
    for (const auto& s : report.skipped) FAIL_CHECK("not done: " << s);
    pg_test::Conn p(pg.url());
    CHECK(p.rows("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1") ==
          std::vector<std::string>{"authors_name_key", "authors_pkey", "books_author_title", "books_pkey"});
    CHECK(p.rows("SELECT conname, confdeltype, convalidated FROM pg_constraint WHERE contype = 'f' ORDER BY 1") ==
          std::vector<std::string>{"books_author_id_fkey | c | t", "books_editor_id_fkey | n | t"});
    CHECK(p.scalar("INSERT INTO authors (name) VALUES ('Dickens') RETURNING id || ' ' || (joined IS NOT NULL)") == "8 true");
    CHECK(p.scalar("INSERT INTO books (author_id, title) VALUES (8, 'Bleak House') RETURNING id || ' ' || pages || ' ' || words") ==
          "4 100 30000");
    CHECK(pg_error(pg.url(), "INSERT INTO books (author_id, title, pages) VALUES (1, 'x', 0)").find("books_check") != std::string::npos);
    CHECK(pg_error(pg.url(), "INSERT INTO books (author_id, title) VALUES (99, 'x')").find("books_author_id_fkey") != std::string::npos);
    p.exec("DELETE FROM authors WHERE id = 7");
    CHECK(p.rows("SELECT id, coalesce(editor_id::text, 'null') FROM books ORDER BY id") ==
          std::vector<std::string>{"1 | 2", "2 | null", "4 | null"});  // 3 went with its author (CASCADE)
  }
  SECTION("to MariaDB") {
    MariaDb dst("books");
    cdc::Config config;
    config.source = source;
    config.destination = mariadb_url(dst.name);
    Captured captured;
    check_done(copy_once(config));
    CHECK(captured.log->has("not created: index books_author_title on books: column title is indexed by its first 255 characters "
                            "(MariaDB indexes long text by a prefix)"));
    auto report = cdc::finish_migration(config);
    CHECK(has(report.created, "unique index authors_name_key on authors (name): made unique"));
    Maria m;
    m.exec("USE " + dst.name);
    CHECK(m.rows("SELECT INDEX_NAME, NON_UNIQUE, INDEX_TYPE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND "
                 "TABLE_NAME = 'authors' AND INDEX_NAME <> 'PRIMARY'") == std::vector<std::string>{"authors_name_key | 0 | HASH"});
    m.exec("INSERT INTO authors (name) VALUES ('Dickens')");
    CHECK(m.rows("SELECT id, joined IS NOT NULL FROM authors WHERE name = 'Dickens'") == std::vector<std::string>{"8 | 1"});
    m.exec("INSERT INTO books (author_id, title) VALUES (8, 'Bleak House')");
    CHECK(m.rows("SELECT id, pages, words FROM books WHERE author_id = 8") == std::vector<std::string>{"4 | 100 | 30000"});
    CHECK(maria_error(dst.name, "INSERT INTO books (author_id, title) VALUES (99, 'x')").find("books_author_id_fkey") != std::string::npos);
    CHECK(maria_error(dst.name, "INSERT INTO authors (name) VALUES ('Austen')").find("Duplicate") != std::string::npos);
    CHECK(maria_error(dst.name, "DELETE FROM authors WHERE id = 1").empty());
    CHECK(m.rows("SELECT COUNT(*) FROM books WHERE author_id = 1") == std::vector<std::string>{"0"});
  }
}

TEST_CASE("schema objects: replication applies a child before its parent with the foreign keys on the target",
          "[hetero][schema_objects]") {
  SECTION("MariaDB to PostgreSQL") {
    MariaDb src("ooo");
    pg_test::TempDb pg("ooo");
    {
      Maria m;
      m.exec("USE " + src.name);
      m.exec("CREATE TABLE parents (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)");
      m.exec("CREATE TABLE children (id INT PRIMARY KEY, parent_id INT, CONSTRAINT child_parent FOREIGN KEY (parent_id) "
             "REFERENCES parents (id) ON DELETE SET NULL)");
      m.exec("INSERT INTO parents VALUES (1, 'one')");
      m.exec("INSERT INTO children VALUES (1, 1)");
    }
    cdc::Config config = stream_config(mariadb_url(src.name), pg.url());
    cdc::ReplicationSession session(config);
    session.start();
    pg_test::Conn p(pg.url());
    // The foreign key is there once the first snapshot phase is in, before any change applies.
    REQUIRE(eventually([&] {
      return session.status().state == cdc::SessionState::Streaming &&
             p.scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conname = 'child_parent'") == "1";
    }));
    {
      Maria m;
      m.exec("USE " + src.name);
      // The source itself lets the child come first (checks off), then its parent.
      m.exec("SET foreign_key_checks = 0");
      m.exec("INSERT INTO children VALUES (2, 500)");
      m.exec("UPDATE children SET parent_id = 501 WHERE id = 1");
      m.exec("INSERT INTO parents VALUES (500, 'late'), (501, 'later')");
      m.exec("SET foreign_key_checks = 1");
    }
    REQUIRE(eventually([&] { return p.count("parents") == 3 && p.scalar("SELECT parent_id FROM children WHERE id = 1") == "501"; }));
    for (const auto& t : session.status().tables) {
      INFO(t.source << ": " << t.error);
      CHECK(t.phase == cdc::TablePhase::Streaming);
      CHECK(t.error.empty());
    }
    stop_streaming(session);
    auto report = cdc::finish_migration(config);
    CHECK(has(report.created, "foreign key child_parent on public.children: validated"));
    CHECK(pg_error(pg.url(), "INSERT INTO children VALUES (9, 999)").find("child_parent") != std::string::npos);
    check_equal(pg_test::verify_with(config), 2);
  }
  SECTION("PostgreSQL to MariaDB") {
    pg_test::TempDb pg("ooosrc");
    MariaDb dst("ooodst");
    {
      pg_test::Conn p(pg.url());
      p.exec("CREATE TABLE parents (id int PRIMARY KEY, name text NOT NULL)");
      p.exec("CREATE TABLE children (id int PRIMARY KEY, parent_id int CONSTRAINT child_parent REFERENCES parents (id) ON DELETE CASCADE)");
      p.exec("INSERT INTO parents VALUES (1, 'one')");
      p.exec("INSERT INTO children VALUES (1, 1)");
    }
    cdc::Config config = stream_config(pg.url(), mariadb_url(dst.name));
    cdc::ReplicationSession session(config);
    session.start();
    Maria m;
    m.exec("USE " + dst.name);
    REQUIRE(eventually([&] {
      return session.status().state == cdc::SessionState::Streaming &&
             m.rows("SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()") ==
                 std::vector<std::string>{"1"};
    }));
    {
      pg_test::Conn p(pg.url());
      // The source lets the child come first (its triggers, foreign keys' included, off), then the parent.
      p.exec("BEGIN; SET LOCAL session_replication_role = replica; INSERT INTO children VALUES (2, 500); COMMIT");
      p.exec("INSERT INTO parents VALUES (500, 'late')");
      p.exec("DELETE FROM parents WHERE id = 1");  // cascades at the source; the cascaded delete is logged
    }
    REQUIRE(eventually([&] { return m.rows("SELECT COUNT(*) FROM parents") == std::vector<std::string>{"1"} &&
                                    m.rows("SELECT id FROM children ORDER BY id") == std::vector<std::string>{"2"}; }));
    for (const auto& t : session.status().tables) {
      INFO(t.source << ": " << t.error);
      CHECK(t.phase == cdc::TablePhase::Streaming);
    }
    stop_streaming(session);
    auto report = cdc::finish_migration(config);
    CHECK(has(report.created, "foreign key child_parent on children: checked, every row has its parent"));
    CHECK(maria_error(dst.name, "INSERT INTO children VALUES (9, 999)").find("child_parent") != std::string::npos);
    check_equal(pg_test::verify_with(config), 2);
  }
}
