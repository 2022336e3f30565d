// verify: row counts and order-independent checksums of each table on both sides.
//
// Every row is hashed from a canonical encoding of its compared columns (numbers by value, text
// and bytes by content, NULL distinct from ''), and the hashes are summed: the sum does not
// depend on row order. Rows also fall into 256 buckets by key hash; when the sums differ, only
// the differing buckets are read again, key by key, to name a few differing keys.
#include "core/geometry.h"
#include "core/logging.h"
#include "core/text_util.h"

#include <cdc/error.h>
#include <cdc/plan.h>
#include <cdc/registry.h>
#include <cdc/verify.h>

#include <fmt/format.h>
#define XXH_INLINE_ALL  // header-only use: no link dependency
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace cdc {

namespace {

constexpr std::size_t kBuckets = 256;

// Canonical text of a decimal: no leading '+', no trailing fractional zeros, "-0" -> "0".
std::string canonical_decimal(const std::string& text) {
  std::string s = text;
  if (!s.empty() && s[0] == '+') s.erase(0, 1);
  if (s.find('.') != std::string::npos && s.find_first_of("eE") == std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0" || s.empty()) s = "0";
  return s;
}

// Temporal text without trailing fractional zeros: "10:00:00.120000" and "10:00:00.12" are one
// value printed by two databases.
std::string canonical_temporal(const std::string& s) {
  auto dot = s.find('.');
  if (dot == std::string::npos) return s;
  std::size_t end = dot + 1;
  while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
  std::size_t last = end;
  while (last > dot + 1 && s[last - 1] == '0') --last;
  if (last == dot + 1) last = dot;
  return s.substr(0, last) + s.substr(end);
}

void encode(const Value& v, std::string& out) {
  switch (v.kind()) {
    case ValueKind::Null: out += '\x00'; return;
    case ValueKind::Bool: out += 'n'; out += v.as_bool() ? '1' : '0'; break;
    case ValueKind::Int: out += 'n'; out += std::to_string(v.as_int()); break;
    case ValueKind::UInt: out += 'n'; out += std::to_string(v.as_uint()); break;
    case ValueKind::Decimal: out += 'n'; out += canonical_decimal(v.text()); break;
    case ValueKind::Double: {
      // A finite double compares as the decimal it is (its shortest exact digits), so a DECIMAL
      // stored as REAL by SQLite equals the same number held exactly elsewhere.
      const double d = v.as_double();
      if (std::isfinite(d)) {
        out += 'n';
        out += canonical_decimal(detail::fixed_double(d));
      } else {
        out += 'f';
        out += fmt::format("{}", d);
      }
      break;
    }
    case ValueKind::Bytes: out += 'b'; out += v.text(); break;
    // As the EWKB bytes a target without a geometry type stores (bytea, BLOB), so a geometry
    // compares equal to its copy there, and to the same shape and SRID read from any database.
    case ValueKind::Geometry: out += 'b'; out += detail::geometry_to_ewkb(v.text()); break;
    case ValueKind::Time:
    case ValueKind::Timestamp:
    case ValueKind::TimestampTz: out += 's'; out += canonical_temporal(v.text()); break;
    default: out += 's'; out += v.text(); break;
  }
  out += '\x1f';
  out += std::to_string(out.size());  // length-delimits the field so ("a","bc") != ("ab","c")
  out += '\x1e';
}

struct Side {
  std::int64_t rows = 0;
  std::uint64_t sum_a = 0, sum_b = 0;
  std::array<std::uint64_t, kBuckets> buckets{};
};

struct Layout {
  TableSchema schema;          // columns to read on this side
  std::vector<int> key;        // indexes of key columns in `schema` (all columns when no key)
  std::vector<int> compared;   // indexes of compared columns in `schema`, in pairing order
  int soft_delete = -1;        // index of the soft-delete flag (rows with it true are skipped)
  std::string where;           // the copy's filter (source side)
  // Source side with a config: each compared column's value converter (as the copy applies it),
  // so that a source row is compared with what it became at the target.
  std::vector<std::shared_ptr<const ValueConverter>> converters;
  // Per compared column: trailing spaces are padding, not data (see pads_char), and are dropped
  // before hashing. The same on both sides of a pair.
  std::vector<bool> unpadded;
};

// CHAR(n) in PostgreSQL and MariaDB: trailing spaces are padding, not part of the value.
// PostgreSQL pads a character(n) to n and ignores trailing spaces when comparing; MariaDB strips
// them when a CHAR is read (without PAD_CHAR_TO_FULL_LENGTH). So 'ab' copied from a PostgreSQL
// character(5) reads 'ab   ' at the source and 'ab' at a MariaDB target: one value by the rules of
// both. SQLite has no CHAR semantics: there every space is data.
bool pads_char(const std::string& dialect, const Column& c) {
  return (dialect == "postgresql" || dialect == "mysql") && c.type.id == TypeId::String && c.type.fixed_length;
}

// Hashes a value, without its trailing spaces when the column pair compares as CHAR.
void encode_column(const Value& v, bool unpadded, std::string& out) {
  if (unpadded && v.kind() == ValueKind::String) {
    const std::string& s = v.text();
    std::size_t end = s.find_last_not_of(' ');
    encode(Value::string(s.substr(0, end == std::string::npos ? 0 : end + 1)), out);
    return;
  }
  encode(v, out);
}



bool truthy(const Value& v) {
  switch (v.kind()) {
    case ValueKind::Bool: return v.as_bool();
    case ValueKind::Int: return v.as_int() != 0;
    case ValueKind::UInt: return v.as_uint() != 0;
    case ValueKind::Null: return false;
    default: return v.has_text() && !v.text().empty() && v.text() != "0" && v.text() != "false" && v.text() != "f";
  }
}

std::string key_text(const Layout& l, const Row& row) { return detail::format_key(l.schema.columns, row, l.key); }

// Calls f(row, key_hash, row_hash) for every live row of one side.
template <typename F>
void scan(SourceConnector& conn, const Layout& l, F&& f) {
  ReadRequest req;
  req.schema = l.schema;
  req.batch_size = 5000;
  req.where = l.where;
  auto reader = conn.read_chunk(req);
  std::vector<Row> batch;
  std::string kbuf, rbuf;
  while (reader->next(batch)) {
    for (const auto& row : batch) {
      if (l.soft_delete >= 0 && truthy(row[static_cast<std::size_t>(l.soft_delete)])) continue;
      kbuf.clear();
      rbuf.clear();
      for (int k : l.key) encode(row[static_cast<std::size_t>(k)], kbuf);
      for (std::size_t i = 0; i < l.compared.size(); ++i) {
        const Value& v = row[static_cast<std::size_t>(l.compared[i])];
        const bool unpadded = i < l.unpadded.size() && l.unpadded[i];
        if (i < l.converters.size() && l.converters[i]) {
          try {
            encode_column(l.converters[i]->convert(v), unpadded, rbuf);
          } catch (const Error&) {
            rbuf += "\x01unconvertible";  // cannot be at the target as it is
            encode(v, rbuf);
          }
        } else {
          encode_column(v, unpadded, rbuf);
        }
      }
      f(row, XXH3_64bits(kbuf.data(), kbuf.size()), XXH3_64bits(rbuf.data(), rbuf.size()));
    }
  }
}

Side summarize(SourceConnector& conn, const Layout& l) {
  Side s;
  scan(conn, l, [&](const Row& row, std::uint64_t kh, std::uint64_t rh) {
    (void)row;
    s.rows += 1;
    s.sum_a += rh;
    s.sum_b += rh * 0x9E3779B97F4A7C15ull + kh;
    s.buckets[kh % kBuckets] += rh ^ (kh >> 8);
  });
  return s;
}

std::string checksum_text(const Side& s) { return fmt::format("{:016x}{:016x}", s.sum_a, s.sum_b); }

struct Pair {
  std::string source_name, target_name;
};

// Which columns are compared and how they are named on each side: each copied source column
// with the (renamed, shortened) target column the plan made of it.
std::vector<Pair> column_pairs(const TableSchema& dst, const TablePlan& plan) {
  std::vector<Pair> out;
  for (std::size_t i = 0; i < plan.read.columns.size(); ++i) {
    const auto& tname = plan.target.schema.columns[i].name;
    if (dst.index_of(tname) >= 0) out.push_back({plan.read.columns[i].name, tname});
  }
  return out;
}

Layout make_layout(const TableSchema& full, const std::vector<std::string>& names, const std::vector<std::string>& key_names,
                   const std::string& soft_delete) {
  Layout l;
  l.schema.id = full.id;
  auto add = [&](const std::string& n) {
    int existing = l.schema.index_of(n);
    if (existing >= 0) return existing;
    l.schema.columns.push_back(full.columns[static_cast<std::size_t>(full.index_of(n))]);
    return static_cast<int>(l.schema.columns.size() - 1);
  };
  for (const auto& n : names) l.compared.push_back(add(n));
  for (const auto& k : key_names) l.key.push_back(add(k));
  if (l.key.empty()) l.key = l.compared;
  if (!soft_delete.empty() && full.index_of(soft_delete) >= 0) l.soft_delete = add(soft_delete);
  return l;
}

TableVerifyResult verify_table(SourceConnector& source, SourceConnector& target, const TableSchema& src,
                               const TablePlan& plan, const VerifyOptions& options) {
  TableVerifyResult r;
  r.source = src.id.to_string();
  const TableId& target_id = plan.target.schema.id;
  r.target = target_id.to_string();
  try {
    auto found = target.discover([&](const TableId& id) {
      return id.name == target_id.name && (target_id.schema.empty() || id.schema == target_id.schema);
    });
    if (found.empty()) {
      r.error = fmt::format("table {} does not exist at the target", r.target);
      r.source_rows = source.count_rows(src.id, "");
      return r;
    }
    const TableSchema& dst = found.front();
    auto pairs = column_pairs(dst, plan);
    if (pairs.empty()) {
      r.error = "no column in common";
      return r;
    }
    std::vector<std::string> src_cols, dst_cols, src_key, dst_key;
    for (const auto& p : pairs) {
      src_cols.push_back(p.source_name);
      dst_cols.push_back(p.target_name);
    }
    // Rows are matched by the key the copy wrote them by (a view's configured key included).
    for (const auto& k : plan.read.primary_key) {
      auto it = std::find_if(pairs.begin(), pairs.end(), [&](const Pair& p) { return p.source_name == k; });
      if (it == pairs.end()) {
        src_key.clear();
        dst_key.clear();
        break;
      }
      src_key.push_back(it->source_name);
      dst_key.push_back(it->target_name);
    }
    std::string soft;
    if (plan.target.deletes.strategy == DeleteStrategy::Soft) soft = plan.target.deletes.column;
    Layout ls = make_layout(src, src_cols, src_key, "");
    Layout lt = make_layout(dst, dst_cols, dst_key, soft);
    ls.where = plan.settings.where;
    for (const auto& p : pairs) {
      int i = plan.read.index_of(p.source_name);
      ls.converters.push_back(i >= 0 ? plan.converters[static_cast<std::size_t>(i)] : nullptr);
      const Column& sc = src.columns[static_cast<std::size_t>(src.index_of(p.source_name))];
      const Column& tc = dst.columns[static_cast<std::size_t>(dst.index_of(p.target_name))];
      const bool unpadded = pads_char(source.dialect(), sc) || pads_char(target.dialect(), tc);
      ls.unpadded.push_back(unpadded);
      lt.unpadded.push_back(unpadded);
    }
    // A filtered copy is compared against the filtered source.
    Side a = summarize(source, ls);
    Side b = summarize(target, lt);
    r.source_rows = a.rows;
    r.target_rows = b.rows;
    r.source_checksum = checksum_text(a);
    r.target_checksum = checksum_text(b);
    r.equal = a.rows == b.rows && a.sum_a == b.sum_a && a.sum_b == b.sum_b;
    if (r.equal || options.max_differences <= 0) return r;

    // Name a few differing keys: re-read only the buckets that differ.
    std::set<std::size_t> bad;
    for (std::size_t i = 0; i < kBuckets && bad.size() < 4; ++i)
      if (a.buckets[i] != b.buckets[i]) bad.insert(i);
    std::map<std::uint64_t, std::pair<std::string, std::uint64_t>> left, right;
    const std::size_t cap = 100000;
    auto collect = [&](SourceConnector& conn, const Layout& l, auto& into) {
      scan(conn, l, [&](const Row& row, std::uint64_t kh, std::uint64_t rh) {
        if (bad.count(kh % kBuckets) && into.size() < cap) into[kh] = {key_text(l, row), into.count(kh) ? into[kh].second + rh : rh};
      });
    };
    collect(source, ls, left);
    collect(target, lt, right);
    for (const auto& [kh, v] : left) {
      if (static_cast<int>(r.differing_keys.size()) >= options.max_differences) break;
      auto it = right.find(kh);
      if (it == right.end()) r.differing_keys.push_back(v.first + " (missing at target)");
      else if (it->second.second != v.second) r.differing_keys.push_back(v.first + " (values differ)");
    }
    for (const auto& [kh, v] : right) {
      if (static_cast<int>(r.differing_keys.size()) >= options.max_differences) break;
      if (!left.count(kh)) r.differing_keys.push_back(v.first + " (only at target)");
    }
  } catch (const Error& e) {
    r.error = e.what();
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

}  // namespace

VerifyReport verify(SourceConnector& source, SourceConnector& target, const VerifyOptions& options) {
  // The same plan as the session's: target names, renames and shortened identifiers, and each
  // column's value converter. Without a config: every selected table, default settings.
  Config cfg;
  if (options.config) {
    cfg = *options.config;
    if (!options.include.empty() && !(options.include.size() == 1 && options.include[0] == "*")) cfg.include = options.include;
    cfg.exclude.insert(cfg.exclude.end(), options.exclude.begin(), options.exclude.end());
  } else {
    cfg.include = options.include;
    cfg.exclude = options.exclude;
  }
  cfg.views = cfg.views || options.views;
  std::vector<TablePlan> plans =
      plan_tables(cfg, source, *make_type_mapper(cfg), target.dialect(), target.max_identifier_length());
  const std::size_t n = plans.size();
  VerifyReport report;
  report.tables.resize(n);
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < n; i = next++) report.tables[i] = verify_table(source, target, plans[i].source, plans[i], options);
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(1, options.parallel); ++i) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  std::sort(report.tables.begin(), report.tables.end(),
            [](const TableVerifyResult& x, const TableVerifyResult& y) { return x.source < y.source; });
  return report;
}

VerifyReport verify(const std::string& source_url, const std::string& target_url, const VerifyOptions& options) {
  auto& registry = ConnectorRegistry::instance();
  // A destination that cannot be read back as tables (an event bus, a JSON lines file, Harper) has no
  // rows to compare: say so instead of "no source connector".
  ConnectorUrl target_parsed = ConnectorUrl::parse(target_url);
  auto readable = registry.source_schemes(), writable = registry.destination_schemes();
  if (std::find(readable.begin(), readable.end(), target_parsed.scheme) == readable.end() &&
      std::find(writable.begin(), writable.end(), target_parsed.scheme) != writable.end())
    throw config_error("verify", fmt::format("cannot compare {}: cdc cannot read a {}:// destination back as tables (a stream "
                                             "of change events, or a document store); verify compares databases only (replay "
                                             "the events into a database to compare it)",
                                             target_parsed.redacted(), target_parsed.scheme));
  auto source = registry.open_source(source_url);
  auto target = registry.open_source(target_url);
  return verify(*source, *target, options);
}

}  // namespace cdc
