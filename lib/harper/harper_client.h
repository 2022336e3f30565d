// A blocking client of Harper's operations API: each call POSTs one JSON operation to "/" with
// basic authentication on a kept-alive HTTP/1.1 connection (Boost.Beast) and returns the answer.
// A connection the server closed while idle is opened again once, transparently (every operation
// cdc sends is idempotent). Not thread-safe: one client per thread.
#pragma once

#include <cdc/registry.h>

#include <boost/json.hpp>

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

class Client {
 public:
  // `shown`: the URL without its password, for messages.
  Client(const ConnectorUrl& url, std::string shown);
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

 private:
  struct Conn;
  Reply once(const std::string& body);

  std::string host_, port_, auth_, user_, shown_;
  std::unique_ptr<Conn> conn_;
};

}  // namespace cdc::harper
