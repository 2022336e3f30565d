// Table planning: discovered source tables + Config -> what is read, and what is created where.
#include "core/logging.h"
#include "core/schema_objects.h"
#include "core/text_util.h"

#include <cdc/error.h>
#include <cdc/plan.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <thread>

namespace cdc {

bool glob_match(const std::string& pattern, const std::string& text) {
  std::size_t p = 0, t = 0, star_p = std::string::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '[') {
      auto close = pattern.find(']', p + 1);
      if (close != std::string::npos) {
        bool negate = p + 1 < close && (pattern[p + 1] == '!' || pattern[p + 1] == '^');
        bool hit = false;
        for (std::size_t i = p + 1 + (negate ? 1 : 0); i < close; ++i) {
          if (i + 2 < close && pattern[i + 1] == '-') {
            hit = hit || (text[t] >= pattern[i] && text[t] <= pattern[i + 2]);
            i += 2;
          } else {
            hit = hit || text[t] == pattern[i];
          }
        }
        if (hit != negate) {
          p = close + 1;
          ++t;
          continue;
        }
      }
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
      continue;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star_p = p++;
      star_t = t;
      continue;
    }
    if (star_p == std::string::npos) return false;
    p = star_p + 1;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {

bool any_match(const std::vector<std::string>& patterns, const TableId& id) {
  const std::string full = id.to_string();
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return glob_match(p, full) || glob_match(p, id.name); });
}

// The Config::tables key that names this table ("schema.name" first, then "name").
std::string config_key_for(const Config& config, const TableId& id) {
  if (config.tables.count(id.to_string())) return id.to_string();
  if (config.tables.count(id.name)) return id.name;
  return {};
}

// An include pattern without wildcards that is the table's name ("schema.name" or "name").
bool named_by_include(const Config& config, const TableId& id) {
  const std::string full = id.to_string();
  return std::any_of(config.include.begin(), config.include.end(), [&](const std::string& p) {
    return p.find_first_of("*?[") == std::string::npos && (p == full || p == id.name);
  });
}

// Why a view cannot be replicated, in the terms of the source's change log.
std::string no_change_log(const std::string& source_dialect) {
  if (source_dialect == "postgresql") return "PostgreSQL's logical replication carries the rows of base tables only";
  if (source_dialect == "mysql") return "the MariaDB/MySQL binlog carries the rows of base tables only";
  if (source_dialect == "sqlite") return "cdc's SQLite capture triggers fire on base tables only";
  return "a change log carries the rows of base tables only";
}

const Column& column_or_throw(const TableSchema& table, const std::string& name, const std::string& where) {
  int i = table.index_of(name);
  if (i < 0) {
    std::vector<std::string> names;
    for (const auto& c : table.columns) names.push_back(c.name);
    std::string near = detail::similar_names(name, names);
    throw config_error(where, fmt::format("no column \"{}\" in table {}{}", name, table.id.to_string(),
                                          near.empty() ? "" : " (similar: " + near + ")"));
  }
  return table.columns[static_cast<std::size_t>(i)];
}

