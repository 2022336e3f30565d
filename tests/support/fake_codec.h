// Helpers shared by the test fakes: an exact, reversible text form of a row of values (keys and
// chunk bounds), key order, and projection of a row from one column list to another by name.
// Pure functions.
#pragma once

#include "core/value_order.h"

#include <cdc/schema.h>
#include <cdc/value.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace cdc_test::fake {

// "i42,t6:616263,n": one token per value; decode_values(encode_values(r)) == r for every value.
inline std::string encode_values(const cdc::Row& row) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (i) out += ',';
    const cdc::Value& v = row[i];
    switch (v.kind()) {
      case cdc::ValueKind::Null: out += 'n'; break;
      case cdc::ValueKind::Bool: out += v.as_bool() ? "b1" : "b0"; break;
      case cdc::ValueKind::Int: out += 'i' + std::to_string(v.as_int()); break;
      case cdc::ValueKind::UInt: out += 'u' + std::to_string(v.as_uint()); break;
      case cdc::ValueKind::Double: {
        double d = v.as_double();
        std::uint64_t bits = 0;
        std::memcpy(&bits, &d, sizeof bits);
        out += 'd' + std::to_string(bits);
        break;
      }
      default:
        out += 't' + std::to_string(static_cast<int>(v.kind())) + ':';
        for (unsigned char c : v.text()) {
          out += hex[c >> 4];
          out += hex[c & 15];
        }
    }
  }
  return out;
}

inline cdc::Row decode_values(const std::string& text) {
  cdc::Row out;
  if (text.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    std::size_t comma = text.find(',', start);
    std::string t = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (t.empty()) throw std::invalid_argument("bad encoded values: " + text);
    switch (t[0]) {
      case 'n': out.push_back(cdc::Value::null()); break;
      case 'b': out.push_back(cdc::Value::boolean(t == "b1")); break;
      case 'i': out.push_back(cdc::Value::int64(std::stoll(t.substr(1)))); break;
      case 'u': out.push_back(cdc::Value::uint64(std::stoull(t.substr(1)))); break;
      case 'd': {
        std::uint64_t bits = std::stoull(t.substr(1));
        double d = 0;
        std::memcpy(&d, &bits, sizeof d);
        out.push_back(cdc::Value::float64(d));
        break;
      }
      case 't': {
        auto colon = t.find(':');
        auto kind = static_cast<cdc::ValueKind>(std::stoi(t.substr(1, colon - 1)));
        std::string bytes;
        for (std::size_t i = colon + 1; i + 1 < t.size(); i += 2) bytes += static_cast<char>(std::stoi(t.substr(i, 2), nullptr, 16));
        out.push_back(cdc::Value::of_text(kind, bytes));
        break;
      }
      default: throw std::invalid_argument("bad encoded values: " + text);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Lexicographic order of rows by value (cdc's watermark order per value).
inline int compare_rows(const cdc::Row& a, const cdc::Row& b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (int c = cdc::detail::compare_values(a[i], b[i])) return c;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

// The values of `row` (laid out as `from`) at the key columns of `schema`, or the whole row
// when the table has no key.
inline cdc::Row key_of(const cdc::TableSchema& schema, const cdc::Row& row) {
  auto idx = schema.key_indexes();
  if (idx.empty()) return row;
  cdc::Row key;
  for (int i : idx) key.push_back(static_cast<std::size_t>(i) < row.size() ? row[static_cast<std::size_t>(i)] : cdc::Value());
  return key;
}

// `row` (laid out as `from`) laid out as `to`, by column name. Columns of `to` missing from
// `from` (or from a short row) are null; `missing`, when given, marks them.
inline cdc::Row project(const cdc::Row& row, const std::vector<cdc::Column>& from, const std::vector<cdc::Column>& to,
                        std::vector<bool>* missing = nullptr) {
  cdc::Row out;
  out.reserve(to.size());
  if (missing) missing->assign(to.size(), false);
  for (std::size_t i = 0; i < to.size(); ++i) {
    std::size_t j = 0;
    while (j < from.size() && from[j].name != to[i].name) ++j;
    if (j < from.size() && j < row.size()) {
      out.push_back(row[j]);
    } else {
      out.push_back(cdc::Value());
      if (missing) (*missing)[i] = true;
    }
  }
  return out;
}

}  // namespace cdc_test::fake
