// Config files with several pipelines (<cdc/pipelines.h>) and phase-dependent batch sizes
// (BatchSize, batch_phase_for_lag): what loads, what every pipeline inherits, and the key path
// each mistake is reported at.
#include <cdc/config.h>
#include <cdc/error.h>
#include <cdc/pipelines.h>

#include <catch2/catch.hpp>

#include <string>

namespace {

std::string error_of(const std::string& yaml) {
  try {
    cdc::parse_pipelines_yaml(yaml, "test.yaml");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::Config);
    return e.what();
  }
  return "no error";
}

const std::string kTwo = R"(workers: 3
defaults: {batch_size: 5000}
poll_interval_ms: 250
pipelines:
  - name: shop
    source: sqlite:///data/shop.db
    destination: postgresql://u@localhost/replica
    tables: {orders: {delete: soft}}
  - name: accounts
    source: mysql://u@localhost/accounts
    destination: postgresql://u@localhost/replica
    poll_interval_ms: 50
    defaults: {mode: copy}
)";

}  // namespace

TEST_CASE("a file with pipelines: gives each pipeline the top-level keys as defaults", "[unit][config][pipelines]") {
  cdc::PipelinesConfig p = cdc::parse_pipelines_yaml(kTwo);
  REQUIRE(p.listed);
  CHECK(p.workers == 3);
  REQUIRE(p.pipelines.size() == 2);
  const cdc::Config& shop = p.pipelines[0];
  const cdc::Config& accounts = p.pipelines[1];
  CHECK(shop.name == "shop");
  CHECK(shop.source == "sqlite:///data/shop.db");
  CHECK(shop.defaults.batch_size == cdc::BatchSize(5000));
  CHECK(shop.poll_interval_ms == 250);
  CHECK(shop.workers == 0);  // the top-level workers is the shared budget, not each pipeline's
  CHECK(shop.settings_for("orders").delete_settings->strategy == cdc::DeleteStrategy::Soft);
  CHECK(accounts.name == "accounts");
  CHECK(accounts.poll_interval_ms == 50);                          // its own value wins
  CHECK(accounts.defaults.batch_size == cdc::BatchSize(5000));     // maps merge key by key...
  CHECK(accounts.defaults.mode == cdc::TableMode::Copy);           // ...with its own keys added
  CHECK(accounts.tables.empty());

  CHECK(p.find("accounts") == &p.pipelines[1]);
  CHECK(p.find("nope") == nullptr);
  auto only = p.select({"accounts"});
  REQUIRE(only.size() == 1);
  CHECK(only[0].name == "accounts");
  CHECK(p.select({}).size() == 2);
  try {
    p.select({"shop", "billing"});
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(std::string(e.what()) == "--pipeline: no pipeline named \"billing\" (the config has: shop, accounts)");
  }
}

TEST_CASE("a single-pipeline file loads as one pipeline, unchanged", "[unit][config][pipelines]") {
  cdc::PipelinesConfig p = cdc::parse_pipelines_yaml("source: sqlite:///a.db\ndestination: sqlite:///b.db\nworkers: 2\n");
  CHECK_FALSE(p.listed);
  CHECK(p.workers == 0);
  REQUIRE(p.pipelines.size() == 1);
  CHECK(p.pipelines[0].workers == 2);
  CHECK(p.pipelines[0].name.empty());
  CHECK(p.select({cdc::pipeline_name(p.pipelines[0])}).size() == 1);
  // The same file through the single-pipeline loader.
  CHECK(cdc::parse_config_yaml("source: sqlite:///a.db\ndestination: sqlite:///b.db\nworkers: 2\n").workers == 2);
  // And JSON.
  auto j = cdc::parse_pipelines_json(R"({"workers": 2, "pipelines": [{"name": "a", "source": "sqlite:///a.db",
    "destination": "sqlite:///b.db"}]})");
  CHECK(j.listed);
  CHECK(j.pipelines.at(0).name == "a");
}

