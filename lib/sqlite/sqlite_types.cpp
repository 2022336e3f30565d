// SQLite declared types <-> LogicalType. SQLite has five storage classes and column affinity
// derived from the declared type text (https://www.sqlite.org/datatype3.html section 3.1);
// common type names (DATE, BOOLEAN, JSON, ...) carry more meaning than affinity, so they are
// recognised first, then the affinity rules decide.
#include "sqlite/sqlite_db.h"

#include <fmt/format.h>

#include <cctype>

namespace cdc::sqlite {

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// "VARCHAR(20)" -> base "VARCHAR", args {20}; "DECIMAL(10, 2)" -> {10, 2}.
void split_type(const std::string& t, std::string& base, std::vector<int>& args) {
  std::size_t open = t.find('(');
  base = trim(t.substr(0, open));
  if (open == std::string::npos) return;
  std::size_t close = t.find(')', open);
  std::string inner = t.substr(open + 1, close == std::string::npos ? std::string::npos : close - open - 1);
  std::size_t pos = 0;
  while (pos <= inner.size()) {
    std::size_t comma = inner.find(',', pos);
    std::string part = trim(inner.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    try {
      args.push_back(part.empty() ? -1 : std::stoi(part));
    } catch (...) {
      args.push_back(-1);
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
}

}  // namespace

LogicalType logical_type_from_declared(std::string_view declared) {
  LogicalType t;
  std::string full = upper(trim(std::string(declared)));
  if (full.empty()) return t;  // no type: BLOB affinity, anything goes
  std::string base;
  std::vector<int> args;
  split_type(full, base, args);
  auto arg = [&](std::size_t i) { return i < args.size() ? args[i] : -1; };

  if (base == "BOOLEAN" || base == "BOOL") {
    t.id = TypeId::Bool;
  } else if (base == "TINYINT") {
    t.id = TypeId::Int8;
  } else if (base == "SMALLINT" || base == "INT2") {
    t.id = TypeId::Int16;
  } else if (base == "MEDIUMINT") {
    t.id = TypeId::Int24;
  } else if (base == "DATE") {
    t.id = TypeId::Date;
  } else if (base == "DATETIME" || base == "TIMESTAMP" || base == "TIMESTAMP WITHOUT TIME ZONE") {
    t.id = TypeId::Timestamp;
    t.fsp = arg(0);
  } else if (base == "TIMESTAMPTZ" || base == "TIMESTAMP WITH TIME ZONE" || base == "DATETIMEOFFSET") {
    t.id = TypeId::TimestampTz;
    t.fsp = arg(0);
  } else if (base == "TIME") {
    t.id = TypeId::Time;
    t.fsp = arg(0);
  } else if (base == "JSON" || base == "JSONB") {
    t.id = TypeId::Json;
  } else if (base == "UUID" || base == "GUID") {
    t.id = TypeId::Uuid;
  } else if (base == "NUMERIC" || base == "DECIMAL") {
    t.id = TypeId::Decimal;
    t.precision = arg(0);
    t.scale = args.size() > 1 ? arg(1) : (args.empty() ? -1 : 0);
  } else if (base == "FLOAT" || base == "REAL" || base == "DOUBLE" || base == "DOUBLE PRECISION") {
    t.id = TypeId::Float64;
  } else if (base == "BLOB") {
    t.id = TypeId::Bytes;
  } else if (contains(full, "INT")) {  // affinity rule 1
    t.id = TypeId::Int64;
    t.is_unsigned = contains(full, "UNSIGNED");
  } else if (contains(full, "CHAR") || contains(full, "CLOB") || contains(full, "TEXT")) {  // rule 2
    t.id = TypeId::String;
    t.length = arg(0);
    t.fixed_length = (base == "CHAR" || base == "CHARACTER" || base == "NCHAR") && t.length >= 0;
  } else if (contains(full, "BLOB")) {  // rule 3
    t.id = TypeId::Bytes;
  } else if (contains(full, "REAL") || contains(full, "FLOA") || contains(full, "DOUB")) {  // rule 4
    t.id = TypeId::Float64;
  } else {  // rule 5: NUMERIC affinity
    t.id = TypeId::Decimal;
    t.precision = arg(0);
    t.scale = arg(1);
  }
  return t;
}

std::string declared_type_for(const LogicalType& t) {
  switch (t.id) {
    case TypeId::Bool: return "BOOLEAN";
    case TypeId::Int8: return t.is_unsigned ? "SMALLINT" : "TINYINT";
    case TypeId::Int16: return t.is_unsigned ? "INTEGER" : "SMALLINT";
    case TypeId::Int24:
    case TypeId::Int32: return "INTEGER";
    // Unsigned 64-bit values above 2^63-1 do not fit SQLite's integers; they are bound as text.
    case TypeId::Int64: return t.is_unsigned ? "UNSIGNED BIGINT" : "BIGINT";
    case TypeId::Float32:
    case TypeId::Float64: return "REAL";
    case TypeId::Decimal:
      if (t.precision >= 0) return t.scale >= 0 ? fmt::format("DECIMAL({},{})", t.precision, t.scale)
                                                : fmt::format("DECIMAL({})", t.precision);
      return "NUMERIC";
    case TypeId::String:
      if (t.length >= 0) return fmt::format("{}({})", t.fixed_length ? "CHAR" : "VARCHAR", t.length);
      return "TEXT";
    case TypeId::Bytes: return "BLOB";
    case TypeId::Date: return "DATE";
    case TypeId::Time: return "TIME";
    case TypeId::Timestamp: return "TIMESTAMP";
    case TypeId::TimestampTz: return "TIMESTAMPTZ";
    case TypeId::Json: return "JSON";
    case TypeId::Uuid: return "UUID";
    case TypeId::Interval:
    case TypeId::Enum:
    case TypeId::Set:
    case TypeId::Array: return "TEXT";
    case TypeId::Bit: return "BLOB";  // no affinity: values are stored as given
    case TypeId::Geometry: return "BLOB";  // EWKB (the type rules make the values bytes)
    case TypeId::Unknown: return "";
  }
  return "";
}

}  // namespace cdc::sqlite
