// The checkpoint ledger's keys and JSON values (see ledger.h).
#include "core/session/ledger.h"

#include <cdc/error.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cstdlib>

namespace cdc::detail {

namespace json = boost::json;

TablePhase parse_phase(const std::string& text) {
  for (int p = 0; p <= static_cast<int>(TablePhase::Dropped); ++p)
    if (to_string(static_cast<TablePhase>(p)) == text) return static_cast<TablePhase>(p);
  throw Error(ErrorKind::State, "unknown table phase \"" + text + "\" in checkpoint");
}

LedgerKey Ledger::parse_key(const std::string& key) {
  LedgerKey k;
  if (key == "format") k.kind = LedgerKey::Kind::Format;
  else if (key == "stream") k.kind = LedgerKey::Kind::Stream;
  else if (key == "lease") k.kind = LedgerKey::Kind::Lease;
  else if (key == cascade_state_key()) k.kind = LedgerKey::Kind::CascadeState;
  auto take = [&](const char* prefix, LedgerKey::Kind kind) {
    std::size_t n = std::char_traits<char>::length(prefix);
    if (k.kind != LedgerKey::Kind::Unknown || key.compare(0, n, prefix) != 0) return;
    k.kind = kind;
    k.table = key.substr(n);
  };
  take("table:", LedgerKey::Kind::Table);
  take("schema:", LedgerKey::Kind::Schema);
  take("plan:", LedgerKey::Kind::Plan);
  take("held:", LedgerKey::Kind::Held);
  take("backfill:", LedgerKey::Kind::Backfill);
  take("chunk:", LedgerKey::Kind::Chunk);
  if (k.kind == LedgerKey::Kind::Chunk) {
    // "chunk:<id>:<n>": the id may itself hold ':'; the index is after the last one.
    auto colon = k.table.rfind(':');
    char* end = nullptr;
    long n = colon == std::string::npos ? -1 : std::strtol(k.table.c_str() + colon + 1, &end, 10);
    if (colon == std::string::npos || !end || *end != '\0' || n < 0) return LedgerKey{};
    k.chunk = static_cast<int>(n);
    k.table.resize(colon);
  }
  return k;
}

std::vector<std::string> Ledger::keys_of(const std::map<std::string, std::string>& entries, const std::string& table) {
  std::vector<std::string> out;
  for (const auto& [key, value] : entries) {
    LedgerKey k = parse_key(key);
    if (!k.table.empty() && k.table == table) out.push_back(key);
  }
  return out;
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

std::int64_t num(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_number() ? it->value().to_number<std::int64_t>() : 0;
}

bool flag(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_bool() && it->value().as_bool();
}

TypeId parse_type_id(const std::string& text) {
  for (int i = 0; i <= static_cast<int>(TypeId::Unknown); ++i)
    if (to_string(static_cast<TypeId>(i)) == text) return static_cast<TypeId>(i);
  throw Error(ErrorKind::State, "unknown type \"" + text + "\" in checkpoint");
}

json::value type_json(const LogicalType& t) {
  json::object o;
  o["id"] = std::string(to_string(t.id));
  if (t.is_unsigned) o["unsigned"] = true;
  if (t.length >= 0) o["length"] = t.length;
  if (t.precision >= 0) o["precision"] = t.precision;
  if (t.scale >= 0) o["scale"] = t.scale;
  if (t.fsp >= 0) o["fsp"] = t.fsp;
  if (t.fixed_length) o["fixed"] = true;
  if (!t.members.empty()) {
    json::array m;
    for (const auto& s : t.members) m.push_back(json::value(s));
    o["members"] = std::move(m);
  }
  if (t.element != TypeId::Unknown) o["element"] = std::string(to_string(t.element));
  if (t.geometry != 0) o["geometry"] = t.geometry;
  if (t.srid >= 0) o["srid"] = t.srid;
  return o;
}

LogicalType type_of(const json::object& o) {
  LogicalType t;
  t.id = parse_type_id(str(o, "id"));
  t.is_unsigned = flag(o, "unsigned");
  auto opt_int = [&](const char* key) {
    auto it = o.find(key);
    return it == o.end() ? -1 : static_cast<int>(it->value().to_number<std::int64_t>());
  };
  t.length = opt_int("length");
  t.precision = opt_int("precision");
  t.scale = opt_int("scale");
  t.fsp = opt_int("fsp");
  t.geometry = opt_int("geometry") < 0 ? 0 : opt_int("geometry");
  t.srid = opt_int("srid");
  t.fixed_length = flag(o, "fixed");
  if (auto it = o.find("members"); it != o.end())
    for (const auto& m : it->value().as_array()) t.members.emplace_back(m.as_string());
  if (auto it = o.find("element"); it != o.end()) t.element = parse_type_id(std::string(it->value().as_string()));
  return t;
}

json::value column_json(const Column& c) {
  json::object o;
  o["name"] = c.name;
  o["type"] = type_json(c.type);
  if (!c.nullable) o["not_null"] = true;
  if (c.default_expr) o["default"] = *c.default_expr;
  if (!c.source_type.empty()) o["source_type"] = c.source_type;
  if (c.identity) o["identity"] = true;
  if (!c.generated.empty()) {
    o["generated"] = c.generated;
    if (!c.generated_stored) o["virtual"] = true;
  }
  if (!c.on_update.empty()) o["on_update"] = c.on_update;
  if (!c.comment.empty()) o["comment"] = c.comment;
  return o;
}

Column column_of(const json::object& o) {
  Column c;
  c.name = str(o, "name");
  c.type = type_of(o.at("type").as_object());
  c.nullable = !flag(o, "not_null");
  if (auto it = o.find("default"); it != o.end() && it->value().is_string()) c.default_expr = std::string(it->value().as_string());
  c.source_type = str(o, "source_type");
  c.identity = flag(o, "identity");
  c.generated = str(o, "generated");
  c.generated_stored = !flag(o, "virtual");
  c.on_update = str(o, "on_update");
  c.comment = str(o, "comment");
  return c;
}

template <typename F>
auto parse_or_state(const std::string& what, const std::string& key, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ErrorKind::State, fmt::format("unreadable {}: {}", what, e.what()), false, "checkpoint " + key);
  }
}

}  // namespace

