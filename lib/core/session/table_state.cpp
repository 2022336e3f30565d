// Table state: rates, the life cycle's allowed moves, plans (table_state.h).
#include "core/session/table_state.h"

#include "core/session/cascades.h"
#include "core/text_util.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <algorithm>

namespace cdc::detail {

void RateMeter::add(TimePoint now, std::int64_t total) {
  samples_.emplace_back(now, total);
  while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(5)) samples_.pop_front();
}

double RateMeter::rate(TimePoint now) const {
  if (samples_.size() < 2) return 0;
  auto [t0, n0] = samples_.front();
  auto [t1, n1] = samples_.back();
  if (now - t1 > std::chrono::seconds(5)) return 0;  // stalled
  double dt = std::chrono::duration<double>(t1 - t0).count();
  return dt > 0 ? static_cast<double>(n1 - n0) / dt : 0;
}

bool TableState::live() const {
  switch (rec.phase) {
    case TablePhase::Pending:
    case TablePhase::Snapshot:
    case TablePhase::Resyncing:
    case TablePhase::Streaming:
    case TablePhase::Incremental: return true;
    default: return false;
  }
}

bool allowed_transition(TablePhase from, TablePhase to) {
  using P = TablePhase;
  if (from == to) return true;
  // Leaving the session's selection or the source is possible from anywhere; coming back starts over.
  if (to == P::Removed || to == P::Dropped) return true;
  switch (from) {
    case P::Pending: return to == P::Snapshot || to == P::Streaming || to == P::Incremental || to == P::Failed || to == P::Stopped;
    case P::Snapshot:
      return to == P::Streaming || to == P::Done || to == P::Failed || to == P::Stopped || to == P::Pending;
    case P::Resyncing: return to == P::Streaming || to == P::Failed || to == P::Stopped || to == P::Pending;
    case P::Streaming: return to == P::Resyncing || to == P::Failed || to == P::Stopped || to == P::Pending;
    case P::Incremental: return to == P::Failed || to == P::Stopped || to == P::Pending;
    case P::Done: return to == P::Pending;
    case P::Failed:
    case P::Stopped:
      return to == P::Pending || to == P::Snapshot || to == P::Resyncing || to == P::Streaming || to == P::Incremental ||
             to == P::Failed || to == P::Stopped;
    case P::Removed:
    case P::Dropped: return to == P::Pending || to == P::Streaming || to == P::Resyncing || to == P::Incremental;
  }
  return false;
}

namespace {
void do_transition(TableState& t, TablePhase to) {
  if (!allowed_transition(t.rec.phase, to))
    throw Error(ErrorKind::Internal, fmt::format("table {} cannot go from {} to {}", t.id, to_string(t.rec.phase), to_string(to)),
                false, "table " + t.id);
  t.rec.phase = to;
}
}  // namespace

void transition(TableState& t, TablePhase to, const std::unique_lock<std::mutex>& lock) {
  if (!lock.owns_lock()) throw Error(ErrorKind::Internal, "table transition without the session lock", false, "table " + t.id);
  do_transition(t, to);
}

void transition(TableState& t, TablePhase to, const std::lock_guard<std::mutex>&) { do_transition(t, to); }

TableSchema effective_source(const std::map<std::string, Column>& kept_types, const std::set<std::string>& left_out,
                             const TableSchema& after) {
  TableSchema e = after;
  e.columns.clear();
  for (const auto& c : after.columns) {
    if (left_out.count(c.name)) continue;
    auto kept = kept_types.find(c.name);
    e.columns.push_back(kept == kept_types.end() ? c : kept->second);
  }
  return e;
}

std::string selection_shape(const TablePlan& p) {
  const TableSettings& s = p.settings;
  std::string text = p.target.schema.id.to_string() + '\x1e' + s.where + '\x1e';
  for (const auto& c : s.columns) text += c + '\x1f';
  text += '\x1e';
  for (const auto& c : s.exclude_columns) text += c + '\x1f';
  text += '\x1e';
  for (const auto& [from, to] : s.rename) text += from + '\x1d' + to + '\x1f';
  text += '\x1e';
  for (const auto& c : s.key) text += c + '\x1f';
  return fmt::format("{:016x}", fnv1a(text));
}

void set_plan(TableState& t, TablePlan p) {
  t.identity = std::all_of(p.converters.begin(), p.converters.end(), [](const auto& c) { return c == nullptr; });
  t.reorder = p.target_from_read.size() != p.read.columns.size();
  for (std::size_t i = 0; i < p.target_from_read.size() && !t.reorder; ++i) t.reorder = p.target_from_read[i] != static_cast<int>(i);
  p.target.reached_by_cascades = reached_by_cascades(p.source);
  t.plan = std::move(p);
}

}  // namespace cdc::detail
