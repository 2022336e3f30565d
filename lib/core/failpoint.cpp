#include "core/failpoint.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <unistd.h>

#ifdef CDC_FAILPOINTS

namespace cdc::detail {

namespace {
// "<name>:<n>" from the environment variable `var`: the n-th hit of the named point (n = 1 when absent).
struct Armed {
  std::string name;
  long remaining = 0;
  std::atomic<long> hits{0};

  explicit Armed(const char* var) {
    const char* env = std::getenv(var);
    if (!env) return;
    std::string spec(env);
    auto colon = spec.rfind(':');
    name = spec.substr(0, colon);
    remaining = colon == std::string::npos ? 1 : std::strtol(spec.c_str() + colon + 1, nullptr, 10);
  }
  bool hit(std::string_view point) { return !name.empty() && name == point && ++hits == remaining; }
};

// Parks the calling thread: creates `file` and returns once something removed it (the test that
// waited for the file to appear, did its harm to a server, and lets cdc go on).
void pause_until_removed(const char* file) {
  if (!file || !*file) return;
  std::ofstream(file) << ::getpid() << "\n";
  while (::access(file, F_OK) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}
}  // namespace

void failpoint(std::string_view name) {
  static Armed crash("CDC_CRASH_AT");
  static Armed pause("CDC_PAUSE_AT");
  if (crash.hit(name)) std::raise(SIGKILL);
  if (pause.hit(name)) pause_until_removed(std::getenv("CDC_PAUSE_FILE"));
}

}  // namespace cdc::detail

#endif  // CDC_FAILPOINTS
