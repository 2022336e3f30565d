// Planning of schema objects: see schema_objects.h and docs/schema-objects.md.
#include "core/schema_objects.h"

#include "core/sql_expr.h"
#include "core/text_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace cdc::detail {

namespace {

constexpr std::string_view kPg = "postgresql";
constexpr std::string_view kMy = "mysql";
constexpr std::string_view kLite = "sqlite";

std::string dialect_name(std::string_view d) {
  if (d == kPg) return "PostgreSQL";
  if (d == kMy) return "MariaDB";
  if (d == kLite) return "SQLite";
  return std::string(d);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string joined(const std::vector<std::string>& names, const char* sep = ", ") {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : sep) + n;
  return out;
}

bool is_integer(TypeId id) {
  return id == TypeId::Int8 || id == TypeId::Int16 || id == TypeId::Int24 || id == TypeId::Int32 || id == TypeId::Int64;
}

// A column MariaDB can index only by a prefix (TEXT, BLOB, or longer than its 3072-byte keys).
bool mysql_needs_prefix(const LogicalType& t) {
  switch (t.id) {
    case TypeId::String: return t.length < 0 || t.length > 768;
    case TypeId::Bytes:
    case TypeId::Unknown: return t.length < 0 || t.length > 3072;
    case TypeId::Json:
    case TypeId::Array:
    case TypeId::Interval: return true;
    default: return false;
  }
}

// A column whose values may outgrow a PostgreSQL B-tree entry (about 2700 bytes).
bool pg_unbounded(const LogicalType& t) {
  switch (t.id) {
    case TypeId::String: return t.length < 0 || t.length > 1000;
    case TypeId::Bytes:
    case TypeId::Unknown: return t.length < 0 || t.length > 2000;
    case TypeId::Json: return true;
    default: return false;
  }
}

// The Config::tables key of a table ("schema.name" first, then "name"), or empty.
std::string config_key(const Config& config, const TableId& id) {
  if (config.tables.count(id.to_string())) return id.to_string();
  if (config.tables.count(id.name)) return id.name;
  return {};
}

// A source table's columns as its plan copies them: source name -> target name.
std::map<std::string, std::string> copied_columns(const TableSettings& s, const TableSchema* schema, std::size_t max_len) {
  std::map<std::string, std::string> out;
  auto target = [&](const std::string& n) {
    auto it = s.rename.find(n);
    return fit_identifier(it == s.rename.end() ? n : it->second, max_len);
  };
  std::vector<std::string> names = s.columns;
  if (names.empty() && schema)
    for (const auto& c : schema->columns) names.push_back(c.name);
  for (const auto& n : names)
    if (std::find(s.exclude_columns.begin(), s.exclude_columns.end(), n) == s.exclude_columns.end()) out[n] = target(n);
  return out;
}

std::string index_name(const IndexDef& idx, const std::string& table, const std::string& from, const std::string& to,
                       std::size_t max_len) {
  std::string name = idx.name;
  // MariaDB names indexes per table; PostgreSQL and SQLite per schema: the table's name goes first.
  if (from == kMy && to != kMy && name.rfind(table + "_", 0) != 0) name = table + "_" + name;
  return fit_identifier(name, max_len);
}

}  // namespace

TableId target_table_id(const TableId& source, const std::string& settings_target, const std::string& source_dialect,
                        const std::string& target_dialect, std::size_t max_len) {
  std::string name = settings_target.empty() ? source.name : settings_target;
  TableId id;
  if (auto dot = name.find('.'); !settings_target.empty() && dot != std::string::npos)
    id = TableId(name.substr(0, dot), name.substr(dot + 1));
  else
    id = TableId(source_dialect == target_dialect ? source.schema : std::string(), name);
  id.name = fit_identifier(id.name, max_len);
  return id;
}

