#include <cdc/config.h>
#include <cdc/error.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <cstdlib>
#include <string>

#include <unistd.h>

namespace {

// The config from the Foundation issue, verbatim.
const char* kIssueConfig = R"(source: "sqlite:///data/shop.db"
destination: "sqlite:///data/replica.db"
include: ["*"]            # glob patterns over table names
exclude: ["audit_*"]
parallel_tables: 4
stop_on_error: false
retry: {max_attempts: 5, initial_delay_ms: 500, multiplier: 2, max_delay_ms: 30000}
defaults: {batch_size: 10000, mode: replicate}     # copy | replicate | incremental
tables:
  orders:
    columns: [id, customer_id, total, updated_at]
    target: orders_copy
    where: "total > 0"
    batch_size: 5000
    parallel_chunks: 4
  customers:
    exclude_columns: [ssn]
    rename: {email: contact_email}
    delete: {strategy: soft, column: is_deleted}
  invoices:
    mode: incremental
    watermark: {column: updated_at}
    query: "SELECT * FROM invoices WHERE updated_at > :last_value"   # optional custom query
)";

std::string error_of(const std::string& yaml) {
  try {
    cdc::parse_config_yaml(yaml);
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Config);
    return e.what();
  }
  return "no error";
}

const std::string kBase = "source: sqlite:///a.db\ndestination: sqlite:///b.db\n";

}  // namespace

TEST_CASE("the issue's config loads as written", "[unit][config]") {
  cdc::Config c = cdc::parse_config_yaml(kIssueConfig);
  CHECK(c.source == "sqlite:///data/shop.db");
  CHECK(c.exclude == std::vector<std::string>{"audit_*"});
  CHECK(c.parallel_tables == 4);
  CHECK_FALSE(c.stop_on_error);
  CHECK(c.retry.max_attempts == 5);
  CHECK(c.retry.multiplier == 2.0);
  CHECK(c.retry.max_delay_ms == 30000);
  CHECK(c.defaults.batch_size == 10000);
  CHECK(c.defaults.mode == cdc::TableMode::Replicate);
  REQUIRE(c.tables.size() == 3);
  const auto orders = c.settings_for("orders");
  CHECK(orders.columns == std::vector<std::string>{"id", "customer_id", "total", "updated_at"});
  CHECK(orders.target == "orders_copy");
  CHECK(orders.where == "total > 0");
  CHECK(*orders.batch_size == 5000);
  CHECK(*orders.parallel_chunks == 4);
  CHECK(*orders.mode == cdc::TableMode::Replicate);
  const auto customers = c.settings_for("customers");
  CHECK(customers.exclude_columns == std::vector<std::string>{"ssn"});
  CHECK(customers.rename.at("email") == "contact_email");
  CHECK(customers.delete_settings->strategy == cdc::DeleteStrategy::Soft);
  CHECK(customers.delete_settings->column == "is_deleted");
  CHECK(*customers.batch_size == 10000);  // inherited
  const auto invoices = c.settings_for("invoices");
  CHECK(*invoices.mode == cdc::TableMode::Incremental);
  CHECK(invoices.watermark->column == "updated_at");
  CHECK(invoices.query == "SELECT * FROM invoices WHERE updated_at > :last_value");
  CHECK(c.mode_for("unlisted") == cdc::TableMode::Replicate);
}

TEST_CASE("the same config as JSON loads identically", "[unit][config]") {
  cdc::Config c = cdc::parse_config_json(R"({
    "source": "sqlite:///data/shop.db", "destination": "sqlite:///data/replica.db",
    "exclude": ["audit_*"], "parallel_tables": 2,
    "tables": {"orders": {"batch_size": 5000, "target": "orders_copy"},
               "invoices": {"mode": "incremental", "watermark": {"column": "updated_at"}}}
  })");
  CHECK(c.parallel_tables == 2);
  CHECK(*c.settings_for("orders").batch_size == 5000);
  CHECK(c.settings_for("invoices").watermark->column == "updated_at");
  CHECK_THROWS_WITH(cdc::parse_config_json(R"({"source":"a://","destination":"b://","parallel_tables":"4"})"),
                    "parallel_tables: expected an integer, got \"4\"");
}

