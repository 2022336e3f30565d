// CheckpointStore: durable key/value state per session (which snapshot chunks are done, stream
// position per table, watermarks). Values are small text (JSON or position strings); what the
// keys mean is the session's business (lib/core/session/ledger.h).
// The default store lives inside the destination so that data and checkpoint commit in one
// transaction (DestinationWriter::commit); a standalone store (a SQLite file) is used when the
// destination cannot hold one. Implementations are thread-safe.
#pragma once

#include <cdc/export.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cdc {

struct CheckpointEntry {
  std::string key;    // "stream", "table:main.orders", "chunk:main.orders:3", ...
  std::string value;  // empty value = erase the key
};

// One run of a session: a ReplicationSession's run, from open to end (docs/status.md, "Run
// history"). Times are UTC text, "YYYY-MM-DD HH:MM:SS.ffffff" (SQLite: milliseconds).
struct RunRecord {
  std::int64_t run = 0;        // 1, 2, ... per session
  std::string session;
  std::string kind;            // "replicate" or "copy"
  std::string started_at;
  std::string ended_at;        // empty while running, or when the process died (outcome "interrupted")
  std::string outcome;         // running | finished | stopped | failed | interrupted
  std::int64_t rows = 0;       // snapshot rows copied in this run
  std::int64_t changes = 0;    // stream changes applied in this run
  std::string version;         // cdc's version
  std::string holder;          // "pid 4242 on db-host since ..."
  std::string error;           // the session's error when it failed
};

// One error a session met: a retried failure, a failed table, a change-stream error.
struct ErrorRecord {
  std::string at;              // UTC, as RunRecord's times
  std::string session;
  std::int64_t run = 0;
  std::string table;           // the source table, empty for the session or the stream
  std::string kind;            // connection, source, destination, conversion, ..., or "failed"
  std::string message;
  std::string position;        // the stream position at the time, when there was one
};

// Proof that this process is the only one writing a session: held from acquire_lease() until
// destroyed (or until the process dies: every built-in lease is released by the server or the
// kernel when its holder goes, so a SIGKILLed run never blocks the next one).
class CDC_API SessionLease {
 public:
  virtual ~SessionLease() = default;
};

class CDC_API CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  // All entries of a session (empty map for a new session).
  virtual std::map<std::string, std::string> load(const std::string& session) = 0;
  // Writes entries atomically, outside any data transaction.
  virtual void put(const std::string& session, const std::vector<CheckpointEntry>& entries) = 0;
  // Removes every entry of a session.
  virtual void clear(const std::string& session) = 0;
  // Session names that have entries.
  virtual std::vector<std::string> sessions() = 0;

  // Takes the session's writer lease, or throws cdc::Error(State) naming the process that holds
  // it ("session shop-1a2b3c4d is already running: pid 4242 on db-host since 2026-12-06 10:00:00
  // UTC"). `holder` describes this process, kept where the next one can read it. The built-in
  // stores use a PostgreSQL advisory lock, a MariaDB GET_LOCK, or a file lock beside a SQLite file.
  // The default returns nullptr: a host's store without leases does not guard against two
  // writers.
  virtual std::unique_ptr<SessionLease> acquire_lease(const std::string& session, const std::string& holder);
  // The description of the process holding the session's lease now, or nothing when no process
  // does (or the store has no leases). Does not take the lease.
  virtual std::optional<std::string> lease_holder(const std::string& session);

  // Run history and error log, kept beside the checkpoints by the built-in SQL stores
  // (`_cdc_runs`/`_cdc_errors`; PostgreSQL `cdc_metadata.runs`/`errors`). A store without them
  // keeps none: begin_run returns 0 and the lists are empty. Writes go outside any data
  // transaction; the oldest entries beyond a few thousand per session are pruned at begin_run.
  // begin_run also marks the session's runs still "running" as "interrupted" (the caller holds
  // the lease, so their process is gone) and returns the new run's number.
  virtual std::int64_t begin_run(const RunRecord& run);
  virtual void end_run(const RunRecord& run);
  virtual void record_errors(const std::vector<ErrorRecord>& errors);
  // The newest first.
  virtual std::vector<RunRecord> runs(const std::string& session, int limit);
  virtual std::vector<ErrorRecord> errors(const std::string& session, int limit);
};

}  // namespace cdc
