// Config loading: YAML/JSON -> ConfigNode tree -> typed walk with key paths -> Config.
// Every message starts with the key path ("tables.orders.batch_size: expected an integer, got \"big\"").
#include "core/config_tree.h"
#include "core/secrets.h"
#include "core/text_util.h"

#include <cdc/config.h>
#include <cdc/error.h>
#include <cdc/pipelines.h>
#include <cdc/registry.h>
#include <cdc/type_mapper.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace cdc {

std::string_view to_string(TableMode mode) {
  switch (mode) {
    case TableMode::Copy: return "copy";
    case TableMode::Replicate: return "replicate";
    case TableMode::Incremental: return "incremental";
  }
  return "?";
}

std::string_view to_string(DdlPolicy policy) {
  switch (policy) {
    case DdlPolicy::Apply: return "apply";
    case DdlPolicy::Ignore: return "ignore";
    case DdlPolicy::Pause: return "pause";
    case DdlPolicy::Fail: return "fail";
  }
  return "?";
}

std::int64_t RetryPolicy::base_delay_ms(int attempt) const {
  if (attempt <= 1) return 0;
  double d = static_cast<double>(initial_delay_ms) * std::pow(multiplier, attempt - 2);
  if (!(d < static_cast<double>(max_delay_ms))) return max_delay_ms;
  return static_cast<std::int64_t>(d);
}

std::string_view to_string(EnumAs enum_as) {
  switch (enum_as) {
    case EnumAs::Type: return "type";
    case EnumAs::Check: return "check";
    case EnumAs::Text: return "text";
  }
  return "?";
}

std::string_view to_string(SnapshotPolicy policy) {
  switch (policy) {
    case SnapshotPolicy::Initial: return "initial";
    case SnapshotPolicy::Never: return "never";
    case SnapshotPolicy::Always: return "always";
  }
  return "?";
}

std::string_view to_string(BatchPhase phase) {
  switch (phase) {
    case BatchPhase::Initial: return "initial";
    case BatchPhase::CatchUp: return "catch_up";
    case BatchPhase::Steady: return "steady";
  }
  return "?";
}

BatchPhase batch_phase_for_lag(std::int64_t lag_ms, double catch_up_lag_seconds) {
  if (lag_ms < 0) return BatchPhase::CatchUp;  // unknown: a first poll or batch is assumed behind
  return static_cast<double>(lag_ms) > catch_up_lag_seconds * 1000.0 ? BatchPhase::CatchUp : BatchPhase::Steady;
}

TableSettings Config::settings_for(const std::string& table_key) const {
  TableSettings s;
  auto it = tables.find(table_key);
  if (it != tables.end()) s = it->second;
  if (!s.batch_size) s.batch_size = defaults.batch_size;
  if (!s.parallel_chunks) s.parallel_chunks = defaults.parallel_chunks;
  if (!s.chunk_rows) s.chunk_rows = defaults.chunk_rows;
  if (!s.mode) s.mode = defaults.mode;
  if (!s.delete_settings) s.delete_settings = defaults.delete_settings;
  if (!s.ddl) s.ddl = defaults.ddl;
  if (!s.enum_as) s.enum_as = defaults.enum_as;
  if (!s.snapshot) s.snapshot = defaults.snapshot;
  return s;
}

TableMode Config::mode_for(const std::string& table_key) const { return *settings_for(table_key).mode; }

namespace {

using detail::ConfigNode;

std::string describe(const ConfigNode& n) {
  switch (n.type) {
    case ConfigNode::Type::Null: return "null";
    case ConfigNode::Type::Seq: return "a list";
    case ConfigNode::Type::Map: return "a map";
    case ConfigNode::Type::String: return n.plain ? n.text : fmt::format("\"{}\"", n.text);
    default: return n.text;
  }
}

std::string join_path(const std::string& base, const std::string& key) { return base.empty() ? key : base + "." + key; }

// Replaces ${VAR} and ${VAR:-default} with the environment's values, and ${file:/path} with a
// file's contents (a secret mounted as a file; one trailing newline dropped).
std::string expand_env(const std::string& s, const std::string& path) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') {
      auto close = s.find('}', i + 2);
      if (close == std::string::npos) throw config_error(path, "unterminated ${ in \"" + s.substr(i) + "\"");
      std::string expr = s.substr(i + 2, close - i - 2);
      std::string name = expr, fallback;
      bool has_fallback = false;
      if (auto p = expr.find(":-"); p != std::string::npos) {
        name = expr.substr(0, p);
        fallback = expr.substr(p + 2);
        has_fallback = true;
      }
      if (name.empty()) throw config_error(path, "empty variable name in ${}");
      if (expr.rfind("file:", 0) == 0) {
        out += detail::read_secret_file(expr.substr(5), path + ": ${file:...}");
        i = close + 1;
        continue;
      }
      const char* v = std::getenv(name.c_str());
      if (v && *v) out += v;
      else if (has_fallback) out += fallback;
      else throw config_error(path, fmt::format("environment variable {} is not set", name));
      i = close + 1;
    } else {
      out += s[i++];
    }
  }
  return out;
}

