// Factories and shared internals of the PostgreSQL connector (registered for schemes
// "postgresql" and "postgres" by register.cpp).
#pragma once

#include "postgres/pg_conn.h"

#include <cdc/checkpoint_store.h>
#include <cdc/destination.h>
#include <cdc/source.h>
#include <cdc/value.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cdc::pg {

std::shared_ptr<SourceConnector> make_source(const ConnectorUrl& url);
std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url);
std::shared_ptr<CheckpointStore> make_checkpoint_store(const ConnectorUrl& url);

// Schema and table of cdc's checkpoints: cdc_metadata.checkpoints(session, key, value, updated_at).
inline constexpr const char* kMetadataSchema = "cdc_metadata";
inline constexpr const char* kCheckpointTable = "checkpoints";
inline constexpr const char* kQuarantineTable = "quarantine";
inline constexpr const char* kSchemaHistoryTable = "schema_history";
std::string checkpoint_ddl();

// A table as the catalog has it now, for a stream that met a changed Relation message.
struct DescribedTable {
  TableSchema table;
  // pg_current_wal_insert_lsn() - 1 read after the description: every DDL the description
  // reflects committed at or before it (SchemaChange::observed_at).
  std::uint64_t observed_lsn = 0;
  // What every row that existed when a column was added holds in it, where the catalog proves
  // it (see PgSource::known_fills): column -> value. Columns without proof are absent.
  std::map<std::string, Value> fills;
  // Each column's pg_attribute.atttypid and atttypmod, as Relation messages carry them.
  std::map<std::string, std::pair<std::uint32_t, std::int32_t>> types;
};

// The change stream over a logical replication slot (pg_stream.cpp).
struct StreamSettings {
  ConnParams params;
  std::string slot;
  std::string publication;
  // Every column each streamed table had when the stream opened (projected or not): a Relation
  // message with others means columns were added since.
  std::map<TableId, std::set<std::string>> known_columns;
  // Partitions of streamed partitioned tables -> their root (for publications that publish
  // changes under the partition's own name).
  std::map<TableId, TableId> partition_root;
  // The LSN where this process created the slot, "" when it existed: a resumed stream finding
  // the slot newer than its checkpoint says the old one was dropped.
  std::string slot_created_at;
  // Describes a table as the catalog has it now (a connection of its own): called when a
  // Relation message of a table whose StreamTable::source is given differs from the last one.
  std::function<DescribedTable(const TableId&)> describe;
};
std::unique_ptr<ChangeStream> open_pg_stream(const StreamSettings& settings, const std::vector<StreamTable>& tables,
                                             const Position& from);

}  // namespace cdc::pg
