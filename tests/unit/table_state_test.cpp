// The table life cycle's moves: the ones docs/lifecycle.md describes are allowed, others refused
// with an error naming the table and both phases.
#include "core/session/table_state.h"

#include <cdc/error.h>

#include <catch2/catch.hpp>

using cdc::TablePhase;
using cdc::detail::allowed_transition;

TEST_CASE("the life cycle allows its moves and refuses others", "[unit][lifecycle]") {
  CHECK(allowed_transition(TablePhase::Pending, TablePhase::Snapshot));
  CHECK(allowed_transition(TablePhase::Snapshot, TablePhase::Streaming));
  CHECK(allowed_transition(TablePhase::Snapshot, TablePhase::Done));
  CHECK(allowed_transition(TablePhase::Streaming, TablePhase::Resyncing));
  CHECK(allowed_transition(TablePhase::Resyncing, TablePhase::Streaming));
  CHECK(allowed_transition(TablePhase::Streaming, TablePhase::Failed));
  CHECK(allowed_transition(TablePhase::Failed, TablePhase::Streaming));
  CHECK(allowed_transition(TablePhase::Stopped, TablePhase::Snapshot));
  CHECK(allowed_transition(TablePhase::Incremental, TablePhase::Removed));
  CHECK(allowed_transition(TablePhase::Removed, TablePhase::Streaming));
  CHECK(allowed_transition(TablePhase::Dropped, TablePhase::Pending));
  CHECK(allowed_transition(TablePhase::Done, TablePhase::Pending));

  CHECK_FALSE(allowed_transition(TablePhase::Done, TablePhase::Streaming));
  CHECK_FALSE(allowed_transition(TablePhase::Pending, TablePhase::Done));
  CHECK_FALSE(allowed_transition(TablePhase::Incremental, TablePhase::Streaming));
  CHECK_FALSE(allowed_transition(TablePhase::Streaming, TablePhase::Snapshot));
  CHECK_FALSE(allowed_transition(TablePhase::Dropped, TablePhase::Done));

  std::mutex mu;
  cdc::detail::TableState t;
  t.id = "shop.orders";
  t.rec.phase = TablePhase::Done;
  std::unique_lock<std::mutex> lock(mu);
  try {
    cdc::detail::transition(t, TablePhase::Streaming, lock);
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Internal);
    CHECK(e.message() == "table shop.orders cannot go from done to streaming");
  }
  CHECK(t.phase() == TablePhase::Done);
  lock.unlock();
  CHECK_THROWS_AS(cdc::detail::transition(t, TablePhase::Pending, lock), cdc::Error);  // not holding the lock
}
