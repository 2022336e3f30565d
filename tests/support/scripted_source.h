// ScriptedSource: an in-memory cdc::SourceConnector whose tables and change log a test scripts,
// so that engine paths (snapshot, stream, schema changes, retries) run without a server.
//
//   auto src = std::make_shared<cdc_test::ScriptedSource>();
//   src->create_table(cdc_test::table_schema("orders", {cdc_test::column("id", cdc::TypeId::Int64),
//                                                       cdc_test::column("total", cdc::TypeId::Int64)}, {"id"}),
//                     {cdc_test::row(1, 10), cdc_test::row(2, 20)});
//   src->insert("orders", cdc_test::row(3, 30));          // one event, its own transaction
//   src->transaction([&] { src->update("orders", cdc_test::row(1, 11)); src->delete_row("orders", cdc_test::row(2)); });
//   src->failures().fail("poll", cdc_test::lost_connection());   // the next poll() throws
//
// The model:
//  - Every mutation applies to the table at once and appends one event to the log; positions
//    are decimal sequence numbers ("1", "2", ...; "0" before the first event), compared
//    numerically. transaction() makes its mutations one source transaction (same id, the last
//    event ends it), atomic for every reader.
//  - Rows are given in the table's column order; a key is given as the values of the key columns
//    (the whole row for a table without a key). Tables are read in key order (insertion order
//    without a key).
//  - plan_snapshot splits by row ranges (key ranges, or row positions without a key) and honours
//    SnapshotPlanOptions; read_chunk returns the rows of the chunk as they are when it is called,
//    with position() the log position at that moment (exact).
//  - open_stream(tables, from) delivers the events after `from` of the requested tables only,
//    projected to the requested columns by name (columns an event's row image lacks are null and
//    marked unchanged), and ends a poll right after a schema change (kind Altered or Dropped of a
//    requested table, Created of any table). Acknowledgements are recorded.
//  - `where` filters are predicates a test registers with set_filter(); an unregistered filter text
//    is an error. Custom incremental queries are not supported.
//  - Every SourceConnector method, RowReader::next ("next") and the stream's "poll",
//    "acknowledge" and "position" go through failures(): see failure_injector.h.
// Thread-safe: the engine calls it from several threads while the test scripts it.
#pragma once

#include "support/failure_injector.h"

#include <cdc/schema_change.h>
#include <cdc/source.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace cdc_test {

// ---- building schemas and rows tersely ---------------------------------------------------------

cdc::Column column(std::string name, cdc::TypeId type, bool nullable = true);
// "orders" or "schema.orders"; `key` names the primary-key columns in key order.
cdc::TableSchema table_schema(const std::string& name, std::vector<cdc::Column> columns, std::vector<std::string> key = {});
// "orders" -> TableId("", "orders"); "sales.orders" -> TableId("sales", "orders").
cdc::TableId table_id(const std::string& name);

inline cdc::Value value(const cdc::Value& v) { return v; }
inline cdc::Value value(std::nullptr_t) { return cdc::Value::null(); }
inline cdc::Value value(bool b) { return cdc::Value::boolean(b); }
inline cdc::Value value(double d) { return cdc::Value::float64(d); }
inline cdc::Value value(const char* s) { return cdc::Value::string(s); }
inline cdc::Value value(const std::string& s) { return cdc::Value::string(s); }
template <typename T, typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
cdc::Value value(T n) {
  return cdc::Value::int64(static_cast<std::int64_t>(n));
}
// row(1, "a", nullptr, 2.5, true, cdc::Value::date("2024-01-01")): integers are int64, text is string.
template <typename... T>
cdc::Row row(T&&... values) {
  return cdc::Row{value(std::forward<T>(values))...};
}

// ---- ScriptedSource -------------------------------------------------------------------------------

// How ScriptedSource::alter reports a schema change and carries existing rows over.
struct AlterOptions {
  std::map<std::string, std::string> renamed;  // old column -> new; rows keep their values
  std::map<std::string, cdc::Value> fill;      // added columns: what existing rows get (also SchemaChange::fill); else null
  std::set<std::string> values_kept;           // SchemaChange::values_kept
  cdc::Position observed_at;                   // SchemaChange::observed_at (empty = the event's own position)
  std::string statement;                       // SchemaChange::statement
};

class ScriptedSource final : public cdc::SourceConnector {
 public:
  struct Options {
    std::string dialect = "scripted";
    bool supports_stream = true;
    bool logs_cascades = true;           // false: like MariaDB, the engine derives foreign-key cascades
    std::int64_t bytes_per_event = 100;  // log_bytes_between counts this per event
  };

