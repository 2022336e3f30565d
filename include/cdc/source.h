// SourceConnector: what cdc needs from a database it copies from.
// Thread-safety: a SourceConnector is shared by all session workers; every method may be called
// concurrently. The objects it returns (RowReader, ChangeStream) are used by one thread at a time,
// each with its own connection. Connectors start no threads of their own.
// Rows are always in the order of the columns of the schema given in the request (a projection
// of the discovered schema), so sources can push the projection down.
#pragma once

#include <cdc/change_event.h>
#include <cdc/export.h>
#include <cdc/position.h>
#include <cdc/schema.h>
#include <cdc/value.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cdc {

// A part of a table's snapshot. Bounds are the source's own text (rowid, encoded key tuple,
// ctid); lower inclusive, upper exclusive, empty = unbounded.
struct SnapshotChunk {
  int index = 0;
  int count = 1;
  std::string lower;
  std::string upper;
  std::int64_t estimated_rows = -1;
};

// How to split a table for its snapshot.
struct SnapshotPlanOptions {
  std::int64_t chunk_rows = 250000;  // target rows per chunk
  int min_chunks = 1;                // at least this many chunks where the key allows
  // One chunk for the whole table, read at one position (tables without a key that a change
  // stream follows: replaying changes over rows copied at another position would double them;
  // views without a configured key, which have no physical position to split them by).
  bool whole_table = false;
};

struct ReadRequest {
  TableSchema schema;           // columns to read, in output order (key columns included)
  SnapshotChunk chunk;
  std::string where;            // extra SQL filter, in the source's dialect; empty = none
  std::int64_t batch_size = 10000;
  std::string snapshot_id;      // from StreamStart or share_snapshot(); empty = the source's current state
  // A whole-table read (no chunk bounds) that must report its exact change-log position
  // (RowReader::position()) although no snapshot with one was given: a table without a key that
  // joins a running stream. MariaDB and SQLite readers always report one; PostgreSQL reads under
  // the snapshot of a temporary logical slot created for the read (it needs a free WAL sender and
  // slot, and waits for running transactions to end, like any slot creation). Reading a part of
  // a table with it set throws cdc::Error(Internal).
  bool exact_position = false;
};

struct IncrementalRequest {
  TableSchema schema;               // columns to read
  std::string watermark_column;     // must be among schema's columns
  std::optional<Value> last_value;  // rows with watermark > last_value; none = all rows
  std::string query;                // custom query with :last_value, or empty
  std::string where;                // extra filter (ignored with a custom query)
  std::int64_t batch_size = 10000;
};

// Pull-based reader of rows; owns its connection.
class CDC_API RowReader {
 public:
  virtual ~RowReader() = default;
  // Replaces `batch` with up to the request's batch_size rows; returns false (and an empty batch)
  // at the end.
  virtual bool next(std::vector<Row>& batch) = 0;
  // The change-log position the rows read are consistent with (known once next() has been
  // called), or empty when the source cannot tell. A table read as one such chunk takes over
  // from its stream exactly there, which keeps tables without a key free of doubled rows.
  virtual Position position() const { return {}; }
};

// A table the change stream must deliver, with its projection and filter.
struct StreamTable {
  TableSchema schema;  // columns to deliver, in output order
  std::string where;   // rows outside the filter: an update that leaves it arrives as a delete
  // The whole table as the session knows it (every column). When the log shows the table
  // differs from it, the stream reports a ChangeEvent with `schema_change`. Empty columns: the
  // stream does not report schema changes for this table.
  TableSchema source;

  StreamTable() = default;
  StreamTable(TableSchema schema_, std::string where_ = {}, TableSchema source_ = {})
      : schema(std::move(schema_)), where(std::move(where_)), source(std::move(source_)) {}
};

// Where the change stream of a fresh snapshot starts, and the snapshot readers must read at.
struct StreamStart {
  Position position;
  std::string snapshot_id;  // handed to ReadRequest::snapshot_id; empty where not needed
};

// Follows a source's change log. Used by one thread at a time (the session polls it from a
// read-ahead thread and opens and destroys it on its own); owns its connection.
class CDC_API ChangeStream {
 public:
  virtual ~ChangeStream() = default;
  // Appends up to `max_events` events, waiting at most `timeout` for the first one.
  // Events of one source transaction are delivered in order; the last carries end_of_transaction.
  virtual void poll(std::vector<ChangeEvent>& out, std::size_t max_events, std::chrono::milliseconds timeout) = 0;
  // Position through which everything has been delivered (moves on while idle too).
  virtual Position position() const = 0;
  // The destination committed everything through `position`: the source may release its log.
  virtual void acknowledge(const Position& position) = 0;
};

class CDC_API SourceConnector {
 public:
  virtual ~SourceConnector() = default;

