// Routes of the HTTP endpoint (docs/status.md). Every refusal is a JSON body {"error": ...}; a
// request never reaches a session before its Host, token and (for POST) content type passed.
#include "http/router.h"

#include "http/metrics.h"

#include <cdc/error.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace cdc::detail {

namespace json = boost::json;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 1;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  if (!out.empty() && out.back().empty()) out.pop_back();  // a trailing slash
  return out;
}

HttpResponse json_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse method_not_allowed(const std::string& method, const std::string& path, const char* allow) {
  auto r = Router::error(405, fmt::format("method {} is not allowed on {} (allowed: {})", method, path, allow));
  r.headers.emplace_back("Allow", allow);
  return r;
}

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  if (host.size() > 10 && host.compare(host.size() - 10, 10, ".localhost") == 0) return true;
  // 127.0.0.0/8, written as a dotted quad.
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return dots == 3;
}

const TableStatus* find_status(const SessionStatus& s, const std::string& table) {
  for (const auto& t : s.tables)
    if (t.source == table) return &t;
  return nullptr;
}

std::string known_tables(const SessionStatus& s) {
  std::vector<std::string> names;
  for (const auto& t : s.tables) names.push_back(t.source);
  std::sort(names.begin(), names.end());
  return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

bool url_decode(const std::string& in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '%') {
      out += c;
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
      return false;
    out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return true;
}

HttpResponse Router::error(int status, const std::string& message) {
  json::object o;
  o["error"] = message;
  return json_response(status, json::serialize(o));
}

void Router::add(const std::string& name, ReplicationSession& session) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (const auto& p : pipelines_)
    if (p.name == name) throw Error(ErrorKind::Config, fmt::format("pipeline \"{}\" is served already", name), false, "pipelines");
  pipelines_.push_back({name, &session});
}

void Router::remove(const std::string& name) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  pipelines_.erase(std::remove_if(pipelines_.begin(), pipelines_.end(), [&](const Pipeline& p) { return p.name == name; }),
                   pipelines_.end());
}

bool Router::host_allowed(const std::string& host_header) const {
  std::string host = lower(host_header);
  // Strip the port: "[::1]:8080" -> "[::1]", "localhost:8080" -> "localhost".
  if (!host.empty() && host[0] == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) return false;
    host = host.substr(0, close + 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) return false;
  if (is_loopback(host)) return true;
  for (const auto& allowed : options_.allowed_hosts)
    if (lower(allowed) == host) return true;
  return false;
}

bool Router::token_ok(const std::string& authorization) const {
  if (options_.token.empty()) return true;
  static const std::string prefix = "bearer ";
  if (authorization.size() < prefix.size() || lower(authorization.substr(0, prefix.size())) != prefix) return false;
  std::string given = authorization.substr(prefix.size());
  const std::string& want = options_.token;
  // Constant time in the token's content (its length is no secret worth the trouble).
  unsigned char diff = given.size() == want.size() ? 0 : 1;
  for (std::size_t i = 0; i < want.size(); ++i) diff |= static_cast<unsigned char>(want[i] ^ (i < given.size() ? given[i] : 0));
  return diff == 0;
}

std::vector<PipelineStatus> Router::statuses() const {
  std::vector<PipelineStatus> out;
  for (const auto& p : pipelines_) out.push_back({p.name, p.session->status()});
  return out;
}

HttpResponse Router::handle(const HttpRequest& request) {
  try {
    bool reload_requested = false;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      HttpResponse response = route(request, reload_requested);
      if (!reload_requested) return response;
    }
    return reload();
  } catch (const std::exception& e) {
    return error(500, fmt::format("internal error: {}", e.what()));
  }
}