class Walker {
 public:
  Walker(const ConfigNode& node, std::string path) : node_(node), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  const ConfigNode& node() const { return node_; }

  [[noreturn]] void fail(const std::string& message) const { throw config_error(path_.empty() ? "config" : path_, message); }

  void expect_map() const {
    if (node_.type != ConfigNode::Type::Map) fail("expected a map, got " + describe(node_));
  }

  // Rejects keys not in `allowed`, suggesting the nearest one.
  void check_keys(std::initializer_list<const char*> allowed) const {
    expect_map();
    std::set<std::string> seen;
    for (const auto& field : node_.fields) {
      // A named reference, not a structured binding: C++17 lambdas cannot capture bindings.
      const std::string& key = field.first;
      if (!seen.insert(key).second) throw config_error(join_path(path_, key), "key given twice");
      bool ok = std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; });
      if (ok) continue;
      std::string best;
      std::size_t best_d = 3;
      for (const char* a : allowed) {
        auto d = detail::edit_distance(key, a);
        if (d < best_d) best_d = d, best = a;
      }
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      throw config_error(join_path(path_, key), best.empty() ? "unknown key (known keys: " + list + ")"
                                                              : "unknown key (did you mean " + best + "?)");
    }
  }

  const ConfigNode* find(const char* key) const {
    for (const auto& [k, v] : node_.fields)
      if (k == key) return &v;
    return nullptr;
  }
  Walker child(const char* key) const { return Walker(*find(key), join_path(path_, key)); }
  bool has(const char* key) const { return find(key) != nullptr; }

  std::string as_string() const {
    if (node_.type != ConfigNode::Type::String) fail("expected a string, got " + describe(node_));
    if (!detail::valid_utf8(node_.text)) fail("is not valid UTF-8 text");
    return expand_env(node_.text, path_);
  }

  // A connector URL: checked now, so that a malformed one names its key.
  std::string as_url() const {
    std::string url = as_string();
    try {
      (void)ConnectorUrl::parse(url);
    } catch (const Error& e) {
      std::string m = e.what();
      if (m.rfind("url: ", 0) == 0) m.erase(0, 5);
      fail(m);
    }
    return url;
  }

  std::int64_t as_int(std::int64_t min, std::int64_t max) const {
    bool typed_ok = node_.type == ConfigNode::Type::Int || (node_.type == ConfigNode::Type::String && node_.plain);
    std::int64_t v = 0;
    if (typed_ok) {
      const std::string& t = node_.text;
      errno = 0;
      char* end = nullptr;
      long long parsed = std::strtoll(t.c_str(), &end, 10);
      typed_ok = !t.empty() && end && *end == '\0' && errno == 0;
      v = parsed;
    }
    if (!typed_ok) fail("expected an integer, got " + describe(node_));
    if (v < min || v > max) fail(fmt::format("{} is out of range ({}..{})", v, min, max));
    return v;
  }

  double as_double(double min, double max) const {
    bool typed_ok = node_.type == ConfigNode::Type::Int || node_.type == ConfigNode::Type::Double ||
                    (node_.type == ConfigNode::Type::String && node_.plain);
    double v = 0;
    if (typed_ok) {
      char* end = nullptr;
      v = std::strtod(node_.text.c_str(), &end);
      typed_ok = !node_.text.empty() && end && *end == '\0' && std::isfinite(v);
    }
    if (!typed_ok) fail("expected a number, got " + describe(node_));
    if (v < min || v > max) fail(fmt::format("{} is out of range ({}..{})", v, min, max));
    return v;
  }

  bool as_bool() const {
    if (node_.type == ConfigNode::Type::Bool || (node_.type == ConfigNode::Type::String && node_.plain)) {
      const std::string& t = node_.text;
      if (t == "true" || t == "True" || t == "TRUE" || t == "yes" || t == "on") return true;
      if (t == "false" || t == "False" || t == "FALSE" || t == "no" || t == "off") return false;
    }
    fail("expected true or false, got " + describe(node_));
  }

  // A list of strings; a single string is accepted as a one-element list.
  std::vector<std::string> as_string_list() const {
    std::vector<std::string> out;
    if (node_.type == ConfigNode::Type::String) {
      out.push_back(as_string());
      return out;
    }
    if (node_.type != ConfigNode::Type::Seq) fail("expected a list of strings, got " + describe(node_));
    for (std::size_t i = 0; i < node_.items.size(); ++i) {
      Walker item(node_.items[i], fmt::format("{}[{}]", path_, i));
      out.push_back(item.as_string());
    }
    return out;
  }

  // A non-negative amount with an optional unit suffix: `units` maps suffixes (case-insensitive,
  // "" for a bare number) to multipliers, e.g. {"", 1}, {"KB", 1024}, ... or {"s", 1}, {"h", 3600}.
  std::int64_t as_amount(std::initializer_list<std::pair<const char*, std::int64_t>> units, const char* example) const {
    if (node_.type != ConfigNode::Type::Int && node_.type != ConfigNode::Type::String)
      fail(fmt::format("expected an amount such as {}, got {}", example, describe(node_)));
    std::string t = node_.type == ConfigNode::Type::String ? as_string() : node_.text;
    std::size_t digits = 0;
    while (digits < t.size() && std::isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
    std::string unit = t.substr(digits);
    while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
    for (const auto& [name, factor] : units) {
      if (!detail::iequals(unit, name) || digits == 0 || digits > 18) continue;
      std::int64_t n = std::stoll(t.substr(0, digits));
      if (n > std::numeric_limits<std::int64_t>::max() / factor) fail(fmt::format("\"{}\" is too large", t));
      return n * factor;
    }
    fail(fmt::format("expected an amount such as {}, got {}", example, describe(node_)));
  }

  // A number in min..max, or "auto" (kAuto).
  std::int64_t as_int_or_auto(std::int64_t min, std::int64_t max) const {
    if (node_.type == ConfigNode::Type::String && node_.text == "auto") return kAuto;
    bool number = node_.type == ConfigNode::Type::Int || (node_.type == ConfigNode::Type::String && node_.plain);
    if (number) {
      errno = 0;
      char* end = nullptr;
      std::strtoll(node_.text.c_str(), &end, 10);
      number = !node_.text.empty() && end && *end == '\0' && errno == 0;
    }
    if (!number) fail("expected an integer or auto, got " + describe(node_));
    return as_int(min, max);
  }

  template <typename Enum>
  Enum as_enum(std::initializer_list<std::pair<const char*, Enum>> choices) const {
    std::string v = as_string();
    std::string names;
    for (const auto& [name, value] : choices) {
      if (v == name) return value;
      names += (names.empty() ? "" : " | ") + std::string(name);
    }
    fail(fmt::format("expected {}, got \"{}\"", names, v));
  }

 private:
  const ConfigNode& node_;
  std::string path_;
};