TEST_CASE("mistakes in a file with pipelines are named by their key path", "[unit][config][pipelines]") {
  const std::string head = "pipelines:\n  - name: a\n    source: sqlite:///a.db\n    destination: sqlite:///b.db\n";
  CHECK(error_of(head + "  - name: b\n    source: sqlite:///c.db\n    destination: sqlite:///d.db\n    tables:\n      orders:\n"
                        "        batch_size: big\n") ==
        "pipelines[1].tables.orders.batch_size: expected an integer, got big");
  CHECK(error_of(head + "  - name: a\n    source: sqlite:///c.db\n    destination: sqlite:///d.db\n") ==
        "pipelines[1].name: pipeline \"a\" is given twice (also pipelines[0])");
  CHECK(error_of(head + "  - source: sqlite:///c.db\n    destination: sqlite:///d.db\n") ==
        "pipelines[1]: missing key \"name\" (it names the pipeline's checkpoints, status and log lines)");
  CHECK(error_of(head + "  - name: b\n    source: sqlite:///c.db\n") ==
        "pipelines[1].destination: missing: the destination connector URL, e.g. \"sqlite:///data/replica.db\"");
  CHECK(error_of(head + "  - name: b c\n    source: sqlite:///c.db\n    destination: sqlite:///d.db\n") ==
        "pipelines[1].name: \"b c\" is not a pipeline name (letters, digits, _ - . only)");
  CHECK(error_of(head + "  - name: b\n    source: sqlite:///c.db\n    destination: sqlite:///d.db\n    sourse: x\n") ==
        "pipelines[1].sourse: unknown key (did you mean source?)");
  CHECK(error_of(head + "  - name: b\n    source: sqlite:///c.db\n    destination: sqlite:///d.db\n    http: {listen: \"x:1\"}\n") ==
        "pipelines[1].http: the HTTP endpoint serves every pipeline: give http at the top level");
  CHECK(error_of(head + "  - name: b\n    source: sqlite:///c.db\n    destination: sqlite:///d.db\n    tables:\n      t:\n"
                        "        mode: incremental\n") ==
        "pipelines[1].tables.t.watermark: mode incremental needs watermark: {column: <ever-increasing column>}");
  CHECK(error_of(head + "  - name: b\n    source: sqlite:///c.db\n    destination: sqlite:///d.db\n    cast:\n      - {type: x}\n") ==
        "pipelines[1].cast[0]: missing key \"to\" (the target type)");
  // A shared key is named where it is written, not under every pipeline.
  CHECK(error_of("defaults: {batch_size: -1}\n" + head) == "defaults.batch_size: -1 is out of range (1..10000000)");
  CHECK(error_of("workers: many\n" + head) == "workers: expected an integer, got many");
  CHECK(error_of("name: x\n" + head) == "name: a file with pipelines: gives each pipeline its own name (pipelines[N].name)");
  CHECK(error_of("pipelines: []\n") == "pipelines: must list at least one pipeline");
  CHECK(error_of("pipelines: {a: 1}\n") == "pipelines: expected a list of pipelines, got a map");
  CHECK(error_of("pipeline: []\n") == "pipeline: unknown key (did you mean pipelines?)");
}

