// MariaDB connector against a real server (the mariadb_server_start fixture, or
// CDC_MYSQL_TEST_URL): discovery, exact values through snapshot and stream, chunking of unsigned
// and composite keys, destination apply semantics, copies MariaDB<->MariaDB/SQLite, replication
// under concurrent writes, ALTER TABLE and FLUSH BINARY LOGS mid-stream, purged positions, and
// SIGKILL of cdc-cli mid-snapshot and mid-stream. Every test works in its own databases.
#include "mysql/binlog_stream.h"
#include "mysql/mysql_conn.h"
#include "mysql_test_util.h"
#include "support/cli_process.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <limits>
#include <set>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace cdc;
using cdc::mysql::Conn;
using cdc::mysql::ConnParams;
using mysql_test::base_url;
using mysql_test::connect;
using mysql_test::Dbs;
using mysql_test::url_for;

namespace {

Column make_column(std::string name, LogicalType type, bool nullable) {
  Column c;
  c.name = std::move(name);
  c.type = std::move(type);
  c.nullable = nullable;
  return c;
}


LogicalType lt(TypeId id) {
  LogicalType t;
  t.id = id;
  return t;
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "cdc-mysql-XXXXXX").string();
    if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& n) const { return path + "/" + n; }
};

std::vector<Row> read_all(SourceConnector& src, const TableSchema& schema, const SnapshotChunk& chunk = {}) {
  ReadRequest req;
  req.schema = schema;
  req.chunk = chunk;
  req.batch_size = 7;
  auto r = src.read_chunk(req);
  std::vector<Row> all, batch;
  while (r->next(batch))
    for (auto& row : batch) all.push_back(row);
  return all;
}

TableSchema table_of(SourceConnector& src, const std::string& name) {
  auto t = src.discover([&](const TableId& id) { return id.name == name; });
  REQUIRE(t.size() == 1);
  return t[0];
}

// Polls a stream until `n` row events arrived (or 20 s passed).
std::vector<ChangeEvent> poll_events(ChangeStream& s, std::size_t n) {
  std::vector<ChangeEvent> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) s.poll(out, 1000, std::chrono::milliseconds(200));
  return out;
}

void check_row(const Row& got, const Row& want, const TableSchema& schema) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("column " << schema.columns[i].name << ": got " << got[i].to_display(200) << " want " << want[i].to_display(200));
    CHECK(got[i] == want[i]);
  }
}

bool verify_equal(const std::string& a, const std::string& b, std::string* detail = nullptr) {
  VerifyOptions o;
  auto rep = verify(a, b, o);
  if (detail) {
    detail->clear();
    for (auto& t : rep.tables) {
      *detail += t.source + ": " + (t.equal ? "equal" : "DIFF " + t.error);
      for (auto& k : t.differing_keys) *detail += " [" + k + "]";
      *detail += "\n";
    }
  }
  return rep.all_equal();
}

// verify() reports every table of `a` equal in `b` (each table's verdict is shown on failure).
void check_equal(const std::string& a, const std::string& b) {
  std::string why;
  bool equal = verify_equal(a, b, &why);
  INFO(why);
  CHECK(equal);
}

// The edge-value table of issue 4: one column per type, rows at the extremes.
std::string members(const char* prefix, int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += (i > 1 ? "," : "") + std::string("'") + prefix + std::to_string(i) + "'";
  return s;
}

std::string edge_ddl() {
  return "CREATE TABLE edge (id INT NOT NULL PRIMARY KEY, "
         "ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, mu MEDIUMINT UNSIGNED, "
         "ii INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED, "
         "d65 DECIMAL(65,30), d10 DECIMAL(10,2), d0 DECIMAL(5,0), f FLOAT, dbl DOUBLE, "
         "dt DATE, dtm0 DATETIME, dtm6 DATETIME(6), dtm3 DATETIME(3), ts TIMESTAMP(6) NULL, "
         "t0 TIME, t1 TIME(1), t4 TIME(4), t6 TIME(6), y YEAR, "
         "b1 BIT(1), b10 BIT(10), b64 BIT(64), "
         "e ENUM(" + members("e", 300) + "), s SET(" + members("s", 64) + "), "
         "u8 VARCHAR(100), l1 VARCHAR(100) CHARACTER SET latin1, ch CHAR(10), "
         "bin BINARY(8), vb VARBINARY(100), bl BLOB, tx TEXT, j JSON) ENGINE=InnoDB";
}

// Rows as SQL and the Values cdc must read for them.
struct EdgeRow {
  std::string sql;
  Row want;
};

