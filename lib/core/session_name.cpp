// Session names: config.name, or the source's stem plus a hash of what identifies the source and
// the destination (see session_name.h).
#include "core/session_name.h"

#include "core/text_util.h"

#include <cdc/error.h>
#include <cdc/registry.h>
#include <cdc/session.h>

#include <fmt/format.h>

#include <cctype>
#include <cstdint>

namespace cdc {

namespace {

// "shop" for sqlite:///data/shop.db, "cdc" when the source URL has no usable path.
std::string stem_of(const std::string& source) {
  std::string stem = "cdc";
  try {
    auto url = ConnectorUrl::parse(source);
    std::string p = url.path;
    if (auto slash = p.find_last_of('/'); slash != std::string::npos) p = p.substr(slash + 1);
    if (auto dot = p.find('.'); dot != std::string::npos) p = p.substr(0, dot);
    if (!p.empty()) stem = p;
  } catch (const Error&) {
  }
  return stem;
}

std::string name_from(const std::string& stem, const std::string& hashed) {
  return fmt::format("{}-{:08x}", stem, static_cast<std::uint32_t>(detail::fnv1a(hashed)));
}

}  // namespace

namespace detail {

std::string url_identity(const std::string& text) {
  try {
    ConnectorUrl url = ConnectorUrl::parse(text);
    std::string host = url.host;
    for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // '\x1f' cannot occur in a parsed host or scheme: the parts cannot run into each other.
    return fmt::format("{}\x1f{}\x1f{}\x1f{}", url.scheme, host, url.port, url.path);
  } catch (const Error&) {
    std::string redacted = redact_url(text);
    return redacted.substr(0, redacted.find('?'));
  }
}

std::string legacy_session_name(const Config& config) {
  if (!config.name.empty()) return config.name;
  return name_from(stem_of(config.source), redact_url(config.source) + " -> " + redact_url(config.destination));
}

}  // namespace detail

std::string session_name(const Config& config) {
  if (!config.name.empty()) return config.name;
  return name_from(stem_of(config.source),
                   detail::url_identity(config.source) + " -> " + detail::url_identity(config.destination));
}

}  // namespace cdc