TablePlan plan_one(const Config& config, const TableSchema& source, const std::string& key, const TypeMapper& mapper,
                   const std::string& source_dialect, const std::string& target_dialect, std::size_t max_len) {
  TablePlan plan;
  plan.key = key.empty() ? source.id.to_string() : key;
  plan.source = source;
  plan.settings = config.settings_for(plan.key);
  plan.mode = *plan.settings.mode;
  const std::string base = "tables." + plan.key;
  if (source.view && plan.mode == TableMode::Replicate) {
    // A view has no change log to follow. Asked for by name, that is an error; inherited from
    // defaults.mode, the view is copied (at each start, like any mode copy table), as a user who
    // selects views in a replicating session means.
    auto it = key.empty() ? config.tables.end() : config.tables.find(key);
    if (it != config.tables.end() && it->second.mode)
      throw config_error(base + ".mode",
                         fmt::format("{} is a view: mode replicate follows a change log, and a view has none ({}); "
                                     "use mode: copy, or mode: incremental with a watermark column",
                                     source.id.to_string(), no_change_log(source_dialect)));
    plan.mode = TableMode::Copy;
    plan.settings.mode = TableMode::Copy;
    detail::logf(LogLevel::Warn, "plan", source.id.to_string(),
                 "a view is not replicated (a view has no change log to follow): it is copied at each start instead; "
                 "mode incremental with a watermark column follows it");
  }
  if (*plan.settings.parallel_chunks == kAuto || *plan.settings.chunk_rows == kAuto) {
    AutoChunking a = auto_chunking(source.estimated_rows, source.estimated_bytes, std::thread::hardware_concurrency(),
                                   *plan.settings.parallel_chunks);
    if (*plan.settings.chunk_rows == kAuto) plan.settings.chunk_rows = a.chunk_rows;
    plan.settings.parallel_chunks = a.parallel_chunks;
    detail::logf(LogLevel::Debug, "plan", source.id.to_string(), "parallel_chunks {}, chunk_rows {} (about {} rows, {} bytes)",
                 a.parallel_chunks, *plan.settings.chunk_rows, source.estimated_rows, source.estimated_bytes);
  }
  const TableSettings& s = plan.settings;

  // Projection: listed columns (in the listed order) or all, minus excluded ones.
  plan.read.id = source.id;
  plan.read.estimated_rows = source.estimated_rows;
  plan.read.estimated_bytes = source.estimated_bytes;
  if (!s.columns.empty()) {
    for (std::size_t i = 0; i < s.columns.size(); ++i)
      plan.read.columns.push_back(column_or_throw(source, s.columns[i], fmt::format("{}.columns[{}]", base, i)));
  } else {
    plan.read.columns = source.columns;
  }
  for (std::size_t i = 0; i < s.exclude_columns.size(); ++i) {
    column_or_throw(source, s.exclude_columns[i], fmt::format("{}.exclude_columns[{}]", base, i));
    auto& cols = plan.read.columns;
    cols.erase(std::remove_if(cols.begin(), cols.end(), [&](const Column& c) { return c.name == s.exclude_columns[i]; }),
               cols.end());
  }
  if (plan.read.columns.empty()) throw config_error(base, "no columns left to copy");

  bool key_complete = source.has_primary_key();
  for (const auto& k : source.primary_key)
    if (plan.read.index_of(k) < 0) key_complete = false;
  if (key_complete) plan.read.primary_key = source.primary_key;
  if (!s.key.empty()) {
    // A configured key: the row identity of a view or of a table without a primary key.
    if (source.has_primary_key())
      throw config_error(base + ".key", fmt::format("{} has a primary key ({}); key is for views and tables without one",
                                                   source.id.to_string(), fmt::join(source.primary_key, ", ")));
    if (plan.mode == TableMode::Replicate)
      throw config_error(base + ".key", "mode replicate identifies rows by the source's own primary key; key is for mode copy or incremental");
    for (std::size_t i = 0; i < s.key.size(); ++i) {
      const std::string where = fmt::format("{}.key[{}]", base, i);
      column_or_throw(source, s.key[i], where);
      if (plan.read.index_of(s.key[i]) < 0)
        throw config_error(where, fmt::format("\"{}\" must be among the copied columns", s.key[i]));
    }
    plan.read.primary_key = s.key;
  }
  if (!key_complete && source.has_primary_key() && plan.mode == TableMode::Replicate)
    throw config_error(s.columns.empty() ? base + ".exclude_columns" : base + ".columns",
                       fmt::format("mode replicate needs the primary key ({}) among the copied columns",
                                   fmt::join(source.primary_key, ", ")));
  if (plan.mode == TableMode::Incremental && plan.read.index_of(s.watermark->column) < 0) {
    column_or_throw(source, s.watermark->column, base + ".watermark.column");
    throw config_error(base + ".watermark.column", fmt::format("\"{}\" must be among the copied columns", s.watermark->column));
  }

  for (const auto& [from, to] : s.rename)
    if (plan.read.index_of(from) < 0) column_or_throw(plan.read, from, base + ".rename." + from);

  // Target schema: mapped types, renamed columns, optional soft-delete flag.
  plan.target.schema.id = detail::target_table_id(source.id, s.target, source_dialect, target_dialect, max_len);
  plan.target.schema.estimated_rows = source.estimated_rows;
  auto renamed = [&](const std::string& n) {
    auto it = s.rename.find(n);
    return fit_identifier(it == s.rename.end() ? n : it->second, max_len);
  };
  std::set<std::string> names;
  for (std::size_t i = 0; i < plan.read.columns.size(); ++i) {
    ColumnMapping m = mapper.map_column(source.id, plan.read.columns[i], source_dialect, target_dialect);
    Column c = std::move(m.target);
    c.name = renamed(c.name);
    plan.converters.push_back(std::move(m.converter));
    plan.rules.push_back(std::move(m.rule));
    if (!names.insert(c.name).second)
      throw config_error(base + ".rename", fmt::format("two target columns would be named \"{}\"", c.name));
    plan.target.schema.columns.push_back(std::move(c));
    plan.target_from_read.push_back(static_cast<int>(i));
  }
  for (const auto& k : plan.read.primary_key) plan.target.schema.primary_key.push_back(renamed(k));
  // A configured key is the target's primary key: its columns cannot hold NULL there (a view
  // reports every column nullable).
  if (!s.key.empty())
    for (auto& c : plan.target.schema.columns)
      if (std::find(plan.target.schema.primary_key.begin(), plan.target.schema.primary_key.end(), c.name) !=
          plan.target.schema.primary_key.end())
        c.nullable = false;
  plan.target.deletes = *s.delete_settings;
  if (plan.target.deletes.strategy == DeleteStrategy::Soft) {
    if (names.count(plan.target.deletes.column))
      throw config_error(base + ".delete.column",
                         fmt::format("\"{}\" already is a column of the target table; pick another name", plan.target.deletes.column));
    Column flag;
    flag.name = plan.target.deletes.column;
    flag.type.id = TypeId::Bool;
    flag.nullable = false;
    flag.default_expr = "0";
    plan.target.schema.columns.push_back(flag);
    plan.target_from_read.push_back(-1);
  }
  detail::plan_schema_objects(plan, config, source_dialect, target_dialect, max_len);
  return plan;
}

}  // namespace