std::vector<EdgeRow> edge_rows() {
  std::string all_set;
  for (int i = 1; i <= 64; ++i) all_set += (i > 1 ? "," : "") + std::string("s") + std::to_string(i);
  std::vector<EdgeRow> rows;
  rows.push_back(
      {"(1, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, "
       "18446744073709551615, 99999999999999999999999999999999999.999999999999999999999999999999, 99999999.99, 99999, "
       "3.40282e38, 1.7976931348623157e308, '9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999999', "
       "'2024-02-29 13:01:02.125', '2038-01-19 03:14:07.999999', '838:59:59', '838:59:59.9', '-00:00:00.0100', "
       "'-00:00:00.010000', 2155, b'1', b'1111111111', 18446744073709551615, 'e300', '" + all_set + "', "
       "'emoji \xf0\x9f\x98\x80 \xe2\x82\xac', 'caf\xc3\xa9 \xe2\x82\xac', 'abc', x'0000ff0000', x'00ff0000', x'000102', "
       "'text \xf0\x9f\x8e\x89', '{\"k\": [1, 2.5, \"\xf0\x9f\x98\x80\"]}')",
       Row{Value::int64(1), Value::int64(127), Value::uint64(255), Value::int64(32767), Value::uint64(65535),
           Value::int64(8388607), Value::uint64(16777215), Value::int64(2147483647), Value::uint64(4294967295u),
           Value::int64(9223372036854775807LL), Value::uint64(18446744073709551615ULL),
           Value::decimal("99999999999999999999999999999999999.999999999999999999999999999999"), Value::decimal("99999999.99"),
           Value::decimal("99999"), Value::float64(3.40282e38), Value::float64(1.7976931348623157e308),
           Value::date("9999-12-31"), Value::timestamp("9999-12-31 23:59:59"),
           Value::timestamp("9999-12-31 23:59:59.999999"), Value::timestamp("2024-02-29 13:01:02.125"),
           Value::timestamp("2038-01-19 03:14:07.999999"), Value::time("838:59:59"), Value::time("838:59:59.9"),
           Value::time("-00:00:00.0100"), Value::time("-00:00:00.010000"), Value::int64(2155), Value::uint64(1),
           Value::uint64(1023), Value::uint64(18446744073709551615ULL), Value::string("e300"), Value::string(all_set),
           Value::string("emoji \xf0\x9f\x98\x80 \xe2\x82\xac"), Value::string("caf\xc3\xa9 \xe2\x82\xac"),
           Value::string("abc"), Value::bytes(std::string("\0\0\xff\0\0\0\0\0", 8)), Value::bytes(std::string("\0\xff\0\0", 4)),
           Value::bytes(std::string("\0\x01\x02", 3)), Value::string("text \xf0\x9f\x8e\x89"),
           Value::json("{\"k\": [1, 2.5, \"\xf0\x9f\x98\x80\"]}")}});
  rows.push_back(
      {"(2, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, "
       "-99999999999999999999999999999999999.999999999999999999999999999999, -99999999.99, -99999, -3.40282e38, "
       "-2.2250738585072014e-308, '0000-00-00', '0000-00-00 00:00:00', '1000-01-01 00:00:00.000001', "
       "'0000-00-00 00:00:00.000', '1970-01-01 00:00:01.000001', '-838:59:59', '-838:59:59.9', '-00:00:01.5000', "
       "'-12:34:56.789012', 1901, b'0', b'0', 0, 'e1', '', '', '', '', x'', x'', x'', '', '[]')",
       Row{Value::int64(2), Value::int64(-128), Value::uint64(0), Value::int64(-32768), Value::uint64(0),
           Value::int64(-8388608), Value::uint64(0), Value::int64(-2147483648LL), Value::uint64(0),
           Value::int64(std::numeric_limits<std::int64_t>::min()), Value::uint64(0),
           Value::decimal("-99999999999999999999999999999999999.999999999999999999999999999999"),
           Value::decimal("-99999999.99"), Value::decimal("-99999"), Value::float64(-3.40282e38),
           Value::float64(-2.2250738585072014e-308), Value::date("0000-00-00"), Value::timestamp("0000-00-00 00:00:00"),
           Value::timestamp("1000-01-01 00:00:00.000001"), Value::timestamp("0000-00-00 00:00:00.000"),
           Value::timestamp("1970-01-01 00:00:01.000001"), Value::time("-838:59:59"), Value::time("-838:59:59.9"),
           Value::time("-00:00:01.5000"), Value::time("-12:34:56.789012"), Value::int64(1901), Value::uint64(0),
           Value::uint64(0), Value::uint64(0), Value::string("e1"), Value::string(""), Value::string(""), Value::string(""),
           Value::string(""), Value::bytes(std::string(8, '\0')), Value::bytes(""), Value::bytes(""), Value::string(""),
           Value::json("[]")}});
  Row nulls(39);
  nulls[0] = Value::int64(3);
  std::string null_sql = "(3";
  for (int i = 1; i < 39; ++i) null_sql += ", NULL";
  rows.push_back({null_sql + ")", nulls});
  // The bytes a tab-separated, backslash-escaped bulk load gives a meaning to, in text, binary and
  // JSON columns (and the text "\N", which is not NULL); the rest NULL.
  {
    const std::string tricky("tab\there\nnl\\bs\\N\r\0z", 19);
    Row r(39);
    r[0] = Value::int64(4);
    r[31] = Value::string(tricky);
    r[32] = Value::string("\\N");
    r[33] = Value::string("a\\b\tc");
    r[34] = Value::bytes(std::string("\\N\t\n\r\0\x01\xff", 8));
    r[35] = Value::bytes("\\N");
    r[36] = Value::bytes(std::string("\0\t\n\\", 4));
    r[37] = Value::string(std::string("nul\0inside", 10));
    r[38] = Value::json("{\"a\": \"tab\\tnl\\n\\\\\"}");
    std::string sql = "(4";
    for (int i = 1; i < 31; ++i) sql += ", NULL";
    sql += ", x'74616209686572650A6E6C5C62735C4E0D007A', '\\\\N', 'a\\\\b\\tc', x'5C4E090A0D0001FF', x'5C4E', x'00090A5C', "
           "x'6E756C00696E73696465', '{\"a\": \"tab\\\\tnl\\\\n\\\\\\\\\"}')";
    rows.push_back({sql, r});
  }
  return rows;
}

void insert_edge_rows(Conn& c) {
  for (auto& r : edge_rows()) c.exec("INSERT INTO edge VALUES " + r.sql);
}

}  // namespace