void plan_schema_objects(TablePlan& plan, const Config& config, const std::string& from, const std::string& to,
                         std::size_t max_len) {
  const SchemaSettings& ss = config.schema;
  TableSchema& target = plan.target.schema;
  auto& notes = plan.target.not_carried;
  auto& fk_notes = plan.target.not_carried_foreign_keys;
  notes.clear();
  fk_notes.clear();
  target.indexes.clear();
  target.foreign_keys.clear();
  target.checks.clear();
  const std::string table = target.id.name;
  const std::string shown = target.id.to_string();
  const std::string target_name = dialect_name(to);
  const bool same = from == to;

  ExprScope scope;
  scope.from = from;
  scope.to = to;
  for (const auto& c : plan.source.columns) scope.source_columns.push_back(c.name);
  std::map<std::string, int> target_index;  // target column -> index in target.columns
  for (std::size_t j = 0; j < target.columns.size(); ++j) {
    target_index[target.columns[j].name] = static_cast<int>(j);
    const int i = j < plan.target_from_read.size() ? plan.target_from_read[j] : -1;
    if (i >= 0) scope.target_of[plan.read.columns[static_cast<std::size_t>(i)].name] = target.columns[j].name;
  }

  // ---- columns: identity, generated, default, ON UPDATE, comment ----
  std::set<std::string> generated_targets;
  std::map<std::string, std::vector<std::string>> uses;  // generated target column -> columns it uses
  for (std::size_t j = 0; j < target.columns.size(); ++j) {
    Column& c = target.columns[j];
    const int i = j < plan.target_from_read.size() ? plan.target_from_read[j] : -1;
    if (i < 0) {
      // cdc's soft-delete flag: live unless set.
      if (plan.target.deletes.strategy == DeleteStrategy::Soft && c.name == plan.target.deletes.column)
        c.default_expr = to == kPg ? "false" : "0";
      continue;
    }
    const Column& src = plan.read.columns[static_cast<std::size_t>(i)];
    const bool key = std::find(target.primary_key.begin(), target.primary_key.end(), c.name) != target.primary_key.end();
    c.identity = src.identity && ss.sequences && is_integer(c.type.id);
    c.comment = ss.comments ? src.comment : std::string();
    c.generated.clear();
    c.generated_stored = src.generated_stored;
    if (!src.generated.empty() && ss.constraints) {
      const std::string plain = "; created as a plain column holding the source's values" +
                                std::string(from == kPg ? " (PostgreSQL's change stream leaves generated values out: rows "
                                                          "changed after the copy keep their copied value)"
                                                        : "");
      if (key) {
        notes.push_back(fmt::format("generated column {}.{}: it is part of the primary key{}", shown, c.name, plain));
      } else {
        ExprResult r = translate_expression(src.generated, scope);
        if (!r.ok) {
          notes.push_back(fmt::format("generated column {}.{} ({}): {}{}", shown, c.name, src.generated, r.why, plain));
        } else {
          c.generated = r.text;
          generated_targets.insert(c.name);
          uses[c.name] = r.columns;
        }
      }
    }
    if (!c.generated.empty() || c.identity) c.default_expr.reset();
    else if (!same && src.default_expr && (ss.constraints || config.keep_defaults)) {
      ExprResult r = translate_default(*src.default_expr, c.type, scope);
      if (r.ok) c.default_expr = r.text.empty() ? std::nullopt : std::optional<std::string>(r.text);
      else notes.push_back(fmt::format("default of column {}.{} ({}): {}", shown, c.name, *src.default_expr, r.why));
    }
    if (!src.on_update.empty()) {
      if (!same || !ss.constraints) c.on_update.clear();
      if (!same && ss.constraints)
        notes.push_back(fmt::format("ON UPDATE {} of column {}.{}: {} has no such clause (the value changes when the source's "
                                    "change arrives)",
                                    src.on_update, shown, c.name, target_name));
    }
  }
  // PostgreSQL: a generated column may not use another generated column.
  if (to == kPg && !same)
    for (auto& c : target.columns) {
      if (c.generated.empty()) continue;
      for (const auto& u : uses[c.name])
        if (u != c.name && generated_targets.count(u)) {
          notes.push_back(fmt::format("generated column {}.{}: it uses generated column {}, which PostgreSQL does not allow; "
                                      "created as a plain column holding the source's values",
                                      shown, c.name, u));
          c.generated.clear();
          break;
        }
    }
  target.comment = ss.comments ? plan.source.comment : std::string();
  if (to == kLite && ss.comments) {
    bool any = !target.comment.empty();
    for (const auto& c : target.columns) any = any || !c.comment.empty();
    if (any) notes.push_back(fmt::format("comments on table {} and its columns: SQLite keeps none", shown));
  }

  // ---- indexes ----
  if (ss.indexes) {
    for (const IndexDef& src : plan.source.indexes) {
      const std::string what = fmt::format("{}index {} on {}", src.unique ? "unique " : "", src.name, shown);
      IndexDef idx;
      idx.name = index_name(src, table, from, to, max_len);
      idx.unique = src.unique;
      std::string method = lower(src.method);
      if (method.empty()) method = "btree";
      if (!same) {
        if (method == "fulltext" || method == "spatial") {
          notes.push_back(fmt::format("{} ({}): {} has no {} index", what, joined(src.columns), target_name,
                                      method == "fulltext" ? "FULLTEXT" : "SPATIAL"));
          continue;
        }
        if (method != "btree" && method != "hash") {
          std::string kind = src.method;
          for (auto& ch : kind) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
          notes.push_back(fmt::format("{} ({}): {} index: {} has no such index", what,
                                      src.expression.empty() ? joined(src.columns) : src.expression, kind, target_name));
          continue;
        }
        method = "btree";  // MariaDB's HASH (long unique keys, MEMORY tables) is a B-tree elsewhere
      }
      idx.method = method;
      bool skip = false;
      std::vector<std::string> parts;  // an expression key list built from prefix lengths
      bool expression_from_prefix = false;
      if (src.expression.empty()) {
        for (std::size_t k = 0; k < src.columns.size(); ++k) {
          auto it = scope.target_of.find(src.columns[k]);
          if (it == scope.target_of.end()) {
            notes.push_back(fmt::format("{} ({}): column {} is not copied", what, joined(src.columns), src.columns[k]));
            skip = true;
            break;
          }
          const std::string& col = it->second;
          const LogicalType& type = target.columns[static_cast<std::size_t>(target_index[col])].type;
          const int prefix = k < src.prefix_lengths.size() ? src.prefix_lengths[k] : -1;
          idx.columns.push_back(col);
          parts.push_back(quote_identifier(col, to));
          if (same) {
            idx.prefix_lengths.push_back(prefix);
            continue;
          }
          if (to == kMy) {
            // MariaDB indexes TEXT and BLOB (and keys beyond 3072 bytes) by a prefix; a unique one
            // without a prefix becomes a hash-based unique key, which keeps the whole value unique.
            const bool need = mysql_needs_prefix(type) && !src.unique;
            idx.prefix_lengths.push_back(need ? 255 : -1);
            if (need)
              notes.push_back(fmt::format("{}: column {} is indexed by its first 255 characters (MariaDB indexes long text by a "
                                          "prefix)",
                                          what, col));
            continue;
          }
          if (prefix <= 0) continue;
          if (to == kPg && pg_unbounded(type)) {
            // The whole value may not fit a B-tree entry: the index keeps the prefix as an expression.
            parts.back() = type.id == TypeId::String ? fmt::format("left({}, {})", quote_identifier(col, to), prefix)
                                                     : fmt::format("substr({}, 1, {})", quote_identifier(col, to), prefix);
            expression_from_prefix = true;
            notes.push_back(fmt::format("{}: prefix length {} of column {} kept as {}", what, prefix, col, parts.back()));
          } else {
            notes.push_back(
                fmt::format("{}: prefix length {} of column {} dropped: {} indexes the whole value", what, prefix, col, target_name));
          }
        }
        if (skip) continue;
        if (expression_from_prefix) {
          idx.expression = joined(parts);
          if (idx.unique) {
            notes.push_back(fmt::format("{}: unique over a prefix, kept as a unique expression index", what));
          }
        }
      } else {
        ExprResult r = translate_key_list(src.expression, scope);
        if (!r.ok) {
          notes.push_back(fmt::format("{} ({}): {}", what, src.expression, r.why));
          continue;
        }
        if (to == kMy && !same && !r.plain_columns) {
          notes.push_back(fmt::format("{} ({}): MariaDB has no expression indexes", what, src.expression));
          continue;
        }
        idx.expression = r.text;
        idx.columns = r.columns;
      }
      if (!src.where.empty()) {
        if (to == kMy && !same) {
          notes.push_back(fmt::format("{}: MariaDB has no partial indexes (WHERE {})", what, src.where));
          continue;
        }
        ExprResult r = translate_expression(src.where, scope);
        if (!r.ok) {
          notes.push_back(fmt::format("{} WHERE {}: {}", what, src.where, r.why));
          continue;
        }
        idx.where = r.text;
      }
      for (const auto& inc : src.include) {
        auto it = scope.target_of.find(inc);
        if (to != kPg) {
          notes.push_back(fmt::format("{}: INCLUDE ({}) left out: {} has no covering columns", what, joined(src.include), target_name));
          break;
        }
        if (it == scope.target_of.end()) {
          notes.push_back(fmt::format("{}: INCLUDE column {} left out: it is not copied", what, inc));
          continue;
        }
        idx.include.push_back(it->second);
      }
      target.indexes.push_back(std::move(idx));
    }
  }

  // ---- CHECK constraints ----
  if (ss.constraints) {
    int unnamed = 0;
    for (const CheckDef& src : plan.source.checks) {
      ExprResult r = translate_expression(src.expression, scope);
      std::string name = src.name;
      if (name.empty()) name = table + "_check" + (unnamed++ ? std::to_string(unnamed) : std::string());
      name = fit_identifier(name, max_len);
      if (!r.ok) {
        notes.push_back(fmt::format("CHECK {} on {} ({}): {}", name, shown, src.expression, r.why));
        continue;
      }
      target.checks.push_back(CheckDef{name, r.text});
    }
  }

  // ---- foreign keys (their references resolved by the config; plan_schema_objects_across checks
  // them against the other plans) ----
  if (ss.foreign_keys) {
    for (const ForeignKeyDef& src : plan.source.foreign_keys) {
      std::string name = src.name.empty() ? table + "_" + joined(src.columns, "_") + "_fkey" : src.name;
      name = fit_identifier(name, max_len);
      const std::string what =
          fmt::format("foreign key {} on {} ({}) -> {} ({})", name, shown, joined(src.columns), src.references.to_string(),
                      joined(src.referenced_columns));
      ForeignKeyDef fk;
      fk.name = name;
      fk.on_delete = src.on_delete;
      fk.on_update = src.on_update;
      bool skip = false;
      for (const auto& c : src.columns) {
        auto it = scope.target_of.find(c);
        if (it == scope.target_of.end()) {
          fk_notes.push_back(fmt::format("{}: column {} is not copied", what, c));
          skip = true;
          break;
        }
        fk.columns.push_back(it->second);
      }
      if (skip) continue;
      if (!table_selected(config, src.references)) {
        fk_notes.push_back(fmt::format("{}: table {} is not copied", what, src.references.to_string()));
        continue;
      }
      const std::string parent_key = config_key(config, src.references);
      TableSettings parent = config.settings_for(parent_key.empty() ? src.references.to_string() : parent_key);
      const bool self = src.references == plan.source.id;
      auto parent_cols = copied_columns(parent, self ? &plan.source : nullptr, max_len);
      for (const auto& c : src.referenced_columns) {
        auto it = parent_cols.find(c);
        // Without a column list the parent copies every column but the excluded ones.
        std::string t;
        if (it != parent_cols.end()) t = it->second;
        else if (parent.columns.empty() && std::find(parent.exclude_columns.begin(), parent.exclude_columns.end(), c) ==
                                                  parent.exclude_columns.end()) {
          auto r = parent.rename.find(c);
          t = fit_identifier(r == parent.rename.end() ? c : r->second, max_len);
        }
        if (t.empty()) {
          fk_notes.push_back(fmt::format("{}: column {} of {} is not copied", what, c, src.references.to_string()));
          skip = true;
          break;
        }
        fk.referenced_columns.push_back(t);
      }
      if (skip) continue;
      fk.references = self ? target.id : target_table_id(src.references, parent.target, from, to, max_len);
      if (to == kMy && (fk.on_delete == ForeignKeyAction::SetDefault || fk.on_update == ForeignKeyAction::SetDefault)) {
        fk_notes.push_back(fmt::format("{}: MariaDB (InnoDB) has no SET DEFAULT action", what));
        continue;
      }
      target.foreign_keys.push_back(std::move(fk));
    }
  }
}

