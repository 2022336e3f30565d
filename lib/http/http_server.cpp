// The HTTP transport: Boost.Beast on an Asio io_context with threads of its own. Each connection
// reads requests with limits (header size, body size, a deadline for the whole request) and
// answers them in order; requests that may wait on a session (control, reload) run on a separate
// pool so that status and metrics stay quick. With a certificate and key (HttpOptions::tls_cert,
// tls_key) every connection is TLS (Beast's ssl_stream over OpenSSL). The routes are in router.cpp.
#include <cdc/error.h>
#include <cdc/http_server.h>

#include "core/logging.h"
#include "http/router.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>

namespace cdc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

HttpOptions HttpOptions::from_config(const HttpSettings& settings) {
  HttpOptions o;
  if (!settings.listen.empty()) o.listen = settings.listen;
  o.token = settings.token;
  o.allowed_hosts = settings.allowed_hosts;
  o.max_lag_seconds = settings.max_lag_seconds;
  o.tls_cert = settings.tls_cert;
  o.tls_key = settings.tls_key;
  return o;
}

namespace {

constexpr std::uint32_t kHeaderLimit = 16 * 1024;
constexpr std::uint64_t kBodyLimit = 64 * 1024;

tcp::endpoint parse_listen(const std::string& listen) {
  auto fail = [&](const std::string& why) {
    return Error(ErrorKind::Config, fmt::format("\"{}\": {} (expected HOST:PORT, e.g. 127.0.0.1:8080)", listen, why), false, "http.listen");
  };
  std::string host, port;
  if (!listen.empty() && listen[0] == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') throw fail("unclosed [ or no port");
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) throw fail("no port");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.empty()) throw fail("no host");
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoi(port) > 65535)
    throw fail("the port must be a number from 0 to 65535");
  auto port_number = static_cast<std::uint16_t>(std::stoi(port));
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) return {address, port_number};
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, port, ec);
  if (ec || results.empty()) throw fail(fmt::format("host \"{}\" does not resolve: {}", host, ec.message()));
  return results.begin()->endpoint();
}

// The TLS context of an HTTPS endpoint, from PEM files; errors name the config key.
std::unique_ptr<asio::ssl::context> tls_context(const HttpOptions& o) {
  if (o.tls_cert.empty() && o.tls_key.empty()) return nullptr;
  if (o.tls_cert.empty() || o.tls_key.empty())
    throw Error(ErrorKind::Config, "tls_cert and tls_key go together (the server's certificate and its private key)", false,
                o.tls_cert.empty() ? "http.tls_key" : "http.tls_cert");
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                   asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(o.tls_cert, ec);
  if (ec)
    throw Error(ErrorKind::Config, fmt::format("cannot load the certificate {}: {}", o.tls_cert, ec.message()), false,
                "http.tls_cert");
  ctx->use_private_key_file(o.tls_key, asio::ssl::context::pem, ec);
  if (ec)
    throw Error(ErrorKind::Config,
                fmt::format("cannot load the private key {} (PEM, unencrypted, matching http.tls_cert): {}", o.tls_key, ec.message()),
                false, "http.tls_key");
  return ctx;
}

}  // namespace

namespace detail {

// The server's state, shared by its connections.
struct HttpCore {
  explicit HttpCore(HttpOptions o) : options(o), router(std::move(o)) {}

  HttpOptions options;
  detail::Router router;
  std::atomic<int> connections{0};  // before ioc: handlers destroyed with it still count down
  std::unique_ptr<asio::ssl::context> tls;  // set by start() for HTTPS; outlives the connections
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::optional<asio::thread_pool> control;
  std::vector<std::thread> threads;
  std::mutex mu;  // guards started/stopped
  bool started = false;
  bool stopped = false;
  std::uint16_t port = 0;

  void accept();
};

}  // namespace detail

struct HttpServer::Impl : detail::HttpCore {
  using HttpCore::HttpCore;
};

namespace {

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One client connection; Stream is beast::tcp_stream (HTTP) or TlsStream (HTTPS).
template <class Stream>
class Connection : public std::enable_shared_from_this<Connection<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  using std::enable_shared_from_this<Connection<Stream>>::shared_from_this;

