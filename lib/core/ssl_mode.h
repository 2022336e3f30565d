// TLS settings of a client connection named as the MySQL client names them (--ssl-mode, --ssl-ca,
// --ssl-cert, --ssl-key), shared by the connectors that take them as URL parameters (mysql://,
// mariadb://, harper://). Plain values and pure functions: no I/O but checking that files exist.
#pragma once

#include <map>
#include <string>

namespace cdc::detail {

enum class SslMode {
  Disabled,        // plain text
  Preferred,       // TLS when the server offers it, unverified; plain text otherwise
  Required,        // TLS or no connection; the certificate is not verified
  VerifyCa,        // TLS, the server's certificate chain verified against the CA
  VerifyIdentity,  // VerifyCa, and the certificate names the host connected to
};
const char* to_string(SslMode mode);

// "ssl_mode" and "ssl-mode" alike (the MySQL client accepts both in option files): `key` with the
// '_' of an "ssl_" parameter turned into '-'; any other key unchanged.
std::string canonical_ssl_param(const std::string& key);

// DISABLED|PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY in any case. Throws Error(Config) naming
// `url` (shown redacted) and listing the valid modes.
SslMode parse_ssl_mode(const std::string& text, const std::string& url, const char* role);

// A certificate or key file named by URL parameter `key` must be readable now: the TLS library's
// own message for a missing file does not say which parameter named it. Throws Error(Config).
void check_ssl_file(const std::string& path, const std::string& key, const std::string& url, const char* role);

// The TLS parameters of a URL.
struct SslParams {
  SslMode mode = SslMode::Disabled;
  std::string ca, cert, key;  // file paths, empty when not given

  bool on() const { return mode != SslMode::Disabled; }
};

// Takes ssl-mode, ssl-ca, ssl-cert and ssl-key (also spelled ssl_mode, ...) out of `params`,
// leaving the others. The mode is `fallback` when not given, `with_ca` when only ssl-ca is (as the
// MySQL client does). Throws Error(Config) naming `url` for a bad mode, an unreadable file,
// DISABLED with files, or a certificate without its key (or the reverse).
SslParams take_ssl_params(std::map<std::string, std::string>& params, SslMode fallback, SslMode with_ca, const std::string& url,
                          const char* role);

}  // namespace cdc::detail
