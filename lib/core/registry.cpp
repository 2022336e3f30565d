#include "core/secrets.h"

#include <cdc/error.h>
#include <cdc/registry.h>

#include <fmt/format.h>

#include <cctype>
#include <mutex>

namespace cdc {

namespace detail {
void register_builtin_connectors(ConnectorRegistry& registry);  // generated from CDC_CONNECTORS
}

namespace {

std::string percent_decode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

ConnectorUrl ConnectorUrl::parse(const std::string& url) {
  ConnectorUrl u;
  u.text = url;
  auto colon = url.find(':');
  if (colon == std::string::npos || colon == 0)
    throw config_error("url", fmt::format("\"{}\" is not a connector URL (expected scheme://...)", redact_url(url)));
  u.scheme = url.substr(0, colon);
  for (auto& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string rest = url.substr(colon + 1);
  if (rest.rfind("//", 0) != 0)
    throw config_error("url", fmt::format("\"{}\": expected \"//\" after \"{}:\"", redact_url(url), u.scheme));
  rest = rest.substr(2);

  auto q = rest.find('?');
  if (q != std::string::npos) {
    std::string query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    std::size_t start = 0;
    while (start <= query.size()) {
      auto amp = query.find('&', start);
      std::string kv = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      if (!kv.empty()) {
        auto eq = kv.find('=');
        u.params[percent_decode(kv.substr(0, eq))] = eq == std::string::npos ? "" : percent_decode(kv.substr(eq + 1));
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }

  // File-like schemes: everything after "//" is the path ("///abs" -> "/abs", "//rel" -> "rel").
  if (u.scheme == "sqlite" || u.scheme == "file" || u.scheme == "jsonl") {
    u.path = percent_decode(rest);
    if (u.path.empty()) throw config_error("url", fmt::format("\"{}\": missing file path", redact_url(url)));
    return u;
  }

  // password_file=PATH: the password is the file's contents (kept out of configs and of `ps`).
  if (auto pf = u.params.find("password_file"); pf != u.params.end()) {
    const std::string where = fmt::format("\"{}\": password_file", redact_url(url));
    std::string path = pf->second;
    u.params.erase(pf);
    if (u.params.count("password")) throw config_error("url", where + ": give password or password_file, not both");
    u.password = detail::read_secret_file(path, where);
  }

  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) u.path = percent_decode(rest.substr(slash + 1));
  auto at = authority.rfind('@');
  if (at != std::string::npos) {
    std::string userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto c = userinfo.find(':');
    u.user = percent_decode(userinfo.substr(0, c));
    if (c != std::string::npos) {
      if (!u.password.empty()) throw config_error("url", fmt::format("\"{}\": a password in the URL and a password_file", redact_url(url)));
      u.password = percent_decode(userinfo.substr(c + 1));
    }
  }
  // A host list "h1:p1,h2:p2,[v6]:p3": each entry is checked like a single host; the first one
  // is also host and port.
  if (authority.find(',') != std::string::npos) {
    std::size_t start = 0;
    ConnectorUrl first;
    for (;;) {
      auto comma = authority.find(',', start);
      std::string one = authority.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (one.empty()) throw config_error("url", fmt::format("\"{}\": empty host in the host list", redact_url(url)));
      ConnectorUrl h = parse(u.scheme + "://" + one);
      if (h.hosts.empty())  // ":9092": a port without a host
        throw config_error("url", fmt::format("\"{}\": host list entry \"{}\" has no host", redact_url(url), one));
      if (first.host.empty()) first = h;
      u.hosts.push_back(h.hosts.front());
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    u.host = first.host;
    u.port = first.port;
    return u;
  }
  // host, host:port, [v6]:port
  std::string host = authority;
  std::string port;
  if (!host.empty() && host[0] == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) throw config_error("url", fmt::format("\"{}\": unterminated [ in host", redact_url(url)));
    if (close + 1 < host.size() && host[close + 1] == ':') port = host.substr(close + 2);
    host = host.substr(1, close - 1);
  } else {
    auto c = host.rfind(':');
    if (c != std::string::npos) {
      port = host.substr(c + 1);
      host = host.substr(0, c);
    }
  }
  u.host = percent_decode(host);
  if (!port.empty()) {
    for (char ch : port)
      if (!std::isdigit(static_cast<unsigned char>(ch)))
        throw config_error("url", fmt::format("\"{}\": port \"{}\" is not a number", redact_url(url), port));
    u.port = port.size() > 5 ? 0 : std::stoi(port);  // more digits: out of range, and of stoi's too
    if (u.port <= 0 || u.port > 65535)
      throw config_error("url", fmt::format("\"{}\": port {} out of range", redact_url(url), port));
  }
  if (!u.host.empty()) {
    const bool v6 = u.host.find(':') != std::string::npos;
    u.hosts.push_back((v6 ? "[" + u.host + "]" : u.host) + (u.port ? ":" + std::to_string(u.port) : ""));
  }
  return u;
}

std::string ConnectorUrl::redacted() const { return redact_url(text); }

namespace {
// The values of query parameters that hold secrets ("password", and librdkafka's
// "sasl.password", "ssl.key.password", ...) -> "***".
std::string redact_url_params(std::string url) {
  auto q = url.find('?');
  if (q == std::string::npos) return url;
  std::string out = url.substr(0, q + 1);
  std::size_t start = q + 1;
  for (;;) {
    auto amp = url.find('&', start);
    std::string kv = url.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    auto eq = kv.find('=');
    std::string key = kv.substr(0, eq);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool secret = detail::is_secret_param(percent_decode(key));
    out += secret && eq != std::string::npos ? kv.substr(0, eq + 1) + "***" : kv;
    if (amp == std::string::npos) break;
    out += '&';
    start = amp + 1;
  }
  return out;
}
}  // namespace

std::string redact_url(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  auto auth_start = scheme_end + 3;
  auto auth_end = url.find_first_of("/?", auth_start);
  auto at = url.rfind('@', auth_end == std::string::npos ? std::string::npos : auth_end);
  if (at == std::string::npos || at < auth_start) {
    // Passwords may also come as ?password=...
  } else {
    auto colon = url.find(':', auth_start);
    if (colon != std::string::npos && colon < at) {
      std::string out = url.substr(0, colon + 1) + "***" + url.substr(at);
      return redact_url_params(out);
    }
  }
  return redact_url_params(url);
}

struct ConnectorRegistry::Impl {
  mutable std::mutex mu;
  std::map<std::string, SourceFactory> sources;
  std::map<std::string, DestinationFactory> destinations;
  std::map<std::string, CheckpointStoreFactory> stores;
};

ConnectorRegistry::ConnectorRegistry() : impl_(std::make_unique<Impl>()) {}
ConnectorRegistry::~ConnectorRegistry() = default;

ConnectorRegistry& ConnectorRegistry::instance() {
  static ConnectorRegistry* registry = [] {
    auto* r = new ConnectorRegistry();  // never destroyed: connectors may outlive static destruction order
    detail::register_builtin_connectors(*r);
    return r;
  }();
  return *registry;
}

void ConnectorRegistry::register_source(const std::string& scheme, SourceFactory f) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->sources[scheme] = std::move(f);
}
void ConnectorRegistry::register_destination(const std::string& scheme, DestinationFactory f) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->destinations[scheme] = std::move(f);
}
void ConnectorRegistry::register_checkpoint_store(const std::string& scheme, CheckpointStoreFactory f) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->stores[scheme] = std::move(f);
}

namespace {
template <typename Map>
std::string known(const Map& m) {
  std::string out;
  for (const auto& [k, v] : m) out += (out.empty() ? "" : ", ") + k + "://";
  return out.empty() ? "(none)" : out;
}

template <typename Map>
auto open_with(std::mutex& mu, const Map& map, const std::string& url, std::string_view what) {
  ConnectorUrl parsed = ConnectorUrl::parse(url);
  typename Map::mapped_type factory;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = map.find(parsed.scheme);
    if (it == map.end())
      throw config_error(std::string(what), fmt::format("no {} connector for scheme \"{}\" in \"{}\" (known: {})", what,
                                                        parsed.scheme, parsed.redacted(), known(map)));
    factory = it->second;
  }
  return factory(parsed);
}
}  // namespace

std::shared_ptr<SourceConnector> ConnectorRegistry::open_source(const std::string& url) const {
  return open_with(impl_->mu, impl_->sources, url, "source");
}
std::shared_ptr<DestinationConnector> ConnectorRegistry::open_destination(const std::string& url) const {
  return open_with(impl_->mu, impl_->destinations, url, "destination");
}
std::shared_ptr<CheckpointStore> ConnectorRegistry::open_checkpoint_store(const std::string& url) const {
  return open_with(impl_->mu, impl_->stores, url, "checkpoint");
}

std::vector<std::string> ConnectorRegistry::source_schemes() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [k, v] : impl_->sources) out.push_back(k);
  return out;
}
std::vector<std::string> ConnectorRegistry::destination_schemes() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [k, v] : impl_->destinations) out.push_back(k);
  return out;
}

}  // namespace cdc
