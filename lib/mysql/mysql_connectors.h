// Factories of the MariaDB/MySQL connector pieces (registered for schemes "mysql" and "mariadb"
// by register.cpp) and helpers shared between them.
#pragma once

#include <cdc/checkpoint_store.h>
#include <cdc/destination.h>
#include <cdc/registry.h>
#include <cdc/source.h>

#include <memory>
#include <string>
#include <vector>

namespace cdc::mysql {

std::shared_ptr<SourceConnector> make_source(const ConnectorUrl& url);
std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url);
// Standalone checkpoint store: table _cdc_checkpoints in the URL's database.
std::shared_ptr<CheckpointStore> make_checkpoint_store(const ConnectorUrl& url);

inline constexpr const char* kCheckpointTable = "_cdc_checkpoints";
inline constexpr const char* kQuarantineTable = "_cdc_quarantine";
inline constexpr const char* kSchemaHistoryTable = "_cdc_schema_history";
std::string checkpoint_table_ddl();

// Chunk bounds: a key tuple as ASCII text ("i:12,s:6162") and back.
std::string encode_key(const std::vector<Value>& values);
std::vector<Value> decode_key(std::string_view text);

}  // namespace cdc::mysql
