// DestinationConnector: what cdc needs from a database (or any other sink) it copies to.
// Thread-safety: a DestinationConnector is shared by all workers and its methods may be called
// concurrently; each worker opens its own DestinationWriter (own connection, own transaction),
// which is used by one thread at a time.
//
// The contract a destination keeps (docs/writing-a-connector.md walks through it with the
// in-memory destination of examples/custom_destination.cpp):
//  - Rows given to a writer are in the order of `DestinationTable::schema.columns`. With soft
//    deletes the schema ends with the flag column; rows may arrive one value short (without the
//    flag), which means "live" (false).
//  - One transaction may touch several tables (a stream batch spans every table that changed).
//  - The session never calls begin() while a transaction is open; a writer that finds one open
//    throws cdc::Error(Internal) instead of committing it implicitly. commit() without begin()
//    commits just the checkpoint entries. rollback() is always safe to call.
//  - Replays are idempotent: after a crash the session re-applies changes that may already be in
//    the target (from its last committed checkpoint). Upserts of full rows, deletes of rows that
//    are gone, and snapshot rows written twice must all leave the target as if applied once.
//  - Optional features are declared in DestinationCapabilities, never discovered by calling and
//    catching: the session does not call an optional method whose capability is false.
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
// A column whose `source_type` is non-empty is created with that native type verbatim: the type
// mapper keeps it only when source and destination speak the same dialect; otherwise the
// destination renders the LogicalType in its own terms.
// Schema objects (docs/schema-objects.md) are in target terms too: column, table and referenced
// table names after renames and shortening, and every expression (a column's `default_expr` and
// `generated`, index expressions and predicates, CHECKs) in the destination's dialect when
// planning knows it (postgresql, mysql, sqlite); what did not translate is left out and listed in
// `not_carried`. For another dialect expressions are the source's own text (`source_dialect`).
struct DestinationTable {
  TableSchema schema;
  DeleteSettings deletes;
  // What planning could not carry to this destination, one entry per object with the reason (an
  // expression that does not translate, an index on a column not copied, a foreign key to a table
  // not copied). A destination reports them with what it could not create itself: table objects
  // from create_table_objects() and finish(), foreign keys from create_foreign_keys() and finish().
  std::vector<std::string> not_carried;
  std::vector<std::string> not_carried_foreign_keys;
  // Set by the session: the source changes rows of this table through a foreign key's ON DELETE /
  // ON UPDATE action (CASCADE or SET NULL), which a MariaDB/MySQL source does not log. A
  // destination that declares capabilities().cascades may ignore it; for the others the session
  // keeps its own copy of such tables to turn those changes into change events.
  bool reached_by_cascades = false;
  // Set by the session (for a destination whose capabilities() say key_after_load) when it asks
  // prepare_table() for a table it is about to copy afresh, with
  // each chunk committed together with its checkpoint (so no row is ever written twice): a
  // destination may then create a table that does not exist yet without its primary key, and
  // load it faster (PostgreSQL builds the key once, sorted, instead of row by row). The session
  // calls prepare_table() again without it once the copy is in, before the table takes changes:
  // that call adds the key to an existing table that lacks it.
  bool key_after_load = false;
};

// What a destination can do beyond writing rows and changes. The session reads it once, when it
// opens the destination. Every field defaults to "cannot"; a host's destination sets what it has.
struct DestinationCapabilities {
  // Tables are created and altered by prepare_table(), and render_ddl() shows the statement
  // (SQL destinations). False for event buses and document stores: no DDL is rendered.
  bool ddl = false;
  // checkpoint_store() returns a store, and DestinationWriter::commit() writes the checkpoint
  // entries in the same transaction as the data. Without it the session keeps checkpoints in a
  // separate store, written right after each data commit (a crash in between replays a batch).
  bool atomic_checkpoints = false;
  // DestinationWriter::quarantine() keeps rows that could not be converted. Without it such a row
  // fails its table (Config::on_conversion_error is then effectively `fail`).
  bool quarantine = false;
  // DestinationWriter::evolve() changes target tables when source columns change. Without it a
  // schema change follows the table's `ddl` policy as a change the destination cannot take.
  bool schema_evolution = false;
  // DestinationWriter::record_schema_changes() keeps cdc's schema history table. Without it
  // schema changes are only logged.
  bool schema_history = false;
  // evolve() runs inside the writer's transaction, so DDL and checkpoint commit together
  // (PostgreSQL, SQLite). False where DDL commits by itself (MariaDB): the session then records
  // the change so that a crash between DDL and checkpoint replays it harmlessly.
  bool transactional_ddl = false;
  // DestinationWriter::backfill() sets some columns of rows that already exist, by key. Used when
  // the source changed existing values without logging them (a column added with a default, a
  // type change that rewrote values). Without it the session re-copies the table instead.
  bool backfill = false;
  // DestinationWriter::stage_keys() / sweep_unstaged() / drop_key_set(): a resync removes target
  // rows the source no longer has. Without it a resync only upserts (rows deleted at the source
  // while the target was damaged stay).
  bool resync_sweep = false;
  // DestinationWriter::apply_cascade(): rows a source's database changed by itself through a
  // foreign key (MariaDB/MySQL InnoDB cascades, which the binlog does not log) are changed at the
  // destination too. Without it such a source's cascades are not reproduced (a loud error says so).
  bool cascades = false;
  // DestinationConnector::create_table_objects() / create_foreign_keys() / finish(): the schema
  // objects a table carries beyond columns and key (indexes, constraints, foreign keys,
  // sequences, comments) are created at the destination.
  bool schema_objects = false;
  // prepare_table() creates a table marked DestinationTable::key_after_load without its primary
  // key, and adds the key when called again without the mark. Without it the session never marks
  // a table and never asks for the key.
  bool key_after_load = false;
};