TEST_CASE("discovery maps every column type", "[mysql]") {
  Dbs dbs("discover");
  Conn c = connect(dbs.src);
  c.exec(edge_ddl());
  auto src = ConnectorRegistry::instance().open_source(dbs.src_url());
  CHECK(src->dialect() == "mysql");
  TableSchema t = table_of(*src, "edge");
  CHECK(t.id == TableId("edge"));
  CHECK(t.primary_key == std::vector<std::string>{"id"});
  auto col = [&](const char* n) { return t.columns.at(std::size_t(t.index_of(n))).type; };
  CHECK(col("tu").id == TypeId::Int8);
  CHECK(col("tu").is_unsigned);
  CHECK_FALSE(col("ti").is_unsigned);
  CHECK(col("mu").id == TypeId::Int24);
  CHECK(col("bu").id == TypeId::Int64);
  CHECK(col("bu").is_unsigned);
  CHECK(col("d65").precision == 65);
  CHECK(col("d65").scale == 30);
  CHECK(col("f").id == TypeId::Float32);
  CHECK(col("dtm6").fsp == 6);
  CHECK(col("t4").fsp == 4);
  CHECK(col("t4").id == TypeId::Time);
  CHECK(col("ts").id == TypeId::Timestamp);
  CHECK(col("b64").id == TypeId::Bit);
  CHECK(col("b64").length == 64);
  CHECK(col("e").id == TypeId::Enum);
  CHECK(col("e").members.size() == 300);
  CHECK(col("e").members[299] == "e300");
  CHECK(col("s").members.size() == 64);
  CHECK(col("ch").fixed_length);
  CHECK(col("ch").length == 10);
  CHECK(col("bin").id == TypeId::Bytes);
  CHECK(col("bin").fixed_length);
  CHECK(col("j").id == TypeId::Json);
  CHECK(col("tx").id == TypeId::String);
  auto& l1 = t.columns.at(std::size_t(t.index_of("l1")));
  CHECK(l1.source_type.find("latin1") != std::string::npos);
  // cdc's own tables never appear.
  c.exec("CREATE TABLE _cdc_internal (x INT)");
  CHECK(src->discover(nullptr).size() == 1);
}

TEST_CASE("discovery reads indexes, exact foreign keys, CHECKs, identity, generated columns, defaults and comments", "[mysql]") {
  Dbs dbs("objects");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE parent (a INT NOT NULL, b VARCHAR(10) NOT NULL, PRIMARY KEY (a, b)) COMMENT 'the parents'");
  c.exec("CREATE TABLE child (id BIGINT AUTO_INCREMENT PRIMARY KEY, pb VARCHAR(10), pa INT, qty INT NOT NULL DEFAULT 1, "
         "doubled INT AS (qty * 2) VIRTUAL, kept INT GENERATED ALWAYS AS (qty + 1) STORED, note TEXT, "
         "state VARCHAR(10) NOT NULL DEFAULT 'new' COMMENT 'workflow', j JSON, "
         "touched DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), "
         "KEY note_prefix (note(20), state), UNIQUE KEY state_qty (state, qty), FULLTEXT KEY note_ft (note), "
         "CONSTRAINT qty_positive CHECK (qty > 0), "
         "CONSTRAINT child_parent FOREIGN KEY (pa, pb) REFERENCES parent (a, b) ON DELETE CASCADE ON UPDATE SET NULL)");
  auto src = ConnectorRegistry::instance().open_source(dbs.src_url());
  TableSchema p = table_of(*src, "parent");
  TableSchema t = table_of(*src, "child");
  CHECK(p.comment == "the parents");
  auto col = [&](const char* n) { return t.columns.at(std::size_t(t.index_of(n))); };
  CHECK(col("id").identity);
  CHECK_FALSE(col("qty").identity);
  CHECK(col("qty").default_expr == std::optional<std::string>("1"));
  CHECK(col("state").default_expr == std::optional<std::string>("'new'"));
  CHECK(col("state").comment == "workflow");
  CHECK(col("doubled").generated == "`qty` * 2");
  CHECK_FALSE(col("doubled").generated_stored);
  CHECK(col("kept").generated == "`qty` + 1");
  CHECK(col("kept").generated_stored);
  CHECK(col("touched").default_expr == std::optional<std::string>("current_timestamp(6)"));
  CHECK(col("touched").on_update == "current_timestamp(6)");
  CHECK_FALSE(col("note").default_expr);

  // The foreign key exactly: columns in key order, each with its referenced column, the
  // referenced table named as discovery names tables, both actions.
  REQUIRE(t.foreign_keys.size() == 1);
  const auto& fk = t.foreign_keys[0];
  CHECK(fk.name == "child_parent");
  CHECK(fk.columns == std::vector<std::string>{"pa", "pb"});
  CHECK(fk.references == TableId("parent"));
  CHECK(fk.referenced_columns == std::vector<std::string>{"a", "b"});
  CHECK(fk.on_delete == ForeignKeyAction::Cascade);
  CHECK(fk.on_update == ForeignKeyAction::SetNull);
  // The JSON column's own json_valid() check is the type, not a CHECK of the table.
  REQUIRE(t.checks.size() == 1);
  CHECK(t.checks[0].name == "qty_positive");
  CHECK(t.checks[0].expression == "`qty` > 0");

  std::map<std::string, IndexDef> idx;
  for (const auto& i : t.indexes) idx[i.name] = i;
  REQUIRE(idx.size() == 4);  // InnoDB's index for the foreign key, and the three above
  CHECK(idx.at("child_parent").columns == std::vector<std::string>{"pa", "pb"});
  CHECK(idx.at("note_prefix").columns == std::vector<std::string>{"note", "state"});
  CHECK(idx.at("note_prefix").prefix_lengths == std::vector<int>{20, -1});
  CHECK_FALSE(idx.at("note_prefix").unique);
  CHECK(idx.at("state_qty").unique);
  CHECK(idx.at("state_qty").columns == std::vector<std::string>{"state", "qty"});
  CHECK(idx.at("note_ft").method == "fulltext");

  // A foreign key into another database names that database.
  Conn d = connect(dbs.dst);
  d.exec("CREATE TABLE other (id INT PRIMARY KEY)");
  c.exec(fmt::format("CREATE TABLE outside (id INT PRIMARY KEY, o INT, FOREIGN KEY (o) REFERENCES {}.other (id))",
                     cdc::mysql::quote_ident(dbs.dst)));
  TableSchema out = table_of(*src, "outside");
  REQUIRE(out.foreign_keys.size() == 1);
  CHECK(out.foreign_keys[0].references == TableId(dbs.dst, "other"));
}

