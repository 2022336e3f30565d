// DestinationConnector: what cdc needs from a database it copies to.
// Thread-safety: a DestinationConnector is shared by all workers and its methods may be called
// concurrently; each worker opens its own DestinationWriter (own connection, own transaction),
// which is used by one thread at a time.
#pragma once

#include <cdc/change_event.h>
#include <cdc/checkpoint_store.h>
#include <cdc/config.h>
#include <cdc/export.h>
#include <cdc/schema.h>
#include <cdc/value.h>

#include <memory>
#include <string>
#include <vector>

namespace cdc {

// A table as the destination must hold it: mapped schema plus how deletes are applied.
// Rows given to a writer are in the order of `schema.columns`. With soft deletes the schema
// already contains `deletes.column` (boolean, last); a delete sets it true, an upsert false.
// A column whose `source_type` is non-empty is created with that native type verbatim: the type
// mapper keeps it only when source and destination speak the same dialect; otherwise the
// destination renders the LogicalType in its own terms.
struct DestinationTable {
  TableSchema schema;
  DeleteSettings deletes;
};

// A row that could not be converted for its destination, kept with the reason instead of
// stopping the table (Config::on_conversion_error: quarantine).
struct QuarantinedRow {
  std::string table;      // source table
  std::string key;        // the row's key, "id=42" (or its first columns without a key)
  std::string column;     // the column whose value failed
  std::string value;      // the source value as text (bytes in hex)
  std::string error;      // why it could not be converted
  std::string position;   // source position of the change, or "snapshot"
  std::int64_t at_us = 0; // when, microseconds since the epoch
};

// One column change as the destination must make it, in target terms (names after renames and
// shortening, types after mapping).
struct TargetColumnChange {
  ColumnChangeKind kind = ColumnChangeKind::Added;
  std::string column;    // the target column (Dropped: the column kept, to become nullable)
  std::string old_name;  // Renamed: the target column's name before
  Column target;         // Added/Widened/Incompatible/Renamed: the column as it must be now
};

// One row of cdc's schema history (`_cdc_schema_history`, or `schema_history` in the
// `cdc_metadata` schema): a source schema change and what was done about it.
struct SchemaHistoryEntry {
  std::string table;       // source table
  std::string target;      // target table
  std::string kind;        // added | dropped | widened | renamed | incompatible
  std::string column;      // source column (its new name for renames)
  std::string old_column;  // renamed: the previous name
  std::string old_type;    // source type before (empty for added)
  std::string new_type;    // source type now (empty for dropped)
  std::string action;      // applied | ignored | paused | failed
  std::string ddl;         // what the destination ran for it (may be empty)
  std::string position;    // source position of the change
  std::int64_t at_us = 0;  // when, microseconds since the epoch
};

// Text that changes whenever a table's shape does (column names, key, delete strategy): writers
// key their cached statements by it, so a table evolved mid-session gets fresh ones.
CDC_API std::string shape_signature(const DestinationTable& table);

// The column positions a writer resolves once per table shape: the key columns and the
// soft-delete flag (-1 for hard deletes). Throws a Schema error naming the table when the
// primary key or the configured soft-delete column is not among the table's columns.
struct WriteLayout {
  std::vector<int> key;
  int soft_delete = -1;
};
CDC_API WriteLayout write_layout(const DestinationTable& table);

class CDC_API DestinationWriter {
 public:
  virtual ~DestinationWriter() = default;
  virtual void begin() = 0;
  // Snapshot rows (the fast path). Tables with a key are written so that a row written twice
  // ends up once; tables without one are appended.
  virtual void write_rows(const DestinationTable& table, const std::vector<Row>& rows) = 0;
  // Change events in source order: inserts and updates become upserts of full rows (columns
  // marked unchanged are left as they are), deletes remove by key (or set the soft-delete flag),
  // truncate empties the table.
  virtual void apply(const DestinationTable& table, const std::vector<ChangeEvent>& changes) = 0;
  // Empties a table (a fresh snapshot of it starts).
  virtual void truncate(const DestinationTable& table) = 0;
  // Commits the transaction; `checkpoint` entries of `session` are written in the same
  // transaction (empty = none). After commit returns, data and checkpoint are durable together.
  virtual void commit(const std::string& session, const std::vector<CheckpointEntry>& checkpoint) = 0;
  // Records rows that could not be converted, in the current transaction, in cdc's quarantine
  // table (`_cdc_quarantine`, or `quarantine` in the `cdc_metadata` schema). The default throws
  // cdc::Error(Destination): destinations without one fail the table instead.
  virtual void quarantine(const std::string& session, const std::vector<QuarantinedRow>& rows);
  // Changes a target table to `table` (its new shape) by `changes`, in the current transaction
  // where the destination's DDL is transactional. Returns, for each change, the statement run
  // (empty where nothing was needed). Never drops a column or data: a dropped source column stays,
  // nullable. The default throws cdc::Error(Destination, "this destination cannot evolve
  // schemas"); the session then follows the table's `ddl` policy.
  virtual std::vector<std::string> evolve(const DestinationTable& table, const std::vector<TargetColumnChange>& changes);
  // Records schema changes in cdc's schema history table, in the current transaction. The
  // default throws cdc::Error(Destination); the session then only logs them.
  virtual void record_schema_changes(const std::string& session, const std::vector<SchemaHistoryEntry>& entries);
  virtual void rollback() noexcept = 0;
};

class CDC_API DestinationConnector {
 public:
  virtual ~DestinationConnector() = default;
  virtual std::string dialect() const = 0;
  // The DDL prepare_table would run for a table that does not exist yet.
  virtual std::string render_ddl(const DestinationTable& table) const = 0;
  // Creates the table if missing; adds columns the target lacks. Never drops data.
  virtual void prepare_table(const DestinationTable& table) = 0;
  virtual std::unique_ptr<DestinationWriter> open_writer() = 0;
  // A store inside the destination whose entries DestinationWriter::commit writes atomically
  // with the data, or nullptr when the destination cannot hold one.
  virtual std::shared_ptr<CheckpointStore> checkpoint_store() = 0;
  // Longest identifier the destination accepts, in bytes (0 = no limit).
  virtual std::size_t max_identifier_length() const { return 0; }
};

}  // namespace cdc
