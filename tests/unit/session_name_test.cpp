// Session names: derived from what identifies the data (scheme, host, port, database or file),
// not from credentials or parameters; the legacy derivation stays available for the upgrade.
#include "core/session_name.h"

#include <cdc/session.h>

#include <catch2/catch.hpp>

namespace {

cdc::Config config_of(std::string source, std::string destination) {
  cdc::Config c;
  c.source = std::move(source);
  c.destination = std::move(destination);
  return c;
}

}  // namespace

TEST_CASE("session names ignore credentials and URL parameters", "[unit][session_name]") {
  auto base = config_of("postgresql://cdc:secret@db1:5432/shop", "mysql://root@replica:3306/shop_copy");
  const std::string name = cdc::session_name(base);
  CHECK(name.rfind("shop-", 0) == 0);
  CHECK(name.size() == 5 + 8);

  auto with_params = config_of("postgresql://cdc:secret@db1:5432/shop?sslmode=require&connect_timeout=5",
                               "mysql://root@replica:3306/shop_copy?read_timeout=30");
  CHECK(cdc::session_name(with_params) == name);
  auto other_credentials = config_of("postgresql://replicator:other@db1:5432/shop", "mysql://app:pw@replica:3306/shop_copy");
  CHECK(cdc::session_name(other_credentials) == name);
  auto password_parameter = config_of("postgresql://cdc@db1:5432/shop?password=x", "mysql://root@replica:3306/shop_copy");
  CHECK(cdc::session_name(password_parameter) == name);
  auto host_case = config_of("postgresql://cdc@DB1:5432/shop", "mysql://root@Replica:3306/shop_copy");
  CHECK(cdc::session_name(host_case) == name);
}

TEST_CASE("session names differ for other data", "[unit][session_name]") {
  auto base = config_of("postgresql://cdc@db1:5432/shop", "sqlite:///var/lib/replica.db");
  const std::string name = cdc::session_name(base);
  CHECK(cdc::session_name(config_of("postgresql://cdc@db1:5432/shop2", "sqlite:///var/lib/replica.db")) != name);
  CHECK(cdc::session_name(config_of("postgresql://cdc@db2:5432/shop", "sqlite:///var/lib/replica.db")) != name);
  CHECK(cdc::session_name(config_of("postgresql://cdc@db1:5433/shop", "sqlite:///var/lib/replica.db")) != name);
  CHECK(cdc::session_name(config_of("postgresql://cdc@db1:5432/shop", "sqlite:///var/lib/replica2.db")) != name);
  CHECK(cdc::session_name(config_of("mysql://cdc@db1:5432/shop", "sqlite:///var/lib/replica.db")) != name);
  // Source and destination are not interchangeable.
  CHECK(cdc::session_name(config_of("sqlite:///var/lib/replica.db", "postgresql://cdc@db1:5432/shop")) != name);
  // A SQLite source names the session after its file.
  CHECK(cdc::session_name(config_of("sqlite:///data/shop.db", "sqlite:///data/replica.db")).rfind("shop-", 0) == 0);
}

TEST_CASE("a configured name is the session name, legacy or not", "[unit][session_name]") {
  auto c = config_of("postgresql://cdc@db1/shop", "sqlite:///r.db");
  c.name = "nightly";
  CHECK(cdc::session_name(c) == "nightly");
  CHECK(cdc::detail::legacy_session_name(c) == "nightly");
}

TEST_CASE("the legacy session name is the 0.1 derivation", "[unit][session_name]") {
  // 0.1: "<stem>-<low 32 bits of FNV-1a 64 of redact_url(source) + " -> " + redact_url(destination)>",
  // the query string kept. The value below was computed from that formula independently.
  auto c = config_of("postgresql://cdc:secret@db1:5432/shop?sslmode=require", "sqlite:///var/lib/replica.db");
  CHECK(cdc::detail::legacy_session_name(c) == "shop-20d7c599");
  // A parameter changed the legacy name, and no longer changes the current one.
  auto without = config_of("postgresql://cdc:secret@db1:5432/shop", "sqlite:///var/lib/replica.db");
  CHECK(cdc::detail::legacy_session_name(without) != cdc::detail::legacy_session_name(c));
  CHECK(cdc::session_name(without) == cdc::session_name(c));
  CHECK(cdc::session_name(c) != cdc::detail::legacy_session_name(c));
}

TEST_CASE("URL identity keeps scheme, host, port and path only", "[unit][session_name]") {
  using cdc::detail::url_identity;
  CHECK(url_identity("postgresql://u:p@Host:5432/db?sslmode=require") == url_identity("postgresql://other@host:5432/db"));
  CHECK(url_identity("sqlite:///a/b.db?mode=ro") == url_identity("sqlite:///a/b.db"));
  CHECK(url_identity("sqlite:///a/b.db") != url_identity("sqlite://a/b.db"));
  // Not a URL: taken as it is, without a password or query.
  CHECK(url_identity("not a url") == "not a url");
}