TEST_CASE("edge values round-trip exactly through snapshot and stream", "[mysql]") {
  Dbs dbs("edge");
  Conn c = connect(dbs.src);
  c.exec(edge_ddl());
  auto src = ConnectorRegistry::instance().open_source(dbs.src_url());
  TableSchema t = table_of(*src, "edge");
  StreamStart start = src->prepare_stream({StreamTable{t, ""}});
  REQUIRE_FALSE(start.position.empty());
  insert_edge_rows(c);
  auto expected = edge_rows();

  SECTION("snapshot") {
    auto rows = read_all(*src, t);
    REQUIRE(rows.size() == expected.size());
    for (std::size_t i = 0; i < rows.size(); ++i) check_row(rows[i], expected[i].want, t);
  }
  SECTION("stream") {
    auto stream = src->open_stream({StreamTable{t, ""}}, start.position);
    auto evs = poll_events(*stream, expected.size());
    REQUIRE(evs.size() == expected.size());
    for (std::size_t i = 0; i < evs.size(); ++i) {
      CHECK(evs[i].op == ChangeOp::Insert);
      CHECK(evs[i].end_of_transaction);
      CHECK(src->compare_positions(evs[i].position, start.position) > 0);
      check_row(evs[i].after, expected[i].want, t);
    }
  }
  SECTION("copy to MariaDB and replicate the rows' updates and deletes") {
    Config cfg;
    cfg.source = dbs.src_url();
    cfg.destination = dbs.dst_url();
    cfg.name = "edge";
    SessionOptions o;
    o.exit_when_idle = true;
    ReplicationSession(cfg, o).run();
    check_equal(dbs.src_url(), dbs.dst_url());
    c.exec("UPDATE edge SET id = id + 10");
    c.exec("DELETE FROM edge WHERE id = 13");
    ReplicationSession(cfg, o).run();
    check_equal(dbs.src_url(), dbs.dst_url());
    auto dst = ConnectorRegistry::instance().open_source(dbs.dst_url());
    auto rows = read_all(*dst, table_of(*dst, "edge"));
    REQUIRE(rows.size() == 3);
    Row want = expected[0].want;
    want[0] = Value::int64(11);
    check_row(rows[0], want, t);
  }
}

TEST_CASE("unsigned and composite keys split into chunks that cover every row once", "[mysql]") {
  Dbs dbs("chunks");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE u (id BIGINT UNSIGNED PRIMARY KEY, v INT)");
  c.exec("CREATE TABLE comp (a VARCHAR(10) NOT NULL, b INT NOT NULL, v INT, PRIMARY KEY (a, b))");
  std::string u, comp;
  for (int i = 0; i < 200; ++i) {
    std::uint64_t id = i < 100 ? 18446744073709551615ULL - std::uint64_t(i) * 1000 : 9223372036854775807ULL + std::uint64_t(i);
    u += (i ? "," : "") + fmt::format("({},{})", id, i);
    comp += (i ? "," : "") + fmt::format("('k{}',{},{})", i % 7, i, i);
  }
  c.exec("INSERT INTO u VALUES " + u);
  c.exec("INSERT INTO comp VALUES " + comp);
  auto src = ConnectorRegistry::instance().open_source(dbs.src_url());
  for (const char* name : {"u", "comp"}) {
    INFO(name);
    TableSchema t = table_of(*src, name);
    auto chunks = src->plan_snapshot(t, cdc::SnapshotPlanOptions{30, 1});
    CHECK(chunks.size() >= 4);
    std::set<std::string> seen;
    std::size_t total = 0;
    for (auto& ch : chunks) {
      for (auto& row : read_all(*src, t, ch)) {
        std::string k = row[0].to_display() + "|" + row[1].to_display();
        CHECK(seen.insert(k).second);
        ++total;
      }
    }
    CHECK(total == 200);
  }
}

