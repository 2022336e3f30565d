#include "core/lease.h"

#include "core/text_util.h"

#include <fmt/format.h>

#include <climits>
#include <ctime>

#include <unistd.h>

namespace cdc::detail {

std::uint64_t lease_hash(const std::string& session) { return fnv1a("cdc:" + session); }

std::string lease_hash_hex(const std::string& session) { return fmt::format("{:016x}", lease_hash(session)); }

Error lease_refused(const std::string& session, const std::string& holder) {
  return Error(ErrorKind::State, fmt::format("session {} is already running: {}", session, holder), false,
               "session " + session);
}

std::string describe_this_process() {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char when[32] = {};
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &utc);
  return fmt::format("pid {} on {} since {} UTC", ::getpid(), host[0] ? host : "unknown host", when);
}

}  // namespace cdc::detail
