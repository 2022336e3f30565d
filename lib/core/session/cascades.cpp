// Foreign-key cascades derived from parent changes (cascades.h).
#include "core/session/cascades.h"

#include "core/logging.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

namespace cdc::detail {

namespace {

// InnoDB stops cascading 15 levels deep; so do we (a self-referencing key would go on forever).
constexpr int kMaxDepth = 15;

bool derives(ForeignKeyAction a) { return a == ForeignKeyAction::Cascade || a == ForeignKeyAction::SetNull; }

// The target position a plan writes a source column to, or -1.
int target_position(const TablePlan& plan, const std::string& source_column) {
  int r = plan.read.index_of(source_column);
  for (std::size_t i = 0; r >= 0 && i < plan.target_from_read.size(); ++i)
    if (plan.target_from_read[i] == r) return static_cast<int>(i);
  return -1;
}

Row pick(const Row& row, const std::vector<int>& positions) {
  Row out;
  out.reserve(positions.size());
  for (int p : positions) out.push_back(static_cast<std::size_t>(p) < row.size() ? row[static_cast<std::size_t>(p)] : Value());
  return out;
}

CascadeChange change_of(CascadeChange::Action action, RowSelection rows, std::vector<std::string> set_columns, Row set_values) {
  CascadeChange c;
  c.action = action;
  c.rows = std::move(rows);
  c.set_columns = std::move(set_columns);
  c.set_values = std::move(set_values);
  return c;
}

bool has_null(const Row& values) {
  return std::any_of(values.begin(), values.end(), [](const Value& v) { return v.is_null(); });
}

}  // namespace

bool reached_by_cascades(const TableSchema& source) {
  return std::any_of(source.foreign_keys.begin(), source.foreign_keys.end(),
                     [](const ForeignKeyDef& fk) { return derives(fk.on_delete) || derives(fk.on_update); });
}

std::vector<std::string> CascadeGraph::rebuild(const std::vector<std::unique_ptr<TableState>>& tables) {
  edges_.clear();
  std::map<TableId, TableState*> by_id;
  for (const auto& t : tables) {
    if (t->mode != TableMode::Replicate || t->plan.read.columns.empty()) continue;
    if (t->phase() == TablePhase::Removed || t->phase() == TablePhase::Dropped) continue;
    by_id[t->plan.source.id] = t.get();
  }
  auto find = [&](const TableId& id) -> TableState* {
    if (auto it = by_id.find(id); it != by_id.end()) return it->second;
    TableState* only = nullptr;  // a reference without the schema cdc gives the table
    for (const auto& [k, t] : by_id)
      if (k.name == id.name && (id.schema.empty() || k.schema.empty())) only = only ? nullptr : t;
    return only;
  };
  std::vector<std::string> problems;
  for (const auto& [child_id, child] : by_id) {
    for (const auto& fk : child->plan.source.foreign_keys) {
      if (!derives(fk.on_delete) && !derives(fk.on_update)) continue;
      const std::string what = fmt::format("foreign key {} of table {} (ON DELETE {}, ON UPDATE {})", fk.name, child->id,
                                           to_string(fk.on_delete), to_string(fk.on_update));
      TableState* parent = find(fk.references);
      if (!parent) {
        problems.push_back(fmt::format("{}: its parent table {} is not replicated, so the changes it cascades are not seen", what,
                                       fk.references.to_string()));
        continue;
      }
      Edge e;
      e.parent = parent;
      e.child = child;
      e.name = fk.name;
      e.on_delete = fk.on_delete;
      e.on_update = fk.on_update;
      bool complete = fk.columns.size() == fk.referenced_columns.size() && !fk.columns.empty();
      for (std::size_t i = 0; complete && i < fk.columns.size(); ++i) {
        int c = target_position(child->plan, fk.columns[i]);
        int p = target_position(parent->plan, fk.referenced_columns[i]);
        int pr = parent->plan.read.index_of(fk.referenced_columns[i]);
        if (c < 0 || p < 0 || pr < 0) {
          complete = false;
          break;
        }
        e.child_positions.push_back(c);
        e.child_names.push_back(child->plan.target.schema.columns[static_cast<std::size_t>(c)].name);
        e.parent_positions.push_back(p);
        e.parent_names.push_back(parent->plan.target.schema.columns[static_cast<std::size_t>(p)].name);
        e.parent_read.push_back(pr);
      }
      if (!complete) {
        problems.push_back(fmt::format("{}: not all of its columns are copied, so the changes it cascades cannot be reproduced", what));
        continue;
      }
      edges_[parent].push_back(std::move(e));
    }
  }
  return problems;
}

bool CascadeGraph::cascades(const TableState* parent, const ChangeEvent& event) const {
  auto it = edges_.find(parent);
  if (it == edges_.end()) return false;
  for (const auto& e : it->second) {
    if (event.op == ChangeOp::Delete && derives(e.on_delete)) return true;
    if (event.op == ChangeOp::Update && derives(e.on_update) && !event.before.empty() &&
        pick(event.before, e.parent_read) != pick(event.after, e.parent_read))
      return true;
  }
  return false;
}

std::set<const TableState*> CascadeGraph::reach(const TableState* parent) const {
  std::set<const TableState*> out;
  std::vector<const TableState*> todo{parent};
  while (!todo.empty()) {
    const TableState* t = todo.back();
    todo.pop_back();
    auto it = edges_.find(t);
    if (it == edges_.end()) continue;
    for (const auto& e : it->second)
      if (out.insert(e.child).second) todo.push_back(e.child);
  }
  return out;
}

std::vector<CascadeGraph::Derived> CascadeGraph::derive(const TableState* parent, const ChangeEvent& event) const {
  std::vector<Derived> out;
  auto it = edges_.find(parent);
  if (it == edges_.end() || event.before.empty()) return out;
  for (const auto& e : it->second) {
    Row old_values = pick(event.before, e.parent_positions);
    if (has_null(old_values)) continue;  // a NULL reference matches no parent row
    RowSelection rows;
    rows.table = e.child->plan.target;
    rows.columns = e.child_names;
    rows.keys = {old_values};
    if (event.op == ChangeOp::Delete) {
      if (e.on_delete == ForeignKeyAction::Cascade) derive_delete(e, rows, 1, out);
      else if (e.on_delete == ForeignKeyAction::SetNull)
        out.push_back({e.child, change_of(CascadeChange::Action::SetNull, rows, e.child_names, {})});
    } else if (event.op == ChangeOp::Update) {
      Row new_values = pick(event.after, e.parent_positions);
      if (new_values == old_values) continue;
      if (e.on_update == ForeignKeyAction::Cascade) derive_update(e, rows, new_values, 1, out);
      else if (e.on_update == ForeignKeyAction::SetNull)
        out.push_back({e.child, change_of(CascadeChange::Action::SetNull, rows, e.child_names, {})});
    }
  }
  return out;
}

// The child rows `rows` selects are deleted: their own children first (their selection reads
// these rows), then them.
void CascadeGraph::derive_delete(const Edge& e, RowSelection rows, int depth, std::vector<Derived>& out) const {
  if (depth < kMaxDepth) {
    if (auto it = edges_.find(e.child); it != edges_.end()) {
      auto parent = std::make_shared<const RowSelection>(rows);
      for (const auto& g : it->second) {
        if (!derives(g.on_delete)) continue;
        RowSelection sub;
        sub.table = g.child->plan.target;
        sub.columns = g.child_names;
        sub.parent = parent;
        sub.parent_columns = g.parent_names;
        if (g.on_delete == ForeignKeyAction::Cascade) derive_delete(g, std::move(sub), depth + 1, out);
        else out.push_back({g.child, change_of(CascadeChange::Action::SetNull, std::move(sub), g.child_names, {})});
      }
    }
  }
  out.push_back({e.child, change_of(CascadeChange::Action::Delete, std::move(rows), {}, {})});
}

// The child rows `rows` selects get `new_values` in their referencing columns; grandchildren that
// reference those columns follow (when they reference only changed columns: their old and new
// values are then known).
void CascadeGraph::derive_update(const Edge& e, RowSelection rows, const Row& new_values, int depth, std::vector<Derived>& out) const {
  const Row& old_values = rows.keys.front();
  if (depth < kMaxDepth) {
    if (auto it = edges_.find(e.child); it != edges_.end()) {
      for (const auto& g : it->second) {
        if (!derives(g.on_update)) continue;
        Row g_old, g_new;
        bool all = true, any = false;
        for (const auto& name : g.parent_names) {
          auto at = std::find(e.child_names.begin(), e.child_names.end(), name);
          if (at == e.child_names.end()) {
            all = false;
            continue;
          }
          any = true;
          auto k = static_cast<std::size_t>(at - e.child_names.begin());
          g_old.push_back(old_values[k]);
          g_new.push_back(new_values[k]);
        }
        if (!any || g_old == g_new) continue;
        if (!all) {
          logf(LogLevel::Error, "session", g.child->id,
               "foreign key {} references columns of {} of which only some change by a cascade: its own cascade is not derived "
               "(resync the table)",
               g.name, e.child->id);
          continue;
        }
        RowSelection sub;
        sub.table = g.child->plan.target;
        sub.columns = g.child_names;
        sub.keys = {g_old};
        if (g.on_update == ForeignKeyAction::Cascade) derive_update(g, std::move(sub), g_new, depth + 1, out);
        else out.push_back({g.child, change_of(CascadeChange::Action::SetNull, std::move(sub), g.child_names, {})});
      }
    }
  }
  out.push_back({e.child, change_of(CascadeChange::Action::Update, std::move(rows), e.child_names, new_values)});
}

}  // namespace cdc::detail
