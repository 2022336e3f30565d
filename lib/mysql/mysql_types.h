// MariaDB/MySQL types <-> cdc's LogicalType and Value, in one place: discovery
// (information_schema columns -> LogicalType), snapshot values (text protocol -> Value), value
// literals for the destination (Value -> driver-escaped SQL literal) and DDL rendering.
// The binlog decoder produces the same Value kinds for the same column types, so a row reads
// identically through the snapshot and through the stream:
//   signed integers and YEAR -> Int; unsigned integers and BIT -> UInt; FLOAT -> Double holding
//   the shortest decimal that round-trips the float; DECIMAL -> Decimal text at the column's
//   scale; DATE/DATETIME/TIMESTAMP/TIME -> text as the server prints it (zero dates kept,
//   TIMESTAMP in UTC); CHAR/TEXT/ENUM/SET -> String (UTF-8); BINARY/BLOB -> Bytes; JSON -> Json;
//   GEOMETRY and its subtypes -> Geometry (the stored SRID + WKB, checked and made canonical).
#pragma once

#include <cdc/schema.h>
#include <cdc/value.h>

#include <string>
#include <string_view>

namespace cdc::mysql {

class Conn;

// One row of information_schema.COLUMNS (the fields that matter).
struct ColumnInfo {
  std::string name;
  std::string data_type;    // "int", "varchar", ...
  std::string column_type;  // "int(10) unsigned", "enum('a','b')"
  std::int64_t char_length = -1;
  std::int64_t numeric_precision = -1;
  std::int64_t numeric_scale = -1;
  std::int64_t datetime_precision = -1;
  std::string charset;
  std::string collation;
  bool nullable = true;
  bool is_json = false;  // MariaDB: LONGTEXT with CHECK (json_valid(col))
  int srid = 0;          // spatial columns: REF_SYSTEM_ID (information_schema.GEOMETRY_COLUMNS), 0 = none
};

// The WKB type code of a MariaDB spatial type name ("point" -> 1, "geometry" -> 0); -1 otherwise.
int spatial_type_code(std::string_view data_type);

LogicalType logical_type_of(const ColumnInfo& c);
// The column's type as DDL in MariaDB terms, including charset/collation for text columns.
std::string native_type_of(const ColumnInfo& c);

// 'a','b','it''s' -> {"a", "b", "it's"} (from COLUMN_TYPE "enum(...)"/"set(...)").
std::vector<std::string> parse_members(std::string_view column_type);

// FLOAT values travel as the double nearest to the float's shortest round-trip decimal, so the
// text protocol ("3.14") and the binlog (0x4048f5c3) agree.
double canonical_float(float f);

// Text-protocol value of a column (`binary` = the field has the binary charset) -> Value.
Value value_from_text(const LogicalType& t, std::string_view text);

// Appends `v` as an SQL literal for a column of type `target` (escaped by the driver).
// Throws cdc::Error(Conversion) for values MariaDB cannot store (NaN, infinities).
void append_literal(const Conn& conn, std::string& out, const Value& v, const Column& target);

// How LOAD DATA takes a column's field (the destination's bulk path): Text as the field is;
// Hex through UNHEX (binary strings and spatial values, which a text field would pass through
// the file's character set); Bits through CAST(... AS UNSIGNED) (a BIT column stores a text
// field's characters, not the number they spell).
enum class LoadForm { Text, Hex, Bits };
LoadForm load_form(const Column& target);
// Appends `v` as one LOAD DATA field (tab-separated, backslash-escaped, \N for NULL) of a
// column taken in `form`: the value append_literal would write. False, with `out` partly
// written, for a value with no such field (a non-finite double, raw bytes for a text column):
// the caller writes that row with append_literal instead.
bool append_load_field(std::string& out, const Value& v, const Column& target, LoadForm form);
// `bytes` as upper-case hex digits, two per byte, written at `out`.
void write_hex(char* out, std::string_view bytes);

// DDL type for a column: `source_type` verbatim when set (same dialect), else the LogicalType in
// MariaDB terms. `key_chars` > 0 marks a key column: unbounded text becomes VARCHAR(key_chars)
// with a binary collation, so the key fits the index and stays case-sensitive.
std::string render_column_type(const Column& c, int key_chars);

}  // namespace cdc::mysql
