// Verification: compares tables of two databases by row count and an order-independent checksum,
// and names a few differing keys when they differ. Reads both sides through SourceConnector, so
// any connector that can be read can be verified. Thread-safe; opens its own readers.
#pragma once

#include <cdc/config.h>
#include <cdc/export.h>
#include <cdc/source.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cdc {

struct VerifyOptions {
  std::vector<std::string> include = {"*"};  // glob patterns over source table names
  std::vector<std::string> exclude;
  bool views = false;             // also views matched by include (a view named exactly is always taken)
  int max_differences = 5;        // differing keys reported per table
  int parallel = 2;               // tables verified at once
  // Optional: the replication config whose settings (columns, renames, targets, soft deletes)
  // tell how source tables appear at the destination. Without it, same names, shared columns.
  const Config* config = nullptr;
};

struct TableVerifyResult {
  std::string source;  // source table
  std::string target;  // destination table
  std::int64_t source_rows = -1;
  std::int64_t target_rows = -1;
  std::string source_checksum;  // hex
  std::string target_checksum;
  bool equal = false;
  std::vector<std::string> differing_keys;  // "id=42 (missing at target)", ...
  std::string error;                        // the table could not be compared
};

struct VerifyReport {
  std::vector<TableVerifyResult> tables;
  bool all_equal() const {
    for (const auto& t : tables)
      if (!t.equal) return false;
    return !tables.empty();
  }
};

CDC_API VerifyReport verify(SourceConnector& source, SourceConnector& target, const VerifyOptions& options);
// Opens both URLs as sources through the registry.
CDC_API VerifyReport verify(const std::string& source_url, const std::string& target_url,
                            const VerifyOptions& options);

}  // namespace cdc
