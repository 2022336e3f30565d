// Binlog event decoder: bytes in, events out. Knows nothing of sockets; the stream feeds it the
// raw events libmariadb's replication API receives, tests feed it recorded or handcrafted bytes.
// Layouts: https://mariadb.com/kb/en/replication-protocol/ (event header, FORMAT_DESCRIPTION,
// ROTATE, QUERY, XID, GTID, TABLE_MAP with optional metadata, ROWS v1/v2) and MySQL's
// libbinlogevents (binary__log_1_1Table__map__event, decimal and temporal storage formats).
// A Decoder holds the format description and the table-map cache; one thread uses it.
#pragma once

#include <cdc/value.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cdc::mysql::binlog {

// Wire values of the event types this decoder knows.
enum class EventType : std::uint8_t {
  Unknown = 0,
  Query = 2,
  Stop = 3,
  Rotate = 4,
  Intvar = 5,
  Rand = 13,
  UserVar = 14,
  FormatDescription = 15,
  Xid = 16,
  TableMap = 19,
  WriteRowsV1 = 23,
  UpdateRowsV1 = 24,
  DeleteRowsV1 = 25,
  Heartbeat = 27,
  RowsQuery = 29,
  WriteRows = 30,
  UpdateRows = 31,
  DeleteRows = 32,
  MysqlGtid = 33,
  MysqlAnonymousGtid = 34,
  MysqlPreviousGtids = 35,
  AnnotateRows = 160,
  BinlogCheckpoint = 161,
  Gtid = 162,
  GtidList = 163,
  StartEncryption = 164,
  QueryCompressed = 165,
  WriteRowsCompressedV1 = 166,
  UpdateRowsCompressedV1 = 167,
  DeleteRowsCompressedV1 = 168,
  WriteRowsCompressed = 169,
  UpdateRowsCompressed = 170,
  DeleteRowsCompressed = 171,
};

std::string_view to_string(EventType t);

// Column type codes as they appear in TABLE_MAP (enum_field_types).
enum ColumnType : std::uint8_t {
  kDecimal = 0, kTiny = 1, kShort = 2, kLong = 3, kFloat = 4, kDouble = 5, kNull = 6, kTimestamp = 7,
  kLongLong = 8, kInt24 = 9, kDate = 10, kTime = 11, kDateTime = 12, kYear = 13, kNewDate = 14,
  kVarchar = 15, kBit = 16, kTimestamp2 = 17, kDateTime2 = 18, kTime2 = 19, kJson = 245, kNewDecimal = 246,
  kEnum = 247, kSet = 248, kTinyBlob = 249, kMediumBlob = 250, kLongBlob = 251, kBlob = 252, kVarString = 253,
  kString = 254, kGeometry = 255,
};

struct EventHeader {
  std::uint32_t timestamp = 0;
  EventType type = EventType::Unknown;
  std::uint8_t raw_type = 0;
  std::uint32_t server_id = 0;
  std::uint32_t event_size = 0;
  std::uint32_t log_pos = 0;  // end of this event in its file (0 for artificial events)
  std::uint16_t flags = 0;
  bool artificial() const { return (flags & 0x20) != 0; }
};

struct ColumnDef {
  std::uint8_t type = 0;       // as in the types array (STRING for CHAR/BINARY/ENUM/SET)
  std::uint8_t real_type = 0;  // after resolving STRING's metadata (ENUM, SET, STRING)
  std::uint32_t meta = 0;      // type metadata (see decode_value)
  std::uint32_t max_length = 0;  // STRING/ENUM/SET: bytes of the value
  bool nullable = true;
  bool is_unsigned = false;
  std::uint32_t collation = 0;  // character columns: collation id (63 = binary)
  std::string name;             // FULL metadata; empty otherwise
  std::vector<std::string> members;  // ENUM/SET labels
};

struct TableMap {
  std::uint64_t table_id = 0;
  std::string schema;
  std::string table;
  std::vector<ColumnDef> columns;
  bool has_names = false;
  bool skip_rows = false;  // the decoder's table filter refused it: its rows events carry no rows
};