TableMode read_mode(const Walker& w) {
  return w.as_enum<TableMode>(
      {{"copy", TableMode::Copy}, {"replicate", TableMode::Replicate}, {"incremental", TableMode::Incremental}});
}

DdlPolicy read_ddl(const Walker& w) {
  return w.as_enum<DdlPolicy>(
      {{"apply", DdlPolicy::Apply}, {"ignore", DdlPolicy::Ignore}, {"pause", DdlPolicy::Pause}, {"fail", DdlPolicy::Fail}});
}

SnapshotPolicy read_snapshot(const Walker& w) {
  return w.as_enum<SnapshotPolicy>(
      {{"initial", SnapshotPolicy::Initial}, {"never", SnapshotPolicy::Never}, {"always", SnapshotPolicy::Always}});
}

std::int64_t read_seconds(const Walker& w) {
  return w.as_amount({{"", 1}, {"s", 1}, {"m", 60}, {"min", 60}, {"h", 3600}, {"d", 86400}}, "300, \"90s\", \"5m\" or \"24h\"");
}

std::int64_t read_bytes(const Walker& w) {
  return w.as_amount({{"", 1}, {"B", 1}, {"KB", 1LL << 10}, {"MB", 1LL << 20}, {"GB", 1LL << 30}, {"TB", 1LL << 40}},
                     "\"512MB\" or \"10GB\"");
}

EnumAs read_enum_as(const Walker& w) {
  return w.as_enum<EnumAs>({{"type", EnumAs::Type}, {"check", EnumAs::Check}, {"text", EnumAs::Text}});
}

DeleteSettings read_delete(const Walker& w) {
  DeleteSettings d;
  if (w.node().type == ConfigNode::Type::String) {  // shorthand: delete: soft
    d.strategy = w.as_enum<DeleteStrategy>({{"hard", DeleteStrategy::Hard}, {"soft", DeleteStrategy::Soft}});
    return d;
  }
  w.check_keys({"strategy", "column"});
  if (w.has("strategy"))
    d.strategy = w.child("strategy").as_enum<DeleteStrategy>({{"hard", DeleteStrategy::Hard}, {"soft", DeleteStrategy::Soft}});
  if (w.has("column")) {
    d.column = w.child("column").as_string();
    if (d.column.empty()) w.child("column").fail("must not be empty");
  }
  return d;
}

constexpr std::int64_t kMaxBatch = 10'000'000;

