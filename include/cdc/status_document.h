// The status document: the JSON that GET /api/v1/status serves and `cdc-cli status --format json`
// prints, one schema for both (docs/status.md). Pure functions, thread-safe.
#pragma once

#include <cdc/export.h>
#include <cdc/session.h>

#include <string>
#include <vector>

namespace cdc {

struct PipelineStatus {
  std::string name;      // the pipeline's name (config `name`, or the derived session name)
  SessionStatus status;
};

// `live`: the status of running sessions. false: what a checkpoint store records (checkpoint_status);
// rates, lag and this process's counters are null there.
CDC_API std::string status_document(const std::vector<PipelineStatus>& pipelines, bool live);
// One table's object of that document (the answer to a control request).
CDC_API std::string table_status_json(const TableStatus& table, bool live);

}  // namespace cdc
