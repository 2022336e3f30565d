// Talking to a running cdc over its HTTP endpoint (docs/status.md): `cdc-cli status --url` and the
// control commands pause, resume, resync and stop. A small Boost.Beast client, one request per
// connection. Single-threaded.
#pragma once

#include <string>

namespace cdc_cli {

struct RemoteReply {
  int status = 0;
  std::string body;
};

// GET or POST (JSON) `path` on the endpoint `url` ("http://HOST:PORT", optionally with a path
// prefix). `token` empty: none sent. Throws cdc::Error(Connection) when the endpoint cannot be
// reached, cdc::Error(Config) for a URL that does not parse.
RemoteReply remote_request(const std::string& url, const std::string& method, const std::string& path, const std::string& token);

// The "error" of a JSON error body, or the body itself.
std::string remote_error(const RemoteReply& reply);

}  // namespace cdc_cli
