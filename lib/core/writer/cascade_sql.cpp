// Statements for derived foreign-key cascades (cascade_sql.h).
#include "core/writer/cascade_sql.h"

#include <cdc/error.h>

#include <fmt/format.h>

namespace cdc::detail {

namespace {

const Column& column_named(const TableSchema& s, const std::string& name) {
  int i = s.index_of(name);
  if (i < 0)
    throw Error(ErrorKind::Internal, fmt::format("cascade names column {} that table {} does not have", name, s.id.to_string()), false,
                "table " + s.id.to_string());
  return s.columns[static_cast<std::size_t>(i)];
}

std::string column_list(const std::vector<std::string>& names, const CascadeDialect& d) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + d.quote_ident(n);
  return out;
}

// The condition selecting `sel`'s rows; `depth` names materialised subqueries apart.
std::string condition(const RowSelection& sel, const CascadeDialect& d, int depth) {
  const TableSchema& s = sel.table.schema;
  if (!sel.parent) {
    std::string any;
    for (const auto& key : sel.keys) {
      std::string all;
      for (std::size_t i = 0; i < sel.columns.size() && i < key.size(); ++i)
        all += (all.empty() ? "" : " AND ") + d.quote_ident(sel.columns[i]) + " = " + d.value(key[i], column_named(s, sel.columns[i]));
      any += (any.empty() ? "(" : " OR (") + all + ")";
    }
    return any.empty() ? "FALSE" : "(" + any + ")";
  }
  std::string inner = fmt::format("SELECT {} FROM {} WHERE {}", column_list(sel.parent_columns, d), d.table_name(sel.parent->table.schema),
                                  condition(*sel.parent, d, depth + 1));
  if (d.materialise_subqueries) inner = fmt::format("SELECT * FROM ({}) AS cdc_cascade_{}", inner, depth);
  return fmt::format("({}) IN ({})", column_list(sel.columns, d), inner);
}

}  // namespace

std::string cascade_statement(const CascadeChange& change, const CascadeDialect& d) {
  const RowSelection& sel = change.rows;
  const TableSchema& s = sel.table.schema;
  const std::string where = condition(sel, d, 0);
  const std::string table = d.table_name(s);
  switch (change.action) {
    case CascadeChange::Action::Delete:
      if (sel.table.deletes.strategy == DeleteStrategy::Soft)
        return fmt::format("UPDATE {} SET {} = {} WHERE {}", table, d.quote_ident(sel.table.deletes.column), d.true_literal, where);
      return fmt::format("DELETE FROM {} WHERE {}", table, where);
    case CascadeChange::Action::SetNull:
    case CascadeChange::Action::Update: {
      std::string set;
      for (std::size_t i = 0; i < change.set_columns.size(); ++i) {
        std::string v = change.action == CascadeChange::Action::SetNull || i >= change.set_values.size()
                            ? std::string("NULL")
                            : d.value(change.set_values[i], column_named(s, change.set_columns[i]));
        set += (set.empty() ? "" : ", ") + d.quote_ident(change.set_columns[i]) + " = " + v;
      }
      return fmt::format("UPDATE {} SET {} WHERE {}", table, set, where);
    }
  }
  return {};
}

}  // namespace cdc::detail