  // "sqlite", "postgresql", "mysql": selects type-mapping rules.
  virtual std::string dialect() const = 0;
  // Longest identifier the database accepts, in bytes (0 = no limit): the length a copy into it
  // shortened names to, which `verify` reading it as a target must follow.
  virtual std::size_t max_identifier_length() const { return 0; }

  // User tables and views for which `wanted` returns true (cdc's own `_cdc_` objects never
  // appear), with columns, primary key and row estimates; views are marked TableSchema::view
  // (which of them take part is the caller's choice: plan_tables keeps a view only when
  // discovered_selected() says so).
  virtual std::vector<TableSchema> discover(const std::function<bool(const TableId&)>& wanted) = 0;

  // Splits a table into chunks (see SnapshotPlanOptions); a view by ranges of `table`'s
  // primary_key (its configured key). Chunk indexes and counts are set by
  // the session; a source may leave them as they are.
  virtual std::vector<SnapshotChunk> plan_snapshot(const TableSchema& table, const SnapshotPlanOptions& options) = 0;
  virtual std::unique_ptr<RowReader> read_chunk(const ReadRequest& request) = 0;
  virtual std::unique_ptr<RowReader> read_incremental(const IncrementalRequest& request) = 0;
  // Exact row count (with an optional filter), for verify and progress.
  virtual std::int64_t count_rows(const TableId& table, const std::string& where) = 0;

  // Change capture. Sources without a log return false and the session refuses mode replicate.
  virtual bool supports_stream() const { return false; }
  // Installs what capture needs (idempotent) and returns a consistent start point. Its
  // snapshot_id stays readable until release_snapshot() (or open_stream()).
  virtual StreamStart prepare_stream(const std::vector<StreamTable>& tables);
  // One view for all readers of a snapshot that starts no change stream (a copy): readers given
  // the id in ReadRequest::snapshot_id all read the source as of one point in time, until
  // release_snapshot(). Empty when the source cannot share a view (each reader then reads the
  // state of its own moment). Sources without the notion keep the default.
  virtual std::string share_snapshot();
  // The snapshot phase is over: frees what keeps `snapshot_id` readable (no-op when unknown).
  virtual void release_snapshot(const std::string& snapshot_id);
  // Tables that join a session whose stream already runs (added by a config reload, created at
  // the source): installs what their capture needs, idempotently. Called before their snapshot
  // starts, so that every change committed after current_position() (read once this returns)
  // reaches a stream opened at or before that change. PostgreSQL adds them to cdc's publication
  // after every transaction writing to them has ended (it takes a SHARE lock on them for the
  // change, so a writer that started before may delay it; a FOR ALL TABLES publication needs
  // nothing); SQLite installs their triggers, and installs them again for a table whose columns
  // changed (added columns are captured from then on); MariaDB's binlog has every table already.
  // Throws cdc::Error naming the table when it cannot (Config: a user-supplied publication that
  // lacks it, with the statement that fixes it).
  virtual void extend_capture(const std::vector<StreamTable>& tables);
  // Opens the change stream after `from` (events at or before `from` are not delivered).
  virtual std::unique_ptr<ChangeStream> open_stream(const std::vector<StreamTable>& tables, const Position& from);
  // The source's log position now: every change committed after this call returns is delivered
  // by a stream at a position strictly after it, and every change committed before it at a
  // position at or before it ("committed" = visible to a snapshot taken at that moment). Empty
  // when the source cannot tell. PostgreSQL: the WAL insert position minus one, returned once no
  // transaction whose commit record precedes it is still invisible (it waits for transactions
  // that were inside a statement, at most 2 minutes, then throws a retryable Error). MariaDB: the
  // binlog position of a consistent snapshot (file:offset#GTID state). SQLite: the capture
  // sequence (empty before capture is installed).
  virtual Position current_position();
  // Bytes of change log between two positions of this source (how much log a held table keeps
  // the server from releasing), 0 when `to` is not after `from`, or -1 when the source cannot
  // tell. PostgreSQL: the LSN difference; MariaDB: across binlog files by their sizes (-1 when a
  // file is gone); SQLite: -1.
  virtual std::int64_t log_bytes_between(const Position& from, const Position& to);
  // Orders positions: <0, 0, >0. Throws cdc::Error(State) for text it did not produce.
  virtual int compare_positions(const Position& a, const Position& b) const;
  // Removes every capture object cdc installed; returns one line per object removed.
  virtual std::vector<std::string> teardown();
  // Whether the change log carries the rows a foreign key action (ON DELETE CASCADE, SET NULL,
  // ON UPDATE CASCADE) changes. PostgreSQL's WAL and SQLite's capture triggers do; the
  // MariaDB/MySQL binlog does not (InnoDB changes them inside the storage engine), so the session
  // derives them from the foreign keys among the tables it replicates.
  virtual bool logs_cascades() const { return true; }
  // Operational facts for `status` (e.g. "retained_wal_bytes" -> "1234"); may be empty.
  virtual std::vector<std::pair<std::string, std::string>> stream_diagnostics() { return {}; }
};

}  // namespace cdc