std::string Ledger::encode_table(const TableRecord& t) {
  json::object o;
  o["phase"] = std::string(to_string(t.phase));
  o["target"] = t.target;
  o["mode"] = t.mode;
  if (!t.snapshot_position.empty()) o["snapshot_position"] = t.snapshot_position;
  if (t.watermark) o["watermark"] = encode_value(*t.watermark);
  if (t.changes) o["changes"] = t.changes;
  if (t.quarantined) o["quarantined"] = t.quarantined;
  if (!t.error.empty()) o["error"] = t.error;
  if (t.paused) o["paused"] = true;
  if (t.ddl_held) o["ddl_held"] = true;
  if (t.needs_resync) o["needs_resync"] = true;
  if (t.held_since_us) o["held_since_us"] = t.held_since_us;
  if (t.failed_at_us) {
    o["failed_at_us"] = t.failed_at_us;
    o["failed_from"] = std::string(to_string(t.failed_from));
  }
  if (!t.resync_set.empty()) o["resync_set"] = t.resync_set;
  if (!t.shape.empty()) o["shape"] = t.shape;
  if (!t.kept_types.empty()) {
    json::array kept;
    for (const auto& [name, c] : t.kept_types) kept.push_back(column_json(c));
    o["kept_types"] = std::move(kept);
  }
  if (!t.left_out.empty()) {
    json::array out;
    for (const auto& c : t.left_out) out.push_back(json::value(c));
    o["left_out"] = std::move(out);
  }
  return json::serialize(o);
}

TableRecord Ledger::decode_table(const std::string& text, const std::string& table) {
  return parse_or_state("checkpoint", table_key(table), [&] {
    auto o = json::parse(text).as_object();
    TableRecord t;
    t.phase = parse_phase(str(o, "phase"));
    t.target = str(o, "target");
    t.mode = str(o, "mode");
    t.snapshot_position = str(o, "snapshot_position");
    if (auto it = o.find("watermark"); it != o.end()) t.watermark = decode_value(it->value());
    t.changes = num(o, "changes");
    t.quarantined = num(o, "quarantined");
    t.error = str(o, "error");
    t.paused = flag(o, "paused");
    t.ddl_held = flag(o, "ddl_held");
    t.needs_resync = flag(o, "needs_resync");
    t.held_since_us = num(o, "held_since_us");
    t.failed_at_us = num(o, "failed_at_us");
    if (t.failed_at_us) t.failed_from = parse_phase(str(o, "failed_from"));
    t.resync_set = str(o, "resync_set");
    t.shape = str(o, "shape");
    if (auto it = o.find("kept_types"); it != o.end())
      for (const auto& c : it->value().as_array()) {
        Column col = column_of(c.as_object());
        t.kept_types[col.name] = col;
      }
    if (auto it = o.find("left_out"); it != o.end())
      for (const auto& c : it->value().as_array()) t.left_out.insert(std::string(c.as_string()));
    return t;
  });
}

