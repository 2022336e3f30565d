// MariaDB DDL as the binlog carries it (the text of QUERY events): a tokenizer, the statements
// that create, drop and rename tables, the column clauses of ALTER TABLE, the table an ALTER
// leaves behind, and the value an added column gives the rows that existed before it.
// Grammar: https://mariadb.com/kb/en/create-table/, /drop-table/, /rename-table/, /alter-table/;
// literals: https://mariadb.com/kb/en/string-literals/, /numeric-literals/.
// Only what the change stream needs is understood; anything else is reported as such (Unknown,
// Other, no value), never guessed. Pure functions of text; thread-safe.
#pragma once

#include <cdc/schema.h>
#include <cdc/schema_change.h>
#include <cdc/value.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cdc::mysql::ddl {

struct Token {
  enum class Kind : std::uint8_t {
    Word,    // a bare word: keyword or unquoted identifier
    Ident,   // a `quoted` identifier (or "quoted" under ANSI_QUOTES)
    String,  // a string literal: `text` holds its bytes, unescaped; adjacent literals are one token
    Number,  // a numeric literal as written, without sign ("12", "1.50", ".5", "2e-3")
    Punct,   // any other single character
  };
  Kind kind = Kind::Punct;
  std::string text;
  std::string prefix;  // String: the introducer written before it ("_utf8mb4", "N", "X", "B"), or ""

  // A Word equal to `word`, ignoring ASCII case.
  bool is(const char* word) const;
  bool punct(char c) const { return kind == Kind::Punct && text.size() == 1 && text[0] == c; }
  bool name() const { return kind == Kind::Word || kind == Kind::Ident; }
};

// How the statement's session read its text (from the QUERY event's sql_mode, when known).
struct TokenizeOptions {
  bool ansi_quotes = false;        // ANSI_QUOTES: "..." is an identifier
  bool backslash_escapes = true;   // NO_BACKSLASH_ESCAPES off: \n, \', \\ ... in string literals
};

// Options for a QUERY event's sql_mode (MariaDB's MODE_ANSI_QUOTES = 1 << 2 and
// MODE_NO_BACKSLASH_ESCAPES = 1 << 20).
TokenizeOptions options_for_sql_mode(std::uint64_t sql_mode);

// Comments are skipped, except MariaDB's executable comments /*! ... */ and /*M! ... */ (with an
// optional version number), whose text is read as part of the statement, as the server does.
std::vector<Token> tokenize(std::string_view sql, const TokenizeOptions& options = {});

struct TableName {
  std::string db;    // empty: the statement's default database
  std::string name;
};

// The value a DEFAULT clause names, when it is a constant.
struct Literal {
  enum class Kind : std::uint8_t { Null, Bool, Number, String };
  Kind kind = Kind::Null;
  std::string text;    // Number: as written with its sign ("-1.5"); String: the bytes; Bool: "1"/"0"
  std::string prefix;  // String: its introducer ("" when none)
};

// A column definition of CREATE/ALTER TABLE, as far as the value of existing rows goes.
struct ColumnDef {
  std::string type;  // lowercased type name, synonyms resolved ("int", "varchar", "double", "mediumtext")
  std::vector<Token> type_args;  // the tokens between the type's parentheses
  bool is_unsigned = false;
  std::string charset;           // CHARACTER SET as written (lowercased), or ""
  std::string collation;         // COLLATE as written (lowercased), or ""
  std::optional<bool> not_null;  // NOT NULL (true) or NULL (false) as written
  enum class Default : std::uint8_t { None, Literal, Other } default_kind = Default::None;
  Literal default_value;  // default_kind == Literal
  bool generated = false;       // AS (...) / GENERATED ALWAYS AS (...)
  bool auto_increment = false;  // AUTO_INCREMENT, SERIAL, SERIAL DEFAULT VALUE
  bool primary_key = false;     // PRIMARY KEY in the definition
  int srid = 0;                 // REF_SYSTEM_ID=n of a spatial column, 0 = none
};

