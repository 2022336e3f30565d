// parallel_chunks and chunk_rows: "auto" (the default) in the config and on the command line, and
// what a table's planning makes of it from the table's size and the machine's cores.
#include <cdc/config.h>
#include <cdc/error.h>
#include <cdc/plan.h>
#include <cdc/type_mapper.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <thread>

namespace {

std::string error_of(const std::string& yaml) {
  try {
    cdc::parse_config_yaml("source: sqlite:///a.db\ndestination: sqlite:///b.db\n" + yaml);
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Config);
    return e.what();
  }
  return "no error";
}

cdc::TableSchema table(std::int64_t rows, std::int64_t bytes) {
  cdc::TableSchema t;
  t.id = cdc::TableId("items");
  cdc::Column id;
  id.name = "id";
  id.type.id = cdc::TypeId::Int64;
  t.columns = {id};
  t.primary_key = {"id"};
  t.estimated_rows = rows;
  t.estimated_bytes = bytes;
  return t;
}

}  // namespace

TEST_CASE("parallel_chunks and chunk_rows are auto unless set, in the config and per table", "[unit][config]") {
  cdc::Config c = cdc::parse_config_yaml(R"Y(source: sqlite:///a.db
destination: sqlite:///b.db
tables:
  orders: {parallel_chunks: 3, chunk_rows: 1000}
  lines: {parallel_chunks: auto}
)Y");
  CHECK(c.defaults.parallel_chunks == cdc::kAuto);
  CHECK(c.defaults.chunk_rows == cdc::kAuto);
  CHECK(*c.settings_for("orders").parallel_chunks == 3);
  CHECK(*c.settings_for("orders").chunk_rows == 1000);
  CHECK(*c.settings_for("lines").parallel_chunks == cdc::kAuto);
  CHECK(*c.settings_for("other").chunk_rows == cdc::kAuto);

  cdc::Config d = cdc::parse_config_yaml(
      "source: sqlite:///a.db\ndestination: sqlite:///b.db\ndefaults: {parallel_chunks: 2, chunk_rows: auto}\ntables: {t: {chunk_rows: auto}}\n");
  CHECK(d.defaults.parallel_chunks == 2);
  CHECK(d.defaults.chunk_rows == cdc::kAuto);
  CHECK(*d.settings_for("t").parallel_chunks == 2);
  CHECK(*cdc::parse_config_json(R"J({"source": "sqlite:///a.db", "destination": "sqlite:///b.db", "defaults": {"parallel_chunks": "auto"}})J")
             .settings_for("t")
             .parallel_chunks == cdc::kAuto);

  CHECK(error_of("defaults: {parallel_chunks: many}") == "defaults.parallel_chunks: expected an integer or auto, got many");
  CHECK(error_of("defaults: {parallel_chunks: 0}") == "defaults.parallel_chunks: 0 is out of range (1..256)");
  CHECK(error_of("tables: {t: {chunk_rows: [1]}}") == "tables.t.chunk_rows: expected an integer or auto, got a list");
  CHECK(error_of("tables: {t: {chunk_rows: -5}}").rfind("tables.t.chunk_rows: -5 is out of range", 0) == 0);
  CHECK(error_of("tables: {t: {chunk_row: 5}}") == "tables.t.chunk_row: unknown key (did you mean chunk_rows?)");
  cdc::Config bad;
  bad.source = "sqlite:///a.db";
  bad.destination = "sqlite:///b.db";
  bad.defaults.parallel_chunks = -1;
  CHECK_THROWS_WITH(cdc::validate_config(bad), "defaults.parallel_chunks: must be auto (0) or at least 1");
}

TEST_CASE("auto chunking follows the table's size and the machine's cores", "[unit][plan]") {
  using cdc::auto_chunking;
  // A small table: one reader, one chunk or two.
  CHECK(auto_chunking(10'000, 1 << 20, 2).parallel_chunks == 1);
  CHECK(auto_chunking(10'000, 1 << 20, 2).chunk_rows == 50'000);
  CHECK(auto_chunking(0, 0, 16).parallel_chunks == 1);
  // The benchmarks' table (1,000,000 rows of ~130 bytes): a reader per core, four chunks each.
  auto bench = auto_chunking(1'000'000, 130'000'000, 2);
  CHECK(bench.parallel_chunks == 2);
  CHECK(bench.chunk_rows == 125'000);
  // More cores, more readers, up to 8; chunks stay within 50,000..1,000,000 rows.
  CHECK(auto_chunking(1'000'000, 130'000'000, 4).parallel_chunks == 4);
  CHECK(auto_chunking(1'000'000, 130'000'000, 4).chunk_rows == 62'500);
  CHECK(auto_chunking(1'000'000, 130'000'000, 64).parallel_chunks == 8);
  CHECK(auto_chunking(1'000'000, 130'000'000, 64).chunk_rows == 50'000);
  CHECK(auto_chunking(100'000'000, 13'000'000'000, 2).chunk_rows == 1'000'000);
  // Wide rows (10 KB): fewer rows per chunk so that one stays near 128 MB, and worth splitting sooner.
  auto wide = auto_chunking(100'000, 1'000'000'000, 2);
  CHECK(wide.parallel_chunks == 2);
  CHECK(wide.chunk_rows == (128 << 20) / 10'000);
  // A given parallel_chunks is kept, and chunks sized for it.
  CHECK(auto_chunking(1'000'000, -1, 2, 5).parallel_chunks == 5);
  CHECK(auto_chunking(1'000'000, -1, 2, 5).chunk_rows == 50'000);
  // Unknown size: a reader per core, the old fixed chunk size; unknown cores: one reader.
  CHECK(auto_chunking(-1, -1, 3).parallel_chunks == 3);
  CHECK(auto_chunking(-1, -1, 3).chunk_rows == 250'000);
  CHECK(auto_chunking(1'000'000, -1, 0).parallel_chunks == 1);
}

TEST_CASE("planning a table turns auto into numbers and keeps numbers given", "[unit][plan]") {
  cdc::Config c;
  c.source = "sqlite:///a.db";
  c.destination = "sqlite:///b.db";
  const auto& mapper = *cdc::default_type_mapper();
  auto expected = cdc::auto_chunking(2'000'000, 260'000'000, std::thread::hardware_concurrency());
  auto plan = cdc::plan_table(c, table(2'000'000, 260'000'000), "", mapper, "sqlite", "sqlite");
  CHECK(*plan.settings.parallel_chunks == expected.parallel_chunks);
  CHECK(*plan.settings.chunk_rows == expected.chunk_rows);
  CHECK(*plan.settings.parallel_chunks >= 1);
  CHECK(*plan.settings.parallel_chunks <= 8);

  c.tables["items"].parallel_chunks = 3;
  c.defaults.chunk_rows = 777;
  plan = cdc::plan_table(c, table(2'000'000, 260'000'000), "items", mapper, "sqlite", "sqlite");
  CHECK(*plan.settings.parallel_chunks == 3);
  CHECK(*plan.settings.chunk_rows == 777);
  c.defaults.chunk_rows = cdc::kAuto;
  plan = cdc::plan_table(c, table(2'000'000, 260'000'000), "items", mapper, "sqlite", "sqlite");
  CHECK(*plan.settings.parallel_chunks == 3);
  CHECK(*plan.settings.chunk_rows == cdc::auto_chunking(2'000'000, 260'000'000, 1, 3).chunk_rows);
}