void plan_schema_objects_across(std::vector<TablePlan>& plans, const std::string& to, std::size_t max_len) {
  std::map<TableId, TablePlan*> by_target;
  for (auto& p : plans) by_target[p.target.schema.id] = &p;

  // Foreign keys: the referenced table must be planned, with the referenced columns a key of it
  // where the target needs one (PostgreSQL a primary key or unique constraint, SQLite a primary
  // key or unique index; MariaDB any index, which create_table_objects makes).
  for (auto& p : plans) {
    auto& fks = p.target.schema.foreign_keys;
    for (auto it = fks.begin(); it != fks.end();) {
      const std::string what = fmt::format("foreign key {} on {} ({}) -> {} ({})", it->name, p.target.schema.id.to_string(),
                                           joined(it->columns), it->references.to_string(), joined(it->referenced_columns));
      auto parent = by_target.find(it->references);
      std::string why;
      if (parent == by_target.end()) {
        why = fmt::format("table {} is not copied", it->references.to_string());
      } else {
        const TableSchema& ps = parent->second->target.schema;
        for (const auto& c : it->referenced_columns)
          if (ps.index_of(c) < 0) why = fmt::format("{} has no column {}", ps.id.to_string(), c);
        if (why.empty() && to != kMy) {
          std::set<std::string> want(it->referenced_columns.begin(), it->referenced_columns.end());
          bool keyed = std::set<std::string>(ps.primary_key.begin(), ps.primary_key.end()) == want;
          for (const auto& idx : ps.indexes)
            if (idx.unique && idx.expression.empty() && idx.where.empty() &&
                std::set<std::string>(idx.columns.begin(), idx.columns.end()) == want)
              keyed = true;
          if (!keyed)
            why = fmt::format("its columns are neither the primary key nor a unique key of {} in the target", ps.id.to_string());
        }
      }
      if (!why.empty()) {
        p.target.not_carried_foreign_keys.push_back(what + ": " + why);
        it = fks.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Names that share a namespace: PostgreSQL's indexes (and the tables) of a schema, SQLite's of
  // the database; MariaDB's foreign keys of the database. A later table's colliding name gets a
  // suffix from its table's name, stable across runs.
  auto suffixed = [&](const std::string& name, const TableId& table) {
    const std::uint64_t h = fnv1a(table.to_string());
    return fit_identifier(fmt::format("{}_{:08x}", name, static_cast<std::uint32_t>(h ^ (h >> 32))), max_len);
  };
  std::vector<TablePlan*> ordered;
  for (auto& p : plans) ordered.push_back(&p);
  std::sort(ordered.begin(), ordered.end(), [](const TablePlan* a, const TablePlan* b) { return a->target.schema.id < b->target.schema.id; });
  std::map<std::string, std::set<std::string>> taken;  // namespace -> names
  if (to == kPg || to == kLite) {
    for (auto* p : ordered) taken[to == kPg ? p->target.schema.id.schema : ""].insert(lower(p->target.schema.id.name));
    for (auto* p : ordered) {
      auto& names = taken[to == kPg ? p->target.schema.id.schema : ""];
      for (auto& idx : p->target.schema.indexes) {
        if (!names.insert(lower(idx.name)).second) {
          idx.name = suffixed(idx.name, p->target.schema.id);
          names.insert(lower(idx.name));
        }
      }
    }
  }
  if (to == kMy) {
    auto& names = taken["fk"];
    for (auto* p : ordered)
      for (auto& fk : p->target.schema.foreign_keys)
        if (!names.insert(lower(fk.name)).second) {
          fk.name = suffixed(fk.name, p->target.schema.id);
          names.insert(lower(fk.name));
        }
  }
}

}  // namespace cdc::detail
