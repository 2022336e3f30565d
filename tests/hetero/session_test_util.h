// Session helpers shared by the heterogeneous tests.
#pragma once

#include <cdc/session.h>

#include <catch2/catch.hpp>

namespace hetero_test {

// One snapshot-only run (cdc-cli copy).
inline cdc::SessionStatus copy_once(const cdc::Config& config) {
  cdc::SessionOptions copy;
  copy.snapshot_only = true;
  return cdc::ReplicationSession(config, copy).run();
}

// Every table of a finished copy is done (the error of any that is not is shown). A copy of no
// table at all is a failure too: it would pass every check of the tables it did not copy.
inline void check_done(const cdc::SessionStatus& status) {
  REQUIRE_FALSE(status.tables.empty());
  for (const auto& t : status.tables) {
    INFO(t.source << ": " << t.error);
    CHECK(t.phase == cdc::TablePhase::Done);
  }
}

// Stops the session; every table (at least one) must still have been streaming when asked to stop.
inline void stop_streaming(cdc::ReplicationSession& session) {
  auto status = session.status();
  session.stop();
  session.wait();
  REQUIRE_FALSE(status.tables.empty());
  for (const auto& t : status.tables) {
    INFO(t.source << ": " << t.error);
    CHECK(t.phase == cdc::TablePhase::Streaming);
  }
}

}  // namespace hetero_test
