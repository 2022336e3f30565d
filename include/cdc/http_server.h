// HttpServer: the HTTP endpoint of the pipelines (ReplicationSessions) a process runs: health and
// readiness probes, the status document, per-table control (pause, resume, stop, resync), reload,
// Prometheus metrics and a status page (docs/status.md). It runs on threads of its own (Boost.Asio)
// and reads each session through ReplicationSession::status(), a copy taken under the session's
// lock, so a slow or stuck client never stalls replication.
//
// The server does not own the sessions: a session must outlive its registration (remove_pipeline
// or the server's destruction). All public methods are thread-safe. Destruction stops the server
// and joins its threads.
#pragma once

#include <cdc/config.h>
#include <cdc/export.h>
#include <cdc/session.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cdc {

struct HttpOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT ([v6]:PORT); port 0 = any free port (see port())
  std::string token;                      // bearer token every endpoint but /healthz needs; empty = none
  std::vector<std::string> allowed_hosts; // Host header names accepted besides loopback ones
  double max_lag_seconds = 60;            // /readyz: the largest lag that still counts as ready
  int threads = 2;                        // I/O threads (requests are short; control waits for a batch)
  int max_connections = 128;              // connections served at once; more are closed at once
  int timeout_seconds = 30;               // a request must arrive whole within this (slow clients)
  // HTTPS: PEM files of the server's certificate (its chain after it) and of its private key
  // (unencrypted). Both set: the endpoint speaks TLS only (TLS 1.2 and later); both empty: plain
  // HTTP. Read once, by start().
  std::string tls_cert;
  std::string tls_key;
  // POST /api/v1/reload: what SIGHUP does (cdc-cli re-reads its config file). Returns a line for
  // the answer; throws cdc::Error when the new config is not applied. Unset: 501.
  std::function<std::string()> on_reload;

  // The options a config's `http` section gives (listen, token, allowed_hosts, max_lag_seconds,
  // tls_cert, tls_key).
  CDC_API static HttpOptions from_config(const HttpSettings& settings);
};

class CDC_API HttpServer {
 public:
  explicit HttpServer(HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves `session` as pipeline `name` (the status, metrics and control URLs name it). A second
  // pipeline of the same name throws cdc::Error(Config).
  void add_pipeline(const std::string& name, ReplicationSession& session);
  void remove_pipeline(const std::string& name);

  // Binds and starts serving. Throws cdc::Error(Config) naming `http.listen` for an address that
  // does not parse, or `http.tls_cert` / `http.tls_key` for a file that does not load;
  // cdc::Error(Connection) when it cannot be bound.
  void start();
  // Stops accepting, closes every connection and joins the threads. Idempotent.
  void stop();
  // The bound port (after start()).
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cdc