// `batch_size: 5000` or `batch_size: {initial: 50000, catch_up: 10000, steady: 1000}`; phases
// a map leaves out keep their value in `inherited`. `with_initial`: false for stream_batch_rows
// (the change stream has no snapshot phase).
BatchSize read_batch_size(const Walker& w, BatchSize inherited, bool with_initial) {
  if (w.node().type != ConfigNode::Type::Map) return BatchSize(w.as_int(1, kMaxBatch));
  if (with_initial) w.check_keys({"initial", "catch_up", "steady"});
  else w.check_keys({"catch_up", "steady"});
  if (w.node().fields.empty()) w.fail(with_initial ? "give a number or at least one of initial, catch_up, steady"
                                                   : "give a number or at least one of catch_up, steady");
  BatchSize b = inherited;
  if (w.has("initial")) b.initial = w.child("initial").as_int(1, kMaxBatch);
  if (w.has("catch_up")) b.catch_up = w.child("catch_up").as_int(1, kMaxBatch);
  if (w.has("steady")) b.steady = w.child("steady").as_int(1, kMaxBatch);
  return b;
}

TableSettings read_table(const Walker& w, const BatchSize& default_batch) {
  TableSettings t;
  if (w.node().type == ConfigNode::Type::Null) return t;  // "orders:" with nothing under it
  w.check_keys({"columns", "exclude_columns", "rename", "target", "where", "batch_size", "parallel_chunks", "chunk_rows",
                "mode", "delete", "watermark", "query", "ddl", "enum_as", "snapshot", "key"});
  if (w.has("columns")) t.columns = w.child("columns").as_string_list();
  if (w.has("exclude_columns")) t.exclude_columns = w.child("exclude_columns").as_string_list();
  if (w.has("rename")) {
    Walker r = w.child("rename");
    r.expect_map();
    for (const auto& [from, to] : r.node().fields) {
      Walker tw(to, join_path(r.path(), from));
      std::string target = tw.as_string();
      if (target.empty()) tw.fail("target column name must not be empty");
      t.rename[from] = target;
    }
  }
  if (w.has("target")) {
    t.target = w.child("target").as_string();
    if (t.target.empty()) w.child("target").fail("must not be empty");
  }
  if (w.has("where")) t.where = w.child("where").as_string();
  if (w.has("batch_size")) t.batch_size = read_batch_size(w.child("batch_size"), default_batch, true);
  if (w.has("parallel_chunks")) t.parallel_chunks = static_cast<int>(w.child("parallel_chunks").as_int_or_auto(1, 256));
  if (w.has("chunk_rows")) t.chunk_rows = w.child("chunk_rows").as_int_or_auto(1, std::numeric_limits<std::int64_t>::max());
  if (w.has("mode")) t.mode = read_mode(w.child("mode"));
  if (w.has("delete")) t.delete_settings = read_delete(w.child("delete"));
  if (w.has("ddl")) t.ddl = read_ddl(w.child("ddl"));
  if (w.has("enum_as")) t.enum_as = read_enum_as(w.child("enum_as"));
  if (w.has("snapshot")) t.snapshot = read_snapshot(w.child("snapshot"));
  if (w.has("watermark")) {
    Walker wm = w.child("watermark");
    WatermarkSettings s;
    if (wm.node().type == ConfigNode::Type::String) {  // shorthand: watermark: updated_at
      s.column = wm.as_string();
    } else {
      wm.check_keys({"column"});
      if (!wm.has("column")) wm.fail("missing key \"column\"");
      s.column = wm.child("column").as_string();
    }
    if (s.column.empty()) wm.fail("column must not be empty");
    t.watermark = s;
  }
  if (w.has("query")) {
    t.query = w.child("query").as_string();
    if (t.query.empty()) w.child("query").fail("must not be empty");
  }
  if (w.has("key")) {
    Walker k = w.child("key");
    t.key = k.as_string_list();  // key: id is key: [id]
    if (t.key.empty()) k.fail("must list at least one column");
    for (std::size_t i = 0; i < t.key.size(); ++i)
      if (t.key[i].empty()) throw config_error(fmt::format("{}[{}]", k.path(), i), "must not be empty");
  }
  return t;
}

// The keys of one pipeline (a single-pipeline file's top level, or an entry of `pipelines`).
#define CDC_PIPELINE_KEYS                                                                                            \
  "name", "source", "destination", "checkpoint", "state_dir", "include", "exclude", "parallel_tables", "workers", "stop_on_error", \
      "retry", "defaults", "poll_interval_ms", "stream_batch_rows", "catch_up_lag_seconds", "tables", "cast",          \
      "keep_defaults", "on_conversion_error", "discover_interval_s", "max_held_log", "schema", "views", "http"

