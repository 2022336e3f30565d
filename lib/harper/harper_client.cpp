#include "harper/harper_client.h"

#include "core/event/change_event_json.h"

#include <cdc/error.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <chrono>

namespace cdc::harper {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;

std::string Reply::error() const {
  if (body.is_object())
    if (const auto* e = body.as_object().if_contains("error")) return e->is_string() ? std::string(e->as_string()) : json::serialize(*e);
  if (body.is_string()) return std::string(body.as_string());
  return json::serialize(body);
}

struct Client::Conn {
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
};

Client::Client(const ConnectorUrl& url, std::string shown)
    : host_(url.host), port_(std::to_string(url.port ? url.port : 9925)), user_(url.user), shown_(std::move(shown)) {
  auth_ = "Basic " + detail::base64_encode(url.user + ":" + url.password);
}

Client::~Client() = default;

Reply Client::once(const std::string& body) {
  if (!conn_) {
    auto c = std::make_unique<Conn>();
    asio::ip::tcp::resolver resolver(c->io);
    c->stream.expires_after(std::chrono::seconds(30));
    c->stream.connect(resolver.resolve(host_, port_));
    conn_ = std::move(c);
  }
  bhttp::request<bhttp::string_body> req(bhttp::verb::post, "/", 11);
  req.set(bhttp::field::host, host_ + ":" + port_);
  req.set(bhttp::field::user_agent, "cdc");
  req.set(bhttp::field::authorization, auth_);
  req.set(bhttp::field::content_type, "application/json");
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();
  // Large batches and table creation (a new table's storage) can take a while.
  conn_->stream.expires_after(std::chrono::seconds(300));
  bhttp::write(conn_->stream, req);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::uint64_t(1) << 32);
  bhttp::read(conn_->stream, conn_->buffer, parser);
  auto res = parser.release();
  if (!res.keep_alive()) conn_.reset();
  Reply r;
  r.status = static_cast<int>(res.result_int());
  boost::system::error_code ec;
  r.body = json::parse(res.body(), ec);
  if (ec) r.body = json::string(res.body());
  return r;
}

Reply Client::request(const json::object& operation) {
  const std::string body = json::serialize(operation);
  Reply r;
  for (int attempt = 0;; ++attempt) {
    const bool reused = conn_ != nullptr;
    try {
      r = once(body);
      break;
    } catch (const boost::system::system_error& e) {
      conn_.reset();
      // A kept-alive connection the server closed while idle: open a new one, once.
      if (reused && attempt == 0) continue;
      throw Error(ErrorKind::Connection, fmt::format("cannot reach Harper at {}: {}", shown_, e.code().message()), true, "destination");
    }
  }
  if (r.status == 401 || r.status == 403)
    throw Error(ErrorKind::Connection,
                fmt::format("Harper at {} refused user \"{}\" (HTTP {}: {}); check the user and password in the URL", shown_, user_,
                            r.status, r.error()),
                false, "destination");
  return r;
}

json::value Client::call(const json::object& operation, const std::string& what) {
  Reply r = request(operation);
  if (!r.ok())
    throw Error(ErrorKind::Destination, fmt::format("Harper at {}: {} failed (HTTP {}): {}", shown_, what, r.status, r.error()),
                r.status >= 500, "destination");
  return std::move(r.body);
}

}  // namespace cdc::harper
