// Crash points for tests: with CDC_CRASH_AT=<name>:<n> in the environment, the n-th time the
// named point is reached the process kills itself with SIGKILL (no cleanup, like a power cut
// of the process). Used by the crash tests to stop at exact places. With CDC_PAUSE_AT=<name>:<n>
// and CDC_PAUSE_FILE=<path>, the thread that reaches the point the n-th time creates <path> and
// waits until it is removed: the fault tests (tests/faults/) restart a server or kill a connection
// while cdc stands at an exact place, then let it go on.
// Only built with -DCDC_FAILPOINTS=ON (scripts/test.sh); otherwise failpoint() is an empty inline
// function the compiler removes, and the environment is never read.
#pragma once

#include <string_view>

namespace cdc::detail {

#ifdef CDC_FAILPOINTS
void failpoint(std::string_view name);
#else
inline void failpoint(std::string_view) {}
#endif

}  // namespace cdc::detail