HttpSettings read_http(const Walker& h) {
  HttpSettings out;
  h.check_keys({"listen", "token", "allowed_hosts", "max_lag_seconds", "tls_cert", "tls_key"});
  if (h.has("listen")) out.listen = h.child("listen").as_string();
  if (h.has("token")) out.token = h.child("token").as_string();
  if (h.has("allowed_hosts")) out.allowed_hosts = h.child("allowed_hosts").as_string_list();
  if (h.has("max_lag_seconds")) out.max_lag_seconds = h.child("max_lag_seconds").as_double(0.0, 1e9);
  for (auto [key, field] : {std::pair{"tls_cert", &out.tls_cert}, std::pair{"tls_key", &out.tls_key}}) {
    if (!h.has(key)) continue;
    *field = h.child(key).as_string();
    if (field->empty()) h.child(key).fail("must not be empty (a PEM file)");
  }
  if (out.tls_cert.empty() != out.tls_key.empty())
    h.child(out.tls_cert.empty() ? "tls_key" : "tls_cert")
        .fail("tls_cert and tls_key go together (the server's certificate and its private key)");
  return out;
}

// Reads the settings of one pipeline from `w` (a map), without validating combinations.
void read_fields(const Walker& w, Config& c) {
  w.check_keys({CDC_PIPELINE_KEYS});
  if (w.has("name")) c.name = w.child("name").as_string();
  if (w.has("source")) c.source = w.child("source").as_url();
  if (w.has("destination")) c.destination = w.child("destination").as_url();
  if (w.has("checkpoint")) c.checkpoint = w.child("checkpoint").as_url();
  if (w.has("state_dir")) c.state_dir = w.child("state_dir").as_string();
  if (w.has("include")) c.include = w.child("include").as_string_list();
  if (w.has("exclude")) c.exclude = w.child("exclude").as_string_list();
  if (w.has("parallel_tables")) c.parallel_tables = static_cast<int>(w.child("parallel_tables").as_int(1, 256));
  if (w.has("workers")) c.workers = static_cast<int>(w.child("workers").as_int(0, 256));
  if (w.has("stop_on_error")) c.stop_on_error = w.child("stop_on_error").as_bool();
  if (w.has("views")) c.views = w.child("views").as_bool();
  if (w.has("poll_interval_ms")) c.poll_interval_ms = w.child("poll_interval_ms").as_int(1, 3'600'000);
  if (w.has("stream_batch_rows")) c.stream_batch_rows = read_batch_size(w.child("stream_batch_rows"), c.stream_batch_rows, false);
  if (w.has("catch_up_lag_seconds")) c.catch_up_lag_seconds = w.child("catch_up_lag_seconds").as_double(0.0, 1e9);
  if (w.has("keep_defaults")) c.keep_defaults = w.child("keep_defaults").as_bool();
  if (w.has("discover_interval_s")) c.discover_interval_s = read_seconds(w.child("discover_interval_s"));
  if (w.has("schema")) {
    Walker sw = w.child("schema");
    if (sw.node().type == ConfigNode::Type::Bool || (sw.node().type == ConfigNode::Type::String && sw.node().plain)) {
      bool all = sw.as_bool();  // schema: false = columns and primary key only
      c.schema.indexes = c.schema.foreign_keys = c.schema.constraints = c.schema.sequences = c.schema.comments = all;
    } else {
      sw.check_keys({"indexes", "foreign_keys", "constraints", "sequences", "comments", "index_jobs"});
      if (sw.has("indexes")) c.schema.indexes = sw.child("indexes").as_bool();
      if (sw.has("foreign_keys")) c.schema.foreign_keys = sw.child("foreign_keys").as_bool();
      if (sw.has("constraints")) c.schema.constraints = sw.child("constraints").as_bool();
      if (sw.has("sequences")) c.schema.sequences = sw.child("sequences").as_bool();
      if (sw.has("comments")) c.schema.comments = sw.child("comments").as_bool();
      if (sw.has("index_jobs")) c.schema.index_jobs = static_cast<int>(sw.child("index_jobs").as_int(1, 64));
    }
  }
  if (w.has("http")) c.http = read_http(w.child("http"));
  if (w.has("max_held_log")) {
    Walker m = w.child("max_held_log");
    m.check_keys({"bytes", "age"});
    if (m.has("bytes")) c.max_held_log.max_bytes = read_bytes(m.child("bytes"));
    if (m.has("age")) c.max_held_log.max_age_s = read_seconds(m.child("age"));
  }
  if (w.has("on_conversion_error"))
    c.on_conversion_error = w.child("on_conversion_error")
                                .as_enum<Config::OnConversionError>({{"quarantine", Config::OnConversionError::Quarantine},
                                                                     {"fail", Config::OnConversionError::Fail}});
  if (w.has("cast")) {
    Walker list = w.child("cast");
    if (list.node().type != ConfigNode::Type::Seq) list.fail("expected a list of {type|column, to}, got " + describe(list.node()));
    for (std::size_t i = 0; i < list.node().items.size(); ++i) {
      Walker item(list.node().items[i], fmt::format("{}[{}]", list.path(), i));
      item.check_keys({"type", "column", "to"});
      TypeCast tc;
      if (item.has("type")) tc.type = item.child("type").as_string();
      if (item.has("column")) tc.column = item.child("column").as_string();
      if (!item.has("to")) item.fail("missing key \"to\" (the target type)");
      tc.to = item.child("to").as_string();
      c.cast.push_back(std::move(tc));
    }
  }
  if (w.has("retry")) {
    Walker r = w.child("retry");
    r.check_keys({"max_attempts", "initial_delay_ms", "multiplier", "max_delay_ms", "jitter", "table_cooldown_s"});
    if (r.has("max_attempts")) c.retry.max_attempts = static_cast<int>(r.child("max_attempts").as_int(1, 1000));
    if (r.has("initial_delay_ms")) c.retry.initial_delay_ms = r.child("initial_delay_ms").as_int(0, 86'400'000);
    if (r.has("multiplier")) c.retry.multiplier = r.child("multiplier").as_double(1.0, 100.0);
    if (r.has("max_delay_ms")) c.retry.max_delay_ms = r.child("max_delay_ms").as_int(0, 86'400'000);
    if (r.has("jitter")) c.retry.jitter = r.child("jitter").as_double(0.0, 1.0);
    if (r.has("table_cooldown_s")) c.retry.table_cooldown_s = read_seconds(r.child("table_cooldown_s"));
  }
  if (w.has("defaults")) {
    Walker d = w.child("defaults");
    d.check_keys({"batch_size", "mode", "parallel_chunks", "chunk_rows", "delete", "ddl", "enum_as", "snapshot"});
    if (d.has("batch_size")) c.defaults.batch_size = read_batch_size(d.child("batch_size"), c.defaults.batch_size, true);
    if (d.has("mode")) c.defaults.mode = read_mode(d.child("mode"));
    if (d.has("parallel_chunks")) c.defaults.parallel_chunks = static_cast<int>(d.child("parallel_chunks").as_int_or_auto(1, 256));
    if (d.has("chunk_rows")) c.defaults.chunk_rows = d.child("chunk_rows").as_int_or_auto(1, std::numeric_limits<std::int64_t>::max());
    if (d.has("delete")) c.defaults.delete_settings = read_delete(d.child("delete"));
    if (d.has("ddl")) c.defaults.ddl = read_ddl(d.child("ddl"));
    if (d.has("enum_as")) c.defaults.enum_as = read_enum_as(d.child("enum_as"));
    if (d.has("snapshot")) c.defaults.snapshot = read_snapshot(d.child("snapshot"));
  }
  if (w.has("tables")) {
    Walker t = w.child("tables");
    if (t.node().type != ConfigNode::Type::Null) {
      t.expect_map();
      for (const auto& [name, node] : t.node().fields) {
        if (name.empty()) t.fail("empty table name");
        if (c.tables.count(name)) throw config_error(join_path(t.path(), name), "table given twice");
        c.tables[name] = read_table(Walker(node, join_path(t.path(), name)), c.defaults.batch_size);
      }
    }
  }
}

