// Trigger-based change capture for SQLite sources (see sqlite_capture.cpp for the log layout).
#pragma once

#include <cdc/source.h>

#include <memory>
#include <string>
#include <vector>

namespace cdc::sqlite {

// Installs (idempotently) the capture log and triggers for `tables`; returns the current sequence.
StreamStart prepare_capture(const std::string& path, const std::vector<StreamTable>& tables);
// A change stream over the capture log, delivering entries after `from`.
std::unique_ptr<ChangeStream> open_capture_stream(const std::string& path, const std::vector<StreamTable>& tables,
                                                  const Position& from);
// Drops every `_cdc_` trigger and table; one line per object removed.
std::vector<std::string> teardown_capture(const std::string& path);
class Db;
// The capture log's current sequence as position text, read on `db` (inside the caller's read
// transaction, so it matches what that transaction sees); "" when capture is not installed.
std::string capture_position(Db& db);
// Numeric order of two capture positions; throws Error(State) on text that is not a sequence.
int compare_capture_positions(const Position& a, const Position& b);

}  // namespace cdc::sqlite
