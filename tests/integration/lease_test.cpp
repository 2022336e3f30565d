// Session leases of the SQLite checkpoint store: the shared contract (tests/support/lease_contract.h)
// and where the lock file lives.
#include "support/lease_contract.h"
#include "support/history_contract.h"
#include "support/sqlite_fixture.h"

#include "core/lease.h"
#include "sqlite/sqlite_lease.h"

#include <filesystem>

#include <unistd.h>

TEST_CASE("SQLite checkpoint store: session leases", "[sqlite][lease]") {
  cdc_test::TempDir dir;
  cdc_test::check_lease_contract("sqlite://" + dir.file("ckpt.db"), "sqlite");
}

TEST_CASE("SQLite lease: a lock file beside the database, emptied on release", "[sqlite][lease]") {
  cdc_test::TempDir dir;
  const std::string db = dir.file("ckpt.db");
  auto store = cdc::ConnectorRegistry::instance().open_checkpoint_store("sqlite://" + db);
  const std::string file = cdc::sqlite::lease_file(db, "shop");
  CHECK(file.rfind(db + "-cdc-", 0) == 0);
  CHECK(file.size() == db.size() + 5 + 16 + 5);
  CHECK(cdc::sqlite::lease_file(db, "shop2") != file);
  {
    auto lease = store->acquire_lease("shop", "pid 7 on here");
    CHECK(std::filesystem::file_size(file) == std::string("pid 7 on here").size());
  }
  CHECK(std::filesystem::file_size(file) == 0);
  CHECK_FALSE(store->lease_holder("shop").has_value());
}

TEST_CASE("the holder description names this process, its host and the time in UTC", "[unit][lease]") {
  const std::string text = cdc::detail::describe_this_process();
  CHECK(text.rfind("pid " + std::to_string(::getpid()) + " on ", 0) == 0);
  CHECK(text.find(" since ") != std::string::npos);
  CHECK(text.size() > 4);
  CHECK(text.compare(text.size() - 4, 4, " UTC") == 0);
}

TEST_CASE("SQLite checkpoint store: run history and error log (_cdc_runs, _cdc_errors)", "[sqlite][history]") {
  cdc_test::TempDir dir;
  cdc_test::check_history_contract("sqlite://" + dir.file("ckpt.db"), "sqlite");
}
