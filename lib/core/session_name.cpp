// Session names (session_name.h, cdc::session_name in session.h).
#include "core/session_name.h"

#include "core/text_util.h"

#include <cdc/error.h>
#include <cdc/registry.h>
#include <cdc/session.h>

#include <fmt/format.h>

namespace cdc {

namespace {

std::string stem_of(const Config& config) {
  std::string stem = "cdc";
  try {
    auto url = ConnectorUrl::parse(config.source);
    std::string p = url.path;
    if (auto slash = p.find_last_of('/'); slash != std::string::npos) p = p.substr(slash + 1);
    if (auto dot = p.find('.'); dot != std::string::npos) p = p.substr(0, dot);
    if (!p.empty()) stem = p;
  } catch (const Error&) {
  }
  return stem;
}

}  // namespace

std::string session_name(const Config& config) { return detail::legacy_session_name(config); }

namespace detail {

std::string legacy_session_name(const Config& config) {
  if (!config.name.empty()) return config.name;
  return fmt::format("{}-{:08x}", stem_of(config),
                     static_cast<std::uint32_t>(fnv1a(redact_url(config.source) + " -> " + redact_url(config.destination))));
}

}  // namespace detail

}  // namespace cdc
