// Defaults for the optional parts of SourceConnector (sources without change capture) and of
// DestinationConnector/DestinationWriter (capabilities not declared), and shared destination helpers.
#include <cdc/error.h>
#include <cdc/destination.h>
#include <cdc/source.h>

#include <fmt/format.h>

namespace cdc {

namespace {
[[noreturn]] void no_stream(const SourceConnector& s) {
  throw Error(ErrorKind::Config, "the " + s.dialect() + " source does not support change streaming (use mode copy or incremental)",
              false, "mode");
}
}  // namespace

StreamStart SourceConnector::prepare_stream(const std::vector<StreamTable>&) { no_stream(*this); }

std::unique_ptr<ChangeStream> SourceConnector::open_stream(const std::vector<StreamTable>&, const Position&) {
  no_stream(*this);
}

int SourceConnector::compare_positions(const Position& a, const Position& b) const {
  if (a == b) return 0;
  throw Error(ErrorKind::State, "the " + dialect() + " source cannot order positions \"" + a.str() + "\" and \"" + b.str() + "\"");
}

std::vector<std::string> SourceConnector::teardown() { return {}; }

std::string SourceConnector::share_snapshot() { return {}; }

void SourceConnector::release_snapshot(const std::string&) {}

void SourceConnector::extend_capture(const std::vector<StreamTable>&) {}

Position SourceConnector::current_position() { return {}; }

std::int64_t SourceConnector::log_bytes_between(const Position&, const Position&) { return -1; }

namespace {
// An optional writer method the session called although the capability is not declared.
[[noreturn]] void not_declared(const char* what, const std::string& where) {
  throw Error(ErrorKind::Internal, fmt::format("this destination does not declare {}", what), false, where);
}
}  // namespace

std::string DestinationConnector::render_ddl(const DestinationTable&) const { return {}; }

void DestinationWriter::backfill(const DestinationTable& table, const std::vector<Row>&, const std::vector<bool>&) {
  not_declared("backfill", "table " + table.schema.id.to_string());
}

void DestinationWriter::stage_keys(const DestinationTable& table, const std::string&, const std::vector<Row>&) {
  not_declared("resync_sweep", "table " + table.schema.id.to_string());
}

std::int64_t DestinationWriter::sweep_unstaged(const DestinationTable& table, const std::string&) {
  not_declared("resync_sweep", "table " + table.schema.id.to_string());
}

void DestinationWriter::drop_key_set(const DestinationTable& table, const std::string&) {
  not_declared("resync_sweep", "table " + table.schema.id.to_string());
}

void DestinationWriter::apply_cascade(const CascadeChange& change) {
  not_declared("cascades", "table " + change.rows.table.schema.id.to_string());
}

// quarantine, evolve and record_schema_changes predate DestinationCapabilities: the engine of
// this release still calls them on any destination and takes a Destination error as "cannot",
// so they keep failing that way (an engine that reads capabilities never calls them).
void DestinationWriter::quarantine(const std::string&, const std::vector<QuarantinedRow>& rows) {
  throw Error(ErrorKind::Destination, "this destination has no quarantine table", false,
              rows.empty() ? std::string() : "table " + rows.front().table);
}

std::vector<std::string> DestinationWriter::evolve(const DestinationTable& table, const std::vector<TargetColumnChange>&) {
  throw Error(ErrorKind::Destination, "this destination cannot evolve schemas", false, "table " + table.schema.id.to_string());
}

void DestinationWriter::record_schema_changes(const std::string&, const std::vector<SchemaHistoryEntry>& entries) {
  throw Error(ErrorKind::Destination, "this destination has no schema history table", false,
              entries.empty() ? std::string() : "table " + entries.front().table);
}

}  // namespace cdc

namespace cdc {

std::string shape_signature(const DestinationTable& table) {
  const TableSchema& s = table.schema;
  std::string sig;
  // Types too: a column widened mid-session must not reuse statements prepared for the old type.
  for (const auto& c : s.columns) sig += c.name + '\x1d' + c.type.to_string() + '\x1d' + c.source_type + '\x1f';
  sig += '\x1e';
  for (const auto& k : s.primary_key) sig += k + '\x1f';
  if (table.deletes.strategy == DeleteStrategy::Soft) sig += "\x1esoft:" + table.deletes.column;
  return sig;
}

WriteLayout write_layout(const DestinationTable& table) {
  const TableSchema& s = table.schema;
  WriteLayout w;
  w.key = s.key_indexes();
  std::string where = "table " + s.id.to_string();
  if (w.key.size() != s.primary_key.size())
    throw Error(ErrorKind::Schema, fmt::format("primary key of table {} names a column it does not have", s.id.to_string()),
                false, where);
  if (table.deletes.strategy == DeleteStrategy::Soft) {
    w.soft_delete = s.index_of(table.deletes.column);
    if (w.soft_delete < 0)
      throw Error(ErrorKind::Schema,
                  fmt::format("soft-delete column \"{}\" is missing from table {}", table.deletes.column, s.id.to_string()),
                  false, where);
  }
  return w;
}

}  // namespace cdc

namespace cdc {

std::unique_ptr<SessionLease> CheckpointStore::acquire_lease(const std::string&, const std::string&) { return nullptr; }

std::optional<std::string> CheckpointStore::lease_holder(const std::string&) { return std::nullopt; }

std::int64_t CheckpointStore::begin_run(const RunRecord&) { return 0; }
void CheckpointStore::end_run(const RunRecord&) {}
void CheckpointStore::record_errors(const std::vector<ErrorRecord>&) {}
std::vector<RunRecord> CheckpointStore::runs(const std::string&, int) { return {}; }
std::vector<ErrorRecord> CheckpointStore::errors(const std::string&, int) { return {}; }

SchemaObjectReport DestinationConnector::create_table_objects(const DestinationTable&, const std::string&, const SchemaSettings&) {
  return {};
}

SchemaObjectReport DestinationConnector::create_foreign_keys(const std::vector<DestinationTable>&, const std::string&,
                                                             const SchemaSettings&) {
  return {};
}

SchemaObjectReport DestinationConnector::finish(const std::vector<DestinationTable>&, const std::string&, const SchemaSettings&) {
  return {};
}

}  // namespace cdc
