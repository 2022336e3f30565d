// Schema evolution from the change stream: what a source reports when a table's columns change,
// and the pure comparison that tells added, dropped, widened, renamed and incompatible columns
// apart. The session decides what to do with each (Config `ddl` policy); sources never touch the
// destination. Plain values and pure functions; thread-safe.
#pragma once

#include <cdc/export.h>
#include <cdc/position.h>
#include <cdc/schema.h>
#include <cdc/value.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cdc {

// What happened to a source table, as a change stream reports it.
enum class SchemaChangeKind : std::uint8_t {
  Altered,  // its columns changed (`after` is the whole table as described)
  Created,  // a table appeared at the source (`after.id` names it; the session describes it)
  Dropped,  // a table disappeared from the source (`after.id` names it)
  // (A rename is a Dropped of the old name and a Created of the new one, at the same position.
  // Sources that report these do so for every table of the source, whether the stream was asked
  // for it or not: the session filters them by its include patterns.)
};

CDC_API std::string_view to_string(SchemaChangeKind kind);

// A source table changed shape, appeared or disappeared. Carried by a ChangeEvent whose
// `schema_change` is set.
struct SchemaChange {
  SchemaChangeKind kind = SchemaChangeKind::Altered;
  TableSchema after;                           // the whole table as it is now (every column)
  std::map<std::string, std::string> renamed;  // old column name -> new one, where the log says so
  std::string statement;                       // the DDL text where the log has it; empty otherwise
  // The source position at which `after` was described (empty = the event's own position). When
  // the stream runs behind, `after` may already hold changes logged after this event; values the
  // session reads back from the source (backfills) are only applied once the stream has passed
  // this position, so that older row images replayed after it cannot overwrite them.
  Position observed_at;
  // Added columns: the value the DDL gave every existing row, where the source knows it exactly
  // (MariaDB: the statement's constant DEFAULT, or the implicit default of a NOT NULL column;
  // PostgreSQL: the column's stored "missing value"). An added column not listed here is
  // backfilled from the source.
  std::map<std::string, Value> fill;
  // Columns whose type changed but whose existing values the DDL provably left as they were
  // (MariaDB widening, which has no USING clause). Any other changed column is backfilled from
  // the source, since the log does not say whether the DDL rewrote its values.
  std::set<std::string> values_kept;
};

enum class ColumnChangeKind : std::uint8_t {
  Added,         // a new column
  Dropped,       // gone from the source; the target keeps it, nullable
  Widened,       // same type family, every old value still fits (int -> bigint, varchar(10) -> varchar(100))
  Renamed,       // new name, same place in the log's eyes (a type change is reported separately)
  Incompatible,  // narrowing or another type family
};

CDC_API std::string_view to_string(ColumnChangeKind kind);

struct ColumnChange {
  ColumnChangeKind kind = ColumnChangeKind::Added;
  std::string column;    // the column's name now (Dropped: its last name)
  std::string old_name;  // Renamed: the name before; empty otherwise
  Column before;         // the column before (empty for Added)
  Column after;          // the column now (empty for Dropped)
  std::string reason;    // Incompatible: why, e.g. "narrowing (int64 to int32)"
};

// Compares two descriptions of one table. `renamed` (old -> new) comes from the log; without it
// a column that disappears and one that appears are a drop and an add. Nullability and default
// changes are not reported. Order: renames, type changes, drops, adds (each in column order).
CDC_API std::vector<ColumnChange> diff_schemas(const TableSchema& before, const TableSchema& after,
                                               const std::map<std::string, std::string>& renamed = {});

// True when every value of `from` fits `to` unchanged (same family, no smaller): integers up in
// width (unsigned to a wider signed one too), float to double, decimal with no fewer integer
// or fraction digits, longer or unbounded strings/bytes/bits, more fractional seconds, enum/set
// members appended. Otherwise false with `why` ("narrowing (...)" or "type change (...)").
CDC_API bool type_widens(const LogicalType& from, const LogicalType& to, std::string* why = nullptr);

}  // namespace cdc
