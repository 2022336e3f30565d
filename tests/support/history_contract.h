// The run-history contract every built-in SQL checkpoint store keeps (CheckpointStore::begin_run,
// end_run, record_errors, runs, errors), run against one store URL: runs numbered per session, a
// run left "running" by a dead process marked "interrupted" by the next, times in UTC text, errors
// kept verbatim (quotes, placeholders' `?`, newlines) and newest first, sessions independent.
#pragma once

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <ctime>
#include <string>

namespace cdc_test {

inline void check_history_contract(const std::string& store_url, const std::string& session_prefix) {
  auto store = cdc::ConnectorRegistry::instance().open_checkpoint_store(store_url);
  const std::string a = session_prefix + "-history-a";
  const std::string b = session_prefix + "-history-b";

  CHECK(store->runs(a, 5).empty());
  CHECK(store->errors(a, 5).empty());

  cdc::RunRecord run;
  run.session = a;
  run.kind = "replicate";
  run.version = "9.9.9";
  run.holder = "pid 1 on test";
  run.run = store->begin_run(run);
  REQUIRE(run.run == 1);

  // The process died: the next run finds run 1 still "running" and marks it.
  cdc::RunRecord next = run;
  next.run = store->begin_run(next);
  REQUIRE(next.run == 2);
  next.outcome = "failed";
  next.rows = 1234;
  next.changes = 56;
  next.error = "it's broken: \"quoted\" ? and\nmore";
  store->end_run(next);

  cdc::RunRecord other;
  other.session = b;
  other.kind = "copy";
  other.version = "9.9.9";
  other.holder = "pid 2 on test";
  CHECK(store->begin_run(other) == 1);  // numbered per session

  auto runs = store->runs(a, 5);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].run == 2);
  CHECK(runs[0].outcome == "failed");
  CHECK(runs[0].rows == 1234);
  CHECK(runs[0].changes == 56);
  CHECK(runs[0].error == next.error);
  CHECK(runs[0].kind == "replicate");
  CHECK(runs[0].version == "9.9.9");
  CHECK(runs[0].holder == "pid 1 on test");
  CHECK(runs[1].run == 1);
  CHECK(runs[1].outcome == "interrupted");
  CHECK(runs[1].ended_at.empty());
  // "YYYY-MM-DD HH:MM:SS..." in UTC, today (the test and the server share the clock).
  for (const auto& r : runs) {
    REQUIRE(r.started_at.size() >= 19);
    CHECK(r.started_at[4] == '-');
    CHECK(r.started_at[10] == ' ');
  }
  REQUIRE(runs[0].ended_at.size() >= 19);
  CHECK(runs[0].ended_at >= runs[0].started_at);
  char today[16];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(today, sizeof today, "%Y-%m-%d", &tm);
  CHECK(runs[0].ended_at.substr(0, 10) == today);
  CHECK(store->runs(a, 1).size() == 1);

  cdc::ErrorRecord e1;
  e1.at = "2026-01-02 03:04:05.678901";
  e1.session = a;
  e1.run = 2;
  e1.table = "main.orders";
  e1.kind = "destination";
  e1.message = "duplicate key 'x' ? \\ \"y\"";
  e1.position = "mysql-bin.000001:4";
  cdc::ErrorRecord e2 = e1;
  e2.at = "2026-01-02 03:04:06.000000";
  e2.table = "";
  e2.kind = "connection";
  e2.message = "lost";
  e2.position = "";
  store->record_errors({e1, e2});
  auto errors = store->errors(a, 10);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].message == "lost");  // newest first
  CHECK(errors[0].table.empty());
  CHECK(errors[0].position.empty());
  CHECK(errors[1].message == e1.message);
  CHECK(errors[1].table == "main.orders");
  CHECK(errors[1].kind == "destination");
  CHECK(errors[1].position == e1.position);
  CHECK(errors[1].run == 2);
  CHECK(errors[1].at.substr(0, 23) == "2026-01-02 03:04:05.678");  // kept in UTC as given
  CHECK(store->errors(b, 10).empty());

  // A fresh store object (another process) reads the same history.
  auto again = cdc::ConnectorRegistry::instance().open_checkpoint_store(store_url);
  CHECK(again->runs(a, 5).size() == 2);
  CHECK(again->errors(a, 5).size() == 2);
}

}  // namespace cdc_test
