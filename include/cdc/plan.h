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

#include <cstdint>
#include <string>
#include <vector>

namespace cdc {

struct TablePlan {
  std::string key;               // the table's key in Config::tables ("orders" or "main.orders"), or its name
  TableSchema source;            // as discovered
  TableSchema read;              // projection read from the source (key columns included)
  DestinationTable target;       // mapped schema at the destination
  TableSettings settings;        // effective settings (defaults merged; parallel_chunks and chunk_rows resolved to numbers)
  TableMode mode = TableMode::Replicate;
  std::vector<int> target_from_read;  // for each target column, its index in `read` (-1 = generated)
  // For each column of `read`: how its values convert (nullptr = unchanged), and the rule used.
  std::vector<std::shared_ptr<const ValueConverter>> converters;
  std::vector<std::string> rules;

  // Values the type rules changed so that the target cannot tell the original (zero dates that
  // became NULL), summed over `converters` since they were made: ValueConverter::values_changed.
  CDC_API std::int64_t values_changed() const;
};

// True when `text` matches the glob `pattern` (`*`, `?`, `[abc]`), case-sensitive.
CDC_API bool glob_match(const std::string& pattern, const std::string& text);

// Whether a table is selected by include/exclude patterns; patterns match "schema.name" and "name".
CDC_API bool table_selected(const Config& config, const TableId& table);

// Whether a discovered table or view takes part: include/exclude select it (table_selected), and
// a view is taken only with Config::views, or when it is named: it has an entry in Config::tables,
// or an include pattern without wildcards is its name.
CDC_API bool discovered_selected(const Config& config, const TableSchema& table);

// Discovers and plans every selected table (views as discovered_selected() says), largest first, with its schema objects in target
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

// What parallel_chunks and chunk_rows set to auto (kAuto) become for a table of about `rows` rows
// and `bytes` bytes (-1 = unknown) on a machine with `cores` hardware threads (0 = unknown):
//  - parallel_chunks: one reader for a table of less than ~100,000 rows and ~32 MB (a second of
//    work or so, where more connections cost more than they save), else one per core, at most 8
//    (each is a connection at the source and one at the destination);
//  - chunk_rows: about four chunks per reader, so that a reader that finishes early takes another
//    chunk instead of idling while the last one runs, each between 50,000 and 1,000,000 rows and at
//    most ~128 MB: a few seconds of work, which is also what an interrupted copy reads again.
// A `parallel_chunks` given (> 0) is kept and chunk_rows chosen for it. Unknown sizes get one
// reader per core and 250,000-row chunks. plan_table() applies it with
// std::thread::hardware_concurrency().
struct AutoChunking {
  int parallel_chunks = 1;
  std::int64_t chunk_rows = 250000;
};
CDC_API AutoChunking auto_chunking(std::int64_t rows, std::int64_t bytes, unsigned cores, int parallel_chunks = kAuto);

// `name` if it fits `max_length` bytes (0 = no limit), else a prefix of it plus "_" and 8 hex
// digits of a hash of the whole name: stable across runs, and distinct names stay distinct.
CDC_API std::string fit_identifier(const std::string& name, std::size_t max_length);

}  // namespace cdc
