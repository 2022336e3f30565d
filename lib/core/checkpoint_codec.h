// How a session's state is laid out in a CheckpointStore (keys and JSON values).
//   "stream"             position through which every streaming table not held back is applied
//   "table:<id>"         TableCheckpoint as JSON
//   "plan:<id>"          the table's snapshot chunks as JSON (fixed once planned, so a restart
//                        reads exactly the same ranges)
//   "chunk:<id>:<n>"     rows written by snapshot chunk n (present = the chunk is committed)
//   "held:<id>"          position a paused/stopped/failed streaming table resumes from
#pragma once

#include <cdc/session.h>
#include <cdc/source.h>
#include <cdc/value.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cdc::detail {

struct TableCheckpoint {
  TablePhase phase = TablePhase::Pending;
  std::string target;
  std::string mode;
  std::string snapshot_position;   // where this table's stream takes over from its snapshot
  std::optional<Value> watermark;  // incremental mode
  std::int64_t changes = 0;        // changes applied (informational)
  std::int64_t quarantined = 0;    // rows sent to quarantine (informational)
  std::string error;
};

std::string table_key(const std::string& table);
std::string plan_key(const std::string& table);
std::string chunk_key(const std::string& table, int index);
std::string chunk_prefix(const std::string& table);
std::string held_key(const std::string& table);

std::string encode_table(const TableCheckpoint& t);
TableCheckpoint decode_table(const std::string& json, const std::string& table);
std::string encode_chunks(const std::vector<SnapshotChunk>& chunks);
std::vector<SnapshotChunk> decode_chunks(const std::string& json, const std::string& table);

TablePhase parse_phase(const std::string& text);

}  // namespace cdc::detail
