// Rebuilds tables from change events (docs/events.md) the way a consumer would: snapshot reads,
// creates and updates upsert the row by key (columns absent from `after` keep their value), deletes
// remove it, truncates empty the table; a table without a key is a multiset of rows (a delete or
// update removes one row equal to `before`). Used by the event destination tests to check that
// replaying a table's events in order gives the source table back.
#pragma once

#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace cdc_test {

class EventReplay {
 public:
  // `keys`: table name -> key columns (tables not listed have no key).
  explicit EventReplay(std::map<std::string, std::vector<std::string>> keys) : keys_(std::move(keys)) {}

  // One change event value (payload only, or {"schema", "payload"}).
  void apply(const std::string& value_text) {
    boost::json::value v = boost::json::parse(value_text);
    if (v.as_object().contains("payload")) v = v.at("payload");
    const auto& o = v.as_object();
    const std::string table(o.at("source").at("table").as_string());
    const std::string op(o.at("op").as_string());
    ++ops_[op];
    auto kit = keys_.find(table);
    if (op == "t") {
      keyed_[table].clear();
      keyless_[table].clear();
      return;
    }
    if (kit == keys_.end()) {
      auto& rows = keyless_[table];
      if (op == "d" || op == "u") {
        auto it = std::find(rows.begin(), rows.end(), o.at("before"));
        if (it == rows.end()) throw std::runtime_error("table " + table + ": no row equal to " + boost::json::serialize(o.at("before")));
        rows.erase(it);
      }
      if (op != "d") rows.push_back(o.at("after"));
      return;
    }
    auto& rows = keyed_[table];
    if (op == "d") {
      rows.erase(key_of(kit->second, o.at("before").as_object()));
      return;
    }
    const auto& after = o.at("after").as_object();
    auto& row = rows[key_of(kit->second, after)];
    if (!row.is_object()) row = boost::json::object();
    for (const auto& [k, val] : after) row.as_object()[k] = val;
  }

  // The rebuilt rows of a table as sorted JSON texts.
  std::vector<std::string> rows(const std::string& table) const {
    std::vector<std::string> out;
    if (auto it = keyed_.find(table); it != keyed_.end())
      for (const auto& [k, r] : it->second) out.push_back(canonical(r));
    if (auto it = keyless_.find(table); it != keyless_.end())
      for (const auto& r : it->second) out.push_back(canonical(r));
    std::sort(out.begin(), out.end());
    return out;
  }
  int count(const std::string& op) const {
    auto it = ops_.find(op);
    return it == ops_.end() ? 0 : it->second;
  }

  // An object's text with its members sorted by name.
  static std::string canonical(const boost::json::value& v) {
    if (!v.is_object()) return boost::json::serialize(v);
    std::map<std::string, std::string> m;
    for (const auto& [k, val] : v.as_object()) m[std::string(k)] = canonical(val);
    std::string out = "{";
    for (const auto& [k, val] : m) out += (out.size() > 1 ? "," : "") + boost::json::serialize(boost::json::string(k)) + ":" + val;
    return out + "}";
  }

 private:
  static std::string key_of(const std::vector<std::string>& key, const boost::json::object& row) {
    std::string out;
    for (const auto& k : key) out += boost::json::serialize(row.at(k)) + "\x1f";
    return out;
  }

  std::map<std::string, std::vector<std::string>> keys_;
  std::map<std::string, std::map<std::string, boost::json::value>> keyed_;
  std::map<std::string, std::vector<boost::json::value>> keyless_;
  std::map<std::string, int> ops_;
};

}  // namespace cdc_test
