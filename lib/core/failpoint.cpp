#include "core/failpoint.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

#ifdef CDC_FAILPOINTS

namespace cdc::detail {

namespace {
struct Armed {
  std::string name;
  long remaining = 0;
};

const Armed& armed() {
  static const Armed a = [] {
    Armed out;
    const char* env = std::getenv("CDC_CRASH_AT");
    if (!env) return out;
    std::string spec(env);
    auto colon = spec.rfind(':');
    out.name = spec.substr(0, colon);
    out.remaining = colon == std::string::npos ? 1 : std::strtol(spec.c_str() + colon + 1, nullptr, 10);
    return out;
  }();
  return a;
}

std::atomic<long> hits{0};
}  // namespace

void failpoint(std::string_view name) {
  const Armed& a = armed();
  if (a.name.empty() || a.name != name) return;
  if (++hits >= a.remaining) std::raise(SIGKILL);
}

}  // namespace cdc::detail

#endif  // CDC_FAILPOINTS
