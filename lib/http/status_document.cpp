// The status document (docs/status.md): one JSON schema for the live endpoint and for the
// checkpoint store's view.
#include <cdc/status_document.h>
#include <cdc/version.h>

#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <ctime>

namespace cdc {

namespace json = boost::json;

namespace {

json::value opt_int(std::int64_t v, bool known) { return known ? json::value(v) : json::value(nullptr); }
json::value opt_str(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }
json::value seconds(std::int64_t ms) { return ms < 0 ? json::value(nullptr) : json::value(static_cast<double>(ms) / 1000.0); }

std::string utc_now() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json::object table_object(const TableStatus& t, bool live) {
  json::object o;
  o["table"] = t.source;
  o["target"] = t.target;
  o["mode"] = std::string(to_string(t.mode));
  o["phase"] = std::string(to_string(t.phase));
  o["paused"] = t.paused;
  o["held"] = t.held;
  o["hold_reason"] = opt_str(t.hold_reason);
  o["needs_resync"] = t.needs_resync;
  json::object rows;
  rows["copied"] = t.rows_done;
  rows["estimated"] = opt_int(t.rows_estimated, t.rows_estimated >= 0);
  rows["chunks_done"] = t.chunks_done;
  rows["chunks_total"] = t.chunks_total;
  o["rows"] = std::move(rows);
  json::object changes;
  changes["applied"] = t.changes_applied;
  changes["inserts"] = opt_int(t.inserts, live);
  changes["updates"] = opt_int(t.updates, live);
  changes["deletes"] = opt_int(t.deletes, live);
  changes["truncates"] = opt_int(t.truncates, live);
  o["changes"] = std::move(changes);
  o["rows_per_second"] = live ? json::value(std::isfinite(t.rows_per_second) ? t.rows_per_second : 0.0) : json::value(nullptr);
  o["eta_seconds"] = live && t.eta_seconds >= 0 ? json::value(t.eta_seconds) : json::value(nullptr);
  o["lag_seconds"] = live ? seconds(t.lag_ms) : json::value(nullptr);
  o["quarantined"] = t.quarantined;
  o["values_changed"] = opt_int(t.values_changed, live);
  o["attempts"] = opt_int(t.attempts, live);
  o["log_retained_bytes"] = opt_int(t.log_retained_bytes, live && t.log_retained_bytes >= 0);
  o["position"] = opt_str(t.position);
  o["last_error"] = opt_str(t.error);
  json::object errors;
  for (const auto& [kind, n] : t.errors) errors[kind] = n;
  o["errors"] = live ? json::value(std::move(errors)) : json::value(nullptr);
  return o;
}

}  // namespace

std::string table_status_json(const TableStatus& table, bool live) { return json::serialize(table_object(table, live)); }

std::string status_document(const std::vector<PipelineStatus>& pipelines, bool live) {
  json::object doc;
  doc["version"] = std::string(version());
  doc["generated_at"] = utc_now();
  doc["live"] = live;
  json::array list;
  for (const auto& p : pipelines) {
    const SessionStatus& s = p.status;
    json::object o;
    o["name"] = p.name;
    o["state"] = live ? json::value(std::string(to_string(s.state))) : json::value("not running");
    o["error"] = opt_str(s.error);
    o["elapsed_seconds"] = live ? json::value(s.elapsed_seconds) : json::value(nullptr);
    o["lag_seconds"] = live ? seconds(s.lag_ms) : json::value(nullptr);
    o["stream_position"] = opt_str(s.stream_position);
    json::object errors;
    for (const auto& [kind, n] : s.errors) errors[kind] = n;
    o["errors"] = live ? json::value(std::move(errors)) : json::value(nullptr);
    json::array tables;
    for (const auto& t : s.tables) tables.push_back(table_object(t, live));
    o["tables"] = std::move(tables);
    json::array runs;
    for (const auto& r : s.runs) {
      json::object x;
      x["run"] = r.run;
      x["kind"] = r.kind;
      x["started_at"] = opt_str(r.started_at);
      x["ended_at"] = opt_str(r.ended_at);
      x["outcome"] = r.outcome;
      x["rows"] = r.rows;
      x["changes"] = r.changes;
      x["version"] = r.version;
      x["holder"] = r.holder;
      x["error"] = opt_str(r.error);
      runs.push_back(std::move(x));
    }
    o["runs"] = std::move(runs);
    json::array log;
    for (const auto& e : s.recent_errors) {
      json::object x;
      x["at"] = e.at;
      x["run"] = e.run;
      x["table"] = opt_str(e.table);
      x["kind"] = e.kind;
      x["message"] = e.message;
      x["position"] = opt_str(e.position);
      log.push_back(std::move(x));
    }
    o["error_log"] = std::move(log);
    list.push_back(std::move(o));
  }
  doc["pipelines"] = std::move(list);
  return json::serialize(doc);
}

}  // namespace cdc