TEST_CASE("config errors name the key path", "[unit][config]") {
  CHECK(error_of(kBase + "tables:\n  orders:\n    batch_size: big\n") ==
        "tables.orders.batch_size: expected an integer, got big");
  CHECK(error_of(kBase + "tables:\n  orders:\n    batch_size: \"big\"\n") ==
        "tables.orders.batch_size: expected an integer, got \"big\"");
  CHECK(error_of(kBase + "tables:\n  orders:\n    batch_size: \"5000\"\n") ==
        "tables.orders.batch_size: expected an integer, got \"5000\"");
  CHECK(error_of(kBase + "tables:\n  orders:\n    batchsize: 5\n") ==
        "tables.orders.batchsize: unknown key (did you mean batch_size?)");
  CHECK(error_of(kBase + "paralel_tables: 3\n") == "paralel_tables: unknown key (did you mean parallel_tables?)");
  CHECK(error_of(kBase + "parallel_tables: 0\n") == "parallel_tables: 0 is out of range (1..256)");
  CHECK(error_of(kBase + "stop_on_error: maybe\n") == "stop_on_error: expected true or false, got maybe");
  CHECK(error_of(kBase + "defaults: {mode: sometimes}\n") ==
        "defaults.mode: expected copy | replicate | incremental, got \"sometimes\"");
  CHECK(error_of(kBase + "retry: {multiplier: 0.5}\n") == "retry.multiplier: 0.5 is out of range (1..100)");
  CHECK(error_of(kBase + "tables:\n  t:\n    columns: id\n    exclude_columns: [id]\n") ==
        "tables.t.exclude_columns: \"id\" is also listed in columns");
  CHECK(error_of("destination: sqlite:///b.db\n") ==
        "source: missing: the source connector URL, e.g. \"sqlite:///data/shop.db\"");
  CHECK(error_of(kBase + "include: {a: 1}\n") == "include: expected a list of strings, got a map");
  CHECK(error_of("[1, 2]").find("expected a map") != std::string::npos);
  CHECK(error_of(kBase + "tables: {t: {rename: {a: b, c: b}}}\n") == "tables.t.rename.c: two columns renamed to \"b\"");
}

TEST_CASE("impossible combinations are refused", "[unit][config]") {
  CHECK(error_of(kBase + "tables: {t: {mode: incremental}}\n") ==
        "tables.t.watermark: mode incremental needs watermark: {column: <ever-increasing column>}");
  CHECK(error_of(kBase + "tables: {t: {watermark: {column: u}}}\n") ==
        "tables.t.watermark: only used with mode incremental (this table's mode is replicate)");
  CHECK(error_of(kBase + "tables: {t: {mode: copy, query: 'SELECT 1 WHERE x > :last_value'}}\n") ==
        "tables.t.query: a custom query needs mode incremental (this table's mode is copy)");
  CHECK(error_of(kBase + "tables: {t: {mode: incremental, watermark: u, query: 'SELECT * FROM t'}}\n") ==
        "tables.t.query: must reference :last_value (the last watermark seen)");
  CHECK(error_of(kBase + "tables: {t: {mode: incremental, watermark: u, delete: soft}}\n") ==
        "tables.t.delete: incremental mode does not see deletes: a delete strategy has no effect");
  CHECK(error_of(kBase + "tables: {t: {exclude_columns: [a], rename: {a: b}}}\n") ==
        "tables.t.rename.a: renames a column that exclude_columns drops");
}

TEST_CASE("environment references are expanded", "[unit][config]") {
  ::setenv("CDC_TEST_PASSWORD", "s3cret", 1);
  ::unsetenv("CDC_TEST_UNSET");
  cdc::Config c = cdc::parse_config_yaml(
      "source: sqlite:///a.db\ndestination: \"postgresql://u:${CDC_TEST_PASSWORD}@h/db\"\nname: \"${CDC_TEST_UNSET:-fallback}\"\n");
  CHECK(c.destination == "postgresql://u:s3cret@h/db");
  CHECK(c.name == "fallback");
  CHECK(error_of("source: sqlite:///a.db\ndestination: \"x://${CDC_TEST_UNSET}\"\n") ==
        "destination: environment variable CDC_TEST_UNSET is not set");
  CHECK(cdc::redact_url(c.destination) == "postgresql://u:***@h/db");
  CHECK(cdc::redact_url("postgresql://h/db?user=u&password=s3cret&sslmode=require") ==
        "postgresql://h/db?user=u&password=***&sslmode=require");
}

TEST_CASE("${file:/path} reads a secret from a file", "[unit][config]") {
  const std::string path = std::filesystem::temp_directory_path() / ("cdc-secret-" + std::to_string(::getpid()));
  std::ofstream(path) << "fr0m-file\r\n";
  cdc::Config c = cdc::parse_config_yaml("source: sqlite:///a.db\ndestination: \"postgresql://u:${file:" + path + "}@h/db\"\n");
  CHECK(c.destination == "postgresql://u:fr0m-file@h/db");
  std::filesystem::remove(path);
  CHECK(error_of("source: sqlite:///a.db\ndestination: \"postgresql://u:${file:" + path + "}@h/db\"\n") ==
        "destination: ${file:...}: cannot read " + path + ": No such file or directory");
}

TEST_CASE("retry delays grow exponentially up to the cap", "[unit][retry]") {
  cdc::RetryPolicy p;
  p.initial_delay_ms = 500;
  p.multiplier = 2;
  p.max_delay_ms = 3000;
  CHECK(p.base_delay_ms(1) == 0);
  CHECK(p.base_delay_ms(2) == 500);
  CHECK(p.base_delay_ms(3) == 1000);
  CHECK(p.base_delay_ms(4) == 2000);
  CHECK(p.base_delay_ms(5) == 3000);
  CHECK(p.base_delay_ms(60) == 3000);
}

