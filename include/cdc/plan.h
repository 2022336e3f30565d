// Table planning: from discovered source tables and a Config to what will be copied where.
// Applies include/exclude patterns, per-table settings (columns, excluded columns, renames,
// target names, delete strategy) and the type mapper. Used by ReplicationSession and by
// `cdc-cli discover --to`. Pure functions of their inputs (plus the source's discovery).
#pragma once

#include <cdc/config.h>
#include <cdc/destination.h>
#include <cdc/export.h>
#include <cdc/schema.h>
#include <cdc/source.h>
#include <cdc/type_mapper.h>

#include <string>
#include <vector>

namespace cdc {

struct TablePlan {
  std::string key;               // the table's key in Config::tables ("orders" or "main.orders"), or its name
  TableSchema source;            // as discovered
  TableSchema read;              // projection read from the source (key columns included)
  DestinationTable target;       // mapped schema at the destination
  TableSettings settings;        // effective settings (defaults merged)
  TableMode mode = TableMode::Replicate;
  std::vector<int> target_from_read;  // for each target column, its index in `read` (-1 = generated)
  // For each column of `read`: how its values convert (nullptr = unchanged), and the rule used.
  std::vector<std::shared_ptr<const ValueConverter>> converters;
  std::vector<std::string> rules;
};

// True when `text` matches the glob `pattern` (`*`, `?`, `[abc]`), case-sensitive.
CDC_API bool glob_match(const std::string& pattern, const std::string& text);

// Whether a table is selected by include/exclude patterns; patterns match "schema.name" and "name".
CDC_API bool table_selected(const Config& config, const TableId& table);

// Discovers and plans every selected table, largest first, with its schema objects in target
// terms (docs/schema-objects.md): foreign keys checked against the other plans, colliding object
// names made unique. Errors name the config key path
// (tables.orders.columns[2]: no column "x" in table orders). `target_dialect` and
// `max_identifier_length` describe the destination; longer target names are shortened with
// fit_identifier.
CDC_API std::vector<TablePlan> plan_tables(const Config& config, SourceConnector& source,
                                           const TypeMapper& mapper, const std::string& target_dialect,
                                           std::size_t max_identifier_length = 0);

// Plans one discovered table under its config key (empty = no per-table settings); what
// plan_tables does per table (foreign keys are resolved by the config alone). The session re-plans a table with it when its source schema
// changes, so the stream maps columns by the same rules and overrides as the snapshot.
CDC_API TablePlan plan_table(const Config& config, const TableSchema& source, const std::string& key,
                             const TypeMapper& mapper, const std::string& source_dialect,
                             const std::string& target_dialect, std::size_t max_identifier_length = 0);

// `name` if it fits `max_length` bytes (0 = no limit), else a prefix of it plus "_" and 8 hex
// digits of a hash of the whole name: stable across runs, and distinct names stay distinct.
CDC_API std::string fit_identifier(const std::string& name, std::size_t max_length);

}  // namespace cdc