struct RowsEvent {
  enum class Kind { Write, Update, Delete } kind = Kind::Write;
  std::uint64_t table_id = 0;
  std::shared_ptr<const TableMap> table;  // the map in force (nullptr when unknown)
  std::uint16_t flags = 0;
  std::vector<bool> present;        // columns in the (before) image
  std::vector<bool> present_after;  // UPDATE: columns in the after image
  // Rows in table-map column order; absent columns are Null. UPDATE: pairs (before, after).
  std::vector<Row> rows;
};

struct Event {
  EventHeader header;
  // ROTATE
  std::string next_file;
  std::uint64_t next_position = 0;
  // FORMAT_DESCRIPTION
  std::string server_version;
  bool checksums = false;
  // QUERY
  std::string schema;
  std::string sql;
  // QUERY status variables (https://mariadb.com/kb/en/query_event/): the session's sql_mode
  // (Q_SQL_MODE_CODE) and character_set_client as a collation id (Q_CHARSET_CODE), 0 when absent.
  std::uint64_t sql_mode = 0;
  bool has_sql_mode = false;
  std::uint32_t client_collation = 0;
  // XID
  std::uint64_t xid = 0;
  // GTID (MariaDB): domain-server-sequence
  std::uint32_t gtid_domain = 0;
  std::uint64_t gtid_sequence = 0;
  bool gtid_standalone = false;  // no BEGIN/COMMIT around it (DDL)
  std::string gtid() const;
  // TABLE_MAP
  std::shared_ptr<const TableMap> table_map;
  // WRITE/UPDATE/DELETE_ROWS
  RowsEvent rows;
  // HEARTBEAT: file the server is at (the header's log_pos is its position)
  std::string heartbeat_file;
};

// Standard CRC-32 (as zlib's crc32), used for binlog event checksums.
std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t crc = 0);

// Converts text in the charset of MariaDB collation `collation` to UTF-8 (latin1 is cp1252, as
// MariaDB defines it). Returns false for charsets it does not know.
bool to_utf8(std::uint32_t collation, std::string_view in, std::string& out);

class Decoder {
 public:
  // `checksums`: whether events carry a CRC32 before the first FORMAT_DESCRIPTION says so
  // (the server's @@binlog_checksum when the replica announced checksum support).
  explicit Decoder(bool checksums = true) : checksums_(checksums) {}

  // Decodes one whole event (19-byte header, body, and a CRC32 when checksums are on).
  // Throws cdc::Error(Protocol) for malformed bytes and checksum mismatches.
  Event decode(const std::uint8_t* data, std::size_t size);
  Event decode(std::string_view bytes) {
    return decode(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }

  bool checksums() const { return checksums_; }
  std::shared_ptr<const TableMap> table(std::uint64_t table_id) const;

  // Tables whose rows are wanted (by schema and table name), asked once per table map: the rows
  // events of the others are checked (checksum, table map) but their rows are not decoded, and
  // arrive with `rows` empty. A binlog holds every database's changes; most are not a stream's.
  // Without a filter every row is decoded.
  void set_table_filter(std::function<bool(const std::string& schema, const std::string& table)> wanted) {
    wanted_ = std::move(wanted);
  }

 private:
  void decode_table_map(Event& e, const std::uint8_t* p, std::size_t n);
  void decode_rows(Event& e, const std::uint8_t* p, std::size_t n);

  bool checksums_;
  std::uint8_t post_header_len_[256] = {};
  bool have_fde_ = false;
  std::map<std::uint64_t, std::shared_ptr<const TableMap>> tables_;
  std::map<std::uint64_t, std::string> raw_maps_;  // body bytes each map was parsed from
  std::function<bool(const std::string&, const std::string&)> wanted_;
};

// Decodes one column value at `p` (at most `n` bytes) into `out`; returns the bytes used.
// Exposed for tests of single types.
std::size_t decode_value(const ColumnDef& col, const std::uint8_t* p, std::size_t n, Value& out);

// Binary DECIMAL (precision, scale) -> text with exactly `scale` fraction digits; bytes used.
std::size_t decode_decimal(const std::uint8_t* p, std::size_t n, int precision, int scale, std::string& out);

}  // namespace cdc::mysql::binlog