TEST_CASE("destination applies changes in order with soft deletes and atomic checkpoints", "[mysql]") {
  Dbs dbs("apply");
  auto dst = ConnectorRegistry::instance().open_destination(dbs.dst_url());
  DestinationTable t;
  t.schema.id = TableId("items");
  t.schema.columns = {make_column("id", lt(TypeId::Int64), false),
                      make_column("name", lt(TypeId::String), true)};
  t.schema.primary_key = {"id"};
  dst->prepare_table(t);
  CHECK(dst->render_ddl(t).find("`items`") != std::string::npos);
  auto w = dst->open_writer();
  auto ev = [](ChangeOp op, std::int64_t id, const char* name, std::int64_t old_id = -1) {
    ChangeEvent e;
    e.op = op;
    e.table = TableId("items");
    Row r{Value::int64(id), name ? Value::string(name) : Value()};
    if (op == ChangeOp::Delete) e.before = r;
    else e.after = r;
    if (op == ChangeOp::Update) e.before = Row{Value::int64(old_id < 0 ? id : old_id), Value::string("old")};
    return e;
  };
  w->begin();
  w->write_rows(t, {Row{Value::int64(1), Value::string("a")}, Row{Value::int64(2), Value::string("it's \"q\" \\ \0x")}});
  w->write_rows(t, {Row{Value::int64(1), Value::string("a2")}});  // a row written twice ends up once
  w->apply(t, {ev(ChangeOp::Insert, 3, "c"), ev(ChangeOp::Delete, 3, "c"), ev(ChangeOp::Insert, 3, "c2"),
               ev(ChangeOp::Update, 4, "moved", 2), ev(ChangeOp::Delete, 1, "a2"), ev(ChangeOp::Insert, 1, "back")});
  w->commit("s1", {{"stream", "binlog.000001:4"}});
  auto src = ConnectorRegistry::instance().open_source(dbs.dst_url());
  auto rows = read_all(*src, table_of(*src, "items"));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == Row{Value::int64(1), Value::string("back")});
  CHECK(rows[1] == Row{Value::int64(3), Value::string("c2")});
  CHECK(rows[2] == Row{Value::int64(4), Value::string("moved")});
  auto store = dst->checkpoint_store();
  CHECK(store->load("s1").at("stream") == "binlog.000001:4");

  // A rolled-back batch leaves neither data nor checkpoint.
  w->begin();
  w->apply(t, {ev(ChangeOp::Delete, 1, "back")});
  w->rollback();
  CHECK(read_all(*src, table_of(*src, "items")).size() == 3);
  store->put("s1", {{"stream", ""}, {"x", "1"}});
  CHECK(store->load("s1") == std::map<std::string, std::string>{{"x", "1"}});
  CHECK(store->sessions() == std::vector<std::string>{"s1"});
  store->clear("s1");
  CHECK(store->load("s1").empty());

  // Soft deletes set the flag; an upsert clears it.
  DestinationTable soft = t;
  soft.schema.id = TableId("soft");
  soft.schema.columns.push_back(make_column("_cdc_deleted", lt(TypeId::Bool), false));
  soft.deletes.strategy = DeleteStrategy::Soft;
  soft.deletes.column = "_cdc_deleted";
  dst->prepare_table(soft);
  w->begin();
  ChangeEvent ins = ev(ChangeOp::Insert, 7, "x");
  ins.table = TableId("soft");
  ChangeEvent del = ev(ChangeOp::Delete, 7, "x");
  del.table = TableId("soft");
  w->apply(soft, {ins, del});
  w->commit("s1", {});
  Conn dc = connect(dbs.dst);
  CHECK(dc.scalar("SELECT _cdc_deleted FROM soft WHERE id = 7").value_or("") == "1");
  w->begin();
  w->apply(soft, {ins});
  w->commit("s1", {});
  CHECK(dc.scalar("SELECT _cdc_deleted FROM soft WHERE id = 7").value_or("") == "0");

  // Quarantined rows commit with the batch, or not at all.
  QuarantinedRow q{"items", "id=9", "name", "\\xff'", "cannot convert", "binlog.000001:4", 1700000000123456};
  w->begin();
  w->quarantine("s1", {q});
  w->rollback();
  CHECK(dc.scalar("SELECT COUNT(*) FROM _cdc_quarantine").value_or("") == "0");
  w->begin();
  w->quarantine("s1", {q, q});
  w->commit("s1", {});
  auto qrows = dc.rows("SELECT session, source_table, row_key, column_name, raw_value, error, position, at FROM _cdc_quarantine");
  REQUIRE(qrows.size() == 2);
  CHECK(qrows[0][4].value_or("") == "\\xff'");
  CHECK(qrows[0][6].value_or("") == "binlog.000001:4");
  CHECK(qrows[0][7].value_or("") == "2023-11-14 22:13:20.123456");
}

TEST_CASE("MariaDB to SQLite and SQLite to MariaDB copies equal the source", "[mysql]") {
  Dbs dbs("sqlite");
  TempDir dir;
  Conn c = connect(dbs.src);
  // No DECIMAL and no fractional DATETIME here: SQLite stores DECIMAL(10,2) values as REAL and
  // reads them back as doubles, and its TIMESTAMP columns carry no precision, so the way back
  // lands in DATETIME(6) whose text ("...:00.500000") differs from SQLite's ("...:00.500").
  c.exec("CREATE TABLE orders (id INT UNSIGNED PRIMARY KEY AUTO_INCREMENT, customer VARCHAR(50) NOT NULL, "
         "total DOUBLE, placed DATE, note TEXT, raw VARBINARY(16), flag TINYINT)");
  c.exec("CREATE TABLE tags (name VARCHAR(20) NOT NULL, n INT NOT NULL, PRIMARY KEY (name, n))");
  c.exec("CREATE TABLE nokey (a INT, b VARCHAR(5))");
  for (int i = 0; i < 50; ++i)
    c.exec(fmt::format("INSERT INTO orders (customer, total, placed, note, raw, flag) VALUES ('c{}', {}.25, "
                       "'2024-01-{:02d}', {}, x'00{:02x}', {})",
                       i, i * 3, i % 28 + 1, i % 5 ? "'n\xc3\xa9'" : "NULL", i, i % 2));
  c.exec("INSERT INTO tags VALUES ('a', 1), ('a', 2), ('B', 1)");
  c.exec("INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (NULL, NULL)");
  std::string lite = "sqlite://" + dir.file("copy.db");
  Config cfg;
  cfg.source = dbs.src_url();
  cfg.destination = lite;
  cfg.defaults.chunk_rows = 10;
  SessionOptions o;
  o.snapshot_only = true;
  auto st = ReplicationSession(cfg, o).run();
  check_equal(dbs.src_url(), lite);

  // And back: SQLite to a fresh MariaDB database.
  Config back;
  back.source = lite;
  back.destination = dbs.dst_url();
  auto st2 = ReplicationSession(back, o).run();
  check_equal(lite, dbs.dst_url());
  Conn d = connect(dbs.dst);
  CHECK(d.scalar("SELECT COUNT(*) FROM nokey").value_or("") == "3");
  CHECK(d.scalar("SELECT COUNT(*) FROM tags").value_or("") == "3");  // 'a' and 'B' stay distinct keys
}