  ScriptedSource();
  explicit ScriptedSource(Options options);
  ~ScriptedSource() override;
  ScriptedSource(const ScriptedSource&) = delete;
  ScriptedSource& operator=(const ScriptedSource&) = delete;

  // ---- scripting (each mutation appends one event; throws std::logic_error on a scripting
  // mistake: unknown table, duplicate or missing key, wrong row width) ----
  // A new table with `rows` already in it (they are not logged as inserts): a Created event.
  void create_table(cdc::TableSchema schema, std::vector<cdc::Row> rows = {});
  // A Dropped event; the table and its rows are gone.
  void drop_table(const std::string& table);
  void insert(const std::string& table, cdc::Row row);
  // Replaces the row with the same key as `row`.
  void update(const std::string& table, cdc::Row row);
  // Replaces the row whose key is `key` (the key may change).
  void update(const std::string& table, const cdc::Row& key, cdc::Row row);
  void delete_row(const std::string& table, const cdc::Row& key);
  void truncate(const std::string& table);
  // The table becomes `new_schema` (its whole description; the id must stay): a SchemaChange
  // event of kind Altered. Rows are carried over by column name (see AlterOptions).
  void alter(const std::string& table, cdc::TableSchema new_schema, AlterOptions options = {});
  // Sets a row (by key) without logging anything: a change the log never shows (values a DDL
  // rewrote, a backfill's source of truth).
  void set_unlogged(const std::string& table, cdc::Row row);
  // Deletes a row (by key) without logging it: what InnoDB's ON DELETE CASCADE does to a child.
  void delete_unlogged(const std::string& table, const cdc::Row& key);
  // The mutations `f` makes form one source transaction. Readers see all of them or none; `f`
  // must not wait for the engine (it holds the source's lock).
  template <typename F>
  void transaction(F&& f) {
    begin_transaction();
    try {
      f();
    } catch (...) {
      end_transaction();
      throw;
    }
    end_transaction();
  }
  void begin_transaction();
  void end_transaction();
  // Rows for which `predicate` holds pass the filter whose text is `where` (the config's
  // `tables.<t>.where`), for snapshot, incremental and stream reads alike.
  void set_filter(const std::string& where, std::function<bool(const cdc::TableSchema&, const cdc::Row&)> predicate);

  // ---- inspection ----
  // The table's rows now, in key order (insertion order without a key).
  std::vector<cdc::Row> rows(const std::string& table) const;
  cdc::TableSchema schema(const std::string& table) const;
  bool has_table(const std::string& table) const;
  // The position of the last event ("0" before the first).
  cdc::Position position() const;
  // Every position a stream was told it may release, in order.
  std::vector<cdc::Position> acknowledged() const;
  // The tables each open_stream() / prepare_stream() / extend_capture() call was given, in order.
  std::vector<std::vector<cdc::StreamTable>> opened_streams() const;
  std::vector<cdc::Position> opened_from() const;
  std::vector<std::vector<cdc::StreamTable>> prepared() const;
  std::vector<std::vector<cdc::StreamTable>> extended() const;
  // Streams open now (created and not yet destroyed).
  int live_streams() const;
  FailureInjector& failures();

  // ---- cdc::SourceConnector ----
  std::string dialect() const override;
  std::vector<cdc::TableSchema> discover(const std::function<bool(const cdc::TableId&)>& wanted) override;
  std::vector<cdc::SnapshotChunk> plan_snapshot(const cdc::TableSchema& table, const cdc::SnapshotPlanOptions& options) override;
  std::unique_ptr<cdc::RowReader> read_chunk(const cdc::ReadRequest& request) override;
  std::unique_ptr<cdc::RowReader> read_incremental(const cdc::IncrementalRequest& request) override;
  std::int64_t count_rows(const cdc::TableId& table, const std::string& where) override;
  bool supports_stream() const override;
  bool logs_cascades() const override;
  cdc::StreamStart prepare_stream(const std::vector<cdc::StreamTable>& tables) override;
  void extend_capture(const std::vector<cdc::StreamTable>& tables) override;
  std::unique_ptr<cdc::ChangeStream> open_stream(const std::vector<cdc::StreamTable>& tables, const cdc::Position& from) override;
  cdc::Position current_position() override;
  std::int64_t log_bytes_between(const cdc::Position& from, const cdc::Position& to) override;
  int compare_positions(const cdc::Position& a, const cdc::Position& b) const override;

  struct State;  // shared with the readers and streams it hands out

 private:
  std::shared_ptr<State> state_;
};

}  // namespace cdc_test
