#include "checkpoint_helpers.h"

#include <cdc/registry.h>

#include <boost/json.hpp>

namespace cdc_cli {

std::shared_ptr<cdc::CheckpointStore> open_checkpoint_store(const cdc::Config& config, std::string& where) {
  auto& registry = cdc::ConnectorRegistry::instance();
  if (!config.checkpoint.empty()) {
    where = cdc::redact_url(config.checkpoint);
    return registry.open_checkpoint_store(config.checkpoint);
  }
  auto destination = registry.open_destination(config.destination);
  if (auto store = destination->checkpoint_store()) {
    where = "destination " + cdc::redact_url(config.destination);
    return store;
  }
  auto url = cdc::ConnectorUrl::parse(config.destination);
  std::string file = "sqlite://" + url.path + ".cdc-checkpoint.db";
  where = file;
  return registry.open_checkpoint_store(file);
}

namespace {

std::string text_of(const boost::json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return {};
  if (it->value().is_string()) return std::string(it->value().get_string());
  return boost::json::serialize(it->value());
}

std::int64_t int_of(const boost::json::object& o, const char* key, std::int64_t fallback) {
  auto it = o.find(key);
  if (it == o.end()) return fallback;
  if (it->value().is_int64()) return it->value().get_int64();
  if (it->value().is_uint64()) return static_cast<std::int64_t>(it->value().get_uint64());
  if (it->value().is_double()) return static_cast<std::int64_t>(it->value().get_double());
  return fallback;
}

}  // namespace

SessionCheckpoint describe_checkpoint(const std::string& session, const std::map<std::string, std::string>& entries) {
  SessionCheckpoint out;
  out.session = session;
  std::map<std::string, TableCheckpoint> tables;
  std::map<std::string, int> chunks_done;
  for (const auto& [key, value] : entries) {
    if (key == "stream") {
      out.stream_position = value;
    } else if (key.rfind("table:", 0) == 0) {
      TableCheckpoint t;
      t.source = key.substr(6);
      boost::json::error_code ec;
      auto parsed = boost::json::parse(value, ec);
      if (!ec && parsed.is_object()) {
        const auto& o = parsed.get_object();
        t.phase = text_of(o, "phase");
        t.target = text_of(o, "target");
        t.rows = int_of(o, "rows", -1);
        t.chunks_total = static_cast<int>(int_of(o, "chunks_total", -1));
        t.snapshot_position = text_of(o, "snapshot_position");
        t.watermark = text_of(o, "watermark");
        t.error = text_of(o, "error");
      } else {
        t.raw = value;
      }
      tables[t.source] = std::move(t);
    } else if (key.rfind("chunk:", 0) == 0) {
      // chunk:<table>:<index>; the table id itself may contain ':' only before the last one.
      auto last = key.rfind(':');
      if (last > 6 && value == "done") ++chunks_done[key.substr(6, last - 6)];
    } else {
      out.other[key] = value;
    }
  }
  for (auto& [name, count] : chunks_done) {
    auto& t = tables[name];
    if (t.source.empty()) t.source = name;
    t.chunks_done = count;
  }
  for (auto& [name, t] : tables) out.tables.push_back(std::move(t));
  return out;
}

}  // namespace cdc_cli
