// Reading a session's checkpoints for `status`. Local stand-ins until the library offers
// cdc::open_checkpoint_store(const Config&) and cdc::describe_checkpoint(...): they follow the
// lookup order documented on SessionOptions::checkpoint_store and the key layout the session writes.
#pragma once

#include <cdc/checkpoint_store.h>
#include <cdc/config.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cdc_cli {

// The store a session with this config uses: config.checkpoint, else the destination's own,
// else the SQLite file "<destination path>.cdc-checkpoint.db". `where` describes which one.
std::shared_ptr<cdc::CheckpointStore> open_checkpoint_store(const cdc::Config& config, std::string& where);

struct TableCheckpoint {
  std::string source;  // source table id
  std::string phase;   // snapshot | streaming | incremental | done | failed
  std::string target;
  std::int64_t rows = -1;
  int chunks_total = -1;
  int chunks_done = 0;  // counted from "chunk:<table>:<i>" = "done"
  std::string snapshot_position;
  std::string watermark;
  std::string error;
  std::string raw;      // the stored value, when it could not be parsed
};

struct SessionCheckpoint {
  std::string session;
  std::string stream_position;
  std::vector<TableCheckpoint> tables;
  std::map<std::string, std::string> other;  // keys this version does not know
};

SessionCheckpoint describe_checkpoint(const std::string& session, const std::map<std::string, std::string>& entries);

}  // namespace cdc_cli
