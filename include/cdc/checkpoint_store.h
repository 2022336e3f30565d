// CheckpointStore: durable key/value state per session (which snapshot chunks are done, stream
// position per table, watermarks). Values are small text (JSON or position strings); what the
// keys mean is the session's business (lib/core/session/ledger.h).
// The default store lives inside the destination so that data and checkpoint commit in one
// transaction (DestinationWriter::commit); a standalone store (a SQLite file) is used when the
// destination cannot hold one. Implementations are thread-safe.
#pragma once

#include <cdc/export.h>

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
};

}  // namespace cdc