// Where a session's changes come from, told to the destination once when the session opens it
// (DestinationConnector::describe_source). Event destinations put it in every change event.
struct SourceInfo {
  std::string connector;  // the source's dialect: "postgresql", "mysql", "sqlite"
  std::string session;    // the session's name
  std::string name;       // the config's `name`; empty when the config has none
  std::string database;   // the source's database (PostgreSQL, MariaDB) or the SQLite file's stem
};

// What a destination made of schema objects, and what it could not (and why): shown in logs, in
// the copy's summary and by `discover --to`. Nothing is left out without an entry here.
struct SchemaObjectReport {
  std::vector<std::string> created;  // "index orders_customer_idx on orders (customer_id)"
  std::vector<std::string> skipped;  // "FULLTEXT index ft_body on articles (body): PostgreSQL has no FULLTEXT index"
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
  // Added: the value every existing row gets (the source's DDL gave its existing rows this value).
  // Unset: existing rows get NULL, and the session backfills them from the source when needed.
  std::optional<Value> fill;
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

// Rows of a target table selected through a foreign key: those whose `columns` equal one of
// `keys` (the first level: the parent rows' old referenced values), or, deeper, those whose
// `columns` equal the `parent_columns` of the rows `parent` selects (a cascade that goes on to a
// grandchild). Column names are the target's.
struct RowSelection {
  DestinationTable table;
  std::vector<std::string> columns;
  std::vector<Row> keys;
  std::shared_ptr<const RowSelection> parent;
  std::vector<std::string> parent_columns;
};

// A change a source's database made by itself through a foreign key action, expressed on the
// rows it reaches (the source logged only the parent's change).
struct CascadeChange {
  enum class Action : std::uint8_t {
    Delete,   // ON DELETE CASCADE: the selected rows go (soft deletes: they are flagged)
    SetNull,  // ON DELETE/UPDATE SET NULL: `set_columns` of the selected rows become NULL
    Update,   // ON UPDATE CASCADE: `set_columns` of the selected rows become `set_values`
  } action = Action::Delete;
  RowSelection rows;
  std::vector<std::string> set_columns;
  Row set_values;
  // The parent's change that caused it: the source table of `rows.table` and where the change
  // was read (for destinations that turn derived changes into change events).
  TableId source_table;
  Position position;
  std::string transaction_id;
  std::int64_t commit_time_us = 0;
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
  // transaction (empty = none; only called with entries when capabilities().atomic_checkpoints).
  // After commit returns, data and checkpoint are durable together.
  virtual void commit(const std::string& session, const std::vector<CheckpointEntry>& checkpoint) = 0;
  virtual void rollback() noexcept = 0;

  // ---- optional: called only when the matching capability is declared ----------------------

