// What a session's checkpoint store knows without running the session: its tables' state
// (cdc-cli status) and forgetting them (cdc-cli reset); and what is done to a destination's
// schema without running it: the cut-over (cdc-cli finish) and a schema without rows (cdc-cli
// copy --schema-only).
#include "core/session/ledger.h"

#include "core/text_util.h"

#include <cdc/error.h>
#include <cdc/plan.h>
#include <cdc/registry.h>
#include <cdc/session.h>
#include <cdc/type_mapper.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace cdc {

std::shared_ptr<CheckpointStore> open_checkpoint_store(const Config& config, DestinationConnector* destination) {
  auto& registry = ConnectorRegistry::instance();
  if (!config.checkpoint.empty()) return registry.open_checkpoint_store(config.checkpoint);
  std::shared_ptr<DestinationConnector> opened;
  if (!destination) {
    opened = registry.open_destination(config.destination);
    destination = opened.get();
  }
  if (destination->capabilities().atomic_checkpoints)
    if (auto store = destination->checkpoint_store()) return store;
  return registry.open_checkpoint_store("sqlite://cdc-checkpoints.db");
}

// How much of the run history the status shows.
constexpr int kStatusRuns = 5;
constexpr int kStatusErrors = 10;

SessionStatus checkpoint_status(const Config& config) {
  using detail::Ledger;
  using detail::LedgerKey;
  auto store = open_checkpoint_store(config);
  SessionStatus status;
  status.name = session_name(config);
  auto entries = store->load(status.name);
  if (auto it = entries.find(Ledger::stream_key()); it != entries.end()) status.stream_position = it->second;
  std::map<std::string, TableStatus> tables;
  for (const auto& [key, value] : entries) {
    LedgerKey k = Ledger::parse_key(key);
    if (k.kind != LedgerKey::Kind::Table) continue;
    auto rec = Ledger::decode_table(value, k.table);
    TableStatus& t = tables[k.table];
    t.source = k.table;
    t.target = rec.target;
    t.phase = rec.phase;
    t.error = rec.error;
    t.paused = rec.paused;
    t.needs_resync = rec.needs_resync;
    t.changes_applied = rec.changes;
    t.quarantined = rec.quarantined;
    if (rec.mode == "copy") t.mode = TableMode::Copy;
    else if (rec.mode == "incremental") t.mode = TableMode::Incremental;
    if (rec.watermark) t.position = rec.watermark->to_display();
    else if (rec.phase == TablePhase::Streaming) t.position = status.stream_position;
  }
  for (const auto& [key, value] : entries) {
    LedgerKey k = Ledger::parse_key(key);
    if (k.kind == LedgerKey::Kind::Plan) {
      auto chunks = Ledger::decode_chunks(value, k.table);
      TableStatus& t = tables[k.table];
      t.chunks_total = static_cast<int>(chunks.size());
      t.rows_estimated = 0;
      for (const auto& c : chunks) t.rows_estimated += std::max<std::int64_t>(c.estimated_rows, 0);
    } else if (k.kind == LedgerKey::Kind::Chunk) {
      TableStatus& t = tables[k.table];
      t.chunks_done += 1;
      t.rows_done += std::strtoll(value.c_str(), nullptr, 10);
    } else if (k.kind == LedgerKey::Kind::Held) {
      TableStatus& t = tables[k.table];
      t.position = value;
      t.held = t.paused || t.phase != TablePhase::Streaming;
    }
  }
  for (auto& [id, t] : tables) {
    if (t.source.empty()) t.source = id;
    status.tables.push_back(t);
  }
  status.runs = store->runs(status.name, kStatusRuns);
  status.recent_errors = store->errors(status.name, kStatusErrors);
  return status;
}

std::vector<std::string> reset_checkpoints(const Config& config, const std::vector<std::string>& tables) {
  using detail::Ledger;
  using detail::LedgerKey;
  auto store = open_checkpoint_store(config);
  const std::string name = session_name(config);
  if (auto holder = store->lease_holder(name))
    throw Error(ErrorKind::State, fmt::format("session {} is running ({}): stop it before resetting its checkpoints", name, *holder),
                false, "session " + name);
  auto entries = store->load(name);
  std::set<std::string> known;
  for (const auto& [key, value] : entries) {
    LedgerKey k = Ledger::parse_key(key);
    if (k.kind == LedgerKey::Kind::Table) known.insert(k.table);
  }
  if (tables.empty()) {
    store->clear(name);
    return {known.begin(), known.end()};
  }
  std::vector<CheckpointEntry> erase;
  std::vector<std::string> forgotten;
  for (const auto& wanted : tables) {
    std::string id;
    for (const auto& k : known)
      if (k == wanted || k.substr(k.rfind('.') + 1) == wanted) id = k;
    if (id.empty()) {
      std::vector<std::string> names(known.begin(), known.end());
      std::string near = detail::similar_names(wanted, names);
      throw config_error("tables", fmt::format("session {} has no checkpoints for table \"{}\" (it has: {}){}", name, wanted,
                                               names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", ")),
                                               near.empty() ? "" : " (similar: " + near + ")"));
    }
    for (const auto& key : Ledger::keys_of(entries, id)) erase.push_back({key, ""});
    forgotten.push_back(id);
  }
  store->put(name, erase);
  return forgotten;
}

namespace {

// The targets of every table the config selects, planned as a session plans them.
std::vector<DestinationTable> planned_targets(const Config& config, SourceConnector& source, DestinationConnector& destination) {
  std::vector<DestinationTable> out;
  for (auto& plan : plan_tables(config, source, *make_type_mapper(config), destination.dialect(), destination.max_identifier_length()))
    out.push_back(std::move(plan.target));
  return out;
}

}  // namespace

SchemaObjectReport finish_migration(const Config& config) {
  auto& registry = ConnectorRegistry::instance();
  auto destination = registry.open_destination(config.destination);
  auto store = open_checkpoint_store(config, destination.get());
  const std::string name = session_name(config);
  if (auto holder = store->lease_holder(name))
    throw Error(ErrorKind::State, fmt::format("session {} is running ({}): stop it before the cut-over", name, *holder), false,
                "session " + name);
  if (!destination->capabilities().schema_objects) return {};
  auto source = registry.open_source(config.source);
  return destination->finish(planned_targets(config, *source, *destination), source->dialect(), config.schema);
}

SchemaObjectReport create_schema(const Config& config) {
  auto& registry = ConnectorRegistry::instance();
  auto destination = registry.open_destination(config.destination);
  auto source = registry.open_source(config.source);
  auto targets = planned_targets(config, *source, *destination);
  SchemaObjectReport report;
  const bool objects = destination->capabilities().schema_objects;
  for (const auto& t : targets) {
    destination->prepare_table(t);
    report.created.push_back("table " + t.schema.id.to_string());
    if (!objects) continue;
    auto r = destination->create_table_objects(t, source->dialect(), config.schema);
    report.created.insert(report.created.end(), r.created.begin(), r.created.end());
    report.skipped.insert(report.skipped.end(), r.skipped.begin(), r.skipped.end());
  }
  if (objects && config.schema.foreign_keys) {
    auto r = destination->create_foreign_keys(targets, source->dialect(), config.schema);
    report.created.insert(report.created.end(), r.created.begin(), r.created.end());
    report.skipped.insert(report.skipped.end(), r.skipped.begin(), r.skipped.end());
  }
  return report;
}

}  // namespace cdc