enum class ClauseKind : std::uint8_t {
  AddColumn,
  DropColumn,
  ChangeColumn,   // CHANGE old new definition
  ModifyColumn,
  RenameColumn,   // RENAME COLUMN old TO new
  ColumnDefault,  // ALTER COLUMN ... SET/DROP DEFAULT, [IN]VISIBLE: no column added, dropped or retyped
  Key,            // indexes, foreign keys, checks, unique constraints
  PrimaryKey,     // ADD/DROP PRIMARY KEY
  RenameTable,    // RENAME [TO|AS] new_name
  ConvertCharset, // CONVERT TO CHARACTER SET: text columns change type
  Option,         // table options, partitioning, ALGORITHM/LOCK, FORCE, ...
  Unknown,        // something the parser does not know: its effect on columns is unknown
};

struct AlterClause {
  ClauseKind kind = ClauseKind::Unknown;
  std::string column;    // Add/Drop/Modify/ColumnDefault: the column; Change/RenameColumn: its old name
  std::string new_name;  // Change/RenameColumn
  ColumnDef def;         // Add/Change/Modify
  bool if_exists = false;      // IF EXISTS / IF NOT EXISTS
  bool first = false;          // FIRST
  std::string after;           // AFTER column
  TableName rename_to;         // RenameTable
};

struct Statement {
  enum class Kind : std::uint8_t { Other, CreateTable, DropTable, RenameTable, AlterTable };
  Kind kind = Kind::Other;
  bool temporary = false;      // CREATE/DROP TEMPORARY TABLE
  bool or_replace = false;     // CREATE OR REPLACE TABLE
  bool if_not_exists = false;  // CREATE TABLE IF NOT EXISTS
  std::vector<TableName> tables;  // Create, Alter: the table; Drop: each table
  std::vector<std::pair<TableName, TableName>> renames;  // RENAME TABLE a TO b, ...; ALTER TABLE a RENAME TO b
  std::vector<AlterClause> clauses;                      // AlterTable
};

Statement parse(std::string_view sql, const TokenizeOptions& options = {});

// Column renames an ALTER TABLE spells out (CHANGE a b ..., RENAME COLUMN a TO b): old -> new.
std::map<std::string, std::string> renames_of(const Statement& alter);

// A column as its definition in the statement makes it (the type mapping discovery uses); the
// character set, when the definition does not name it, is the table's and stays unknown here.
Column column_of_definition(const std::string& name, const ColumnDef& def);

// The table after `alter`, given the table before it (`known`) and the table as described now
// (`now`, null when it is gone). Columns the statement adds, changes or modifies take their
// definition from `now` (which may already hold later DDL), or from the statement where `now`
// no longer has them (dropped or renamed since); the others keep the one they had. nullopt when
// a clause's effect on columns is unknown (ClauseKind::Unknown): the caller then takes `now`.
std::optional<TableSchema> apply_alter(const TableSchema& known, const TableSchema* now, const Statement& alter);

// The value the rows that existed before an ALTER TABLE ADD COLUMN hold in the column, as the
// stream presents values of `column` (its type as described): the constant DEFAULT, NULL for a
// nullable column without one, or the implicit default of a NOT NULL column without one (0, '',
// the first ENUM member, zero dates). nullopt when it is not known exactly: expressions,
// CURRENT_TIMESTAMP, AUTO_INCREMENT, generated columns, TIMESTAMP (session time zone and
// explicit_defaults_for_timestamp decide), a type that no longer matches the definition (later
// DDL), literals that would be converted or truncated, and text outside ASCII unless it arrives
// in UTF-8 for a UTF-8 column. `client_collation`: the statement's character_set_client as a
// collation id (0 = unknown).
std::optional<Value> added_column_value(const ColumnDef& def, const Column& column, std::uint32_t client_collation);

// Columns among `changes` whose existing values an ALTER TABLE provably left as they were: the
// widenings (MariaDB has no USING clause), except those whose values do change in the process
// (FLOAT to DOUBLE shows the float's binary value, BINARY(n) pads to the new length, a new
// character set converts text).
std::set<std::string> values_kept(const std::vector<ColumnChange>& changes);

}  // namespace cdc::mysql::ddl
