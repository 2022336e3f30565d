#include "core/event/change_event_json.h"

#include "core/array_literal.h"
#include "core/calendar.h"

#include <cdc/error.h>
#include <cdc/version.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace cdc::detail {

namespace json = boost::json;

namespace {

bool starts_with(const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// "YYYY-MM-DD HH:MM:SS[.f]" -> "YYYY-MM-DDTHH:MM:SS[.f]"
std::string iso_local(const std::string& text) {
  std::string out = text;
  if (out.size() > 10 && out[10] == ' ') out[10] = 'T';
  return out;
}

// The JSON text of values, written straight into the event's text: the events are built and
// serialised once each, so a document tree per event would be most of the encoding's work. The
// output is what boost::json's serializer writes for the same values (its string escapes, its
// number forms), so that the two ways agree wherever a tree is still built (the rarer forms below).

void put_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

template <typename Int>
void put_int(std::string& out, Int v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void put_double(std::string& out, double d) { out += json::serialize(json::value(d)); }

// Kafka Connect's schema type of a form.
const char* schema_type(ColumnForm f, const Column& c, DecimalHandling d) {
  switch (f) {
    case ColumnForm::Boolean: return "boolean";
    case ColumnForm::Integer:
      switch (c.type.id) {
        case TypeId::Int8:
        case TypeId::Int16: return c.type.is_unsigned && c.type.id == TypeId::Int16 ? "int32" : "int16";
        case TypeId::Int24:
        case TypeId::Int32: return c.type.is_unsigned && c.type.id == TypeId::Int32 ? "int64" : "int32";
        default: return "int64";
      }
    case ColumnForm::BigUnsigned:
    case ColumnForm::Decimal: return d == DecimalHandling::Double ? "double" : "string";
    case ColumnForm::Float: return c.type.id == TypeId::Float32 ? "float" : "double";
    case ColumnForm::Base64: return "bytes";
    case ColumnForm::Array: return "array";
    case ColumnForm::Geometry: return "struct";
    default: return "string";
  }
}

// Debezium's semantic type name, where it has one for the form.
const char* schema_name(ColumnForm f) {
  switch (f) {
    case ColumnForm::Date: return "io.debezium.time.IsoDate";
    case ColumnForm::LocalTimestamp: return "io.debezium.time.IsoTimestamp";
    case ColumnForm::UtcTimestamp: return "io.debezium.time.ZonedTimestamp";
    case ColumnForm::Json: return "io.debezium.data.Json";
    case ColumnForm::Geometry: return "io.debezium.data.geometry.Geometry";
    default: return nullptr;
  }
}

[[noreturn]] void bad_value(const TableId& t, const Column& c, const Value& v, const std::string& why) {
  throw Error(ErrorKind::Conversion, fmt::format("{} {}", v.to_display(), why), false,
              fmt::format("column {}.{}", t.to_string(), c.name));
}

json::value array_json(const ArrayNode& n) {
  if (n.is_array) {
    json::array a;
    for (const auto& i : n.items) a.push_back(array_json(i));
    return a;
  }
  if (n.is_null) return nullptr;
  return json::string(n.text);
}

}  // namespace

std::string base64_encode(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string utc_iso8601(const std::string& text) {
  // YYYY-MM-DD[ T]HH:MM:SS[.f...](Z|+HH[:MM[:SS]]|-HH...)
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || (text[10] != ' ' && text[10] != 'T') || text[13] != ':' ||
      text[16] != ':')
    return text;
  std::string_view s(text);
  if (!digits(s.substr(0, 4)) || !digits(s.substr(5, 2)) || !digits(s.substr(8, 2)) || !digits(s.substr(11, 2)) ||
      !digits(s.substr(14, 2)) || !digits(s.substr(17, 2)))
    return text;
  std::size_t i = 19;
  std::string frac;
  if (i < s.size() && s[i] == '.') {
    std::size_t j = i + 1;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    frac = std::string(s.substr(i, j - i));
    i = j;
  }
  long offset_s = 0;
  if (i < s.size() && s[i] == 'Z') {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i] == '-' ? -1 : 1;
    ++i;
    long parts[3] = {0, 0, 0};
    for (int p = 0; p < 3 && i + 2 <= s.size() && digits(s.substr(i, 2)); ++p) {
      parts[p] = std::atol(std::string(s.substr(i, 2)).c_str());
      i += 2;
      if (i < s.size() && s[i] == ':') ++i;
    }
    offset_s = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  } else {
    return text;
  }
  if (i != s.size()) return text;  // "... BC" and other forms stay as the source wrote them
  auto num = [&](std::size_t pos, std::size_t len) { return std::atol(std::string(s.substr(pos, len)).c_str()); };
  std::int64_t days = days_from_civil(num(0, 4), static_cast<unsigned>(num(5, 2)), static_cast<unsigned>(num(8, 2)));
  std::int64_t secs = days * 86400 + num(11, 2) * 3600 + num(14, 2) * 60 + num(17, 2) - offset_s;
  std::int64_t d = floor_div(secs, 86400), rem = floor_mod(secs, 86400);
  std::int64_t y;
  unsigned m, dd;
  civil_from_days(d, y, m, dd);
  if (y < 0 || y > 9999) return text;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z", y, m, dd, rem / 3600, rem / 60 % 60, rem % 60, frac);
}

ColumnForm column_form(const Column& c, const std::string& connector) {
  switch (c.type.id) {
    case TypeId::Bool: return ColumnForm::Boolean;
    case TypeId::Int8:
    case TypeId::Int16:
    case TypeId::Int24:
    case TypeId::Int32: return ColumnForm::Integer;
    case TypeId::Int64: return c.type.is_unsigned ? ColumnForm::BigUnsigned : ColumnForm::Integer;
    case TypeId::Float32:
    case TypeId::Float64: return ColumnForm::Float;
    case TypeId::Decimal: return ColumnForm::Decimal;
    case TypeId::Bytes: return ColumnForm::Base64;
    case TypeId::Date: return ColumnForm::Date;
    case TypeId::TimestampTz: return ColumnForm::UtcTimestamp;
    case TypeId::Timestamp:
      // MariaDB's TIMESTAMP is an instant, read in UTC; DATETIME has no zone.
      return connector == "mysql" && starts_with(lower(c.source_type), "timestamp") ? ColumnForm::UtcTimestamp
                                                                                     : ColumnForm::LocalTimestamp;
    case TypeId::Json: return ColumnForm::Json;
    case TypeId::Array: return ColumnForm::Array;
    case TypeId::Geometry: return ColumnForm::Geometry;
    default: return ColumnForm::Text;
  }
}

struct EventEncoder::Layout {
  TableId id;  // target table
  std::string stream;
  std::vector<Column> columns;
  std::vector<ColumnForm> forms;
  std::vector<int> key;  // positions of the key columns; empty = whole row
  std::vector<std::string> names;  // "\"<column>\":", escaped
  std::string key_schema;    // JSON text (schemas: true)
  std::string value_schema;  // JSON text (schemas: true)
  mutable std::atomic<std::size_t> value_hint{0};  // the size of a recent event's value, to reserve
};

EventEncoder::EventEncoder(EventOptions options, EventSource source) : options_(options), source_(std::move(source)) {
  source_head_ = ",\"source\":{\"version\":";
  put_string(source_head_, cdc::version());
  source_head_ += ",\"connector\":";
  put_string(source_head_, source_.connector);
  source_head_ += ",\"name\":";
  put_string(source_head_, source_.name);
  source_head_ += ",\"ts_ms\":";
}

std::string EventEncoder::stream_name(const DestinationTable& table) const {
  const TableId& id = table.schema.id;
  return (id.schema.empty() ? source_.database : id.schema) + "." + id.name;
}

const EventEncoder::Layout& EventEncoder::layout(const DestinationTable& table) const {
  std::string sig = table.schema.id.to_string() + "\n" + shape_signature(table);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = layouts_.find(sig);
  if (it != layouts_.end()) return *it->second;
  auto l = std::make_shared<Layout>();
  l->id = table.schema.id;
  l->stream = stream_name(table);
  l->columns = table.schema.columns;
  // The soft-delete flag is the target's business, not the source's: a bus sends deletes as deletes.
  if (table.deletes.strategy == DeleteStrategy::Soft && !l->columns.empty() && l->columns.back().name == table.deletes.column)
    l->columns.pop_back();
  for (const auto& c : l->columns) {
    l->forms.push_back(column_form(c, source_.connector));
    std::string name;
    put_string(name, c.name);
    l->names.push_back(name + ':');
  }
  for (const auto& k : table.schema.primary_key) {
    int i = -1;
    for (std::size_t j = 0; j < l->columns.size(); ++j)
      if (l->columns[j].name == k) i = static_cast<int>(j);
    if (i < 0) throw Error(ErrorKind::Schema, fmt::format("table {}: key column {} is not among its columns", l->id.to_string(), k));
    l->key.push_back(i);
  }
  if (options_.schemas) {
    const std::string base = source_.name + "." + l->stream;
    auto fields = [&](const std::vector<int>& positions, bool all) {
      json::array a;
      for (std::size_t j = 0; j < l->columns.size(); ++j) {
        if (!all && std::find(positions.begin(), positions.end(), static_cast<int>(j)) == positions.end()) continue;
        const Column& c = l->columns[j];
        json::object f;
        f["type"] = schema_type(l->forms[j], c, options_.decimal);
        if (l->forms[j] == ColumnForm::Array) f["items"] = json::object{{"type", "string"}, {"optional", true}};
        if (l->forms[j] == ColumnForm::Geometry)
          f["fields"] = json::array{json::object{{"type", "bytes"}, {"optional", false}, {"field", "wkb"}},
                                    json::object{{"type", "int32"}, {"optional", true}, {"field", "srid"}}};
        f["optional"] = c.nullable;
        if (const char* n = schema_name(l->forms[j])) f["name"] = n;
        f["field"] = c.name;
        a.push_back(std::move(f));
      }
      return a;
    };
    json::object key{{"type", "struct"}, {"fields", fields(l->key, l->key.empty())}, {"optional", false}, {"name", base + ".Key"}};
    l->key_schema = json::serialize(key);
    json::object row{{"type", "struct"}, {"fields", fields({}, true)}, {"optional", true}, {"name", base + ".Value"}};
    json::array src_fields;
    auto sf = [&](const char* type, const char* name, bool optional) {
      src_fields.push_back(json::object{{"type", type}, {"optional", optional}, {"field", name}});
    };
    sf("string", "version", false);
    sf("string", "connector", false);
    sf("string", "name", false);
    sf("int64", "ts_ms", false);
    sf("string", "snapshot", true);
    sf("string", "db", false);
    sf("string", "schema", true);
    sf("string", "table", true);
    if (source_.connector == "postgresql") sf("int64", "lsn", true);
    if (source_.connector == "mysql") {
      sf("string", "file", true);
      sf("int64", "pos", true);
      sf("string", "gtid", true);
    }
    if (source_.connector == "sqlite") sf("int64", "seq", true);
    sf("string", "txId", true);
    json::object before = row, after = row;
    before["field"] = "before";
    after["field"] = "after";
    json::object src{{"type", "struct"}, {"fields", src_fields}, {"optional", false}, {"name", "cdc.source." + source_.connector}, {"field", "source"}};
    json::object value{{"type", "struct"},
                       {"fields", json::array{before, after, src, json::object{{"type", "string"}, {"optional", false}, {"field", "op"}},
                                              json::object{{"type", "int64"}, {"optional", true}, {"field", "ts_ms"}}}},
                       {"optional", false},
                       {"name", base + ".Envelope"}};
    l->value_schema = json::serialize(value);
  }
  auto& slot = layouts_[sig];
  slot = l;
  return *slot;
}

namespace {

json::value value_json(const TableId& t, const Column& c, ColumnForm f, const Value& v, const EventOptions& o) {
  if (v.is_null()) return nullptr;
  switch (f) {
    case ColumnForm::Boolean:
      switch (v.kind()) {
        case ValueKind::Bool: return v.as_bool();
        case ValueKind::Int: return v.as_int() != 0;
        case ValueKind::UInt: return v.as_uint() != 0;
        default: bad_value(t, c, v, "is not a boolean");
      }
    case ColumnForm::Integer:
      switch (v.kind()) {
        case ValueKind::Int: return v.as_int();
        case ValueKind::UInt: return v.as_uint();
        case ValueKind::Bool: return v.as_bool() ? 1 : 0;
        default: {
          // SQLite keeps any value in any column: digits in text are still the number.
          if (v.has_text()) {
            const std::string& s = v.text();
            char* end = nullptr;
            errno = 0;
            long long n = std::strtoll(s.c_str(), &end, 10);
            if (!s.empty() && end == s.c_str() + s.size() && errno == 0) return static_cast<std::int64_t>(n);
          }
          bad_value(t, c, v, "is not an integer");
        }
      }
    case ColumnForm::BigUnsigned:
    case ColumnForm::Decimal: {
      std::string text;
      switch (v.kind()) {
        case ValueKind::Int: text = std::to_string(v.as_int()); break;
        case ValueKind::UInt: text = std::to_string(v.as_uint()); break;
        case ValueKind::Double: text = fmt::format("{}", v.as_double()); break;
        default:
          if (!v.has_text()) bad_value(t, c, v, "is not a number");
          text = v.text();
      }
      if (o.decimal == DecimalHandling::String) return json::string(text);
      char* end = nullptr;
      double d = std::strtod(text.c_str(), &end);
      if (end != text.c_str() + text.size() || !std::isfinite(d)) return json::string(text);  // NaN: PostgreSQL numeric
      return d;
    }
    case ColumnForm::Float: {
      double d;
      switch (v.kind()) {
        case ValueKind::Double: d = v.as_double(); break;
        case ValueKind::Int: return v.as_int();
        case ValueKind::UInt: return v.as_uint();
        default: {
          if (!v.has_text()) bad_value(t, c, v, "is not a number");
          char* end = nullptr;
          d = std::strtod(v.text().c_str(), &end);
          if (end != v.text().c_str() + v.text().size()) bad_value(t, c, v, "is not a number");
        }
      }
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
      return d;
    }
    case ColumnForm::Base64:
      if (!v.has_text()) bad_value(t, c, v, "is not binary");
      return json::string(base64_encode(v.text()));
    case ColumnForm::LocalTimestamp:
      if (!v.has_text()) bad_value(t, c, v, "is not a timestamp");
      return json::string(iso_local(v.text()));
    case ColumnForm::UtcTimestamp: {
      if (!v.has_text()) bad_value(t, c, v, "is not a timestamp");
      // MariaDB TIMESTAMP arrives without an offset, in UTC.
      const std::string& s = v.text();
      if (v.kind() == ValueKind::Timestamp) return json::string(utc_iso8601(s + "+00:00"));
      return json::string(utc_iso8601(s));
    }
    case ColumnForm::Json: {
      if (!v.has_text()) bad_value(t, c, v, "is not JSON");
      if (o.schemas) return json::string(v.text());
      boost::system::error_code ec;
      json::value doc = json::parse(v.text(), ec);
      if (ec) bad_value(t, c, v, "is not a JSON document: " + ec.message());
      return doc;
    }
    case ColumnForm::Array: {
      if (!v.has_text()) bad_value(t, c, v, "is not an array");
      if (v.kind() == ValueKind::Json) {
        boost::system::error_code ec;
        json::value doc = json::parse(v.text(), ec);
        if (!ec) return doc;
      }
      return array_json(parse_array_literal(v.text()));
    }
    case ColumnForm::Geometry: {
      // The canonical form is the SRID (4 bytes little-endian) then WKB (value.h).
      if (v.kind() != ValueKind::Geometry || v.text().size() < 9) bad_value(t, c, v, "is not a geometry");
      const std::string& g = v.text();
      std::uint32_t srid = 0;
      for (int i = 3; i >= 0; --i) srid = (srid << 8) | static_cast<unsigned char>(g[static_cast<std::size_t>(i)]);
      return json::object{{"wkb", base64_encode(g.substr(4))}, {"srid", srid}};
    }
    default:
      switch (v.kind()) {
        case ValueKind::Int: return json::string(std::to_string(v.as_int()));
        case ValueKind::UInt: return json::string(std::to_string(v.as_uint()));
        case ValueKind::Double: return json::string(fmt::format("{}", v.as_double()));
        case ValueKind::Bool: return json::string(v.as_bool() ? "true" : "false");
        case ValueKind::Bytes: return json::string(base64_encode(v.text()));
        default: return json::string(v.text());
      }
  }
}

}  // namespace

namespace {

void put_value(std::string& out, const TableId& t, const Column& c, ColumnForm f, const Value& v, const EventOptions& o) {
  if (v.is_null()) {
    out += "null";
    return;
  }
  switch (f) {
    case ColumnForm::Integer:
      if (v.kind() == ValueKind::Int) return put_int(out, v.as_int());
      if (v.kind() == ValueKind::UInt) return put_int(out, v.as_uint());
      break;
    case ColumnForm::BigUnsigned:
    case ColumnForm::Decimal:
      if (o.decimal != DecimalHandling::String) break;
      switch (v.kind()) {
        case ValueKind::Int:
          out += '"';
          put_int(out, v.as_int());
          out += '"';
          return;
        case ValueKind::UInt:
          out += '"';
          put_int(out, v.as_uint());
          out += '"';
          return;
        case ValueKind::Double: break;
        default:
          if (v.has_text()) return put_string(out, v.text());
      }
      break;
    case ColumnForm::Float:
      if (v.kind() == ValueKind::Double && std::isfinite(v.as_double())) return put_double(out, v.as_double());
      break;
    case ColumnForm::Text:  // (and any form value_json() writes as text)
      switch (v.kind()) {
        case ValueKind::Int:
        case ValueKind::UInt:
        case ValueKind::Double:
        case ValueKind::Bool:
        case ValueKind::Bytes: break;
        default: return put_string(out, v.text());
      }
      break;
    case ColumnForm::Base64:
      if (v.has_text()) return put_string(out, base64_encode(v.text()));
      break;
    case ColumnForm::LocalTimestamp:
      if (v.has_text()) return put_string(out, iso_local(v.text()));
      break;
    case ColumnForm::UtcTimestamp:
      // MariaDB TIMESTAMP arrives without an offset, in UTC.
      if (v.has_text()) return put_string(out, utc_iso8601(v.kind() == ValueKind::Timestamp ? v.text() + "+00:00" : v.text()));
      break;
    case ColumnForm::Date:
      if (v.has_text()) return put_string(out, v.text());
      break;
    case ColumnForm::Boolean:
      if (v.kind() == ValueKind::Bool) {
        out += v.as_bool() ? "true" : "false";
        return;
      }
      break;
    default: break;
  }
  // The rarer forms (documents, arrays, geometries, values of an unexpected kind, errors) as a tree.
  out += json::serialize(value_json(t, c, f, v, o));
}

// "<file>:<offset>[#<gtid>]" -> its parts (MariaDB positions).
struct BinlogPosParts {
  std::string_view file, gtid;
  std::int64_t pos = 0;
  bool has_file = false, has_gtid = false;
};

BinlogPosParts binlog_parts(std::string_view pos) {
  BinlogPosParts p;
  const auto hash = pos.find('#');
  const auto colon = pos.rfind(':', hash);
  if (colon != std::string_view::npos) {
    p.has_file = true;
    p.file = pos.substr(0, colon);
    std::string_view digits_part = pos.substr(colon + 1, hash == std::string_view::npos ? std::string_view::npos : hash - colon - 1);
    std::from_chars(digits_part.data(), digits_part.data() + digits_part.size(), p.pos);
  }
  if (hash != std::string_view::npos) {
    p.has_gtid = true;
    p.gtid = pos.substr(hash + 1);
  }
  return p;
}

}  // namespace

void EventEncoder::emit(const Layout& l, const TableId& source_table, char op, const Row* before, const Row* after,
                        const std::vector<bool>* unchanged, const ChangeEvent* change, std::int64_t now_ms,
                        std::vector<EncodedEvent>& out) const {
  auto put_row = [&](std::string& s, const Row& row, const std::vector<bool>* skip) {
    s += '{';
    bool first = true;
    for (std::size_t i = 0; i < l.columns.size() && i < row.size(); ++i) {
      if (skip && i < skip->size() && (*skip)[i]) continue;  // not sent by the source: absent
      if (!first) s += ',';
      first = false;
      s += l.names[i];
      put_value(s, l.id, l.columns[i], l.forms[i], row[i], options_);
    }
    s += '}';
  };

  EncodedEvent ev;
  ev.table = source_table;
  ev.stream = l.stream;
  ev.op = op;
  std::string& v = ev.value;
  v.reserve(l.value_hint.load(std::memory_order_relaxed) + 64);
  if (options_.schemas) {
    v += "{\"schema\":";
    v += l.value_schema;
    v += ",\"payload\":";
  }
  v += "{\"before\":";
  if (before) put_row(v, *before, nullptr);
  else v += "null";
  v += ",\"after\":";
  if (after) put_row(v, *after, unchanged);
  else v += "null";
  v += source_head_;  // ,"source":{"version":...,"name":...,"ts_ms":
  put_int(v, change && change->commit_time_us > 0 ? change->commit_time_us / 1000 : now_ms);
  v += op == 'r' ? ",\"snapshot\":\"true\",\"db\":" : ",\"snapshot\":\"false\",\"db\":";
  if (source_.connector == "mysql") {
    put_string(v, source_table.schema.empty() ? source_.database : source_table.schema);
    v += ",\"schema\":null";
  } else {
    put_string(v, source_.database);
    v += ",\"schema\":";
    if (source_table.schema.empty()) v += "null";
    else put_string(v, source_table.schema);
  }
  v += ",\"table\":";
  put_string(v, source_table.name);
  static const std::string no_position;
  const std::string& pos = change ? change->position.str() : no_position;
  if (source_.connector == "postgresql") {
    // LSN "X/Y" as Debezium's number.
    v += ",\"lsn\":";
    auto slash = pos.find('/');
    if (slash != std::string::npos) {
      std::uint64_t hi = std::strtoull(pos.substr(0, slash).c_str(), nullptr, 16);
      std::uint64_t lo = std::strtoull(pos.substr(slash + 1).c_str(), nullptr, 16);
      put_int(v, static_cast<std::int64_t>((hi << 32) | lo));
    } else {
      v += "null";
    }
  } else if (source_.connector == "mysql") {
    BinlogPosParts p = binlog_parts(pos);
    v += ",\"file\":";
    if (p.has_file) {
      put_string(v, p.file);
      v += ",\"pos\":";
      put_int(v, p.pos);
    } else {
      v += "null,\"pos\":null";
    }
    v += ",\"gtid\":";
    if (p.has_gtid) put_string(v, p.gtid);
    else v += "null";
  } else if (source_.connector == "sqlite") {
    v += ",\"seq\":";
    if (digits(pos)) put_int(v, static_cast<std::int64_t>(std::strtoll(pos.c_str(), nullptr, 10)));
    else v += "null";
  }
  v += ",\"txId\":";
  if (change && !change->transaction_id.empty()) put_string(v, change->transaction_id);
  else v += "null";
  v += "},\"op\":\"";
  v += op;
  v += "\",\"ts_ms\":";
  put_int(v, now_ms);
  v += '}';
  if (options_.schemas) v += '}';

  if (op != 't') {
    const Row& k = op == 'd' ? *before : *after;
    std::string& key = ev.key;
    if (options_.schemas) {
      key += "{\"schema\":";
      key += l.key_schema;
      key += ",\"payload\":";
    }
    if (l.key.empty()) {
      put_row(key, k, nullptr);
    } else {
      key += '{';
      for (std::size_t n = 0; n < l.key.size(); ++n) {
        const auto i = static_cast<std::size_t>(l.key[n]);
        if (n > 0) key += ',';
        key += l.names[i];
        if (i < k.size()) put_value(key, l.id, l.columns[i], l.forms[i], k[i], options_);
        else key += "null";
      }
      key += '}';
    }
    if (options_.schemas) key += '}';
  }
  l.value_hint.store(v.size(), std::memory_order_relaxed);
  out.push_back(std::move(ev));
}

void EventEncoder::encode_rows(const DestinationTable& table, const std::vector<Row>& rows, std::int64_t now_ms,
                               std::vector<EncodedEvent>& out) const {
  if (rows.empty()) return;
  const Layout& l = layout(table);
  out.reserve(out.size() + rows.size());
  for (const auto& row : rows) emit(l, table.schema.id, 'r', nullptr, &row, nullptr, nullptr, now_ms, out);
}

void EventEncoder::encode_changes(const DestinationTable& table, const std::vector<ChangeEvent>& changes, std::int64_t now_ms,
                                  std::vector<EncodedEvent>& out) const {
  if (changes.empty()) return;
  const Layout& l = layout(table);
  out.reserve(out.size() + changes.size());
  for (const auto& ch : changes) encode_change(l, table, ch, now_ms, out);
}

void EventEncoder::encode_row(const DestinationTable& table, const Row& row, std::int64_t now_ms, std::vector<EncodedEvent>& out) const {
  const Layout& l = layout(table);
  emit(l, table.schema.id, 'r', nullptr, &row, nullptr, nullptr, now_ms, out);
}

void EventEncoder::encode_truncate(const DestinationTable& table, std::int64_t now_ms, std::vector<EncodedEvent>& out) const {
  const Layout& l = layout(table);
  emit(l, table.schema.id, 't', nullptr, nullptr, nullptr, nullptr, now_ms, out);
}

void EventEncoder::encode_change(const DestinationTable& table, const ChangeEvent& ch, std::int64_t now_ms,
                                 std::vector<EncodedEvent>& out) const {
  encode_change(layout(table), table, ch, now_ms, out);
}

void EventEncoder::encode_change(const Layout& l, const DestinationTable& table, const ChangeEvent& ch, std::int64_t now_ms,
                                 std::vector<EncodedEvent>& out) const {
  const TableId& src = ch.table.name.empty() ? table.schema.id : ch.table;
  const std::vector<bool>* unchanged = ch.unchanged.empty() ? nullptr : &ch.unchanged;
  switch (ch.op) {
    case ChangeOp::Insert: emit(l, src, ch.snapshot ? 'r' : 'c', nullptr, &ch.after, unchanged, &ch, now_ms, out); return;
    case ChangeOp::Delete: emit(l, src, 'd', &ch.before, nullptr, nullptr, &ch, now_ms, out); return;
    case ChangeOp::Truncate: emit(l, src, 't', nullptr, nullptr, nullptr, &ch, now_ms, out); return;
    case ChangeOp::Update: {
      // The key changed when some key column's old value was sent (non-NULL) and differs.
      // Without a key the whole row is the key: an update with an old image changes it.
      bool moved = l.key.empty() && !ch.before.empty();
      if (!ch.before.empty() && !l.key.empty())
        for (int i : l.key)
          if (i < static_cast<int>(ch.before.size()) && i < static_cast<int>(ch.after.size()) && !ch.before[i].is_null() &&
              ch.before[i] != ch.after[i])
            moved = true;
      if (moved) {
        emit(l, src, 'd', &ch.before, nullptr, nullptr, &ch, now_ms, out);
        emit(l, src, 'c', nullptr, &ch.after, unchanged, &ch, now_ms, out);
        return;
      }
      bool has_before = false;
      for (const auto& v : ch.before) has_before = has_before || !v.is_null();
      emit(l, src, 'u', has_before ? &ch.before : nullptr, &ch.after, unchanged, &ch, now_ms, out);
      return;
    }
  }
}

}  // namespace cdc::detail