TablePlan plan_table(const Config& config, const TableSchema& source, const std::string& key, const TypeMapper& mapper,
                     const std::string& source_dialect, const std::string& target_dialect, std::size_t max_identifier_length) {
  return plan_one(config, source, key, mapper, source_dialect, target_dialect, max_identifier_length);
}

bool table_selected(const Config& config, const TableId& table) {
  return any_match(config.include, table) && !any_match(config.exclude, table);
}

bool discovered_selected(const Config& config, const TableSchema& table) {
  if (!table_selected(config, table.id)) return false;
  return !table.view || config.views || !config_key_for(config, table.id).empty() || named_by_include(config, table.id);
}

std::int64_t TablePlan::values_changed() const {
  std::int64_t n = 0;
  for (const auto& c : converters)
    if (c) n += c->values_changed();
  return n;
}

AutoChunking auto_chunking(std::int64_t rows, std::int64_t bytes, unsigned cores, int parallel_chunks) {
  constexpr int kMaxReaders = 8;
  constexpr std::int64_t kRowsPerReader = 100'000, kBytesPerReader = 32LL << 20;
  constexpr std::int64_t kChunksPerReader = 4, kMinChunkRows = 50'000, kMaxChunkRows = 1'000'000, kMaxChunkBytes = 128LL << 20;
  const int readers = std::clamp(static_cast<int>(std::min(cores, 1024u)), 1, kMaxReaders);
  AutoChunking out;
  if (rows < 0) {
    out.parallel_chunks = parallel_chunks > 0 ? parallel_chunks : readers;
    return out;
  }
  std::int64_t max_rows = kMaxChunkRows;
  if (bytes > 0 && rows > 0) max_rows = std::clamp<std::int64_t>(kMaxChunkBytes / std::max<std::int64_t>(1, bytes / rows), 1000, kMaxChunkRows);
  const std::int64_t min_rows = std::min(kMinChunkRows, max_rows);
  const std::int64_t work = std::max(rows / kRowsPerReader, bytes > 0 ? bytes / kBytesPerReader : 0);
  out.parallel_chunks = parallel_chunks > 0 ? parallel_chunks : static_cast<int>(std::clamp<std::int64_t>(work, 1, readers));
  const std::int64_t chunks = static_cast<std::int64_t>(out.parallel_chunks) * kChunksPerReader;
  out.chunk_rows = std::clamp<std::int64_t>((rows + chunks - 1) / chunks, min_rows, max_rows);
  return out;
}