TEST_CASE("MariaDB to MariaDB: parallel chunked copy, then replication under concurrent writes converges", "[mysql]") {
  Dbs dbs("repl");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE accounts (id BIGINT UNSIGNED PRIMARY KEY, owner VARCHAR(40), balance DECIMAL(12,2), "
         "updated DATETIME(6), blob_ VARBINARY(32))");
  c.exec("CREATE TABLE pairs (a VARCHAR(10) NOT NULL, b INT NOT NULL, v DOUBLE, PRIMARY KEY (a, b))");
  c.exec("CREATE TABLE log (msg VARCHAR(40), n INT)");
  std::string rows, pairs;
  for (int i = 1; i <= 2000; ++i) {
    rows += (i > 1 ? "," : "") + fmt::format("({}, 'o{}', {}.50, NOW(6), x'{:08x}')", i * 3, i, i, i);
    if (i <= 500) pairs += (i > 1 ? "," : "") + fmt::format("('p{}', {}, {})", i % 11, i, i * 0.5);
  }
  c.exec("INSERT INTO accounts VALUES " + rows);
  c.exec("INSERT INTO pairs VALUES " + pairs);
  c.exec("INSERT INTO log VALUES ('start', 0)");

  Config cfg;
  cfg.source = dbs.src_url();
  cfg.destination = dbs.dst_url();
  cfg.name = "repl";
  cfg.defaults.chunk_rows = 300;
  cfg.defaults.parallel_chunks = 2;
  cfg.poll_interval_ms = 100;
  SessionOptions o;
  ReplicationSession session(cfg, o);
  session.start();

  std::atomic<bool> stop{false};
  std::thread writer([&] {
    Conn w = connect(dbs.src);
    std::mt19937 rng(42);
    for (int i = 0; i < 400 && !stop; ++i) {
      int id = int(rng() % 7000) + 1;
      w.exec("START TRANSACTION");
      switch (rng() % 5) {
        case 0: w.exec(fmt::format("INSERT INTO accounts VALUES ({}, 'n{}', 1.00, NOW(6), NULL) ON DUPLICATE KEY UPDATE balance = balance + 1", id, i)); break;
        case 1: w.exec(fmt::format("UPDATE accounts SET balance = balance - 2, owner = 'u{}' WHERE id % 97 = {}", i, id % 97)); break;
        case 2: w.exec(fmt::format("DELETE FROM accounts WHERE id = {}", id)); break;
        case 3: w.exec(fmt::format("UPDATE pairs SET b = b + 1000 WHERE a = 'p{}' AND b = {}", id % 11, id % 500)); break;
        default: w.exec(fmt::format("INSERT INTO log VALUES ('w{}', {})", i, id)); break;
      }
      w.exec("COMMIT");
    }
  });
  writer.join();
  std::string why;
  bool equal = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (!equal && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto st = session.status();
    bool streaming = !st.tables.empty();
    for (auto& t : st.tables) streaming = streaming && t.phase == TablePhase::Streaming;
    if (streaming) equal = verify_equal(dbs.src_url(), dbs.dst_url(), &why);
  }
  session.stop();
  session.wait();
  INFO(why);
  CHECK(equal);
}

TEST_CASE("ALTER TABLE ADD COLUMN ... AFTER between two inserts replays both rows correctly", "[mysql]") {
  Dbs dbs("alter");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b INT)");
  auto src = ConnectorRegistry::instance().open_source(dbs.src_url());
  StreamStart start = src->prepare_stream({StreamTable{table_of(*src, "t"), ""}});
  c.exec("INSERT INTO t VALUES (1, 'one', 10)");
  c.exec("ALTER TABLE t ADD COLUMN mid DECIMAL(5,1) AFTER id");
  c.exec("INSERT INTO t VALUES (2, 2.5, 'two', 20)");
  TableSchema now = table_of(*src, "t");  // id, mid, a, b
  REQUIRE(now.columns[1].name == "mid");
  auto stream = src->open_stream({StreamTable{now, ""}}, start.position);
  auto evs = poll_events(*stream, 2);
  REQUIRE(evs.size() == 2);
  CHECK(evs[0].after == Row{Value::int64(1), Value(), Value::string("one"), Value::int64(10)});
  CHECK(evs[0].unchanged == std::vector<bool>{false, true, false, false});  // logged before `mid` existed
  CHECK(evs[1].after == Row{Value::int64(2), Value::decimal("2.5"), Value::string("two"), Value::int64(20)});
  CHECK(evs[1].unchanged.empty());
}

TEST_CASE("the stream follows FLUSH BINARY LOGS and reports ordered positions", "[mysql]") {
  Dbs dbs("flush");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE t (id INT PRIMARY KEY)");
  auto src = ConnectorRegistry::instance().open_source(dbs.src_url());
  TableSchema t = table_of(*src, "t");
  StreamStart start = src->prepare_stream({StreamTable{t, ""}});
  auto stream = src->open_stream({StreamTable{t, ""}}, start.position);
  c.exec("INSERT INTO t VALUES (1)");
  auto first = poll_events(*stream, 1);
  c.exec("FLUSH BINARY LOGS");
  c.exec("INSERT INTO t VALUES (2)");
  auto second = poll_events(*stream, 1);
  REQUIRE(first.size() == 1);
  REQUIRE(second.size() == 1);
  CHECK(second[0].after == Row{Value::int64(2)});
  auto p1 = mysql::parse_position(first[0].position.str()), p2 = mysql::parse_position(second[0].position.str());
  CHECK(p1.file != p2.file);
  CHECK(src->compare_positions(second[0].position, first[0].position) > 0);
  // Reopening after the first event delivers exactly the second.
  auto again = src->open_stream({StreamTable{t, ""}}, first[0].position);
  auto evs = poll_events(*again, 1);
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].after == Row{Value::int64(2)});
  CHECK(evs[0].position == second[0].position);
}

TEST_CASE("positions carry the MariaDB GTID state, which resumes a stream whose file is gone", "[mysql]") {
  Dbs dbs("gtid");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))");
  auto src = ConnectorRegistry::instance().open_source(dbs.src_url());
  TableSchema t = table_of(*src, "t");
  StreamStart start = src->prepare_stream({StreamTable{t, ""}});
  auto sp = mysql::parse_position(start.position.str());
  CHECK_FALSE(sp.gtid.empty());
  auto stream = src->open_stream({StreamTable{t, ""}}, start.position);
  c.exec("INSERT INTO t VALUES (1, 'one')");
  auto first = poll_events(*stream, 1);
  REQUIRE(first.size() == 1);
  auto p1 = mysql::parse_position(first[0].position.str());
  REQUIRE_FALSE(p1.gtid.empty());
  CHECK(p1.gtid != sp.gtid);
  // One domain on this server; other tests may commit concurrently, so compare sequences.
  auto seq = [](const std::string& g) { return std::stoull(g.substr(g.rfind('-') + 1)); };
  CHECK(seq(p1.gtid) > seq(sp.gtid));
  CHECK(seq(p1.gtid) <= seq(c.scalar("SELECT @@gtid_binlog_pos").value_or("0-0-0")));
  c.exec("INSERT INTO t VALUES (2, 'two')");
  // Same GTID state, a file the server never had: the stream resumes by GTID after row 1.
  Position moved("binlog.999999:4#" + p1.gtid);
  auto again = src->open_stream({StreamTable{t, ""}}, moved);
  auto evs = poll_events(*again, 1);
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].after == Row{Value::int64(2), Value::string("two")});
  CHECK(src->compare_positions(evs[0].position, first[0].position) > 0);
}

