// A blocking client of Harper's operations API: each call POSTs one JSON operation to "/" with
// basic authentication on a kept-alive HTTP/1.1 connection (Boost.Beast) and returns the answer.
// A connection the server closed while idle is opened again once, transparently (every operation
// cdc sends is idempotent). With TLS (take_tls_params) the same, over HTTPS (Beast's ssl_stream on
// OpenSSL), the server's certificate verified once ssl-ca is given. Connecting (and the TLS
// handshake) times out after 30 s, a request after 300 s: a retryable connection error. Not
// thread-safe: one client per thread.
#pragma once

#include <cdc/error.h>
#include <cdc/registry.h>

#include "core/ssl_mode.h"

#include <boost/json.hpp>

#include <map>
#include <memory>
#include <string>

namespace cdc::harper {

struct Reply {
  int status = 0;              // HTTP status
  boost::json::value body;     // the parsed answer (a string when it was not JSON)
  // Harper's "error" member, else the body's text.
  std::string error() const;
  bool ok() const { return status >= 200 && status < 300; }
};

// TLS of the connection, from the URL parameters the MySQL client uses (core/ssl_mode.h):
//   ssl-mode=DISABLED (the default: plain HTTP) | REQUIRED (HTTPS, certificate not verified) |
//            VERIFY_CA (chain verified) | VERIFY_IDENTITY (chain and host name verified; the default
//            when ssl-ca is given);
//   ssl-ca=<PEM file of the CA(s)> (without it, VERIFY_* trust the system's CAs),
//   ssl-cert=<client certificate>, ssl-key=<its private key> (for a server that asks for one).
// PREFERRED is refused: an operations API port serves either HTTP or HTTPS, there is nothing to
// fall back to. Takes those parameters out of `params`; throws Error(Config) naming `shown`.
detail::SslParams take_tls_params(std::map<std::string, std::string>& params, const std::string& shown);

class Client {
 public:
  // `shown`: the URL without its password, for messages. Throws Error(Config) when a TLS file
  // cannot be loaded.
  Client(const ConnectorUrl& url, std::string shown, const detail::SslParams& tls);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one operation. Throws Error(Connection, retryable) when the server cannot be reached or
  // the connection breaks, and Error(Connection, not retryable) when it refuses the login (401/403).
  // Any other answer, errors included, is returned.
  Reply request(const boost::json::object& operation);
  // request(), throwing Error(Destination) naming `what` when the answer is not a success;
  // retryable when Harper answered 5xx.
  boost::json::value call(const boost::json::object& operation, const std::string& what);

  const std::string& shown() const { return shown_; }
  // Connections opened so far (1 while keep-alive holds).
  std::size_t connections() const { return connections_; }

 private:
  struct Conn;
  struct Tls;
  Reply once(const std::string& body);
  void connect();
  Error handshake_error(const boost::system::error_code& ec, long verify_result) const;
  // Whether the server completes a TLS handshake on the URL's port (certificate not checked).
  bool port_speaks_tls() const;

  std::string host_, port_, auth_, user_, shown_;
  detail::SslParams tls_params_;
  std::unique_ptr<Tls> tls_;  // the OpenSSL context, when TLS is on
  std::unique_ptr<Conn> conn_;
  std::size_t connections_ = 0;
};

}  // namespace cdc::harper
