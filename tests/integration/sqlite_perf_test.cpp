// Bulk-load throughput of the SQLite source and destination (hidden: run with "[sqlite-perf]").
#include "sqlite_test_util.h"

#include <cdc/registry.h>
#include <cdc/type_mapper.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

using namespace sqlite_test;

TEST_CASE("sqlite bulk load: read_chunk -> write_rows", "[.][sqlite-perf]") {
  const char* env = std::getenv("CDC_PERF_ROWS");
  const long rows = env ? std::atol(env) : 1000000;
  TempDir dir;
  {
    Raw db(dir.file("src.db"));
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, c INTEGER, d INTEGER, e REAL, f REAL, "
            "g TEXT, h TEXT, i VARCHAR(40))");
    db.exec("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < " + std::to_string(rows) +
            ") INSERT INTO t SELECT x, x * 7, x % 1000, -x, x * 31, x * 0.5, x / 3.0, 'name ' || x, "
            "'some longer text value ' || (x % 97), hex(x) FROM n");
  }
  auto& reg = cdc::ConnectorRegistry::instance();
  auto src = reg.open_source(dir.url("src.db"));
  auto dst = reg.open_destination(dir.url("dst.db"));
  auto schema = src->discover([](const cdc::TableId&) { return true; }).at(0);
  cdc::DestinationTable dt;
  dt.schema = schema;
  dst->prepare_table(dt);

  auto t0 = std::chrono::steady_clock::now();
  long n = 0;
  for (auto& chunk : src->plan_snapshot(schema, cdc::SnapshotPlanOptions{250000, 1})) {
    cdc::ReadRequest req;
    req.schema = schema;
    req.chunk = chunk;
    req.batch_size = 10000;
    auto reader = src->read_chunk(req);
    auto w = dst->open_writer();
    w->begin();
    std::vector<cdc::Row> batch;
    while (reader->next(batch)) {
      w->write_rows(dt, batch);
      n += long(batch.size());
    }
    w->commit("perf", {{"chunk:t:" + std::to_string(chunk.index), "done"}});
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "sqlite bulk load: " << n << " rows x 10 columns in " << secs << " s = " << long(n / secs)
            << " rows/s\n";
  CHECK(n == rows);
  Raw out(dir.file("dst.db"));
  CHECK(out.scalar("SELECT count(*) FROM t") == rows);
}
