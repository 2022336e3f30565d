// Planning of schema objects (docs/schema-objects.md): a source table's indexes, foreign keys,
// CHECKs, identity, generated and default columns and comments become the target's, in target
// terms (names after renames and shortening, expressions in the target's dialect, references to
// the referenced table's target), as Config::schema allows. What cannot be carried is left out
// and listed with its reason in DestinationTable::not_carried(_foreign_keys). Used by plan.cpp;
// pure functions of their inputs.
#pragma once

#include <cdc/config.h>
#include <cdc/plan.h>

#include <string>
#include <vector>

namespace cdc::detail {

// The target table of source table `source` under `settings_target` (TableSettings::target,
// empty = the source's name), as plan_table names it.
TableId target_table_id(const TableId& source, const std::string& settings_target, const std::string& source_dialect,
                        const std::string& target_dialect, std::size_t max_len);

// Fills plan.target's schema objects from plan.source (columns and key already planned).
void plan_schema_objects(TablePlan& plan, const Config& config, const std::string& source_dialect,
                         const std::string& target_dialect, std::size_t max_len);

// Across every planned table: foreign keys whose referenced table or columns are not there, or
// not a key of it, are left out with the reason; object names that would collide where the
// target keeps them in one namespace (PostgreSQL indexes per schema, SQLite's per database,
// MariaDB's foreign keys per database) are made unique.
void plan_schema_objects_across(std::vector<TablePlan>& plans, const std::string& target_dialect, std::size_t max_len);

}  // namespace cdc::detail