HttpResponse Router::route(const HttpRequest& req, bool& reload_requested) {
  if (!req.has_host) return error(400, "the request has no Host header");
  if (!host_allowed(req.host))
    return error(403, fmt::format("host \"{}\" is not allowed: use a loopback name or add it to http.allowed_hosts", req.host));
  std::string path = req.target.substr(0, req.target.find('?'));
  if (path.empty() || path[0] != '/') return error(400, "the request target must be an absolute path");
  const bool get = req.method == "GET" || req.method == "HEAD";

  if (path == "/healthz") {
    if (!get) return method_not_allowed(req.method, path, "GET, HEAD");
    return json_response(200, R"({"status":"ok"})");
  }
  // The page holds no data (its script reads /api/v1/status with the token), and a browser cannot
  // send a bearer token when it opens an address: it is served like /healthz.
  if (path == "/") {
    if (!get) return method_not_allowed(req.method, path, "GET, HEAD");
    HttpResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body = status_page_html();
    return r;
  }
  if (!token_ok(req.authorization)) {
    auto r = error(401, req.authorization.empty() ? "this endpoint needs \"Authorization: Bearer <token>\" (http.token)"
                                                 : "the bearer token is wrong");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"cdc\"");
    return r;
  }
  if (path == "/readyz") {
    if (!get) return method_not_allowed(req.method, path, "GET, HEAD");
    return readiness();
  }
  if (path == "/metrics") {
    if (!get) return method_not_allowed(req.method, path, "GET, HEAD");
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = prometheus_metrics(statuses());
    return r;
  }
  if (path == "/api/v1/status") {
    if (!get) return method_not_allowed(req.method, path, "GET, HEAD");
    return json_response(200, status_document(statuses(), true));
  }

  auto parts = split_path(path);
  // /api/v1/reload, /api/v1/pipelines/{p}/tables/{t}/{action}, /api/v1/tables/{t}/{action}
  bool reload_route = parts.size() == 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "reload";
  bool long_form = parts.size() == 7 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "pipelines" && parts[4] == "tables";
  bool short_form = parts.size() == 5 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "tables";
  if (!reload_route && !long_form && !short_form) return error(404, fmt::format("no such endpoint: {}", path));
  const std::string& action = parts.back();
  if (!reload_route && action != "pause" && action != "resume" && action != "stop" && action != "resync")
    return error(404, fmt::format("no such action \"{}\": use pause, resume, stop or resync", action));
  if (req.method != "POST") return method_not_allowed(req.method, path, "POST");
  // A cross-site form cannot send this content type, so a page elsewhere cannot drive cdc.
  std::string ct = lower(req.content_type.substr(0, req.content_type.find(';')));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  if (ct != "application/json")
    return error(415, fmt::format("POST needs \"Content-Type: application/json\" (got \"{}\")", req.content_type));
  if (!req.body.empty()) {
    boost::system::error_code ec;
    json::value body = json::parse(req.body, ec);
    if (ec) return error(400, fmt::format("the body is not JSON: {}", ec.message()));
    if (!body.is_object()) return error(400, "the body must be a JSON object (or empty)");
  }
  if (reload_route) {
    reload_requested = true;
    return {};
  }
  std::string pipeline, table;
  if (long_form && !url_decode(parts[3], pipeline)) return error(400, "malformed percent-escape in the pipeline name");
  if (!url_decode(parts[long_form ? 5 : 3], table)) return error(400, "malformed percent-escape in the table name");
  return control(pipeline, table, action);
}

HttpResponse Router::readiness() const {
  std::vector<std::string> reasons;
  for (const auto& p : statuses()) {
    const SessionStatus& s = p.status;
    if (s.state == SessionState::Failed) {
      reasons.push_back(fmt::format("pipeline {} failed: {}", p.name, s.error));
      continue;
    }
    if (s.state != SessionState::Snapshot && s.state != SessionState::Streaming) {
      reasons.push_back(fmt::format("pipeline {} is {}", p.name, to_string(s.state)));
      continue;
    }
    for (const auto& t : s.tables) {
      if (t.paused || t.phase == TablePhase::Stopped || t.phase == TablePhase::Removed || t.phase == TablePhase::Dropped ||
          t.phase == TablePhase::Done)
        continue;
      std::string name = fmt::format("table {} of pipeline {}", t.source, p.name);
      if (t.phase == TablePhase::Failed) {
        reasons.push_back(fmt::format("{} failed: {}", name, t.error));
      } else if (t.phase == TablePhase::Incremental && !t.polled) {
        reasons.push_back(fmt::format("{} has not finished its first incremental poll", name));
      } else if (t.phase != TablePhase::Streaming && t.phase != TablePhase::Incremental) {
        reasons.push_back(fmt::format("{} is in phase {}", name, to_string(t.phase)));
      } else if (t.held) {
        reasons.push_back(fmt::format("{} is held ({})", name, t.hold_reason));
      } else if (t.lag_ms < 0) {
        reasons.push_back(fmt::format("{} has no measured lag yet", name));
      } else if (static_cast<double>(t.lag_ms) / 1000.0 > options_.max_lag_seconds) {
        reasons.push_back(fmt::format("{} is {:.1f} s behind (http.max_lag_seconds {})", name, static_cast<double>(t.lag_ms) / 1000.0,
                                      options_.max_lag_seconds));
      }
    }
  }
  json::object o;
  o["ready"] = reasons.empty();
  json::array list;
  for (auto& r : reasons) list.push_back(json::value(r));
  if (!reasons.empty()) o["reason"] = reasons.front();
  o["reasons"] = std::move(list);
  return json_response(reasons.empty() ? 200 : 503, json::serialize(o));
}

