// The HTTP endpoint's routes, apart from the transport (http_server.cpp): a request in, a response
// out. Thread-safe: pipelines are registered under a shared mutex that requests hold for reading.
#pragma once

#include <cdc/http_server.h>
#include <cdc/status_document.h>

#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

namespace cdc::detail {

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // path and query as sent
  bool has_host = false;
  std::string host;           // Host header
  std::string authorization;  // Authorization header
  std::string content_type;   // Content-Type header
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones (Allow, WWW-Authenticate)
};

class Router {
 public:
  explicit Router(HttpOptions options) : options_(std::move(options)) {}
  void add(const std::string& name, ReplicationSession& session);
  void remove(const std::string& name);
  HttpResponse handle(const HttpRequest& request);
  // Whether handling may wait on a session (control, reload): run it off the I/O threads.
  static bool may_block(const HttpRequest& request) { return request.method == "POST"; }
  // The same JSON error body every refusal carries.
  static HttpResponse error(int status, const std::string& message);

 private:
  struct Pipeline {
    std::string name;
    ReplicationSession* session;
  };
  // Caller holds mu_ shared. Sets `reload` instead of answering POST /api/v1/reload, which runs
  // without the lock: a reload adds and removes pipelines.
  HttpResponse route(const HttpRequest& request, bool& reload);
  bool host_allowed(const std::string& host) const;
  bool token_ok(const std::string& authorization) const;
  std::vector<PipelineStatus> statuses() const;
  HttpResponse readiness() const;
  HttpResponse control(const std::string& pipeline, const std::string& table, const std::string& action);
  HttpResponse reload();

  const HttpOptions options_;
  mutable std::shared_mutex mu_;
  std::vector<Pipeline> pipelines_;
};

// Percent-decoding of one path segment; false for a malformed escape.
bool url_decode(const std::string& in, std::string& out);
// The status page (status_page.html, embedded at build time).
const char* status_page_html();

}  // namespace cdc::detail
