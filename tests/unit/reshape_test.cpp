// What the config selects of a table (its filter, columns, target) changing while the table's
// rows are being written, over the in-memory fakes: by a reload while its copy is under way, while
// it streams, while it is failed, and between two runs. In every case the target ends with the rows
// the new selection gives, none written under the old one (a copy that went on with its remaining
// chunks would keep the rows its first chunks wrote).
#include "support/catch_printers.h"
#include "support/memory_destination.h"
#include "support/scripted_source.h"
#include "support/wait.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <thread>

using cdc::Row;
using cdc::TypeId;
using cdc_test::column;
using cdc_test::row;
using cdc_test::table_schema;

using cdc_test::by_table;
using cdc_test::eventually;
using cdc_test::QuietLog;

namespace {

constexpr const char* kEven = "id % 2 = 0";

struct Table {
  std::shared_ptr<cdc_test::ScriptedSource> src = std::make_shared<cdc_test::ScriptedSource>();
  std::shared_ptr<cdc_test::MemoryDestination> dst = std::make_shared<cdc_test::MemoryDestination>();

  Table() {
    std::vector<Row> rows;
    for (int i = 1; i <= 40; ++i) rows.push_back(row(i, i * 10));
    src->create_table(table_schema("t", {column("id", TypeId::Int64), column("v", TypeId::Int64)}, {"id"}), rows);
    src->set_filter(kEven, [](const cdc::TableSchema&, const Row& r) { return r[0].as_int() % 2 == 0; });
  }

  // Four chunks of ten rows, copied one at a time.
  static cdc::Config config(const std::string& where = "") {
    cdc::Config c;
    c.name = "reshape";
    // Not opened (the session is given its connectors); a reload checks that they stay the same.
    c.source = "sqlite:///unused-source.db";
    c.destination = "sqlite:///unused-destination.db";
    c.poll_interval_ms = 5;
    c.parallel_tables = 1;
    c.defaults.parallel_chunks = 1;
    c.defaults.chunk_rows = 10;
    c.defaults.batch_size = 4;
    c.retry.initial_delay_ms = 5;
    c.retry.max_delay_ms = 20;
    c.retry.jitter = 0;
    c.discover_interval_s = 0;
    if (!where.empty()) c.tables["t"].where = where;
    return c;
  }

  // The target has exactly the source's rows with an even id.
  bool even_only() const {
    if (!dst->has_table("t")) return false;
    std::vector<Row> want;
    for (const auto& r : src->rows("t"))
      if (r[0].as_int() % 2 == 0) want.push_back(r);
    return dst->rows("t") == want;
  }
  cdc::TablePhase phase(const cdc::ReplicationSession& s) const { return by_table(s.status())["t"].phase; }
};

}  // namespace

TEST_CASE("reshape: a reload that filters a table while its copy is under way copies it again from the start",
          "[unit][engine][reshape]") {
  QuietLog quiet;
  Table f;
  // The third chunk's read waits: two chunks (ids 1-20, odd ones included) are in the target.
  f.src->failures().park("read_chunk", 3);
  cdc::ReplicationSession session(Table::config(), f.src, f.dst);
  session.start();
  REQUIRE(f.src->failures().parked("read_chunk"));
  CHECK(f.dst->rows("t").size() == 20);
  CHECK(f.phase(session) == cdc::TablePhase::Snapshot);

  // The reload waits for the chunk at work, then starts the copy over with the filter.
  std::thread reload([&] { session.reload(Table::config(kEven)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  f.src->failures().release("read_chunk");
  reload.join();
  REQUIRE(eventually([&] { return f.even_only() && f.phase(session) == cdc::TablePhase::Streaming; }));

  // And it streams under the filter.
  f.src->insert("t", row(41, 1));
  f.src->insert("t", row(42, 1));
  f.src->update("t", row(2, 7));
  REQUIRE(eventually([&] { return f.even_only(); }));
  session.stop();
  session.wait();
}

TEST_CASE("reshape: a reload that filters a streaming or a failed table copies it again", "[unit][engine][reshape]") {
  QuietLog quiet;
  Table f;
  cdc::ReplicationSession session(Table::config(), f.src, f.dst);
  session.start();
  REQUIRE(eventually([&] { return f.phase(session) == cdc::TablePhase::Streaming && f.dst->rows("t") == f.src->rows("t"); }));

  SECTION("streaming") {
    session.reload(Table::config(kEven));
    REQUIRE(eventually([&] { return f.even_only() && f.phase(session) == cdc::TablePhase::Streaming; }));
  }
  SECTION("stopped, then resumed") {
    session.stop_table("t");
    f.src->update("t", row(4, 44));
    session.reload(Table::config(kEven));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(f.phase(session) == cdc::TablePhase::Stopped);  // it stays stopped until resumed
    session.resume_table("t");
    REQUIRE(eventually([&] { return f.even_only() && f.phase(session) == cdc::TablePhase::Streaming; }));
  }
  f.src->insert("t", row(44, 1));
  f.src->delete_row("t", row(6));
  REQUIRE(eventually([&] { return f.even_only(); }));
  session.stop();
  session.wait();
}

TEST_CASE("reshape: a restart whose config filters a table copies it again, whether its copy was under way or done",
          "[unit][engine][reshape]") {
  QuietLog quiet;
  Table f;
  SECTION("copy under way") {
    f.src->failures().park("read_chunk", 3);
    {
      cdc::ReplicationSession session(Table::config(), f.src, f.dst);
      session.start();
      REQUIRE(f.src->failures().parked("read_chunk"));
      session.stop();
      f.src->failures().release("read_chunk");
      session.wait();
    }
    CHECK(f.dst->rows("t").size() == 20);  // two chunks in, with odd ids
  }
  SECTION("copy done, streaming") {
    cdc::ReplicationSession session(Table::config(), f.src, f.dst);
    session.start();
    REQUIRE(eventually([&] { return f.phase(session) == cdc::TablePhase::Streaming && f.dst->rows("t") == f.src->rows("t"); }));
    session.stop();
    session.wait();
  }
  f.src->update("t", row(8, 88));
  cdc::ReplicationSession again(Table::config(kEven), f.src, f.dst);
  again.start();
  REQUIRE(eventually([&] { return f.even_only() && f.phase(again) == cdc::TablePhase::Streaming; }));
  again.stop();
  again.wait();

  // A third run with the same config goes on streaming: nothing is copied again.
  const int reads = f.src->failures().calls("read_chunk");
  f.src->insert("t", row(46, 1));
  cdc::ReplicationSession third(Table::config(kEven), f.src, f.dst);
  third.start();
  REQUIRE(eventually([&] { return f.even_only() && f.phase(third) == cdc::TablePhase::Streaming; }));
  CHECK(f.src->failures().calls("read_chunk") == reads);
  third.stop();
  third.wait();
}
