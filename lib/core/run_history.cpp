#include "core/run_history.h"

#include <fmt/format.h>

#include <cstdlib>
#include <ctime>

namespace cdc::detail {

namespace {

std::string text(const std::optional<std::string>& v) { return v.value_or(std::string()); }
std::int64_t number(const std::optional<std::string>& v) { return v ? std::strtoll(v->c_str(), nullptr, 10) : 0; }
std::optional<std::string> opt(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

}  // namespace

std::string utc_text(std::int64_t us) {
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{}.{:06}", buf, us % 1000000);
}

std::string number_placeholders(const std::string& sql, const std::function<std::string(int)>& placeholder) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  for (char c : sql) {
    if (c == '?') out += placeholder(++n);
    else out += c;
  }
  return out;
}

void SqlHistory::ensure(const Query& q) {
  if (ready_) return;
  q(d_.create_runs, {});
  q(d_.create_errors, {});
  ready_ = true;
}

std::int64_t SqlHistory::begin_run(const Query& q, const RunRecord& run) {
  ensure(q);
  // The caller holds the session's lease: a run still "running" belongs to a process that died.
  q(fmt::format("UPDATE {} SET outcome = 'interrupted' WHERE session = ? AND outcome = 'running'", d_.runs), {run.session});
  Rows last = q(fmt::format("SELECT MAX(run) FROM {} WHERE session = ?", d_.runs), {run.session});
  std::int64_t id = (last.empty() || last[0].empty() ? 0 : number(last[0][0])) + 1;
  q(fmt::format("INSERT INTO {} (session, run, kind, started_at, outcome, rows_copied, changes_applied, version, holder) "
                "VALUES (?, ?, ?, {}, 'running', 0, 0, ?, ?)",
                d_.runs, d_.now),
    {run.session, std::to_string(id), run.kind, run.version, run.holder});
  // Pruning: the oldest beyond what is kept.
  auto prune = [&](const std::string& table, const char* key, int keep) {
    Rows cut = q(fmt::format("SELECT {1} FROM {0} WHERE session = ? ORDER BY {1} DESC LIMIT 1 OFFSET {2}", table, key, keep),
                 {run.session});
    if (!cut.empty() && !cut[0].empty() && cut[0][0])
      q(fmt::format("DELETE FROM {} WHERE session = ? AND {} <= ?", table, key), {run.session, *cut[0][0]});
  };
  prune(d_.runs, "run", kKeepRuns);
  prune(d_.errors, "id", kKeepErrors);
  return id;
}

void SqlHistory::end_run(const Query& q, const RunRecord& run) {
  if (run.run == 0) return;
  ensure(q);
  q(fmt::format("UPDATE {} SET ended_at = {}, outcome = ?, rows_copied = ?, changes_applied = ?, error = ? "
                "WHERE session = ? AND run = ?",
                d_.runs, d_.now),
    {run.outcome, std::to_string(run.rows), std::to_string(run.changes), opt(run.error), run.session, std::to_string(run.run)});
}

void SqlHistory::record_errors(const Query& q, const std::vector<ErrorRecord>& errors) {
  if (errors.empty()) return;
  ensure(q);
  // Each error keeps its own time: they are recorded after the fact, in batches.
  for (const auto& e : errors)
    q(fmt::format("INSERT INTO {} (session, run, at, source_table, kind, message, position) VALUES (?, ?, {}, ?, ?, ?, ?)",
                  d_.errors, d_.time_value),
      {e.session, std::to_string(e.run), e.at, e.table, e.kind, e.message, opt(e.position)});
}

std::vector<RunRecord> SqlHistory::runs(const Query& q, const std::string& session, int limit) {
  ensure(q);
  Rows rows = q(fmt::format("SELECT run, kind, {}, {}, outcome, rows_copied, changes_applied, version, holder, error "
                            "FROM {} WHERE session = ? ORDER BY run DESC LIMIT {}",
                            fmt::format(fmt::runtime(d_.time_text), "started_at"),
                            fmt::format(fmt::runtime(d_.time_text), "ended_at"), d_.runs, limit),
                {session});
  std::vector<RunRecord> out;
  for (auto& r : rows) {
    if (r.size() < 10) continue;
    RunRecord x;
    x.session = session;
    x.run = number(r[0]);
    x.kind = text(r[1]);
    x.started_at = text(r[2]);
    x.ended_at = text(r[3]);
    x.outcome = text(r[4]);
    x.rows = number(r[5]);
    x.changes = number(r[6]);
    x.version = text(r[7]);
    x.holder = text(r[8]);
    x.error = text(r[9]);
    out.push_back(std::move(x));
  }
  return out;
}

std::vector<ErrorRecord> SqlHistory::errors(const Query& q, const std::string& session, int limit) {
  ensure(q);
  Rows rows = q(fmt::format("SELECT run, {}, source_table, kind, message, position FROM {} WHERE session = ? "
                            "ORDER BY id DESC LIMIT {}",
                            fmt::format(fmt::runtime(d_.time_text), "at"), d_.errors, limit),
                {session});
  std::vector<ErrorRecord> out;
  for (auto& r : rows) {
    if (r.size() < 6) continue;
    ErrorRecord e;
    e.session = session;
    e.run = number(r[0]);
    e.at = text(r[1]);
    e.table = text(r[2]);
    e.kind = text(r[3]);
    e.message = text(r[4]);
    e.position = text(r[5]);
    out.push_back(std::move(e));
  }
  return out;
}

std::int64_t HistoryCheckpointStore::begin_run(const RunRecord& run) {
  std::int64_t id = 0;
  with_query([&](const SqlHistory::Query& q) { id = history_.begin_run(q, run); });
  return id;
}

void HistoryCheckpointStore::end_run(const RunRecord& run) {
  with_query([&](const SqlHistory::Query& q) { history_.end_run(q, run); });
}

void HistoryCheckpointStore::record_errors(const std::vector<ErrorRecord>& errors) {
  with_query([&](const SqlHistory::Query& q) { history_.record_errors(q, errors); });
}

std::vector<RunRecord> HistoryCheckpointStore::runs(const std::string& session, int limit) {
  std::vector<RunRecord> out;
  with_query([&](const SqlHistory::Query& q) { out = history_.runs(q, session, limit); });
  return out;
}

std::vector<ErrorRecord> HistoryCheckpointStore::errors(const std::string& session, int limit) {
  std::vector<ErrorRecord> out;
  with_query([&](const SqlHistory::Query& q) { out = history_.errors(q, session, limit); });
  return out;
}

}  // namespace cdc::detail
