// CheckpointStore: durable key/value state per session (which snapshot chunks are done, stream
// position per table, watermarks). Values are small text (JSON or position strings).
// The default store lives inside the destination so that data and checkpoint commit in one
// transaction (DestinationWriter::commit); a standalone store (a SQLite file) is used when the
// destination cannot hold one. Implementations are thread-safe.
#pragma once

#include <cdc/export.h>

#include <map>
#include <string>
#include <vector>

namespace cdc {

struct CheckpointEntry {
  std::string key;    // "stream", "table:main.orders", "chunk:main.orders:3", ...
  std::string value;  // empty value = erase the key
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
};

}  // namespace cdc
