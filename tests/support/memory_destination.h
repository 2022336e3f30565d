// MemoryDestination: an in-memory cdc::DestinationConnector, its writers and its checkpoint store,
// declaring every capability of DestinationCapabilities (each can be switched off), so that engine
// paths (atomic checkpoints, quarantine, schema evolution and history, backfill, resync sweeps,
// leases) run without a server.
//
//   auto dst = std::make_shared<cdc_test::MemoryDestination>();
//   cdc::ReplicationSession session(config, src, dst);
//   ...
//   CHECK(dst->rows("orders") == src->rows("orders"));
//   CHECK(dst->checkpoints(session.status().name).count("stream"));
//   dst->failures().fail("commit", cdc_test::lost_connection());   // the next commit throws
//
// The model:
//  - A table holds its columns (as prepared, then evolved) and rows, keyed by its primary key
//    (appended without one). Rows given by a writer are matched to the stored columns by name.
//  - A writer's transaction is a list of operations applied at commit(), together with its
//    checkpoint entries, under the destination's lock: all or nothing, like a database
//    transaction (without isolation from other writers: concurrent writers' row operations
//    interleave, as with row locks). rollback() drops them.
//  - evolve() runs in the transaction (transactional DDL); a change already made (a column already
//    added, already renamed) is a no-op. Statements are rendered as SQL-like text for messages and
//    statements(); nothing parses them.
//  - Every DestinationConnector, DestinationWriter and CheckpointStore method goes through
//    failures() (names as the methods: "prepare_table", "open_writer", "begin", "write_rows",
//    "apply", "truncate", "commit", "quarantine", "evolve", "record_schema_changes", "backfill",
//    "stage_keys", "sweep_unstaged", "drop_key_set", "load", "put", "clear", "sessions",
//    "acquire_lease"): see failure_injector.h.
// Thread-safe; a writer is used by one thread at a time, as the interface says.
#pragma once

#include "support/failure_injector.h"

#include <cdc/checkpoint_store.h>
#include <cdc/destination.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cdc_test {

class MemoryCheckpointStore;

class MemoryDestination final : public cdc::DestinationConnector {
 public:
  struct Options {
    std::string dialect = "memory";
    cdc::DestinationCapabilities capabilities = all_capabilities();
    std::size_t max_identifier_length = 0;  // 0 = no limit
  };
  // Every capability declared.
  static cdc::DestinationCapabilities all_capabilities();

  MemoryDestination();
  explicit MemoryDestination(Options options);
  ~MemoryDestination() override;
  MemoryDestination(const MemoryDestination&) = delete;
  MemoryDestination& operator=(const MemoryDestination&) = delete;

  // ---- inspection (committed state only) ----
  std::vector<std::string> tables() const;
  bool has_table(const std::string& table) const;
  // The table's columns and key as prepared and evolved so far.
  cdc::TableSchema schema(const std::string& table) const;
  // Its rows in key order (insertion order without a key), in the order of schema(table).columns;
  // soft-deleted rows included (their flag set).
  std::vector<cdc::Row> rows(const std::string& table) const;
  // The row with this key (values of the key columns), if any.
  std::optional<cdc::Row> row(const std::string& table, const cdc::Row& key) const;
  std::vector<cdc::QuarantinedRow> quarantine() const;
  std::vector<cdc::SchemaHistoryEntry> schema_history() const;
  std::map<std::string, std::string> checkpoints(const std::string& session) const;
  // Statements made by prepare_table and evolve, in order ("CREATE TABLE ...", "ALTER TABLE ...").
  std::vector<std::string> statements() const;
  // Key sets of a table (stage_keys) not dropped yet.
  std::vector<std::string> key_sets(const std::string& table) const;
  // Transactions committed so far (commit() calls that succeeded).
  int commits() const;
  // The checkpoint store (shared by every writer; also usable on its own).
  std::shared_ptr<MemoryCheckpointStore> store() const;
  FailureInjector& failures();

  // ---- cdc::DestinationConnector ----
  std::string dialect() const override;
  cdc::DestinationCapabilities capabilities() const override;
  std::string render_ddl(const cdc::DestinationTable& table) const override;
  void prepare_table(const cdc::DestinationTable& table) override;
  std::unique_ptr<cdc::DestinationWriter> open_writer() override;
  std::shared_ptr<cdc::CheckpointStore> checkpoint_store() override;
  std::size_t max_identifier_length() const override;

  struct Shared;  // state, lock and failures, shared with writers and the store

 private:
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<MemoryCheckpointStore> store_;
};

// The checkpoint store of a MemoryDestination (or a standalone one), with in-process leases:
// one holder per session, released when the lease object is destroyed.
class MemoryCheckpointStore final : public cdc::CheckpointStore {
 public:
  MemoryCheckpointStore();  // standalone
  explicit MemoryCheckpointStore(std::shared_ptr<MemoryDestination::Shared> shared);

  std::map<std::string, std::string> load(const std::string& session) override;
  void put(const std::string& session, const std::vector<cdc::CheckpointEntry>& entries) override;
  void clear(const std::string& session) override;
  std::vector<std::string> sessions() override;
  std::unique_ptr<cdc::SessionLease> acquire_lease(const std::string& session, const std::string& holder) override;
  std::optional<std::string> lease_holder(const std::string& session) override;

 private:
  std::shared_ptr<MemoryDestination::Shared> shared_;
};

}  // namespace cdc_test
