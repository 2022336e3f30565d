#include "core/checkpoint_codec.h"

#include <cdc/error.h>

#include <boost/json.hpp>

namespace cdc::detail {

namespace json = boost::json;

std::string table_key(const std::string& table) { return "table:" + table; }
std::string plan_key(const std::string& table) { return "plan:" + table; }
std::string chunk_prefix(const std::string& table) { return "chunk:" + table + ":"; }
std::string chunk_key(const std::string& table, int index) { return chunk_prefix(table) + std::to_string(index); }
std::string held_key(const std::string& table) { return "held:" + table; }

TablePhase parse_phase(const std::string& text) {
  for (auto p : {TablePhase::Pending, TablePhase::Snapshot, TablePhase::Streaming, TablePhase::Incremental,
                 TablePhase::Done, TablePhase::Failed, TablePhase::Stopped, TablePhase::Resyncing, TablePhase::Removed,
                 TablePhase::Dropped})
    if (to_string(p) == text) return p;
  throw Error(ErrorKind::State, "unknown table phase \"" + text + "\" in checkpoint");
}

namespace {

json::value encode_value(const Value& v) {
  json::object o;
  o["kind"] = std::string(to_string(v.kind()));
  switch (v.kind()) {
    case ValueKind::Null: break;
    case ValueKind::Bool: o["value"] = v.as_bool(); break;
    case ValueKind::Int: o["value"] = v.as_int(); break;
    case ValueKind::UInt: o["value"] = v.as_uint(); break;
    case ValueKind::Double: o["value"] = v.as_double(); break;
    default: o["value"] = v.text(); break;
  }
  return o;
}

Value decode_value(const json::value& jv) {
  const auto& o = jv.as_object();
  std::string kind(o.at("kind").as_string());
  for (int k = 0; k <= static_cast<int>(ValueKind::Uuid); ++k) {
    auto vk = static_cast<ValueKind>(k);
    if (to_string(vk) != kind) continue;
    switch (vk) {
      case ValueKind::Null: return Value();
      case ValueKind::Bool: return Value::boolean(o.at("value").as_bool());
      case ValueKind::Int: return Value::int64(o.at("value").to_number<std::int64_t>());
      case ValueKind::UInt: return Value::uint64(o.at("value").to_number<std::uint64_t>());
      case ValueKind::Double: return Value::float64(o.at("value").to_number<double>());
      default: return Value::of_text(vk, std::string(o.at("value").as_string()));
    }
  }
  throw Error(ErrorKind::State, "unknown value kind \"" + kind + "\" in checkpoint");
}

std::string str(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
}

}  // namespace

std::string encode_table(const TableCheckpoint& t) {
  json::object o;
  o["phase"] = std::string(to_string(t.phase));
  o["target"] = t.target;
  o["mode"] = t.mode;
  if (!t.snapshot_position.empty()) o["snapshot_position"] = t.snapshot_position;
  if (t.watermark) o["watermark"] = encode_value(*t.watermark);
  if (t.changes) o["changes"] = t.changes;
  if (t.quarantined) o["quarantined"] = t.quarantined;
  if (!t.error.empty()) o["error"] = t.error;
  return json::serialize(o);
}

TableCheckpoint decode_table(const std::string& text, const std::string& table) {
  try {
    auto o = json::parse(text).as_object();
    TableCheckpoint t;
    t.phase = parse_phase(str(o, "phase"));
    t.target = str(o, "target");
    t.mode = str(o, "mode");
    t.snapshot_position = str(o, "snapshot_position");
    if (auto it = o.find("watermark"); it != o.end()) t.watermark = decode_value(it->value());
    if (auto it = o.find("changes"); it != o.end()) t.changes = it->value().to_number<std::int64_t>();
    if (auto it = o.find("quarantined"); it != o.end()) t.quarantined = it->value().to_number<std::int64_t>();
    t.error = str(o, "error");
    return t;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ErrorKind::State, std::string("unreadable checkpoint: ") + e.what(), false, "checkpoint table:" + table);
  }
}

std::string encode_chunks(const std::vector<SnapshotChunk>& chunks) {
  json::array a;
  for (const auto& c : chunks) a.push_back(json::array{c.lower, c.upper, c.estimated_rows});
  return json::serialize(a);
}

std::vector<SnapshotChunk> decode_chunks(const std::string& text, const std::string& table) {
  try {
    auto a = json::parse(text).as_array();
    std::vector<SnapshotChunk> out;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const auto& e = a[i].as_array();
      SnapshotChunk c;
      c.index = static_cast<int>(i);
      c.count = static_cast<int>(a.size());
      c.lower = std::string(e.at(0).as_string());
      c.upper = std::string(e.at(1).as_string());
      c.estimated_rows = e.at(2).to_number<std::int64_t>();
      out.push_back(std::move(c));
    }
    return out;
  } catch (const std::exception& e) {
    throw Error(ErrorKind::State, std::string("unreadable snapshot plan: ") + e.what(), false, "checkpoint plan:" + table);
  }
}

}  // namespace cdc::detail