  // capabilities().quarantine: records rows that could not be converted, in the current
  // transaction, in cdc's quarantine table (`_cdc_quarantine`, or `quarantine` in the
  // `cdc_metadata` schema).
  virtual void quarantine(const std::string& session, const std::vector<QuarantinedRow>& rows);
  // capabilities().schema_evolution: changes a target table to `table` (its new shape) by
  // `changes`, in the current transaction where the destination's DDL is transactional. Returns,
  // for each change, the statement run (empty where nothing was needed). Never drops a column or
  // data: a dropped source column stays, nullable. A change replayed after a crash (the column is
  // already added or renamed) is a no-op, not an error.
  virtual std::vector<std::string> evolve(const DestinationTable& table, const std::vector<TargetColumnChange>& changes);
  // capabilities().schema_history: records schema changes in cdc's schema history table, in the
  // current transaction.
  virtual void record_schema_changes(const std::string& session, const std::vector<SchemaHistoryEntry>& entries);
  // capabilities().backfill: for each row (full target width, in schema order) whose key exists in
  // the target, sets the columns marked in `columns` (true = set) to the row's values; rows whose
  // key is absent are ignored (never inserted). Key columns and the soft-delete flag are never
  // marked. In the current transaction.
  virtual void backfill(const DestinationTable& table, const std::vector<Row>& rows, const std::vector<bool>& columns);
  // capabilities().resync_sweep: adds the keys of `rows` (full target width) to the key set `set`
  // of this table, created on first use in cdc's own namespace (`_cdc_` prefix or the
  // `cdc_metadata` schema). A key set persists across transactions and restarts until dropped.
  // In the current transaction.
  virtual void stage_keys(const DestinationTable& table, const std::string& set, const std::vector<Row>& rows);
  // capabilities().resync_sweep: removes (or soft-deletes) every row of the table whose key is not
  // in `set`, then drops the set. Returns the number of rows removed. In the current transaction.
  virtual std::int64_t sweep_unstaged(const DestinationTable& table, const std::string& set);
  // capabilities().resync_sweep: drops the key set when present (an abandoned resync).
  virtual void drop_key_set(const DestinationTable& table, const std::string& set);
  // capabilities().cascades: makes `change` in the current transaction (idempotent: rows already
  // gone or already changed are left as they are). A deeper level's selection reads the rows of
  // the level above as the target has them, so the session applies a cascade's changes deepest
  // first.
  virtual void apply_cascade(const CascadeChange& change);
};

class CDC_API DestinationConnector {
 public:
  virtual ~DestinationConnector() = default;
  virtual std::string dialect() const = 0;
  // Called once by the session right after it opens the destination, before dialect() or any
  // other call. SQL destinations ignore it; event destinations (Kafka, Redis, JSON lines) name
  // the source in each event and take its dialect as their own, so values reach them as the
  // source has them (no cross-dialect type rule applies).
  virtual void describe_source(const SourceInfo& source) { (void)source; }
  // What this destination can do (see DestinationCapabilities). Must not change over its life.
  virtual DestinationCapabilities capabilities() const { return {}; }
  // capabilities().ddl: the DDL prepare_table would run for a table that does not exist yet.
  // Destinations without DDL return an empty string.
  virtual std::string render_ddl(const DestinationTable& table) const;
  // Makes the target ready for a table: SQL destinations create it if missing and add columns
  // the target lacks (never dropping data); others may create a topic or stream, or do nothing.
  virtual void prepare_table(const DestinationTable& table) = 0;
  virtual std::unique_ptr<DestinationWriter> open_writer() = 0;
  // capabilities().schema_objects: creates what the table carries beyond columns and key that is
  // best built once its rows are in (secondary and unique indexes, CHECK constraints, comments,
  // sequences / AUTO_INCREMENT set past the highest value copied), as `settings` allows.
  // Expressions are in the destination's terms (see DestinationTable; `source_dialect` says
  // whose they were). Idempotent (a restart calls it again). Called by a snapshot worker once the
  // table's copy is done, before its changes are applied; nothing created may make the apply of
  // changes fail where the source accepted them (unique keys that a reordered batch could violate
  // for a moment are deferrable, or built at finish()).
  virtual SchemaObjectReport create_table_objects(const DestinationTable& table, const std::string& source_dialect,
                                                  const SchemaSettings& settings);
  // capabilities().schema_objects: creates the foreign keys among `tables` (those whose referenced
  // table is among them), without checking the rows already there (PostgreSQL NOT VALID: chunks
  // read at different source positions may not agree yet), never blocking the stream's apply.
  // Idempotent. Called once every table of the first snapshot is loaded.
  virtual SchemaObjectReport create_foreign_keys(const std::vector<DestinationTable>& tables, const std::string& source_dialect,
                                                 const SchemaSettings& settings);
  // capabilities().schema_objects: the cut-over (`cdc-cli finish`): creates what is still missing
  // (as create_table_objects() and create_foreign_keys() would), validates foreign keys and
  // CHECKs, sets sequences past the highest value present, builds what was deferred (MariaDB
  // unique keys that cannot be deferred). Called with the session stopped. Idempotent.
  virtual SchemaObjectReport finish(const std::vector<DestinationTable>& tables, const std::string& source_dialect,
                                    const SchemaSettings& settings);
  // capabilities().atomic_checkpoints: a store inside the destination whose entries
  // DestinationWriter::commit writes atomically with the data. nullptr otherwise.
  virtual std::shared_ptr<CheckpointStore> checkpoint_store() { return nullptr; }
  // Longest identifier the destination accepts, in bytes (0 = no limit).
  virtual std::size_t max_identifier_length() const { return 0; }
};

}  // namespace cdc