TEST_CASE("service settings: snapshot policy, discovery, held log limits, table cool-down", "[unit][config]") {
  auto c = cdc::parse_config_yaml(R"(source: "sqlite:///a.db"
destination: "sqlite:///b.db"
discover_interval_s: 5m
max_held_log: {bytes: 512MB, age: 6h}
retry: {table_cooldown_s: 90s}
defaults: {snapshot: never}
tables:
  orders: {snapshot: always}
)");
  CHECK(c.discover_interval_s == 300);
  CHECK(c.max_held_log.max_bytes == 512LL << 20);
  CHECK(c.max_held_log.max_age_s == 6 * 3600);
  CHECK(c.retry.table_cooldown_s == 90);
  CHECK(*c.settings_for("orders").snapshot == cdc::SnapshotPolicy::Always);
  CHECK(*c.settings_for("other").snapshot == cdc::SnapshotPolicy::Never);
  // Defaults: 10 GB / 24 h, discovery every minute, five minutes of cool-down, copy once.
  cdc::Config d;
  CHECK(d.max_held_log.max_bytes == 10LL << 30);
  CHECK(d.max_held_log.max_age_s == 86400);
  CHECK(d.discover_interval_s == 60);
  CHECK(d.retry.table_cooldown_s == 300);
  CHECK(*d.settings_for("x").snapshot == cdc::SnapshotPolicy::Initial);
  CHECK(cdc::parse_config_yaml("source: \"sqlite:///a.db\"\ndestination: \"sqlite:///b.db\"\nmax_held_log: {bytes: 1073741824}\n")
            .max_held_log.max_bytes == 1LL << 30);

  CHECK(error_of("source: \"sqlite:///a.db\"\ndestination: \"sqlite:///b.db\"\nmax_held_log: {bytes: 10 parsecs}\n") ==
        "max_held_log.bytes: expected an amount such as \"512MB\" or \"10GB\", got 10 parsecs");
  CHECK(error_of("source: \"sqlite:///a.db\"\ndestination: \"sqlite:///b.db\"\ndiscover_interval_s: soon\n") ==
        "discover_interval_s: expected an amount such as 300, \"90s\", \"5m\" or \"24h\", got soon");
  CHECK(error_of("source: \"sqlite:///a.db\"\ndestination: \"sqlite:///b.db\"\ntables: {t: {snapshot: sometimes}}\n") ==
        "tables.t.snapshot: expected initial | never | always, got \"sometimes\"");
  CHECK(error_of("source: \"sqlite:///a.db\"\ndestination: \"sqlite:///b.db\"\nmax_held_log: {size: 1}\n") ==
        "max_held_log.size: unknown key (known keys: bytes, age)");
}

TEST_CASE("config: views and a per-table key", "[unit][config][views]") {
  const std::string head = "source: sqlite:///a.db\ndestination: sqlite:///b.db\n";
  auto c = cdc::parse_config_yaml(head + "views: true\ntables:\n  order_totals:\n    key: [customer_id, day]\n"
                                         "  big_orders:\n    key: order_id\n    mode: incremental\n    watermark: seq\n");
  CHECK(c.views);
  CHECK(c.tables.at("order_totals").key == std::vector<std::string>{"customer_id", "day"});
  CHECK(c.tables.at("big_orders").key == std::vector<std::string>{"order_id"});  // one column without brackets
  CHECK(c.settings_for("big_orders").key == std::vector<std::string>{"order_id"});
  CHECK_FALSE(cdc::parse_config_yaml(head).views);  // base tables only by default
  CHECK(cdc::parse_config_json(R"({"source":"a://","destination":"b://","views":true,"tables":{"v":{"key":["a"]}}})").views);

  CHECK(error_of(head + "views: maybe\n") == "views: expected true or false, got maybe");
  CHECK(error_of(head + "tables:\n  v:\n    key: []\n") == "tables.v.key: must list at least one column");
  CHECK(error_of(head + "tables:\n  v:\n    key: [a, \"\"]\n") == "tables.v.key[1]: must not be empty");
  CHECK(error_of(head + "tables:\n  v:\n    key: [a, a]\n") == "tables.v.key: a column is listed twice");
  CHECK(error_of(head + "tables:\n  v:\n    key: a\n    mode: replicate\n") ==
        "tables.v.key: mode replicate identifies rows by the source's own primary key; key is for mode copy or incremental");
  CHECK(error_of(head + "tables:\n  v:\n    key: a\n    columns: [b]\n") == "tables.v.key[0]: \"a\" is not in columns");
  CHECK(error_of(head + "tables:\n  v:\n    key: a\n    exclude_columns: [a]\n") ==
        "tables.v.key[0]: \"a\" is dropped by exclude_columns");
  CHECK(error_of(head + "tables:\n  v:\n    keys: [a]\n").rfind("tables.v.keys: unknown key", 0) == 0);
}
