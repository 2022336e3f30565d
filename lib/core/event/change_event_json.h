// The change event every event destination sends (Kafka, Redis Streams, JSON lines): a
// Debezium-compatible JSON value and key (docs/events.md), so that consumers of Debezium's format
// (Kafka Connect sinks, Flink's debezium-json, Materialize) read it unchanged.
//   value: {"before": {...}|null, "after": {...}|null, "source": {...}, "op": "r|c|u|d|t", "ts_ms": N}
//   key:   the primary key columns as an object (a table without a key: the whole row)
// With `schemas` both are wrapped as {"schema": ..., "payload": ...}. Each column's JSON form is
// chosen once from its type, never from a value (see ColumnForm). Pure functions of their input
// apart from the clock the caller passes; an encoder is immutable once built and thread-safe.
#pragma once

#include <cdc/change_event.h>
#include <cdc/destination.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cdc::detail {

// How DECIMAL/NUMERIC columns (and BIGINT UNSIGNED) are written.
enum class DecimalHandling : std::uint8_t {
  String,  // exact digits as a JSON string (default): "1234.50"
  Double,  // a JSON number (rounded to a double by most readers)
};

struct EventOptions {
  bool schemas = false;  // wrap key and value as {"schema", "payload"} (Kafka Connect's JsonConverter)
  DecimalHandling decimal = DecimalHandling::String;
};

// The JSON form of one column, picked from its type.
enum class ColumnForm : std::uint8_t {
  Boolean,        // true/false
  Integer,        // a JSON number (signed integers, unsigned below 64 bits)
  BigUnsigned,    // BIGINT UNSIGNED: a string of digits (a double would round it), or a number under decimal_handling: double
  Float,          // a JSON number; NaN and infinities as the strings "NaN", "Infinity", "-Infinity"
  Decimal,        // a string of exact digits, or a number under decimal_handling: double
  Text,           // a JSON string (text, enum, set, uuid, interval, time, bit strings, unknown types)
  Base64,         // binary as standard base64
  Date,           // "2024-02-29"
  LocalTimestamp, // timestamp without zone: "2024-02-29T13:01:02.123456", no offset
  UtcTimestamp,   // timestamp with zone (and MariaDB TIMESTAMP, a UTC instant): "2024-02-29T12:01:02.123456Z"
  Json,           // the document itself (schemas: true: its text, as Debezium's io.debezium.data.Json)
  Array,          // PostgreSQL arrays: a JSON array of the elements' text forms
  Geometry,       // spatial: {"wkb": base64 of the WKB, "srid": n}, Debezium's io.debezium.data.geometry.Geometry
};

ColumnForm column_form(const Column& column, const std::string& source_connector);

// Where the events come from: the source block's constant part.
struct EventSource {
  std::string connector;  // "postgresql", "mysql", "sqlite" (the source's dialect)
  std::string name;       // the session name
  std::string database;   // source database (SQLite: the file's stem)
};

// One encoded event, ready for a transport.
struct EncodedEvent {
  TableId table;          // the source table (schema = PostgreSQL schema or MariaDB database)
  std::string stream;     // "<schema or database>.<table>": the topic / stream suffix
  char op = 'c';          // r c u d t
  std::string key;        // JSON text; empty for a truncate (no key)
  std::string value;      // JSON text
};

class EventEncoder {
 public:
  EventEncoder(EventOptions options, EventSource source);

  const EventOptions& options() const { return options_; }
  const EventSource& source() const { return source_; }
  // "<schema or database>.<table>" of a target table.
  std::string stream_name(const DestinationTable& table) const;

  // A snapshot row (op r).
  void encode_row(const DestinationTable& table, const Row& row, std::int64_t now_ms, std::vector<EncodedEvent>& out) const;
  // A change: insert -> c, update -> u (a change of key -> d of the old key, then c of the new),
  // delete -> d, truncate -> t.
  void encode_change(const DestinationTable& table, const ChangeEvent& change, std::int64_t now_ms,
                     std::vector<EncodedEvent>& out) const;
  // A batch of snapshot rows / changes of one table, in order (the table's layout is looked up
  // once for the batch).
  void encode_rows(const DestinationTable& table, const std::vector<Row>& rows, std::int64_t now_ms,
                   std::vector<EncodedEvent>& out) const;
  void encode_changes(const DestinationTable& table, const std::vector<ChangeEvent>& changes, std::int64_t now_ms,
                      std::vector<EncodedEvent>& out) const;
  // A truncate not read from the log (a fresh snapshot of the table starts).
  void encode_truncate(const DestinationTable& table, std::int64_t now_ms, std::vector<EncodedEvent>& out) const;

 private:
  struct Layout;
  const Layout& layout(const DestinationTable& table) const;
  void encode_change(const Layout& l, const DestinationTable& table, const ChangeEvent& change, std::int64_t now_ms,
                     std::vector<EncodedEvent>& out) const;
  void emit(const Layout& l, const TableId& source_table, char op, const Row* before, const Row* after,
            const std::vector<bool>* unchanged, const ChangeEvent* change, std::int64_t now_ms, std::vector<EncodedEvent>& out) const;

  EventOptions options_;
  EventSource source_;
  std::string source_head_;  // ,"source":{ up to its ts_ms: the same in every event
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<const Layout>> layouts_;  // by shape_signature + name
};

// Helpers shared with tests.
std::string base64_encode(const std::string& bytes);
// "2024-02-29 13:01:02.5+05:30" -> "2024-02-29T07:31:02.5Z"; text that is not a timestamp with an
// offset (PostgreSQL's 'infinity') is returned unchanged.
std::string utc_iso8601(const std::string& text);

}  // namespace cdc::detail
