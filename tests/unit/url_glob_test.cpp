#include <cdc/error.h>
#include <cdc/plan.h>
#include <cdc/registry.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

TEST_CASE("connector URLs parse into their parts", "[unit][url]") {
  auto abs = cdc::ConnectorUrl::parse("sqlite:///data/shop.db");
  CHECK(abs.scheme == "sqlite");
  CHECK(abs.path == "/data/shop.db");
  CHECK(cdc::ConnectorUrl::parse("sqlite://relative.db").path == "relative.db");
  CHECK(cdc::ConnectorUrl::parse("sqlite:///tmp/with%20space.db").path == "/tmp/with space.db");

  auto pg = cdc::ConnectorUrl::parse("postgresql://app:p%40ss@db.local:6432/shop?sslmode=require&application_name=cdc");
  CHECK(pg.scheme == "postgresql");
  CHECK(pg.user == "app");
  CHECK(pg.password == "p@ss");
  CHECK(pg.host == "db.local");
  CHECK(pg.port == 6432);
  CHECK(pg.path == "shop");
  CHECK(pg.params.at("sslmode") == "require");
  CHECK(pg.redacted() == "postgresql://app:***@db.local:6432/shop?sslmode=require&application_name=cdc");

  auto v6 = cdc::ConnectorUrl::parse("mysql://root@[::1]:3307/db");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 3307);
  CHECK(v6.password.empty());
  CHECK(v6.hosts == std::vector<std::string>{"[::1]:3307"});

  // A host list (Kafka bootstrap servers) splits into its hosts; the first is host and port.
  auto list = cdc::ConnectorUrl::parse("kafka://h1:9092,h2:9093,[::1]:9094?topic_prefix=shop&acks=all");
  CHECK(list.host == "h1");
  CHECK(list.port == 9092);
  CHECK(list.hosts == std::vector<std::string>{"h1:9092", "h2:9093", "[::1]:9094"});
  CHECK(list.params.at("topic_prefix") == "shop");
  // Every parameter whose name holds "password", "secret", "token" or "key" is hidden, in any case.
  CHECK(cdc::ConnectorUrl::parse("kafka://h1:9092?sasl.username=u&sasl.password=s3&ssl.key.password=k&mypassword=x").redacted() ==
        "kafka://h1:9092?sasl.username=u&sasl.password=***&ssl.key.password=***&mypassword=***");
  CHECK(cdc::redact_url("postgresql://u:pw@h/db?sslmode=require&sslpassword=a&client_SECRET=b&api_token=c&sslkey=/k&app=x") ==
        "postgresql://u:***@h/db?sslmode=require&sslpassword=***&client_SECRET=***&api_token=***&sslkey=***&app=x");
  CHECK(cdc::redact_url("mysql://h/db?ssl%2Dkey=x") == "mysql://h/db?ssl%2Dkey=***");
  CHECK_THROWS_WITH(cdc::ConnectorUrl::parse("kafka://h1:9092,,h2:9092"), "url: \"kafka://h1:9092,,h2:9092\": empty host in the host list");
  CHECK_THROWS_WITH(cdc::ConnectorUrl::parse("kafka://h1:9092,h2:x"), "url: \"kafka://h2:x\": port \"x\" is not a number");

  CHECK_THROWS_WITH(cdc::ConnectorUrl::parse("shop.db"), "url: \"shop.db\" is not a connector URL (expected scheme://...)");
  CHECK_THROWS_WITH(cdc::ConnectorUrl::parse("postgresql://u:secret@h:99999/db"),
                    "url: \"postgresql://u:***@h:99999/db\": port 99999 out of range");
  CHECK_THROWS_WITH(cdc::ConnectorUrl::parse("sqlite://"), "url: \"sqlite://\": missing file path");
}

