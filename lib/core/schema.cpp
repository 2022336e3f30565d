#include <cdc/schema.h>

#include "core/geometry.h"

#include <cctype>

#include <fmt/format.h>

namespace cdc {

std::string_view to_string(TypeId id) {
  switch (id) {
    case TypeId::Bool: return "bool";
    case TypeId::Int8: return "int8";
    case TypeId::Int16: return "int16";
    case TypeId::Int24: return "int24";
    case TypeId::Int32: return "int32";
    case TypeId::Int64: return "int64";
    case TypeId::Float32: return "float32";
    case TypeId::Float64: return "float64";
    case TypeId::Decimal: return "decimal";
    case TypeId::String: return "string";
    case TypeId::Bytes: return "bytes";
    case TypeId::Date: return "date";
    case TypeId::Time: return "time";
    case TypeId::Timestamp: return "timestamp";
    case TypeId::TimestampTz: return "timestamptz";
    case TypeId::Interval: return "interval";
    case TypeId::Json: return "json";
    case TypeId::Uuid: return "uuid";
    case TypeId::Enum: return "enum";
    case TypeId::Set: return "set";
    case TypeId::Bit: return "bit";
    case TypeId::Array: return "array";
    case TypeId::Geometry: return "geometry";
    case TypeId::Unknown: return "unknown";
  }
  return "?";
}

ValueKind text_value_kind(TypeId id) {
  switch (id) {
    case TypeId::Date: return ValueKind::Date;
    case TypeId::Time: return ValueKind::Time;
    case TypeId::Timestamp: return ValueKind::Timestamp;
    case TypeId::TimestampTz: return ValueKind::TimestampTz;
    case TypeId::Json: return ValueKind::Json;
    case TypeId::Uuid: return ValueKind::Uuid;
    case TypeId::Decimal: return ValueKind::Decimal;
    default: return ValueKind::String;
  }
}

std::string LogicalType::to_string() const {
  std::string out;
  if (is_unsigned) out += "u";
  out += cdc::to_string(id);
  switch (id) {
    case TypeId::Decimal:
      if (precision >= 0) out += scale >= 0 ? fmt::format("({},{})", precision, scale) : fmt::format("({})", precision);
      break;
    case TypeId::String:
    case TypeId::Bytes:
    case TypeId::Bit:
      if (length >= 0) out += fmt::format("({}{})", fixed_length ? "fixed " : "", length);
      break;
    case TypeId::Time:
    case TypeId::Timestamp:
    case TypeId::TimestampTz:
      if (fsp >= 0) out += fmt::format("({})", fsp);
      break;
    case TypeId::Enum:
    case TypeId::Set: out += fmt::format("({})", fmt::join(members, ",")); break;
    case TypeId::Array: out += fmt::format("<{}>", cdc::to_string(element)); break;
    case TypeId::Geometry: {  // "geometry(pointz,4326)", as PostGIS's typmod says it
      std::string shape(detail::geometry_type_name(geometry % 1000));
      for (auto& ch : shape) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      shape += ((geometry / 1000) & 1) ? "z" : "";
      shape += ((geometry / 1000) & 2) ? "m" : "";
      if (geometry != 0 || srid >= 0) out += srid >= 0 ? fmt::format("({},{})", shape, srid) : fmt::format("({})", shape);
      break;
    }
    default: break;
  }
  return out;
}

bool LogicalType::operator==(const LogicalType& o) const {
  return id == o.id && is_unsigned == o.is_unsigned && length == o.length && precision == o.precision &&
         scale == o.scale && fsp == o.fsp && fixed_length == o.fixed_length && members == o.members &&
         element == o.element && geometry == o.geometry && srid == o.srid;
}

std::string TableId::to_string() const { return schema.empty() ? name : schema + "." + name; }

int TableSchema::index_of(std::string_view column) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == column) return static_cast<int>(i);
  return -1;
}

std::vector<int> TableSchema::key_indexes() const {
  std::vector<int> out;
  out.reserve(primary_key.size());
  for (const auto& k : primary_key) out.push_back(index_of(k));
  return out;
}

}  // namespace cdc

#include <cdc/change_event.h>

namespace cdc {

std::string_view to_string(ChangeOp op) {
  switch (op) {
    case ChangeOp::Insert: return "insert";
    case ChangeOp::Update: return "update";
    case ChangeOp::Delete: return "delete";
    case ChangeOp::Truncate: return "truncate";
  }
  return "?";
}

std::string_view to_string(ForeignKeyAction action) {
  switch (action) {
    case ForeignKeyAction::NoAction: return "no action";
    case ForeignKeyAction::Restrict: return "restrict";
    case ForeignKeyAction::Cascade: return "cascade";
    case ForeignKeyAction::SetNull: return "set null";
    case ForeignKeyAction::SetDefault: return "set default";
  }
  return "?";
}

}  // namespace cdc