TEST_CASE("batch_size and stream_batch_rows take a number or a size per phase", "[unit][config][batch]") {
  const std::string base = "source: sqlite:///a.db\ndestination: sqlite:///b.db\n";
  cdc::Config c = cdc::parse_config_yaml(base + R"(defaults:
  batch_size: {initial: 50000, catch_up: 10000, steady: 1000}
stream_batch_rows: {catch_up: 8000, steady: 500}
catch_up_lag_seconds: 30
tables:
  orders: {batch_size: 700}
  items: {batch_size: {steady: 10}}
)");
  CHECK(c.defaults.batch_size.initial == 50000);
  CHECK(c.defaults.batch_size.catch_up == 10000);
  CHECK(c.defaults.batch_size.steady == 1000);
  CHECK(c.stream_batch_rows.catch_up == 8000);
  CHECK(c.stream_batch_rows.steady == 500);
  CHECK(c.catch_up_lag_seconds == 30);
  CHECK(*c.settings_for("orders").batch_size == cdc::BatchSize(700));  // a plain number: every phase
  auto items = *c.settings_for("items").batch_size;                    // the phases it leaves out: from defaults
  CHECK(items.initial == 50000);
  CHECK(items.catch_up == 10000);
  CHECK(items.steady == 10);
  CHECK(*c.settings_for("other").batch_size == c.defaults.batch_size);

  cdc::Config plain = cdc::parse_config_yaml(base + "stream_batch_rows: 40\ndefaults: {batch_size: 500}\n");
  CHECK(plain.stream_batch_rows == cdc::BatchSize(40));
  CHECK(plain.defaults.batch_size.initial == 500);
  CHECK(plain.defaults.batch_size.steady == 500);
  CHECK(plain.catch_up_lag_seconds == 10);

  auto error = [&](const std::string& extra) { return error_of(base + extra); };
  CHECK(error("defaults: {batch_size: {initial: 0}}\n") == "defaults.batch_size.initial: 0 is out of range (1..10000000)");
  CHECK(error("tables:\n  orders:\n    batch_size: {catchup: 5}\n") ==
        "tables.orders.batch_size.catchup: unknown key (did you mean catch_up?)");
  CHECK(error("tables:\n  orders:\n    batch_size: {}\n") ==
        "tables.orders.batch_size: give a number or at least one of initial, catch_up, steady");
  CHECK(error("stream_batch_rows: {initial: 5}\n") == "stream_batch_rows.initial: unknown key (known keys: catch_up, steady)");
  CHECK(error("stream_batch_rows: {steady: x}\n") == "stream_batch_rows.steady: expected an integer, got x");
  CHECK(error("catch_up_lag_seconds: -1\n") == "catch_up_lag_seconds: -1 is out of range (0..1000000000)");
  CHECK(error_of("pipelines:\n  - name: a\n    source: sqlite:///a.db\n    destination: sqlite:///b.db\n"
                 "    tables: {t: {batch_size: {steady: 0}}}\n") ==
        "pipelines[0].tables.t.batch_size.steady: 0 is out of range (1..10000000)");

  // Built in code: a plain number still assigns every phase, and validation names the key.
  cdc::Config code;
  code.source = "sqlite:///a.db";
  code.destination = "sqlite:///b.db";
  code.defaults.batch_size = 64;
  CHECK(code.defaults.batch_size.catch_up == 64);
  code.stream_batch_rows.steady = 0;
  try {
    cdc::validate_config(code);
    FAIL("no error");
  } catch (const cdc::Error& e) {
    CHECK(std::string(e.what()) == "stream_batch_rows: every phase's size must be at least 1");
  }
}

TEST_CASE("the batch phase follows the lag", "[unit][batch]") {
  using cdc::BatchPhase;
  CHECK(cdc::batch_phase_for_lag(-1, 10) == BatchPhase::CatchUp);  // unknown: assumed behind
  CHECK(cdc::batch_phase_for_lag(0, 10) == BatchPhase::Steady);
  CHECK(cdc::batch_phase_for_lag(10000, 10) == BatchPhase::Steady);  // at the threshold: steady
  CHECK(cdc::batch_phase_for_lag(10001, 10) == BatchPhase::CatchUp);
  CHECK(cdc::batch_phase_for_lag(500, 0) == BatchPhase::CatchUp);
  CHECK(cdc::batch_phase_for_lag(0, 0) == BatchPhase::Steady);
  cdc::BatchSize b;
  b.initial = 50000;
  b.catch_up = 10000;
  b.steady = 1000;
  CHECK(b.for_phase(BatchPhase::Initial) == 50000);
  CHECK(b.for_phase(cdc::batch_phase_for_lag(60000, 10)) == 10000);
  CHECK(b.for_phase(cdc::batch_phase_for_lag(200, 10)) == 1000);
  CHECK(cdc::to_string(BatchPhase::CatchUp) == "catch_up");
}

TEST_CASE("a worker budget lets at most its slots run, and cancelling stops a wait", "[unit][pipelines]") {
  cdc::WorkerBudget budget(2);
  CHECK(budget.acquire(nullptr));
  CHECK(budget.acquire(nullptr));
  CHECK(budget.in_use() == 2);
  int asked = 0;
  CHECK_FALSE(budget.acquire([&] { return ++asked >= 3; }));  // full: waits until cancelled
  CHECK(asked == 3);
  budget.release();
  CHECK(budget.acquire(nullptr));
  budget.resize(3);
  CHECK(budget.acquire(nullptr));
  CHECK(budget.in_use() == 3);
  CHECK(budget.peak() == 3);
  budget.release();
  budget.release();
  budget.release();
  CHECK(budget.in_use() == 0);
}
