// Session leases of the MariaDB checkpoint store (tests/support/lease_contract.h): GET_LOCK on a
// connection of the lease's own, the holder in the checkpoint entry "lease".
#include "mysql/mysql_conn.h"
#include "mysql/mysql_lease.h"

#include "support/lease_contract.h"
#include "support/history_contract.h"

#include "mysql_test_util.h"

#include <cstdlib>
#include <fstream>

namespace {

using mysql_test::connect;
using mysql_test::url_for;

struct TempDatabase {
  std::string name;
  explicit TempDatabase(std::string n) : name(std::move(n)) {
    auto c = connect("mysql");
    c.exec("DROP DATABASE IF EXISTS " + cdc::mysql::quote_ident(name));
    c.exec("CREATE DATABASE " + cdc::mysql::quote_ident(name));
  }
  ~TempDatabase() {
    try {
      connect("mysql").exec("DROP DATABASE IF EXISTS " + cdc::mysql::quote_ident(name));
    } catch (...) {
    }
  }
};

}  // namespace

TEST_CASE("mariadb: checkpoint store session leases", "[mysql][lease]") {
  TempDatabase db("it_lease");
  cdc_test::check_lease_contract(url_for(db.name), "maria");
}

TEST_CASE("mariadb: lease lock names fit 64 characters and carry the database", "[mysql][lease]") {
  using cdc::mysql::lease_lock_name;
  CHECK(lease_lock_name("shop_db", "shop-1a2b3c4d") == "cdc:shop_db:shop-1a2b3c4d");
  std::string long_name(100, 'x');
  auto hashed = lease_lock_name("shop_db", long_name);
  CHECK(hashed.size() == 64);
  CHECK(hashed.rfind("cdc:shop_db:xxx", 0) == 0);
  CHECK(hashed != lease_lock_name("shop_db", long_name + "y"));
  CHECK(lease_lock_name("other_db", "shop") != lease_lock_name("shop_db", "shop"));
  // Lock names compare case-insensitively: sessions differing in case must not share one.
  CHECK(lease_lock_name("db", "Shop") != lease_lock_name("db", "shop"));
  CHECK(lease_lock_name("db", "Shop").size() <= 64);
}

TEST_CASE("mariadb: the holder is kept as the session's checkpoint entry \"lease\" while held", "[mysql][lease]") {
  TempDatabase db("it_leasee");
  auto store = cdc::ConnectorRegistry::instance().open_checkpoint_store(url_for(db.name));
  auto c = connect(db.name);
  {
    auto lease = store->acquire_lease("shop", "pid 9 on db-host");
    CHECK(c.scalar("SELECT value FROM _cdc_checkpoints WHERE session = 'shop' AND `key` = 'lease'") ==
          std::optional<std::string>("pid 9 on db-host"));
    CHECK(c.scalar("SELECT IS_USED_LOCK('cdc:it_leasee:shop') IS NOT NULL") == std::optional<std::string>("1"));
  }
  CHECK(c.scalar("SELECT count(*) FROM _cdc_checkpoints WHERE session = 'shop'") == std::optional<std::string>("0"));
  CHECK(c.scalar("SELECT IS_USED_LOCK('cdc:it_leasee:shop') IS NULL") == std::optional<std::string>("1"));
}

TEST_CASE("mariadb: run history and error log (_cdc_runs, _cdc_errors)", "[mysql][history]") {
  TempDatabase db("it_history");
  cdc_test::check_history_contract(url_for(db.name), "maria");
}