TEST_CASE("password_file= reads the password from a file, never shown", "[unit][url]") {
  const std::string path = std::filesystem::temp_directory_path() / ("cdc-pw-" + std::to_string(::getpid()));
  std::ofstream(path) << "s3cr3t-from-file\n";
  auto u = cdc::ConnectorUrl::parse("postgresql://app@h:5432/db?password_file=" + path + "&sslmode=disable");
  CHECK(u.password == "s3cr3t-from-file");  // one trailing newline dropped
  CHECK(u.params.count("password_file") == 0);  // consumed: connectors never see it
  CHECK(u.params.at("sslmode") == "disable");
  CHECK(u.redacted().find(path) == std::string::npos);
  CHECK_THROWS_WITH(cdc::ConnectorUrl::parse("postgresql://app:inline@h/db?password_file=" + path),
                    "url: \"postgresql://app:***@h/db?password_file=***\": a password in the URL and a password_file");
  CHECK_THROWS_WITH(cdc::ConnectorUrl::parse("mysql://app@h/db?password_file=/nonexistent/pw"),
                    "\"mysql://app@h/db?password_file=***\": password_file: cannot read /nonexistent/pw: No such file or directory");
  std::filesystem::remove(path);
}

TEST_CASE("unknown schemes list the known ones and never show secrets", "[unit][url]") {
  try {
    cdc::ConnectorRegistry::instance().open_source("oracle://scott:tiger@h/db");
    FAIL("expected an error");
  } catch (const cdc::Error& e) {
    std::string what = e.what();
    CHECK(e.kind() == cdc::ErrorKind::Config);
    CHECK(what.find("tiger") == std::string::npos);
    CHECK(what.find("sqlite://") != std::string::npos);
  }
}

TEST_CASE("glob patterns select tables", "[unit][glob]") {
  CHECK(cdc::glob_match("*", "orders"));
  CHECK(cdc::glob_match("audit_*", "audit_log"));
  CHECK_FALSE(cdc::glob_match("audit_*", "orders_audit"));
  CHECK(cdc::glob_match("order?", "orders"));
  CHECK_FALSE(cdc::glob_match("order?", "order"));
  CHECK(cdc::glob_match("[ab]*", "bills"));
  CHECK_FALSE(cdc::glob_match("[!ab]*", "bills"));
  CHECK(cdc::glob_match("t[0-9]", "t7"));
  CHECK(cdc::glob_match("*.orders", "public.orders"));
  CHECK(cdc::glob_match("a*b*c", "axxbyyc"));
  CHECK_FALSE(cdc::glob_match("a*b*c", "axxbyy"));

  cdc::Config c;
  c.include = {"*"};
  c.exclude = {"audit_*", "tmp.*"};
  CHECK(cdc::table_selected(c, cdc::TableId("public", "orders")));
  CHECK_FALSE(cdc::table_selected(c, cdc::TableId("public", "audit_log")));
  CHECK_FALSE(cdc::table_selected(c, cdc::TableId("tmp", "orders")));
  c.include = {"public.o*"};
  CHECK(cdc::table_selected(c, cdc::TableId("public", "orders")));
  CHECK_FALSE(cdc::table_selected(c, cdc::TableId("sales", "orders")));
}

TEST_CASE("long identifiers are shortened stably and stay distinct", "[unit][identifiers]") {
  CHECK(cdc::fit_identifier("orders", 63) == "orders");
  CHECK(cdc::fit_identifier(std::string(100, 'x'), 0) == std::string(100, 'x'));
  const std::string a = std::string(70, 'a') + "_first", b = std::string(70, 'a') + "_second";
  auto fa = cdc::fit_identifier(a, 63), fb = cdc::fit_identifier(b, 63);
  CHECK(fa.size() == 63);
  CHECK(fb.size() == 63);
  CHECK(fa != fb);
  CHECK(fa == cdc::fit_identifier(a, 63));  // stable
  CHECK(fa.substr(0, 54) == std::string(54, 'a'));
  CHECK(fa[54] == '_');
  // Never cuts a UTF-8 character in two.
  std::string u;
  for (int i = 0; i < 40; ++i) u += "é";  // 80 bytes
  auto fu = cdc::fit_identifier(u, 63);
  CHECK(fu.size() <= 63);
  CHECK((fu.size() - 9) % 2 == 0);  // whole two-byte characters before the "_hash" suffix
  CHECK(cdc::fit_identifier(u, 64).size() == 63);  // 55 bytes would split a character
}