TEST_CASE("a row filter applies to the stream: updates that leave it arrive as deletes", "[mysql]") {
  Dbs dbs("filter");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE o (id INT PRIMARY KEY, status VARCHAR(10), amount DECIMAL(8,2), secret VARCHAR(5))");
  auto src = ConnectorRegistry::instance().open_source(dbs.src_url());
  TableSchema full = table_of(*src, "o");
  TableSchema proj = full;  // the filter names a column the session does not copy
  proj.columns.erase(proj.columns.begin() + 2);
  StreamTable st{proj, "status = 'open' AND amount > 10"};
  StreamStart start = src->prepare_stream({st});
  c.exec("INSERT INTO o VALUES (1, 'open', 50, 'a'), (2, 'open', 5, 'b'), (3, 'closed', 50, 'c')");
  c.exec("UPDATE o SET status = 'closed' WHERE id = 1");  // leaves: delete
  c.exec("UPDATE o SET amount = 20 WHERE id = 2");        // enters: insert
  c.exec("UPDATE o SET secret = 'z' WHERE id = 2");       // stays: update
  c.exec("UPDATE o SET secret = 'y' WHERE id = 3");       // outside: nothing
  c.exec("DELETE FROM o WHERE id IN (2, 3)");             // delete of 2 only
  auto stream = src->open_stream({st}, start.position);
  auto evs = poll_events(*stream, 5);
  std::vector<ChangeEvent> more;
  stream->poll(more, 100, std::chrono::milliseconds(1500));
  REQUIRE(evs.size() == 5);
  CHECK(more.empty());
  CHECK(evs[0].op == ChangeOp::Insert);
  CHECK(evs[0].after == Row{Value::int64(1), Value::string("open"), Value::string("a")});
  CHECK(evs[1].op == ChangeOp::Delete);
  CHECK(evs[1].before == Row{Value::int64(1), Value::string("open"), Value::string("a")});
  CHECK(evs[2].op == ChangeOp::Insert);
  CHECK(evs[2].after == Row{Value::int64(2), Value::string("open"), Value::string("b")});
  CHECK(evs[3].op == ChangeOp::Update);
  CHECK(evs[3].after == Row{Value::int64(2), Value::string("open"), Value::string("z")});
  CHECK(evs[4].op == ChangeOp::Delete);
  CHECK(evs[4].before[0] == Value::int64(2));
}

TEST_CASE("a purged start position fails loudly and offers a fresh snapshot", "[mysql]") {
  Dbs dbs("purged");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE t (id INT PRIMARY KEY)");
  auto src = ConnectorRegistry::instance().open_source(dbs.src_url());
  TableSchema t = table_of(*src, "t");
  try {
    auto s = src->open_stream({StreamTable{t, ""}}, Position("binlog.000000:4"));
    std::vector<ChangeEvent> out;
    s->poll(out, 10, std::chrono::milliseconds(500));
    FAIL("no error");
  } catch (const Error& e) {
    CHECK_FALSE(e.retryable());
    CHECK(std::string(e.what()).find("fresh snapshot") != std::string::npos);
  }
}

// Killed at failpoints: only in builds with -DCDC_FAILPOINTS=ON (scripts/test.sh).
#if defined(CDC_CLI_PATH) && defined(CDC_FAILPOINTS)
namespace {
// Exit code, or 1000 + the signal that ended it.
int run_cli(const std::vector<std::string>& args, const std::string& crash_at, const std::string& log) {
  cdc_test::Exit e = cdc_test::run_cli(args, crash_at, log);
  return e.signaled ? 1000 + e.code : e.code;
}
}  // namespace

TEST_CASE("cdc-cli killed mid-snapshot and mid-stream converges with no duplicates", "[mysql][crash]") {
  Dbs dbs("crash");
  TempDir dir;
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20))");
  c.exec("CREATE TABLE nokey (n INT, v VARCHAR(20))");
  std::string rows;
  for (int i = 1; i <= 1000; ++i) rows += (i > 1 ? "," : "") + fmt::format("({}, 'v{}')", i, i);
  c.exec("INSERT INTO items VALUES " + rows);
  c.exec("INSERT INTO nokey SELECT id, v FROM items WHERE id <= 100");
  std::string cfg = dir.file("cdc.yaml"), log = dir.file("cli.log");
  {
    std::ofstream f(cfg);
    f << "name: crash\nsource: " << dbs.src_url() << "\ndestination: " << dbs.dst_url()
      << "\npoll_interval_ms: 100\ndefaults:\n  chunk_rows: 100\n  batch_size: 50\n";
  }
  // Killed after the third chunk commit, then again before a stream commit.
  CHECK(run_cli({"replicate", "-c", cfg, "--until-idle"}, "snapshot.chunk_committed:3", log) == 1000 + SIGKILL);
  c.exec("UPDATE items SET v = CONCAT(v, '!') WHERE id % 10 = 0");
  c.exec("INSERT INTO nokey VALUES (5000, 'late')");
  c.exec("DELETE FROM items WHERE id > 990");
  CHECK(run_cli({"replicate", "-c", cfg, "--until-idle"}, "stream.before_commit:1", log) == 1000 + SIGKILL);
  c.exec("INSERT INTO items VALUES (5000, 'after')");
  c.exec("INSERT INTO nokey VALUES (5001, 'after')");
  int rc = run_cli({"replicate", "-c", cfg, "--until-idle"}, "", log);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  INFO(text);
  CHECK(rc == 0);
  check_equal(dbs.src_url(), dbs.dst_url());
  Conn d = connect(dbs.dst);
  CHECK(d.scalar("SELECT COUNT(*) FROM nokey").value_or("") == "102");
  CHECK(d.scalar("SELECT COUNT(*) FROM items").value_or("") == "991");
}
#endif