std::string fit_identifier(const std::string& name, std::size_t max_length) {
  if (max_length == 0 || name.size() <= max_length) return name;
  const std::uint64_t h = detail::fnv1a(name);
  const std::string suffix = fmt::format("_{:08x}", static_cast<std::uint32_t>(h ^ (h >> 32)));
  std::size_t keep = max_length > suffix.size() ? max_length - suffix.size() : 0;
  // Do not cut a UTF-8 character in two.
  while (keep > 0 && (static_cast<unsigned char>(name[keep]) & 0xC0) == 0x80) --keep;
  return name.substr(0, keep) + suffix;
}

std::vector<TablePlan> plan_tables(const Config& config, SourceConnector& source, const TypeMapper& mapper,
                                   const std::string& target_dialect, std::size_t max_identifier_length) {
  auto discovered = source.discover([&](const TableId& id) {
    return table_selected(config, id) || !config_key_for(config, id).empty();
  });
  std::set<std::string> used_keys;
  std::vector<TablePlan> plans;
  for (const auto& t : discovered) {
    std::string key = config_key_for(config, t.id);
    if (!key.empty()) used_keys.insert(key);
    if (!table_selected(config, t.id)) {
      if (!key.empty())
        detail::logf(LogLevel::Warn, "plan", t.id.to_string(), "tables.{} is configured but excluded by include/exclude; skipped", key);
      continue;
    }
    if (!discovered_selected(config, t)) continue;  // a view, without views: true
    plans.push_back(plan_table(config, t, key, mapper, source.dialect(), target_dialect, max_identifier_length));
  }
  for (const auto& [key, settings] : config.tables) {
    if (used_keys.count(key)) continue;
    std::vector<std::string> names;
    for (const auto& t : discovered) names.push_back(t.id.to_string());
    std::string near = detail::similar_names(key, names);
    throw config_error("tables." + key, fmt::format("no table \"{}\" in the source{}", key,
                                                    near.empty() ? "" : " (similar: " + near + ")"));
  }
  // Two source tables must not land in one target table.
  std::set<TableId> targets;
  for (const auto& p : plans)
    if (!targets.insert(p.target.schema.id).second)
      throw config_error("tables." + p.key + ".target",
                         fmt::format("another table is already copied to {}", p.target.schema.id.to_string()));
  detail::plan_schema_objects_across(plans, target_dialect, max_identifier_length);
  std::stable_sort(plans.begin(), plans.end(), [](const TablePlan& a, const TablePlan& b) {
    if (a.source.estimated_rows != b.source.estimated_rows) return a.source.estimated_rows > b.source.estimated_rows;
    return a.source.id < b.source.id;
  });
  return plans;
}

}  // namespace cdc
