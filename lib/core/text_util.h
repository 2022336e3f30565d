// Small text helpers shared by the core.
#pragma once

#include <cdc/schema.h>
#include <cdc/value.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cdc::detail {

// True when `s` is well-formed UTF-8 (lead bytes and continuation bytes in order).
inline bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 4;
    if (n == 4 || i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n + 1;
  }
  return true;
}

// Levenshtein distance, for "did you mean" hints.
inline std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The candidates within a small edit distance of `name`, nearest first, comma-separated.
inline std::string similar_names(const std::string& name, const std::vector<std::string>& candidates) {
  std::vector<std::pair<std::size_t, std::string>> near;
  for (const auto& c : candidates) {
    auto d = edit_distance(name, c);
    if (d <= std::max<std::size_t>(2, name.size() / 4)) near.emplace_back(d, c);
  }
  std::sort(near.begin(), near.end());
  std::string out;
  for (const auto& [d, c] : near) out += (out.empty() ? "" : ", ") + c;
  return out;
}

// ASCII case-insensitive equality.
inline bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// 64-bit FNV-1a: stable across runs and builds (names derived from it are persisted).
inline std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// "id=42, name='x'": the columns at `indexes` of a row, for messages.
inline std::string format_key(const std::vector<Column>& columns, const Row& row, const std::vector<int>& indexes) {
  std::string out;
  for (int i : indexes) {
    if (i < 0 || static_cast<std::size_t>(i) >= row.size() || static_cast<std::size_t>(i) >= columns.size()) continue;
    out += (out.empty() ? "" : ", ") + columns[static_cast<std::size_t>(i)].name + "=" +
           row[static_cast<std::size_t>(i)].to_display(40);
  }
  return out;
}

// "id=42" / "a=1, b='x'": a row's key (or its first columns without a key) for messages.
inline std::string row_key_text(const TableSchema& schema, const Row& row) {
  std::vector<int> idx = schema.key_indexes();
  if (idx.empty())
    for (int i = 0; i < static_cast<int>(std::min<std::size_t>(schema.columns.size(), 3)); ++i) idx.push_back(i);
  return format_key(schema.columns, row, idx);
}

// A finite double as the shortest decimal that reads back as the same double, without an
// exponent: 1.2345678901234567e+19 -> "12345678901234567168" (its exact integer), 1e-07 -> "0.0000001". What a
// number is as exact decimal digits (numeric targets, verify), where "{}" would give "1e-07".
inline std::string fixed_double(double d) {
  char buf[400];  // the longest fixed form of a double (5e-324) is 326 characters
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

}  // namespace cdc::detail
