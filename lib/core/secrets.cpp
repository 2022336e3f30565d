#include "core/secrets.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace cdc::detail {

bool is_secret_param(std::string_view name) {
  std::string key(name);
  for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* word : {"password", "secret", "token", "key"})
    if (key.find(word) != std::string::npos) return true;
  return false;
}

std::string read_secret_file(const std::string& path, const std::string& where) {
  if (path.empty()) throw Error(ErrorKind::Config, fmt::format("{}: empty file name", where));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Config, fmt::format("{}: cannot read {}: {}", where, path, std::strerror(errno)));
  // Read at most one byte past the bound: a path such as /dev/zero must not fill the memory.
  std::string s(kMaxSecretFileBytes + 1, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<std::size_t>(in.gcount()));
  if (s.size() > kMaxSecretFileBytes)
    throw Error(ErrorKind::Config, fmt::format("{}: {} is larger than {} KiB, too large for a secret", where, path, kMaxSecretFileBytes / 1024));
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.empty()) throw Error(ErrorKind::Config, fmt::format("{}: {} is empty", where, path));
  return s;
}

}  // namespace cdc::detail