void validate_at(const Config& c, const std::string& prefix);

Config read_config(const ConfigNode& root, const std::string& origin) {
  if (root.type != ConfigNode::Type::Map) throw config_error(origin, "expected a map of settings at the top level");
  Walker w(root, "");
  w.check_keys({CDC_PIPELINE_KEYS, "pipelines"});
  if (w.has("pipelines"))
    w.child("pipelines").fail("a file with several pipelines is read by cdc::load_pipelines_file (<cdc/pipelines.h>), not as one config");
  Config c;
  read_fields(w, c);
  validate_at(c, "");
  return c;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error(path, "cannot read config file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

namespace {

// Checks one pipeline's config; `prefix` goes before every key path ("pipelines[1]").
void validate_at(const Config& c, const std::string& prefix) {
  auto at = [&prefix](const std::string& path) { return prefix.empty() ? path : prefix + "." + path; };
  if (c.source.empty()) throw config_error(at("source"), "missing: the source connector URL, e.g. \"sqlite:///data/shop.db\"");
  if (c.destination.empty())
    throw config_error(at("destination"), "missing: the destination connector URL, e.g. \"sqlite:///data/replica.db\"");
  if (c.include.empty()) throw config_error(at("include"), "must list at least one pattern (\"*\" for every table)");
  if (c.parallel_tables < 1) throw config_error(at("parallel_tables"), "must be at least 1");
  if (c.retry.max_attempts < 1) throw config_error(at("retry.max_attempts"), "must be at least 1");
  if (c.retry.max_delay_ms < c.retry.initial_delay_ms)
    throw config_error(at("retry.max_delay_ms"), "must not be smaller than retry.initial_delay_ms");
  auto check_batch = [&](const BatchSize& b, const std::string& path) {
    if (b.initial < 1 || b.catch_up < 1 || b.steady < 1) throw config_error(at(path), "every phase's size must be at least 1");
  };
  check_batch(c.defaults.batch_size, "defaults.batch_size");
  check_batch(c.stream_batch_rows, "stream_batch_rows");
  if (c.catch_up_lag_seconds < 0) throw config_error(at("catch_up_lag_seconds"), "must not be negative");
  if (c.defaults.parallel_chunks < 0) throw config_error(at("defaults.parallel_chunks"), "must be auto (0) or at least 1");
  if (c.defaults.chunk_rows < 0) throw config_error(at("defaults.chunk_rows"), "must be auto (0) or at least 1");
  if (c.defaults.mode == TableMode::Incremental)
    throw config_error(at("defaults.mode"), "incremental needs a watermark column per table: set mode: incremental on each table");
  for (std::size_t i = 0; i < c.cast.size(); ++i) {
    const auto& tc = c.cast[i];
    const std::string base = at(fmt::format("cast[{}]", i));
    if (tc.type.empty() == tc.column.empty())
      throw config_error(base, "give either type (a source type such as \"tinyint(1)\") or column (\"table.column\")");
    if (!tc.column.empty() && tc.column.find('.') == std::string::npos)
      throw config_error(base + ".column", fmt::format("\"{}\" must name table.column", tc.column));
    try {
      parse_type_name(tc.to);
    } catch (const Error& e) {
      throw config_error(base + ".to", e.message());
    }
  }
  for (const auto& [name, t] : c.tables) {
    const std::string base = at("tables." + name);
    if (t.batch_size) check_batch(*t.batch_size, "tables." + name + ".batch_size");
    if (t.parallel_chunks && *t.parallel_chunks < 0) throw config_error(base + ".parallel_chunks", "must be auto (0) or at least 1");
    if (t.chunk_rows && *t.chunk_rows < 0) throw config_error(base + ".chunk_rows", "must be auto (0) or at least 1");
    std::set<std::string> listed(t.columns.begin(), t.columns.end());
    if (listed.size() != t.columns.size()) throw config_error(base + ".columns", "a column is listed twice");
    for (const auto& x : t.exclude_columns)
      if (listed.count(x))
        throw config_error(base + ".exclude_columns", fmt::format("\"{}\" is also listed in columns", x));
    std::set<std::string> targets;
    for (const auto& [from, to] : t.rename) {
      if (std::find(t.exclude_columns.begin(), t.exclude_columns.end(), from) != t.exclude_columns.end())
        throw config_error(base + ".rename." + from, "renames a column that exclude_columns drops");
      if (!listed.empty() && !listed.count(from))
        throw config_error(base + ".rename." + from, "renames a column that is not in columns");
      if (!targets.insert(to).second) throw config_error(base + ".rename." + from, fmt::format("two columns renamed to \"{}\"", to));
    }
    TableMode mode = t.mode.value_or(c.defaults.mode);
    if (mode == TableMode::Incremental && !t.watermark)
      throw config_error(base + ".watermark", "mode incremental needs watermark: {column: <ever-increasing column>}");
    if (mode != TableMode::Incremental && t.watermark)
      throw config_error(base + ".watermark", fmt::format("only used with mode incremental (this table's mode is {})", to_string(mode)));
    if (!t.query.empty() && mode != TableMode::Incremental)
      throw config_error(base + ".query", fmt::format("a custom query needs mode incremental (this table's mode is {})", to_string(mode)));
    if (!t.query.empty() && !t.where.empty())
      throw config_error(base + ".where", "cannot be combined with query: put the filter in the query");
    if (!t.query.empty() && t.query.find(":last_value") == std::string::npos)
      throw config_error(base + ".query", "must reference :last_value (the last watermark seen)");
    std::set<std::string> keys(t.key.begin(), t.key.end());
    if (keys.size() != t.key.size()) throw config_error(base + ".key", "a column is listed twice");
    if (!t.key.empty() && t.mode == TableMode::Replicate)
      throw config_error(base + ".key", "mode replicate identifies rows by the source's own primary key; key is for mode copy or incremental");
    for (std::size_t i = 0; i < t.key.size(); ++i) {
      if (!listed.empty() && !listed.count(t.key[i]))
        throw config_error(fmt::format("{}.key[{}]", base, i), fmt::format("\"{}\" is not in columns", t.key[i]));
      if (std::find(t.exclude_columns.begin(), t.exclude_columns.end(), t.key[i]) != t.exclude_columns.end())
        throw config_error(fmt::format("{}.key[{}]", base, i), fmt::format("\"{}\" is dropped by exclude_columns", t.key[i]));
    }
    const DeleteSettings del = t.delete_settings.value_or(c.defaults.delete_settings);
    if (mode == TableMode::Incremental && t.delete_settings && del.strategy == DeleteStrategy::Soft)
      throw config_error(base + ".delete", "incremental mode does not see deletes: a delete strategy has no effect");
    if (del.strategy == DeleteStrategy::Soft && (listed.count(del.column) || t.rename.count(del.column)))
      throw config_error(base + ".delete.column", fmt::format("\"{}\" is a source column; soft delete needs a column of its own", del.column));
  }
}

}  // namespace

void validate_config(const Config& c) { validate_at(c, ""); }

namespace {

// `over` laid over `base`: maps merge key by key (recursively), anything else is replaced.
ConfigNode merge_nodes(const ConfigNode& base, const ConfigNode& over) {
  if (base.type != ConfigNode::Type::Map || over.type != ConfigNode::Type::Map) return over;
  ConfigNode out = base;
  for (const auto& field : over.fields) {  // not a structured binding: C++17 lambdas cannot capture those
    auto it = std::find_if(out.fields.begin(), out.fields.end(), [&](const auto& f) { return f.first == field.first; });
    if (it == out.fields.end()) out.fields.push_back(field);
    else it->second = merge_nodes(it->second, field.second);
  }
  return out;
}

bool valid_pipeline_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
  });
}

