#include "harper/harper_client.h"

#include "core/event/change_event_json.h"

#include <cdc/error.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <optional>

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

using detail::SslMode;

detail::SslParams take_tls_params(std::map<std::string, std::string>& params, const std::string& shown) {
  detail::SslParams p = detail::take_ssl_params(params, SslMode::Disabled, SslMode::VerifyIdentity, shown, "destination");
  if (p.mode == SslMode::Preferred)
    throw config_error("destination", fmt::format("\"{}\": ssl-mode=PREFERRED does not apply to Harper: its operations API port "
                                                  "serves either HTTP or HTTPS; choose DISABLED (plain HTTP) or REQUIRED, "
                                                  "VERIFY_CA, VERIFY_IDENTITY (HTTPS)",
                                                  shown));
  return p;
}

struct Client::Tls {
  asio::ssl::context ctx{asio::ssl::context::tls_client};
};

struct Client::Conn {
  asio::io_context io;
  std::optional<beast::tcp_stream> plain;                 // HTTP
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;  // HTTPS
  beast::flat_buffer buffer;

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

namespace {

// Runs one asynchronous operation, started by `start(handler)`, to its end on `io` and returns its
// error. Asynchronous because Beast's tcp_stream enforces expires_after() only on asynchronous
// operations: a synchronous read from a server that never answers would wait forever.
template <class Start>
boost::system::error_code run(asio::io_context& io, Start&& start) {
  boost::system::error_code result;
  start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

void throw_if(const boost::system::error_code& ec) {
  if (ec) throw boost::system::system_error(ec);
}

template <class Stream>
bhttp::response<bhttp::string_body> exchange(asio::io_context& io, Stream& stream, beast::flat_buffer& buffer,
                                             const bhttp::request<bhttp::string_body>& req) {
  throw_if(run(io, [&](auto handler) { bhttp::async_write(stream, req, std::move(handler)); }));
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::uint64_t(1) << 32);
  throw_if(run(io, [&](auto handler) { bhttp::async_read(stream, buffer, parser, std::move(handler)); }));
  return parser.release();
}

}  // namespace

Client::Client(const ConnectorUrl& url, std::string shown, const detail::SslParams& tls)
    : host_(url.host), port_(std::to_string(url.port ? url.port : 9925)), user_(url.user), shown_(std::move(shown)), tls_params_(tls) {
  auth_ = "Basic " + detail::base64_encode(url.user + ":" + url.password);
  if (!tls.on()) return;
  tls_ = std::make_unique<Tls>();
  auto& ctx = tls_->ctx;
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                  asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  const auto fail = [&](const char* key, const std::string& file, const char* what) {
    return config_error("destination", fmt::format("\"{}\": {}={}: cannot load {}: {}", shown_, key, file, what, ec.message()));
  };
  if (tls.mode == SslMode::Required) {
    ctx.set_verify_mode(asio::ssl::verify_none);
  } else {
    ctx.set_verify_mode(asio::ssl::verify_peer);
    if (tls.ca.empty()) ctx.set_default_verify_paths(ec);
    else ctx.load_verify_file(tls.ca, ec);
    if (ec) throw fail("ssl-ca", tls.ca.empty() ? "(the system's CAs)" : tls.ca, "the CA certificates (PEM)");
  }
  if (!tls.cert.empty()) {
    if (ctx.use_certificate_chain_file(tls.cert, ec); ec) throw fail("ssl-cert", tls.cert, "the client certificate (PEM)");
    if (ctx.use_private_key_file(tls.key, asio::ssl::context::pem, ec); ec)
      throw fail("ssl-key", tls.key, "the client certificate's private key (PEM, unencrypted, matching ssl-cert)");
  }
}

Client::~Client() = default;

void Client::connect() {
  auto c = std::make_unique<Conn>();
  asio::ip::tcp::resolver resolver(c->io);
  const auto endpoints = resolver.resolve(host_, port_);
  if (!tls_) {
    c->plain.emplace(c->io);
    c->plain->expires_after(std::chrono::seconds(30));
    throw_if(run(c->io, [&](auto handler) { c->plain->async_connect(endpoints, std::move(handler)); }));
  } else {
    c->tls.emplace(c->io, tls_->ctx);
    SSL* ssl = c->tls->native_handle();
    boost::system::error_code not_ip;
    asio::ip::make_address(host_, not_ip);
    // SNI for a host name (never for an address), and the name check of VERIFY_IDENTITY.
    if (not_ip) SSL_set_tlsext_host_name(ssl, host_.c_str());
    if (tls_params_.mode == SslMode::VerifyIdentity) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      if (not_ip) {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(param, host_.c_str(), 0);
      } else {
        X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str());
      }
    }
    c->tcp().expires_after(std::chrono::seconds(30));
    throw_if(run(c->io, [&](auto handler) { c->tcp().async_connect(endpoints, std::move(handler)); }));
    const auto ec = run(c->io, [&](auto handler) { c->tls->async_handshake(asio::ssl::stream_base::client, std::move(handler)); });
    // A timeout or a connection closed mid-handshake (a server restarting) is retried; a refused
    // certificate or an answer that is not TLS is not.
    if (ec == beast::error::timeout || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::ssl::error::stream_truncated)
      throw boost::system::system_error(ec);
    if (ec) throw handshake_error(ec, SSL_get_verify_result(ssl));
  }
  ++connections_;
  conn_ = std::move(c);
}

