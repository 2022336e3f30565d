// Foreign-key cascades a source does not log (MariaDB/MySQL: InnoDB's ON DELETE CASCADE / SET
// NULL and ON UPDATE CASCADE / SET NULL change child rows inside the storage engine; the binlog
// has only the parent's change). The session derives them from the foreign keys among the tables
// it replicates and applies them with the parent's change, in source order.
//
// A derived change belongs to the table it changes: it is applied only where that table applies
// its own changes at the parent event's position (streaming, past its skip point), so a child that
// is held or being copied meets it again when it replays the log (its parent's events included).
// Guarded by the engine's lock like the tables it points to.
#pragma once

#include "core/session/table_state.h"

#include <cdc/destination.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace cdc::detail {

// Whether the source changes rows of a table with this schema through one of its foreign keys'
// actions (ON DELETE / ON UPDATE CASCADE or SET NULL).
bool reached_by_cascades(const TableSchema& source);

class CascadeGraph {
 public:
  // One foreign key among replicated tables, in target terms.
  struct Edge {
    TableState* parent = nullptr;
    TableState* child = nullptr;
    std::string name;                       // the foreign key's name at the source
    std::vector<int> parent_positions;      // referenced columns: positions in the parent's target row
    std::vector<std::string> parent_names;  // ... and their target names
    std::vector<int> parent_read;           // ... and their positions in the parent's read row (raw events)
    std::vector<std::string> child_names;   // the child's columns (target names)
    std::vector<int> child_positions;       // ... and their positions in the child's target row
    ForeignKeyAction on_delete = ForeignKeyAction::NoAction;
    ForeignKeyAction on_update = ForeignKeyAction::NoAction;
  };
  // A derived change and the table it changes.
  struct Derived {
    TableState* table;
    CascadeChange change;
  };

  // Rebuilds the graph from the tables' plans (their source foreign keys). Returns the foreign
  // keys whose cascades cannot be derived (a column not copied), for the log. Caller holds the lock.
  std::vector<std::string> rebuild(const std::vector<std::unique_ptr<TableState>>& tables);
  bool empty() const { return edges_.empty(); }
  // Whether a change of `parent` derives changes: a delete, or an update of referenced columns.
  bool cascades(const TableState* parent, const ChangeEvent& event) const;
  // Every table a change of `parent` may reach, transitively.
  std::set<const TableState*> reach(const TableState* parent) const;
  // The changes `event` (converted to the parent's target terms) makes in other tables, deepest
  // first (a grandchild's before the child rows its selection reads).
  std::vector<Derived> derive(const TableState* parent, const ChangeEvent& event) const;

 private:
  void derive_delete(const Edge& e, RowSelection rows, int depth, std::vector<Derived>& out) const;
  void derive_update(const Edge& e, RowSelection rows, const Row& new_values, int depth, std::vector<Derived>& out) const;
  std::map<const TableState*, std::vector<Edge>> edges_;  // by parent
};

}  // namespace cdc::detail