PipelinesConfig read_pipelines(const ConfigNode& root, const std::string& origin) {
  if (root.type != ConfigNode::Type::Map) throw config_error(origin, "expected a map of settings at the top level");
  Walker w(root, "");
  PipelinesConfig out;
  if (!w.has("pipelines")) {  // a single-pipeline file
    out.pipelines.push_back(read_config(root, origin));
    out.http = out.pipelines.front().http;
    return out;
  }
  out.listed = true;
  if (w.has("name")) w.child("name").fail("a file with pipelines: gives each pipeline its own name (pipelines[N].name)");
  w.check_keys({CDC_PIPELINE_KEYS, "pipelines"});
  if (w.has("workers")) out.workers = static_cast<int>(w.child("workers").as_int(0, 256));
  if (w.has("http")) out.http = read_http(w.child("http"));
  // The shared keys, read alone first so that a bad value is named where it is written.
  ConfigNode shared = root;
  shared.fields.erase(std::remove_if(shared.fields.begin(), shared.fields.end(),
                                     [](const auto& f) { return f.first == "pipelines" || f.first == "workers" || f.first == "http"; }),
                      shared.fields.end());
  {
    Config probe;
    read_fields(Walker(shared, ""), probe);
  }
  Walker list = w.child("pipelines");
  if (list.node().type != ConfigNode::Type::Seq) list.fail("expected a list of pipelines, got " + describe(list.node()));
  if (list.node().items.empty()) list.fail("must list at least one pipeline");
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < list.node().items.size(); ++i) {
    const ConfigNode& item = list.node().items[i];
    Walker pw(item, fmt::format("pipelines[{}]", i));
    pw.check_keys({CDC_PIPELINE_KEYS});
    if (pw.has("http")) pw.child("http").fail("the HTTP endpoint serves every pipeline: give http at the top level");
    if (!pw.has("name")) pw.fail("missing key \"name\" (it names the pipeline's checkpoints, status and log lines)");
    std::string name = pw.child("name").as_string();
    if (!valid_pipeline_name(name))
      pw.child("name").fail(fmt::format("\"{}\" is not a pipeline name (letters, digits, _ - . only)", name));
    if (auto [it, fresh] = seen.emplace(name, i); !fresh)
      pw.child("name").fail(fmt::format("pipeline \"{}\" is given twice (also pipelines[{}])", name, it->second));
    Config c;
    read_fields(Walker(merge_nodes(shared, item), pw.path()), c);
    validate_at(c, pw.path());
    c.http = out.http;
    out.pipelines.push_back(std::move(c));
  }
  return out;
}

}  // namespace

PipelinesConfig parse_pipelines_yaml(const std::string& text, const std::string& origin) {
  return read_pipelines(detail::parse_yaml_tree(text, origin), origin);
}

PipelinesConfig parse_pipelines_json(const std::string& text, const std::string& origin) {
  return read_pipelines(detail::parse_json_tree(text, origin), origin);
}

PipelinesConfig load_pipelines_file(const std::string& path) {
  std::string text = read_file(path);
  if (ends_with(path, ".json")) return parse_pipelines_json(text, path);
  return parse_pipelines_yaml(text, path);
}

Config parse_config_yaml(const std::string& text, const std::string& origin) {
  return read_config(detail::parse_yaml_tree(text, origin), origin);
}

Config parse_config_json(const std::string& text, const std::string& origin) {
  return read_config(detail::parse_json_tree(text, origin), origin);
}

Config load_config_file(const std::string& path) {
  std::string text = read_file(path);
  if (ends_with(path, ".json")) return parse_config_json(text, path);
  return parse_config_yaml(text, path);
}

}  // namespace cdc
