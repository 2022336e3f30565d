#include "core/ssl_mode.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace cdc::detail {

const char* to_string(SslMode mode) {
  switch (mode) {
    case SslMode::Disabled: return "DISABLED";
    case SslMode::Preferred: return "PREFERRED";
    case SslMode::Required: return "REQUIRED";
    case SslMode::VerifyCa: return "VERIFY_CA";
    case SslMode::VerifyIdentity: return "VERIFY_IDENTITY";
  }
  return "?";
}

std::string canonical_ssl_param(const std::string& key) {
  if (key.rfind("ssl_", 0) != 0) return key;
  std::string k = key;
  for (auto& c : k)
    if (c == '_') c = '-';
  return k;
}

SslMode parse_ssl_mode(const std::string& text, const std::string& url, const char* role) {
  std::string v;
  for (char c : text) v += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (v == "DISABLED") return SslMode::Disabled;
  if (v == "PREFERRED") return SslMode::Preferred;
  if (v == "REQUIRED") return SslMode::Required;
  if (v == "VERIFY_CA") return SslMode::VerifyCa;
  if (v == "VERIFY_IDENTITY") return SslMode::VerifyIdentity;
  throw config_error(role, fmt::format("\"{}\": ssl-mode=\"{}\" is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, "
                                       "VERIFY_IDENTITY",
                                       url, text));
}

void check_ssl_file(const std::string& path, const std::string& key, const std::string& url, const char* role) {
  if (path.empty()) throw config_error(role, fmt::format("\"{}\": {} is empty (expected a file path)", url, key));
  std::ifstream in(path);
  if (!in) throw config_error(role, fmt::format("\"{}\": {}: cannot read {}: {}", url, key, path, std::strerror(errno)));
}

SslParams take_ssl_params(std::map<std::string, std::string>& params, SslMode fallback, SslMode with_ca, const std::string& url,
                          const char* role) {
  SslParams p;
  p.mode = fallback;
  bool mode_given = false;
  for (auto it = params.begin(); it != params.end();) {
    const std::string k = canonical_ssl_param(it->first);
    if (k == "ssl-mode") {
      p.mode = parse_ssl_mode(it->second, url, role);
      mode_given = true;
    } else if (k == "ssl-ca" || k == "ssl-cert" || k == "ssl-key") {
      check_ssl_file(it->second, it->first, url, role);
      (k == "ssl-ca" ? p.ca : k == "ssl-cert" ? p.cert : p.key) = it->second;
    } else {
      ++it;
      continue;
    }
    it = params.erase(it);
  }
  if (!mode_given && !p.ca.empty()) p.mode = with_ca;
  if (p.mode == SslMode::Disabled && (!p.ca.empty() || !p.cert.empty() || !p.key.empty()))
    throw config_error(role, fmt::format("\"{}\": ssl-mode=DISABLED with ssl-ca, ssl-cert or ssl-key: drop those, or choose "
                                         "another ssl-mode",
                                         url));
  if (p.cert.empty() != p.key.empty())
    throw config_error(role, fmt::format("\"{}\": ssl-cert and ssl-key go together (a client certificate and its key)", url));
  return p;
}

}  // namespace cdc::detail
