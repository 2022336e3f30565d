// Secrets in URLs and configs: which URL parameters hold one (redacted wherever a URL is shown),
// and secrets read from files (`password_file=` in a URL, `${file:/path}` in a config).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cdc::detail {

// True for a parameter whose name holds a secret: it contains "password", "secret", "token" or
// "key", in any case (password, sasl.password, ssl.key.password, client_secret, sslkey, ...).
bool is_secret_param(std::string_view name);

// Largest secret file read_secret_file() reads (a certificate chain fits; /dev/zero does not).
inline constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;

// The contents of the file at `path`, without one trailing newline (as `echo pw > file` leaves).
// Throws cdc::Error(Config) naming `where` and the path, never the contents; also for a file
// larger than kMaxSecretFileBytes.
std::string read_secret_file(const std::string& path, const std::string& where);

}  // namespace cdc::detail