std::string Ledger::encode_chunks(const std::vector<SnapshotChunk>& chunks) {
  json::array a;
  for (const auto& c : chunks) a.push_back(json::array{c.lower, c.upper, c.estimated_rows});
  return json::serialize(a);
}

std::vector<SnapshotChunk> Ledger::decode_chunks(const std::string& text, const std::string& table) {
  return parse_or_state("snapshot plan", plan_key(table), [&] {
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
  });
}

std::string Ledger::encode_schema(const TableSchema& s) {
  json::object o;
  o["schema"] = s.id.schema;
  o["name"] = s.id.name;
  json::array cols;
  for (const auto& c : s.columns) cols.push_back(column_json(c));
  o["columns"] = std::move(cols);
  json::array pk;
  for (const auto& k : s.primary_key) pk.push_back(json::value(k));
  o["primary_key"] = std::move(pk);
  return json::serialize(o);
}

TableSchema Ledger::decode_schema(const std::string& text, const std::string& table) {
  return parse_or_state("table schema", schema_key(table), [&] {
    auto o = json::parse(text).as_object();
    TableSchema s;
    s.id = TableId(str(o, "schema"), str(o, "name"));
    for (const auto& c : o.at("columns").as_array()) s.columns.push_back(column_of(c.as_object()));
    for (const auto& k : o.at("primary_key").as_array()) s.primary_key.emplace_back(k.as_string());
    return s;
  });
}

std::string Ledger::encode_backfill(const BackfillTask& task) {
  json::object o;
  json::array cols;
  for (const auto& c : task.columns) cols.push_back(json::value(c));
  o["columns"] = std::move(cols);
  o["after"] = task.after;
  return json::serialize(o);
}

BackfillTask Ledger::decode_backfill(const std::string& text, const std::string& table) {
  return parse_or_state("backfill", backfill_key(table), [&] {
    auto o = json::parse(text).as_object();
    BackfillTask t;
    for (const auto& c : o.at("columns").as_array()) t.columns.emplace_back(c.as_string());
    t.after = str(o, "after");
    return t;
  });
}

std::string Ledger::encode_column(const Column& c) { return json::serialize(column_json(c)); }

Column Ledger::decode_column(const std::string& text) {
  return parse_or_state("column", "column", [&] { return column_of(json::parse(text).as_object()); });
}

std::vector<CheckpointEntry> Ledger::migrate(const std::map<std::string, std::string>& entries, const std::string& session) {
  if (entries.empty()) return {{format_key(), std::to_string(kLedgerFormat)}};
  int format = 1;
  if (auto it = entries.find(format_key()); it != entries.end()) {
    char* end = nullptr;
    long v = std::strtol(it->second.c_str(), &end, 10);
    if (!end || *end != '\0' || v < 1)
      throw Error(ErrorKind::State, fmt::format("unreadable ledger format \"{}\"", it->second), false, "checkpoint format");
    format = static_cast<int>(v);
  }
  if (format > kLedgerFormat)
    throw Error(ErrorKind::State,
                fmt::format("the checkpoints of session {} were written by a newer cdc (ledger format {}); this cdc reads "
                            "format {} and older: upgrade cdc",
                            session, format, kLedgerFormat),
                false, "session " + session);
  if (format == kLedgerFormat) return {};
  // 1 -> 2: every key of format 1 keeps its meaning and its value reads as format 2 (the new
  // table fields are optional); the tables' schemas are not known, and are taken from the
  // source at the next start.
  for (const auto& [key, value] : entries) {
    LedgerKey k = parse_key(key);
    if (k.kind == LedgerKey::Kind::Table) decode_table(value, k.table);
    if (k.kind == LedgerKey::Kind::Plan) decode_chunks(value, k.table);
  }
  return {{format_key(), std::to_string(kLedgerFormat)}};
}

}  // namespace cdc::detail
