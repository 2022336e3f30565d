// Session leases of the PostgreSQL checkpoint store (tests/support/lease_contract.h): an advisory
// lock on a connection of the lease's own, the holder in the checkpoint entry "lease".
#include "pg_test_util.h"

#include "support/lease_contract.h"
#include "support/history_contract.h"

using namespace pg_test;

TEST_CASE("postgres: checkpoint store session leases", "[postgres][lease]") {
  TempDb db("lease");
  cdc_test::check_lease_contract(db.url(), "pg");
}

TEST_CASE("postgres: the holder is kept as the session's checkpoint entry \"lease\" while held", "[postgres][lease]") {
  TempDb db("leasee");
  auto store = cdc::ConnectorRegistry::instance().open_checkpoint_store(db.url());
  Conn c(db.url());
  {
    auto lease = store->acquire_lease("shop", "pid 9 on db-host");
    CHECK(c.rows("SELECT value FROM cdc_metadata.checkpoints WHERE session = 'shop' AND key = 'lease'") ==
          std::vector<std::string>{"pid 9 on db-host"});
    CHECK(c.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
                   "(SELECT oid FROM pg_database WHERE datname = current_database())") == "1");
  }
  CHECK(c.scalar("SELECT count(*) FROM cdc_metadata.checkpoints WHERE session = 'shop'") == "0");
  CHECK(c.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
                   "(SELECT oid FROM pg_database WHERE datname = current_database())") == "0");
}

TEST_CASE("postgres: run history and error log (cdc_metadata.runs, cdc_metadata.errors)", "[postgres][history]") {
  TempDb db("history");
  cdc_test::check_history_contract(db.url(), "pg");
}