HttpResponse Router::control(const std::string& pipeline, const std::string& table, const std::string& action) {
  // Find the pipeline and the table as the status names it.
  const Pipeline* target = nullptr;
  std::string source;
  if (!pipeline.empty()) {
    for (const auto& p : pipelines_)
      if (p.name == pipeline) target = &p;
    if (!target) {
      std::vector<std::string> names;
      for (const auto& p : pipelines_) names.push_back(p.name);
      return error(404, fmt::format("no pipeline \"{}\" (pipelines: {})", pipeline, names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }
    SessionStatus s = target->session->status();
    if (find_status(s, table)) source = table;
    else {
      // "orders" for "public.orders" when only one table has that name.
      std::vector<std::string> hits;
      for (const auto& t : s.tables)
        if (t.source.size() > table.size() && t.source.compare(t.source.size() - table.size() - 1, std::string::npos, "." + table) == 0)
          hits.push_back(t.source);
      if (hits.size() == 1) source = hits[0];
      else if (hits.size() > 1)
        return error(409, fmt::format("table \"{}\" is ambiguous in pipeline {}: {}", table, pipeline, fmt::join(hits, ", ")));
      else
        return error(404, fmt::format("no table \"{}\" in pipeline {} (its tables: {})", table, pipeline, known_tables(s)));
    }
  } else {
    std::vector<std::pair<const Pipeline*, std::string>> exact, suffix;
    std::vector<std::string> all;
    for (const auto& p : pipelines_) {
      SessionStatus s = p.session->status();
      for (const auto& t : s.tables) {
        all.push_back(p.name + "/" + t.source);
        if (t.source == table) exact.emplace_back(&p, t.source);
        else if (t.source.size() > table.size() &&
                 t.source.compare(t.source.size() - table.size() - 1, std::string::npos, "." + table) == 0)
          suffix.emplace_back(&p, t.source);
      }
    }
    auto& hits = exact.empty() ? suffix : exact;
    if (hits.empty()) {
      std::sort(all.begin(), all.end());
      return error(404, fmt::format("no table \"{}\" (known tables: {})", table, all.empty() ? "none" : fmt::format("{}", fmt::join(all, ", "))));
    }
    if (hits.size() > 1) {
      std::vector<std::string> names;
      for (const auto& [p, t] : hits) names.push_back(fmt::format("/api/v1/pipelines/{}/tables/{}", p->name, t));
      return error(409, fmt::format("table \"{}\" is ambiguous; name the pipeline: {}", table, fmt::join(names, ", ")));
    }
    target = hits[0].first;
    source = hits[0].second;
  }
  ReplicationSession& session = *target->session;
  if (!session.running()) return error(409, fmt::format("pipeline {} is not running", target->name));
  {
    SessionStatus s = session.status();
    const TableStatus* t = find_status(s, source);
    if (t && (t->phase == TablePhase::Removed || t->phase == TablePhase::Dropped))
      return error(409, fmt::format("table {} is {}: it cannot {}", source, to_string(t->phase), action));
    if (t && action == "stop" && (t->phase == TablePhase::Done || t->phase == TablePhase::Stopped))
      return error(409, fmt::format("table {} is {}: there is nothing to stop", source, to_string(t->phase)));
  }
  try {
    if (action == "pause") session.pause_table(source);
    else if (action == "resume") session.resume_table(source);
    else if (action == "stop") session.stop_table(source);
    else session.resync_table(source);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::Config) return error(404, e.what());
    return error(409, e.what());
  }
  SessionStatus s = session.status();
  const TableStatus* t = find_status(s, source);
  if (!t) return error(409, fmt::format("table {} left the pipeline", source));
  return json_response(200, table_status_json(*t, true));
}

HttpResponse Router::reload() {
  if (!options_.on_reload) return error(501, "this process has no reload (HttpOptions::on_reload is not set)");
  try {
    std::string message = options_.on_reload();
    json::object o;
    o["reloaded"] = true;
    o["message"] = message;
    return json_response(200, json::serialize(o));
  } catch (const std::exception& e) {
    return error(409, fmt::format("not reloaded: {}", e.what()));
  }
}

}  // namespace cdc::detail