TEST_CASE("incremental mode by watermark and by custom query reads MariaDB sources", "[mysql]") {
  Dbs dbs("incr");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE events (id INT PRIMARY KEY, kind VARCHAR(10), updated DATETIME(6) NOT NULL)");
  c.exec("CREATE TABLE audit (id BIGINT UNSIGNED PRIMARY KEY, what VARCHAR(20))");
  c.exec("INSERT INTO events VALUES (1, 'a', '2024-01-01 00:00:00.000001'), (2, 'b', '2024-01-02 00:00:00')");
  c.exec("INSERT INTO audit VALUES (18446744073709551610, 'x'), (5, 'y')");
  Config cfg;
  cfg.source = dbs.src_url();
  cfg.destination = dbs.dst_url();
  cfg.name = "incr";
  cfg.tables["events"].mode = TableMode::Incremental;
  cfg.tables["events"].watermark = WatermarkSettings{"updated"};
  cfg.tables["audit"].mode = TableMode::Incremental;
  cfg.tables["audit"].watermark = WatermarkSettings{"id"};
  cfg.tables["audit"].query = "SELECT id, what FROM audit WHERE id > IFNULL(:last_value, 0) ORDER BY id";
  SessionOptions o;
  o.exit_when_idle = true;
  ReplicationSession(cfg, o).run();
  check_equal(dbs.src_url(), dbs.dst_url());
  c.exec("INSERT INTO events VALUES (3, 'c', '2024-01-03 00:00:00')");
  c.exec("UPDATE events SET kind = 'a2', updated = '2024-01-04 00:00:00' WHERE id = 1");
  c.exec("INSERT INTO audit VALUES (18446744073709551615, 'max')");
  ReplicationSession(cfg, o).run();
  check_equal(dbs.src_url(), dbs.dst_url());
  Conn d = connect(dbs.dst);
  CHECK(d.scalar("SELECT kind FROM events WHERE id = 1").value_or("") == "a2");
  CHECK(d.scalar("SELECT what FROM audit WHERE id = 18446744073709551615").value_or("") == "max");
}

TEST_CASE("replication while sysbench oltp_write_only runs converges", "[mysql][sysbench]") {
  if (std::system("command -v sysbench >/dev/null 2>&1") != 0)
    FAIL("sysbench is not installed (bash scripts/install-deps.sh)");
  Dbs dbs("sysbench");
  auto params = ConnParams::from_url(ConnectorUrl::parse(url_for(dbs.src)), "test");
  std::string common = fmt::format(
      "sysbench oltp_write_only --db-driver=mysql --mysql-host={} --mysql-port={} --mysql-user={} --mysql-db={} "
      "--tables=2 --table-size=5000 --threads=2",
      params.host, params.port, params.user, dbs.src);
  if (!params.password.empty()) common += " --mysql-password=" + params.password;
  REQUIRE(std::system((common + " prepare >/dev/null 2>&1").c_str()) == 0);
  Config cfg;
  cfg.source = dbs.src_url();
  cfg.destination = dbs.dst_url();
  cfg.name = "sysbench";
  cfg.poll_interval_ms = 100;
  cfg.defaults.chunk_rows = 2000;
  ReplicationSession session(cfg, SessionOptions{});
  session.start();
  int rc = std::system((common + " --time=8 run >/dev/null 2>&1").c_str());
  CHECK(rc == 0);
  std::string why;
  bool equal = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (!equal && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto st = session.status();
    bool streaming = !st.tables.empty();
    for (auto& t : st.tables) streaming = streaming && t.phase == TablePhase::Streaming;
    if (streaming) equal = verify_equal(dbs.src_url(), dbs.dst_url(), &why);
  }
  auto st = session.status();
  session.stop();
  session.wait();
  INFO(why);
  CHECK(equal);
  std::int64_t changes = 0;
  for (auto& t : st.tables) changes += t.changes_applied;
  CHECK(changes > 1000);  // sysbench really wrote while we streamed
}

TEST_CASE("writes to tables that are not replicated still move the stored stream position", "[mysql]") {
  Dbs dbs("idle");
  Conn c = connect(dbs.src);
  c.exec("CREATE TABLE kept (id INT PRIMARY KEY, v INT)");
  c.exec("CREATE TABLE busy (id INT PRIMARY KEY AUTO_INCREMENT, v INT)");
  c.exec("INSERT INTO kept VALUES (1, 1)");
  Config cfg;
  cfg.source = dbs.src_url();
  cfg.destination = dbs.dst_url();
  cfg.name = "idle";
  cfg.exclude = {"busy"};
  cfg.poll_interval_ms = 50;
  ReplicationSession session(cfg);
  session.start();
  auto stored = [&] {
    for (const auto& [k, v] : cdc::open_checkpoint_store(cfg)->load("idle"))
      if (k == "stream") return v;
    return std::string();
  };
  for (int i = 0; i < 200 && session.status().state != SessionState::Streaming; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const std::string before = stored();
  for (int i = 0; i < 50; ++i) c.exec("INSERT INTO busy (v) VALUES (" + std::to_string(i) + ")");
  std::string after = before;
  for (int i = 0; i < 100 && after == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after = stored();
  }
  auto source = cdc::ConnectorRegistry::instance().open_source(cfg.source);
  session.stop();
  session.wait();
  INFO(before << " -> " << after);
  REQUIRE_FALSE(before.empty());
  CHECK(source->compare_positions(Position(after), Position(before)) > 0);
}