 public:
  Connection(tcp::socket socket, detail::HttpCore& server) : stream_(make_stream(std::move(socket), server)), server_(server) {
    ++server_.connections;
  }
  ~Connection() { --server_.connections; }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if constexpr (kTls) {
        // The handshake counts against the request deadline: a client that stalls in it is dropped.
        self->lowest().expires_after(std::chrono::seconds(self->server_.options.timeout_seconds));
        self->stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->close();  // not TLS, or a certificate the client refused
          self->read();
        });
      } else {
        self->read();
      }
    });
  }

 private:
  static Stream make_stream(tcp::socket socket, detail::HttpCore& server) {
    if constexpr (kTls) return Stream(std::move(socket), *server.tls);
    else return Stream(std::move(socket));
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  void close() {
    beast::error_code ec;
    lowest().socket().close(ec);
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    lowest().expires_after(std::chrono::seconds(server_.options.timeout_seconds));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream) return shutdown();
    if (ec) {
      // A request that breaks the limits or the protocol gets its answer; a lost or slow client none.
      if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category()) {
        int status = ec == bhttp::error::header_limit ? 431 : ec == bhttp::error::body_limit ? 413 : 400;
        auto r = detail::Router::error(status, fmt::format("malformed request: {}", ec.message()));
        return write(std::move(r), 11, false, false);
      }
      return shutdown();
    }
    auto req = parser_->release();
    detail::HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    auto host = req.find(bhttp::field::host);
    r.has_host = host != req.end();
    if (r.has_host) r.host = std::string(host->value());
    if (auto a = req.find(bhttp::field::authorization); a != req.end()) r.authorization = std::string(a->value());
    if (auto c = req.find(bhttp::field::content_type); c != req.end()) r.content_type = std::string(c->value());
    r.body = std::move(req.body());
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    const bool head = req.method() == bhttp::verb::head;
    lowest().expires_never();
    if (detail::Router::may_block(r)) {
      asio::post(*server_.control, [self = shared_from_this(), r = std::move(r), version, keep_alive, head] {
        auto response = self->server_.router.handle(r);
        asio::post(self->stream_.get_executor(), [self, response = std::move(response), version, keep_alive, head]() mutable {
          self->write(std::move(response), version, keep_alive, head);
        });
      });
      return;
    }
    write(server_.router.handle(r), version, keep_alive, head);
  }

  void write(detail::HttpResponse r, unsigned version, bool keep_alive, bool head) {
    res_ = {};
    res_.version(version);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(bhttp::field::server, "cdc");
    res_.set(bhttp::field::content_type, r.content_type);
    res_.set(bhttp::field::cache_control, "no-store");
    res_.set("X-Content-Type-Options", "nosniff");
    for (const auto& [k, v] : r.headers) res_.set(k, v);
    res_.keep_alive(keep_alive);
    if (head) {
      res_.content_length(r.body.size());
    } else {
      res_.body() = std::move(r.body);
      res_.prepare_payload();
    }
    lowest().expires_after(std::chrono::seconds(server_.options.timeout_seconds));
    bhttp::async_write(stream_, res_, [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
      if (ec || !keep_alive) return self->shutdown();
      self->read();
    });
  }

  void shutdown() {
    if constexpr (kTls) {
      lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->close(); });
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream_.close();
    }
  }

  Stream stream_;
  detail::HttpCore& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
};

}  // namespace

void detail::HttpCore::accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      if (connections.load() >= options.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else if (tls) {
        std::make_shared<Connection<TlsStream>>(std::move(socket), *this)->start();
      } else {
        std::make_shared<Connection<beast::tcp_stream>>(std::move(socket), *this)->start();
      }
    }
    accept();
  });
}

HttpServer::HttpServer(HttpOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::add_pipeline(const std::string& name, ReplicationSession& session) { impl_->router.add(name, session); }
void HttpServer::remove_pipeline(const std::string& name) { impl_->router.remove(name); }

void HttpServer::start() {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.started) throw Error(ErrorKind::State, "the HTTP server is started already");
  tcp::endpoint ep = parse_listen(s.options.listen);
  s.tls = tls_context(s.options);
  beast::error_code ec;
  s.acceptor.open(ep.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(ep, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw Error(ErrorKind::Connection, fmt::format("cannot listen on {}: {}", s.options.listen, ec.message()), false, "http.listen");
  s.port = s.acceptor.local_endpoint().port();
  s.started = true;
  s.control.emplace(1);
  s.accept();
  int n = std::max(1, s.options.threads);
  for (int i = 0; i < n; ++i) s.threads.emplace_back([&s] { s.ioc.run(); });
  detail::logf(LogLevel::Info, "http", "", "serving status, control and metrics on {}://{}:{}/", s.tls ? "https" : "http",
               ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string(), s.port);
}

void HttpServer::stop() {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.started || s.stopped) return;
  s.stopped = true;
  asio::post(s.ioc, [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
  });
  if (s.control) s.control->join();  // control requests in flight finish (a pause waits for its batch)
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

std::uint16_t HttpServer::port() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->port;
}

}  // namespace cdc
