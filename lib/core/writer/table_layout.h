// The per-table facts every destination writer resolves once per table shape (column count, key
// columns, soft-delete flag, names for messages), the width check rows must pass, and a cache of
// them (plus each writer's own per-table state) keyed by target table and invalidated by
// shape_signature(). Internal to the SQL writers; not synchronised (one writer, one thread).
#pragma once

#include <cdc/destination.h>
#include <cdc/value.h>

#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cdc::detail {

struct TableLayout {
  std::string signature;  // shape_signature() of the table it was built from
  std::string name;       // the target as messages show it: "public.t" (PostgreSQL), "t" (SQLite)
  std::string where;      // "table public.t", for Error::where
  std::size_t ncols = 0;
  std::vector<int> key;   // key column indexes in key order; empty = no key
  int soft_delete = -1;   // index of the soft-delete flag, -1 for hard deletes
  // Columns the target computes itself (generated columns), which a write must leave out; empty
  // when there are none. Not part of the table's shape: the writer sets it from the target's own
  // catalog when it builds the entry (set_computed), so a column created plain (an older target,
  // an expression that did not translate) is written and a generated one never is.
  std::vector<bool> computed;

  bool keyed() const { return !key.empty(); }
  bool is_key(std::size_t i) const;
  bool is_computed(std::size_t i) const { return i < computed.size() && computed[i]; }
  bool has_computed() const { return !computed.empty(); }
  // One flag per column: written by a full-row write (every column but the computed ones).
  std::vector<bool> writable() const;
  // Marks the columns of `table` named in `generated` (the target's generated columns; names
  // compared as `same_name` says).
  template <typename SameName>
  void set_computed(const DestinationTable& table, const std::vector<std::string>& generated, SameName&& same_name) {
    computed.clear();
    for (std::size_t i = 0; i < table.schema.columns.size(); ++i)
      for (const auto& g : generated)
        if (same_name(table.schema.columns[i].name, g)) {
          computed.resize(table.schema.columns.size(), false);
          computed[i] = true;
        }
  }
  bool is_flag(std::size_t i) const { return soft_delete >= 0 && static_cast<std::size_t>(soft_delete) == i; }
  // Column i of `row` as it is written: a flag the row leaves out (short row) or leaves NULL is
  // false ("live"); anything else is the row's value.
  const Value& value(const Row& row, std::size_t i) const;
};

// The layout of `table` (write_layout() plus names); `name` is how messages show the target.
// Throws what write_layout() throws.
TableLayout make_table_layout(const DestinationTable& table, std::string name);

// A row must have one value per column, or one fewer when the last column is the soft-delete flag
// (the flag left out means "live"). Anything else is a bug upstream: Error(Internal) naming the
// table.
void check_width(const TableLayout& layout, const Row& row);

// A writer's per-table cache: the layout plus `State` (prepared statements, staging names, ...),
// keyed by the writer's own name for the target. An entry is rebuilt, with a default State, when
// the table's shape_signature() changed since it was made, so an evolved table never reuses
// statements made for its old shape. Entries are stable in memory until forgotten.
template <typename State>
class LayoutCache {
 public:
  struct Entry {
    TableLayout layout;
    State state{};
  };

  // The entry for `table` under `key`; `*rebuilt` (when given) says whether it was made afresh.
  Entry& get(const std::string& key, const DestinationTable& table, const std::string& name, bool* rebuilt = nullptr) {
    auto it = entries_.find(key);
    const std::string sig = shape_signature(table);
    if (it != entries_.end() && it->second.layout.signature == sig) {
      if (rebuilt) *rebuilt = false;
      return it->second;
    }
    Entry fresh{make_table_layout(table, name), State{}};
    if (it == entries_.end()) it = entries_.emplace(key, std::move(fresh)).first;
    else it->second = std::move(fresh);
    if (rebuilt) *rebuilt = true;
    return it->second;
  }

  // Drops the entry (its table was altered by this writer).
  void forget(const std::string& key) { entries_.erase(key); }
  void clear() { entries_.clear(); }

  template <typename F>
  void for_each(F&& f) {
    for (auto& [key, entry] : entries_) f(entry);
  }

 private:
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace cdc::detail
