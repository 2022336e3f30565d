#include "core/event/event_destination.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <chrono>

namespace cdc::detail {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool bool_param(const std::string& v, const std::string& name, const ConnectorUrl& url) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  throw config_error("destination", fmt::format("\"{}\": parameter {}={} is not true or false", url.redacted(), name, v));
}

EventOptions take_event_options(std::map<std::string, std::string>& params, const ConnectorUrl& url) {
  EventOptions o;
  if (auto it = params.find("schemas"); it != params.end()) {
    o.schemas = bool_param(it->second, "schemas", url);
    params.erase(it);
  }
  if (auto it = params.find("decimal_handling"); it != params.end()) {
    if (it->second == "string") o.decimal = DecimalHandling::String;
    else if (it->second == "double") o.decimal = DecimalHandling::Double;
    else
      throw config_error("destination", fmt::format("\"{}\": decimal_handling={} is not one of string, double", url.redacted(), it->second));
    params.erase(it);
  }
  return o;
}

void reject_unknown_params(const std::map<std::string, std::string>& params, const std::set<std::string>& known,
                           const ConnectorUrl& url) {
  for (const auto& [k, v] : params) {
    if (known.count(k)) continue;
    std::string list;
    for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
    throw config_error("destination", fmt::format("\"{}\": unknown parameter \"{}\" (known: {})", url.redacted(), k, list));
  }
}

EventDestination::EventDestination(EventOptions options, std::string prefix_param)
    : options_(options), prefix_param_(std::move(prefix_param)) {}

std::string EventDestination::dialect() const {
  std::lock_guard<std::mutex> lock(mu_);
  return source_.connector.empty() ? "event" : source_.connector;
}

DestinationCapabilities EventDestination::capabilities() const {
  DestinationCapabilities caps;
  caps.atomic_checkpoints = true;
  return caps;
}

void EventDestination::describe_source(const SourceInfo& source) {
  std::lock_guard<std::mutex> lock(mu_);
  source_ = source;
  EventSource es;
  es.connector = source.connector;
  es.name = !prefix_param_.empty() ? prefix_param_ : !source.name.empty() ? source.name : !source.database.empty() ? source.database : "cdc";
  es.database = source.database;
  encoder_ = std::make_shared<EventEncoder>(options_, es);
}

SourceInfo EventDestination::source_info() const {
  std::lock_guard<std::mutex> lock(mu_);
  return source_;
}

std::string EventDestination::prefix() const { return encoder()->source().name; }

std::shared_ptr<const EventEncoder> EventDestination::encoder() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!encoder_) {
    // A host that never described its source: events name no connector.
    EventSource es;
    es.name = prefix_param_.empty() ? "cdc" : prefix_param_;
    return std::make_shared<EventEncoder>(options_, es);
  }
  return encoder_;
}

void EventDestination::prepare_table(const DestinationTable& table) {
  auto enc = encoder();
  prepare_stream(enc->stream_name(table), table);
}

EventWriter::EventWriter(std::shared_ptr<const EventEncoder> encoder) : encoder_(std::move(encoder)) {}

void EventWriter::begin() {
  if (open_) throw Error(ErrorKind::Internal, "begin() inside an open transaction");
  open_ = true;
  pending_.clear();
}

void EventWriter::write_rows(const DestinationTable& table, const std::vector<Row>& rows) {
  encoder_->encode_rows(table, rows, now_ms(), pending_);
}

void EventWriter::apply(const DestinationTable& table, const std::vector<ChangeEvent>& changes) {
  encoder_->encode_changes(table, changes, now_ms(), pending_);
}

void EventWriter::truncate(const DestinationTable& table) { encoder_->encode_truncate(table, now_ms(), pending_); }

void EventWriter::commit(const std::string& session, const std::vector<CheckpointEntry>& checkpoint) {
  open_ = false;
  std::vector<EncodedEvent> events;
  events.swap(pending_);
  publish(events, session, checkpoint);
}

void EventWriter::rollback() noexcept {
  open_ = false;
  pending_.clear();
}

std::map<std::string, std::string> SessionMapCheckpointStore::load(const std::string& session) {
  auto all = read_all();
  auto it = all.find(session);
  return it == all.end() ? std::map<std::string, std::string>{} : std::move(it->second);
}

void SessionMapCheckpointStore::clear(const std::string& session) {
  std::vector<CheckpointEntry> erase;
  for (const auto& [k, v] : load(session)) erase.push_back({k, ""});
  if (!erase.empty()) put(session, erase);
}

std::vector<std::string> SessionMapCheckpointStore::sessions() {
  std::vector<std::string> out;
  for (const auto& [s, m] : read_all())
    if (!m.empty()) out.push_back(s);
  return out;
}

}  // namespace cdc::detail
