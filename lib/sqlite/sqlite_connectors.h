// Factories of the SQLite connector pieces (registered for scheme "sqlite" by register.cpp).
#pragma once

#include <cdc/checkpoint_store.h>
#include <cdc/destination.h>
#include <cdc/source.h>

#include <memory>
#include <string>

namespace cdc::sqlite {

// Source on an existing database file; throws cdc::Error naming the path when it is missing.
std::shared_ptr<SourceConnector> make_source(const std::string& path);
// Destination on a database file, created when missing.
std::shared_ptr<DestinationConnector> make_destination(const std::string& path);
// Standalone checkpoint store in `path` (table _cdc_checkpoints), created when missing.
std::shared_ptr<CheckpointStore> make_checkpoint_store(const std::string& path);

// Name of the checkpoint table, shared by the destination writer and the store.
inline constexpr const char* kCheckpointTable = "_cdc_checkpoints";
inline constexpr const char* kQuarantineTable = "_cdc_quarantine";
inline constexpr const char* kSchemaHistoryTable = "_cdc_schema_history";
// DDL of the checkpoint table (idempotent).
std::string checkpoint_table_ddl();
std::string quarantine_table_ddl();
std::string schema_history_table_ddl();

}  // namespace cdc::sqlite