Error Client::handshake_error(const boost::system::error_code& ec, long verify_result) const {
  const char* mode = detail::to_string(tls_params_.mode);
  std::string why;
  if (verify_result == X509_V_ERR_HOSTNAME_MISMATCH || verify_result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    why = fmt::format("certificate verify failed: {} (ssl-mode=VERIFY_IDENTITY: the server's certificate does not name the host "
                      "\"{}\"; connect by a name the certificate holds, or use ssl-mode=VERIFY_CA to check the CA only)",
                      X509_verify_cert_error_string(verify_result), host_);
  } else if (verify_result != X509_V_OK) {
    why = fmt::format("certificate verify failed: {} (the server's certificate could not be verified against {} with ssl-mode={})",
                      X509_verify_cert_error_string(verify_result),
                      tls_params_.ca.empty() ? std::string("the system's trusted CAs; give ssl-ca=<CA file>") : "ssl-ca=" + tls_params_.ca,
                      mode);
  } else if (ec.category() == asio::error::get_ssl_category() &&
             (ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_WRONG_VERSION_NUMBER ||
              ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_PACKET_LENGTH_TOO_LONG)) {
    // The server answered, and not in TLS (an HTTP error page, typically).
    why = fmt::format("TLS handshake failed: {} (ssl-mode={} but the server does not answer in TLS: this port serves plain "
                      "HTTP? Connect to Harper's HTTPS port (operationsApi.network.securePort), or set ssl-mode=DISABLED)",
                      ec.message(), mode);
  } else {
    why = fmt::format("TLS handshake failed with ssl-mode={}: {}", mode, ec.message());
  }
  // A certificate that does not verify, or a port without TLS, stays so: no retry.
  return Error(ErrorKind::Connection, fmt::format("cannot reach Harper at {}: {}", shown_, why), false, "destination");
}

bool Client::port_speaks_tls() const {
  try {
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_none);
    beast::ssl_stream<beast::tcp_stream> probe(io, ctx);
    asio::ip::tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(host_, port_);
    beast::get_lowest_layer(probe).expires_after(std::chrono::seconds(10));
    if (run(io, [&](auto handler) { beast::get_lowest_layer(probe).async_connect(endpoints, std::move(handler)); })) return false;
    return !run(io, [&](auto handler) { probe.async_handshake(asio::ssl::stream_base::client, std::move(handler)); });
  } catch (const boost::system::system_error&) {
    return false;
  }
}

Reply Client::once(const std::string& body) {
  if (!conn_) connect();
  bhttp::request<bhttp::string_body> req(bhttp::verb::post, "/", 11);
  req.set(bhttp::field::host, host_ + ":" + port_);
  req.set(bhttp::field::user_agent, "cdc");
  req.set(bhttp::field::authorization, auth_);
  req.set(bhttp::field::content_type, "application/json");
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();
  // Large batches and table creation (a new table's storage) can take a while.
  conn_->tcp().expires_after(std::chrono::seconds(300));
  auto res = conn_->tls ? exchange(conn_->io, *conn_->tls, conn_->buffer, req) : exchange(conn_->io, *conn_->plain, conn_->buffer, req);
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
      const bool broke_fresh = conn_ && !reused;
      conn_.reset();
      // A kept-alive connection the server closed while idle: open a new one, once.
      if (reused && attempt == 0) continue;
      // Connected, then closed at the first request: a port that serves HTTPS does that to plain HTTP.
      // That stays so: no retry.
      if (broke_fresh && !tls_ && port_speaks_tls())
        throw Error(ErrorKind::Connection,
                    fmt::format("cannot reach Harper at {}: {}: the port serves HTTPS and the URL asks for plain HTTP "
                                "(ssl-mode=DISABLED): set ssl-mode=VERIFY_IDENTITY and ssl-ca=<CA file>",
                                shown_, e.code().message()),
                    false, "destination");
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
