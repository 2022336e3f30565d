// Factories and shared internals of the PostgreSQL connector (registered for schemes
// "postgresql" and "postgres" by register.cpp).
#pragma once

#include "postgres/pg_conn.h"

#include <cdc/checkpoint_store.h>
#include <cdc/destination.h>
#include <cdc/source.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
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
  std::function<TableSchema(const TableId&)> describe;
};
std::unique_ptr<ChangeStream> open_pg_stream(const StreamSettings& settings, const std::vector<StreamTable>& tables,
                                             const Position& from);

}  // namespace cdc::pg
