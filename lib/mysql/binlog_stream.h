// The MariaDB binlog change stream (libmariadb's replication API as transport, our decoder for
// events and rows) and binlog positions. A position is "file:offset" text where offset is the end
// of the last event delivered, optionally followed by "#" and the MariaDB GTID state at that
// point ("binlog.000003:4567#0-1-55,1-2-9"); positions order by the file's numeric suffix, then
// offset. The GTID state lets a stream resume when its file is gone from the server.
#pragma once

#include "mysql/mysql_conn.h"

#include <cdc/source.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cdc::mysql {

struct BinlogPos {
  std::string file;
  std::uint64_t offset = 0;
  std::string gtid;  // MariaDB GTID state (domain-server-sequence list), may be empty
  std::string to_string() const { return file + ":" + std::to_string(offset) + (gtid.empty() ? "" : "#" + gtid); }
};

// Throws cdc::Error(State) for text that is not "file:offset".
BinlogPos parse_position(const std::string& text);
int compare_binlog_positions(const Position& a, const Position& b);

// Checks log_bin, binlog_format, binlog_row_image, binlog_row_metadata and the privilege to read
// the binlog; throws cdc::Error(Config) saying which setting to change.
void check_binlog_settings(Conn& conn);

// A table as the server describes it now, and the binlog position read right after (every DDL
// the description reflects is at or before it).
struct DescribedTable {
  std::optional<TableSchema> schema;  // none: the table does not exist (any more)
  Position observed_at;
};

// `describe` gives a table as the server has it now; with it, an ALTER TABLE of a table whose
// StreamTable::source is given is reported as a schema change event: the table after that one
// statement (the columns it touches as described now), with renames, the constant values of
// added columns and the widenings that kept values (ddl_parse.h). CREATE, DROP and RENAME TABLE
// of tables of the URL's database are reported as Created/Dropped events whatever the stream
// was asked for (a rename is a drop and a create).
std::unique_ptr<ChangeStream> open_binlog_stream(const ConnParams& params, const std::vector<StreamTable>& tables,
                                                 const Position& from,
                                                 std::function<DescribedTable(const TableId&)> describe = {});

// Column renames an ALTER TABLE statement spells out (RENAME COLUMN a TO b, CHANGE [COLUMN] a b
// ...): old name -> new name. Pure; for the stream and its tests.
std::map<std::string, std::string> renamed_columns(const std::string& alter_sql);

}  // namespace cdc::mysql
