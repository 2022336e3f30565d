// The checkpoint ledger: how a session's state is laid out in a CheckpointStore. Every key is
// built and parsed here and nowhere else.
//
//   "format"             ledger format version ("2"); absent = format 1 (cdc 0.1)
//   "stream"             position through which every streaming table not held back is applied
//   "table:<id>"         TableRecord as JSON: phase, flags, counters, ddl-ignore state
//   "schema:<id>"        the source table as the target reflects it (TableSchema as JSON): compared
//                        with the source at start and by discovery, and given to the stream so
//                        that it meets the DDL logged since then in order
//   "plan:<id>"          the table's snapshot chunks (fixed once planned, so a restart reads
//                        exactly the same ranges)
//   "chunk:<id>:<n>"     rows written by snapshot chunk n (present = the chunk is committed)
//   "held:<id>"          position a table that does not apply changes resumes from
//   "backfill:<id>"      columns to re-read from the source once the stream has passed a position
//   "cascade_state"      the newest transaction of the local cascade state that the destination
//                        holds (cascade_state.h; only where cascades become change events)
//   "lease"              the running process, written by the store's lease (not the ledger's)
//
// Format history: 1 had no "format", "schema:" or "backfill:" keys and fewer table fields;
// migrate() brings it to 2 in place. A format newer than this build knows is refused.
#pragma once

#include <cdc/checkpoint_store.h>
#include <cdc/schema.h>
#include <cdc/session.h>
#include <cdc/source.h>
#include <cdc/value.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cdc::detail {

constexpr int kLedgerFormat = 2;

// The persisted part of a table's state.
struct TableRecord {
  TablePhase phase = TablePhase::Pending;
  std::string target;
  std::string mode;                // copy | replicate | incremental
  std::string snapshot_position;   // where this table's stream takes over from its snapshot
  std::optional<Value> watermark;  // incremental mode
  std::int64_t changes = 0;        // changes applied (informational)
  std::int64_t quarantined = 0;    // rows sent to quarantine (informational)
  std::string error;
  bool paused = false;             // pause_table()
  bool ddl_held = false;           // held by `ddl: pause`; resuming applies the change
  bool needs_resync = false;       // let go of the source log (max_held_log): copy again
  std::int64_t held_since_us = 0;  // when it stopped applying changes (for max_held_log.age)
  std::int64_t failed_at_us = 0;   // when it failed (for retry.table_cooldown_s)
  TablePhase failed_from = TablePhase::Pending;  // what it was doing when it failed
  std::string resync_set;          // key set of the resync in progress (empty = none)
  // selection_shape() of the plan its rows were written with (empty = recorded by an older cdc):
  // a restart whose config selects other columns, rows or target copies the table again.
  std::string shape;
  // `ddl: ignore`: source columns whose old definition the plan keeps, and those left out.
  std::map<std::string, Column> kept_types;
  std::set<std::string> left_out;
};

// Columns to re-read from the source once the stream has passed `after`.
struct BackfillTask {
  std::vector<std::string> columns;  // source column names
  std::string after;                 // position; empty = at once
};

// What a ledger key names.
struct LedgerKey {
  enum class Kind { Format, Stream, Table, Schema, Plan, Chunk, Held, Backfill, Lease, CascadeState, Unknown } kind = Kind::Unknown;
  std::string table;  // Table..Backfill
  int chunk = -1;     // Chunk
};

struct Ledger {
  static std::string format_key() { return "format"; }
  static std::string stream_key() { return "stream"; }
  static std::string cascade_state_key() { return "cascade_state"; }
  static std::string table_key(const std::string& table) { return "table:" + table; }
  static std::string schema_key(const std::string& table) { return "schema:" + table; }
  static std::string plan_key(const std::string& table) { return "plan:" + table; }
  static std::string chunk_prefix(const std::string& table) { return "chunk:" + table + ":"; }
  static std::string chunk_key(const std::string& table, int index) { return chunk_prefix(table) + std::to_string(index); }
  static std::string held_key(const std::string& table) { return "held:" + table; }
  static std::string backfill_key(const std::string& table) { return "backfill:" + table; }
  static LedgerKey parse_key(const std::string& key);

  // Every key that belongs to `table` (for reset and for a fresh start of the table).
  static std::vector<std::string> keys_of(const std::map<std::string, std::string>& entries, const std::string& table);

  static std::string encode_table(const TableRecord& t);
  static TableRecord decode_table(const std::string& json, const std::string& table);
  static std::string encode_chunks(const std::vector<SnapshotChunk>& chunks);
  static std::vector<SnapshotChunk> decode_chunks(const std::string& json, const std::string& table);
  static std::string encode_schema(const TableSchema& schema);
  static TableSchema decode_schema(const std::string& json, const std::string& table);
  static std::string encode_backfill(const BackfillTask& task);
  static BackfillTask decode_backfill(const std::string& json, const std::string& table);
  static std::string encode_column(const Column& c);
  static Column decode_column(const std::string& json);

  // Brings entries written by an older cdc to the current format: returns the entries to write
  // (empty when already current). Throws Error(State) for a format newer than this build's.
  static std::vector<CheckpointEntry> migrate(const std::map<std::string, std::string>& entries, const std::string& session);
};

TablePhase parse_phase(const std::string& text);

}  // namespace cdc::detail
