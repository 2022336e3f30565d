// Crash points for tests: with CDC_CRASH_AT=<name>:<n> in the environment, the n-th time the
// named point is reached the process kills itself with SIGKILL (no cleanup, like a power cut
// of the process). Used by the crash tests to stop at exact places; a no-op otherwise.
#pragma once

#include <string_view>

namespace cdc::detail {

void failpoint(std::string_view name);

}  // namespace cdc::detail
