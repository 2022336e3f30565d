#include "remote.h"

#include <cdc/error.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

namespace cdc_cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

struct Endpoint {
  std::string host, port, prefix;
};

Endpoint parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    throw cdc::Error(cdc::ErrorKind::Config, fmt::format("\"{}\": expected http://HOST:PORT", url), false, "--url");
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  Endpoint e;
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) e.prefix = rest.substr(slash);
  while (!e.prefix.empty() && e.prefix.back() == '/') e.prefix.pop_back();
  auto colon = authority.rfind(':');
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) throw cdc::Error(cdc::ErrorKind::Config, fmt::format("\"{}\": unclosed [", url), false, "--url");
    e.host = authority.substr(1, close - 1);
    e.port = close + 1 < authority.size() && authority[close + 1] == ':' ? authority.substr(close + 2) : "80";
  } else if (colon != std::string::npos) {
    e.host = authority.substr(0, colon);
    e.port = authority.substr(colon + 1);
  } else {
    e.host = authority;
    e.port = "80";
  }
  if (e.host.empty() || e.port.empty())
    throw cdc::Error(cdc::ErrorKind::Config, fmt::format("\"{}\": expected http://HOST:PORT", url), false, "--url");
  return e;
}

}  // namespace

RemoteReply remote_request(const std::string& url, const std::string& method, const std::string& path, const std::string& token) {
  Endpoint ep = parse_url(url);
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(60));
    stream.connect(resolver.resolve(ep.host, ep.port));
    bhttp::request<bhttp::string_body> req(method == "POST" ? bhttp::verb::post : bhttp::verb::get, ep.prefix + path, 11);
    req.set(bhttp::field::host, ep.host.find(':') != std::string::npos ? "[" + ep.host + "]:" + ep.port : ep.host + ":" + ep.port);
    req.set(bhttp::field::user_agent, "cdc-cli");
    if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
    if (method == "POST") {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = "{}";
    }
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return {static_cast<int>(res.result_int()), std::move(res.body())};
  } catch (const boost::system::system_error& e) {
    throw cdc::Error(cdc::ErrorKind::Connection, fmt::format("cannot reach cdc at {}: {}", url, e.code().message()), true, "--url");
  }
}

std::string remote_error(const RemoteReply& reply) {
  boost::system::error_code ec;
  auto v = boost::json::parse(reply.body, ec);
  if (!ec && v.is_object() && v.as_object().contains("error") && v.at("error").is_string())
    return std::string(v.at("error").as_string());
  return reply.body;
}

}  // namespace cdc_cli
