// The local copy of the tables that derived cascades reach (cascade_state.h).
#include "core/session/cascade_state.h"

#include "core/failpoint.h"
#include "core/logging.h"
#include "core/session/ledger.h"
#include "sqlite/sqlite_db.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <utility>

namespace cdc::detail {

namespace {

// ---- encodings -------------------------------------------------------------------------------
// A row is kept with its column names (a table that gains a column mid-stream still reads its
// older rows): u32 count, then per column u32 name length, name, kind byte, payload (nothing for
// NULL, 1 byte for a boolean, 8 for integers and doubles, u32 length + bytes for the rest).
// Keys and referenced values are kept normalised, so that an integer read from a snapshot and the
// same integer from the log (or an INT column referencing a BIGINT key) compare equal.

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(const std::string& in, std::size_t& at) {
  if (at + 4 > in.size()) throw Error(ErrorKind::State, "cascade state: a stored row is truncated");
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)])) << (8 * i);
  at += 4;
  return v;
}

std::string get_bytes(const std::string& in, std::size_t& at) {
  std::uint32_t n = get_u32(in, at);
  if (at + n > in.size()) throw Error(ErrorKind::State, "cascade state: a stored row is truncated");
  std::string s = in.substr(at, n);
  at += n;
  return s;
}

void put_bytes(std::string& out, const std::string& s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

void put_value(std::string& out, const Value& v) {
  out.push_back(static_cast<char>(v.kind()));
  std::uint64_t bits = 0;
  switch (v.kind()) {
    case ValueKind::Null: return;
    case ValueKind::Bool: out.push_back(v.as_bool() ? 1 : 0); return;
    case ValueKind::Int: bits = static_cast<std::uint64_t>(v.as_int()); break;
    case ValueKind::UInt: bits = v.as_uint(); break;
    case ValueKind::Double: {
      double d = v.as_double();
      std::memcpy(&bits, &d, sizeof d);
      break;
    }
    default: put_bytes(out, v.text()); return;
  }
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

Value get_value(const std::string& in, std::size_t& at) {
  if (at >= in.size()) throw Error(ErrorKind::State, "cascade state: a stored row is truncated");
  auto kind = static_cast<ValueKind>(static_cast<unsigned char>(in[at++]));
  auto u64 = [&] {
    if (at + 8 > in.size()) throw Error(ErrorKind::State, "cascade state: a stored row is truncated");
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)])) << (8 * i);
    at += 8;
    return bits;
  };
  switch (kind) {
    case ValueKind::Null: return Value();
    case ValueKind::Bool:
      if (at >= in.size()) throw Error(ErrorKind::State, "cascade state: a stored row is truncated");
      return Value::boolean(in[at++] != 0);
    case ValueKind::Int: return Value::int64(static_cast<std::int64_t>(u64()));
    case ValueKind::UInt: return Value::uint64(u64());
    case ValueKind::Double: {
      std::uint64_t bits = u64();
      double d = 0;
      std::memcpy(&d, &bits, sizeof d);
      return Value::float64(d);
    }
    default: return Value::of_text(kind, get_bytes(in, at));
  }
}

using NamedRow = std::vector<std::pair<std::string, Value>>;

std::string encode_row(const DestinationTable& table, const Row& row) {
  const auto& cols = table.schema.columns;
  std::string out;
  put_u32(out, static_cast<std::uint32_t>(cols.size()));
  for (std::size_t i = 0; i < cols.size(); ++i) {
    put_bytes(out, cols[i].name);
    put_value(out, i < row.size() ? row[i] : Value());
  }
  return out;
}

NamedRow decode_row(const std::string& blob) {
  std::size_t at = 0;
  std::uint32_t n = get_u32(blob, at);
  NamedRow out;
  out.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string name = get_bytes(blob, at);
    out.emplace_back(std::move(name), get_value(blob, at));
  }
  return out;
}

// The row in `table`'s column order (columns it did not have yet are NULL).
Row to_row(const NamedRow& named, const DestinationTable& table) {
  Row out(table.schema.columns.size());
  for (const auto& [name, v] : named) {
    int i = table.schema.index_of(name);
    if (i >= 0) out[static_cast<std::size_t>(i)] = v;
  }
  return out;
}

// Normalised text of values compared for equality: "n<digits>" for integers and booleans, "d<g17>"
// for doubles, "t<text>" for the rest, each length-prefixed. NULL never matches: has_null() first.
std::string normal(const std::vector<Value>& values) {
  std::string out;
  for (const auto& v : values) {
    std::string part;
    switch (v.kind()) {
      case ValueKind::Null: part = "0"; break;
      case ValueKind::Bool: part = v.as_bool() ? "n1" : "n0"; break;
      case ValueKind::Int: part = "n" + std::to_string(v.as_int()); break;
      case ValueKind::UInt: part = "n" + std::to_string(v.as_uint()); break;
      case ValueKind::Double: part = fmt::format("d{:.17g}", v.as_double()); break;
      default: part = "t" + v.text(); break;
    }
    put_bytes(out, part);
  }
  return out;
}

bool has_null(const std::vector<Value>& values) {
  return std::any_of(values.begin(), values.end(), [](const Value& v) { return v.is_null(); });
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out.push_back('\x1f');
    out += n;
  }
  return out;
}

std::vector<std::string> split_names(const std::string& joined) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto end = joined.find('\x1f', start);
    out.push_back(joined.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// Values of `names` in a named row (NULL where absent).
std::vector<Value> pick(const NamedRow& row, const std::vector<std::string>& names) {
  std::vector<Value> out;
  out.reserve(names.size());
  for (const auto& n : names) {
    auto it = std::find_if(row.begin(), row.end(), [&](const auto& c) { return c.first == n; });
    out.push_back(it == row.end() ? Value() : it->second);
  }
  return out;
}

// The key columns of a table (all but the soft-delete flag where it has no primary key).
std::vector<int> key_positions(const DestinationTable& table) {
  WriteLayout l = write_layout(table);
  if (!l.key.empty()) return l.key;
  std::vector<int> all;
  for (std::size_t i = 0; i < table.schema.columns.size(); ++i)
    if (static_cast<int>(i) != l.soft_delete) all.push_back(static_cast<int>(i));
  return all;
}

std::string key_of(const Row& row, const std::vector<int>& positions) {
  std::vector<Value> k;
  k.reserve(positions.size());
  for (int p : positions) k.push_back(static_cast<std::size_t>(p) < row.size() ? row[static_cast<std::size_t>(p)] : Value());
  return normal(k);
}

}  // namespace

// ---- the store ---------------------------------------------------------------------------------

struct CascadeState::Impl {
  std::string path;
  std::shared_ptr<CheckpointStore> store;
  std::string session;
  sqlite::Db db;
  std::int64_t last = 0;     // the newest transaction the copy holds
  std::int64_t open = 0;     // the transaction under way (0 = none)
  bool unsure = false;       // a destination commit failed: reconcile before the next transaction
  std::map<std::string, std::int64_t> table_ids;
  std::map<std::int64_t, std::set<std::string>> colsets;  // indexed referencing-column sets per table
  std::unique_ptr<sqlite::Stmt> get_row, put_row, del_row, put_undo, get_refs, put_ref, del_ref;

  sqlite::Stmt stmt(const std::string& sql) { return sqlite::Stmt(db, sql, "cascade state " + path); }
  sqlite::Stmt& cached(std::unique_ptr<sqlite::Stmt>& s, const char* sql) {
    if (!s) s = std::make_unique<sqlite::Stmt>(stmt(sql));
    return *s;
  }

  std::int64_t meta_int(const char* name) {
    auto s = stmt("SELECT value FROM meta WHERE name = ?");
    s.bind_text(1, name);
    std::int64_t v = 0;
    if (s.step()) sqlite::parse_int64(s.column_text(0), v);
    return v;
  }
  void set_meta(const char* name, std::int64_t v) {
    auto s = stmt("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)");
    s.bind_text(1, name);
    s.bind_text_copy(2, std::to_string(v));
    s.run();
  }

  std::int64_t table_id(const DestinationTable& t) {
    const std::string name = t.schema.id.to_string();
    if (auto it = table_ids.find(name); it != table_ids.end()) return it->second;
    auto ins = stmt("INSERT OR IGNORE INTO tables(name) VALUES (?)");
    ins.bind_text(1, name);
    ins.run();
    auto sel = stmt("SELECT id FROM tables WHERE name = ?");
    sel.bind_text(1, name);
    sel.step();
    std::int64_t id = sel.column_int64(0);
    table_ids[name] = id;
    return id;
  }

  std::optional<std::string> read(std::int64_t tbl, const std::string& key) {
    auto& s = cached(get_row, "SELECT row FROM rows WHERE tbl = ? AND k = ?");
    s.bind_int64(1, tbl);
    s.bind_blob(2, key);
    std::optional<std::string> out;
    if (s.step()) out = s.column_text(0);
    s.reset();
    return out;
  }

  void refs(std::int64_t tbl, const std::string& key, const std::string& blob, bool add) {
    auto it = colsets.find(tbl);
    if (it == colsets.end() || it->second.empty()) return;
    NamedRow row = decode_row(blob);
    for (const auto& cols : it->second) {
      auto values = pick(row, split_names(cols));
      if (has_null(values)) continue;
      std::string v = normal(values);
      auto& s = add ? cached(put_ref, "INSERT OR IGNORE INTO refs(tbl, cols, v, k) VALUES (?, ?, ?, ?)")
                    : cached(del_ref, "DELETE FROM refs WHERE tbl = ? AND cols = ? AND v = ? AND k = ?");
      s.bind_int64(1, tbl);
      s.bind_text(2, cols);
      s.bind_blob(3, v);
      s.bind_blob(4, key);
      s.run();
    }
  }

  // Records the row as it was before this transaction first touched it.
  void undo(std::int64_t tbl, const std::string& key, const std::optional<std::string>& old) {
    auto& s = cached(put_undo, "INSERT OR IGNORE INTO undo(n, tbl, k, row) VALUES (?, ?, ?, ?)");
    s.bind_int64(1, open);
    s.bind_int64(2, tbl);
    s.bind_blob(3, key);
    if (old) s.bind_blob(4, *old);
    else s.bind_null(4);
    s.run();
  }

  // Sets (or, with no blob, removes) one row, keeping undo and the reference index.
  void set(std::int64_t tbl, const std::string& key, const std::optional<std::string>& blob, bool keep_undo = true) {
    auto old = read(tbl, key);
    if (keep_undo) undo(tbl, key, old);
    if (old) refs(tbl, key, *old, false);
    if (blob) {
      auto& s = cached(put_row, "INSERT OR REPLACE INTO rows(tbl, k, row) VALUES (?, ?, ?)");
      s.bind_int64(1, tbl);
      s.bind_blob(2, key);
      s.bind_blob(3, *blob);
      s.run();
      refs(tbl, key, *blob, true);
    } else if (old) {
      auto& s = cached(del_row, "DELETE FROM rows WHERE tbl = ? AND k = ?");
      s.bind_int64(1, tbl);
      s.bind_blob(2, key);
      s.run();
    }
  }

  // Indexes `cols` of a table (built from its rows the first time a cascade selects by them).
  void ensure_colset(std::int64_t tbl, const std::string& cols) {
    if (colsets[tbl].count(cols)) return;
    auto add = stmt("INSERT OR IGNORE INTO colsets(tbl, cols) VALUES (?, ?)");
    add.bind_int64(1, tbl);
    add.bind_text(2, cols);
    add.run();
    auto names = split_names(cols);
    auto all = stmt("SELECT k, row FROM rows WHERE tbl = ?");
    all.bind_int64(1, tbl);
    auto ins = stmt("INSERT OR IGNORE INTO refs(tbl, cols, v, k) VALUES (?, ?, ?, ?)");
    while (all.step()) {
      auto values = pick(decode_row(all.column_text(1)), names);
      if (has_null(values)) continue;
      std::string k = all.column_text(0), v = normal(values);
      ins.bind_int64(1, tbl);
      ins.bind_text(2, cols);
      ins.bind_blob(3, v);
      ins.bind_blob(4, k);
      ins.run();
    }
    colsets[tbl].insert(cols);
  }

  // The first column of every row `s` gives (keys), `s` reset afterwards.
  static std::vector<std::string> keys(sqlite::Stmt& s) {
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.column_text(0));
    s.reset();
    return out;
  }

  // Keys of the rows whose `cols` hold `v`.
  std::vector<std::string> referencing(std::int64_t tbl, const std::string& cols, const std::string& v) {
    auto& s = cached(get_refs, "SELECT k FROM refs WHERE tbl = ? AND cols = ? AND v = ?");
    s.bind_int64(1, tbl);
    s.bind_text(2, cols);
    s.bind_blob(3, v);
    return keys(s);
  }

  // Puts back what transaction n changed (newest first when several are undone).
  void roll_back(std::int64_t n) {
    auto s = stmt("SELECT tbl, k, row FROM undo WHERE n = ?");
    s.bind_int64(1, n);
    std::vector<std::tuple<std::int64_t, std::string, std::optional<std::string>>> items;
    while (s.step())
      items.emplace_back(s.column_int64(0), s.column_text(1),
                         s.column_is_null(2) ? std::nullopt : std::optional<std::string>(s.column_text(2)));
    s.reset();
    for (const auto& [tbl, k, row] : items) set(tbl, k, row, false);
    drop_undo(n);
  }

  void drop_undo(std::int64_t n) {
    auto d = stmt("DELETE FROM undo WHERE n = ?");
    d.bind_int64(1, n);
    d.run();
  }

  std::vector<std::int64_t> undone_transactions() {
    auto s = stmt("SELECT DISTINCT n FROM undo ORDER BY n DESC");
    std::vector<std::int64_t> out;
    while (s.step()) out.push_back(s.column_int64(0));
    return out;
  }

  void wipe() {
    db.exec("DELETE FROM rows; DELETE FROM refs; DELETE FROM undo; DELETE FROM staged;");
  }

  void begin() {
    db.exec("BEGIN IMMEDIATE");
    open = last + 1;
  }
};

CascadeState::CascadeState(std::string path, std::shared_ptr<CheckpointStore> store, std::string session) : impl_(std::make_unique<Impl>()) {
  impl_->path = std::move(path);
  impl_->store = std::move(store);
  impl_->session = std::move(session);
  std::error_code ec;
  auto dir = std::filesystem::path(impl_->path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec)
    throw Error(ErrorKind::Config, fmt::format("cannot create the directory {} for the cascade state: {} (set state_dir)", dir.string(),
                                               ec.message()));
  impl_->db = sqlite::Db(impl_->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, 5000, ErrorKind::State);
  impl_->db.exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
      "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT);"
      "CREATE TABLE IF NOT EXISTS tables(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);"
      "CREATE TABLE IF NOT EXISTS rows(tbl INTEGER NOT NULL, k BLOB NOT NULL, row BLOB NOT NULL, PRIMARY KEY(tbl, k)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS colsets(tbl INTEGER NOT NULL, cols TEXT NOT NULL, PRIMARY KEY(tbl, cols)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS refs(tbl INTEGER NOT NULL, cols TEXT NOT NULL, v BLOB NOT NULL, k BLOB NOT NULL,"
      " PRIMARY KEY(tbl, cols, v, k)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS undo(n INTEGER NOT NULL, tbl INTEGER NOT NULL, k BLOB NOT NULL, row BLOB,"
      " PRIMARY KEY(n, tbl, k)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS staged(tbl INTEGER NOT NULL, s TEXT NOT NULL, k BLOB NOT NULL, PRIMARY KEY(tbl, s, k)) WITHOUT ROWID;",
      "cascade state " + impl_->path);
  impl_->last = impl_->meta_int("last");
  // Every indexed column set, before an undo puts rows back (their references go back with them).
  auto cs = impl_->stmt("SELECT tbl, cols FROM colsets");
  while (cs.step()) impl_->colsets[cs.column_int64(0)].insert(cs.column_text(1));
}

CascadeState::~CascadeState() = default;

std::string CascadeState::checkpoint_key() { return Ledger::cascade_state_key(); }

std::optional<std::int64_t> CascadeState::published(const std::map<std::string, std::string>& entries) {
  auto it = entries.find(checkpoint_key());
  if (it == entries.end() || it->second.empty()) return std::nullopt;
  std::int64_t n = 0;
  if (!sqlite::parse_int64(it->second, n) || n < 0)
    throw Error(ErrorKind::State, fmt::format("checkpoint \"{}\" holds \"{}\", not a transaction number", checkpoint_key(), it->second));
  return n;
}

std::string CascadeState::path_for(const std::string& dir, const std::string& session) {
  std::string file;
  for (char c : session) file.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_');
  return (std::filesystem::path(dir) / (file + ".cascades.sqlite")).string();
}

std::string CascadeState::default_dir() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  if (auto d = env("STATE_DIRECTORY"); !d.empty()) return d.substr(0, d.find(':'));  // systemd may list several
  if (auto d = env("XDG_STATE_HOME"); !d.empty()) return d + "/cdc";
  if (auto d = env("HOME"); !d.empty()) return d + "/.local/state/cdc";
  return ".cdc-state";
}

CascadeState::Verdict CascadeState::reconcile(const std::optional<std::int64_t>& published, bool resumed) {
  std::lock_guard<std::mutex> txn(txn_mu_);
  Impl& s = *impl_;
  s.db.exec("BEGIN IMMEDIATE");
  try {
    Verdict verdict = Verdict::InStep;
    if (!published) {
      // The destination never received a transaction that touched the copy: whatever the copy
      // holds is not its. A resumed session's tables were copied without it (or before it existed).
      s.wipe();
      s.last = 0;
      if (resumed) verdict = Verdict::Behind;
    } else {
      for (auto n : s.undone_transactions()) {
        if (n > *published) s.roll_back(n);
        else s.drop_undo(n);
      }
      if (s.last > *published) s.last = *published;  // what was undone
      if (s.last < *published) {
        s.wipe();
        verdict = Verdict::Behind;
        s.last = *published;
      }
    }
    s.set_meta("last", s.last);
    s.db.exec("COMMIT");
    s.unsure = false;
    return verdict;
  } catch (...) {
    s.db.rollback_quietly();
    s.last = s.meta_int("last");
    throw;
  }
}

// ---- the writer ------------------------------------------------------------------------------

class CascadeStateWriter : public DestinationWriter {
 public:
  CascadeStateWriter(std::unique_ptr<DestinationWriter> inner, std::shared_ptr<CascadeState> state)
      : inner_(std::move(inner)), state_(std::move(state)) {}
  ~CascadeStateWriter() override { end_txn(); }

  void begin() override { inner_->begin(); }

  void write_rows(const DestinationTable& table, const std::vector<Row>& rows) override {
    inner_->write_rows(table, rows);
    if (!table.reached_by_cascades) return;
    auto& s = touch();
    std::int64_t tbl = s.table_id(table);
    auto key = key_positions(table);
    for (const auto& r : rows) s.set(tbl, key_of(r, key), encode_row(table, r));
  }

  void apply(const DestinationTable& table, const std::vector<ChangeEvent>& changes) override {
    inner_->apply(table, changes);
    if (table.reached_by_cascades) mirror(table, changes);
  }

  void truncate(const DestinationTable& table) override {
    inner_->truncate(table);
    if (!table.reached_by_cascades) return;
    clear(touch(), table);
  }

  void apply_cascade(const CascadeChange& change) override {
    const DestinationTable& table = change.rows.table;
    auto& s = touch();
    std::vector<ChangeEvent> events;
    for (Row& before : select(s, change.rows)) {
      ChangeEvent ev;
      ev.table = change.source_table;
      ev.position = change.position;
      ev.transaction_id = change.transaction_id;
      ev.commit_time_us = change.commit_time_us;
      ev.end_of_transaction = false;
      if (change.action == CascadeChange::Action::Delete) {
        ev.op = ChangeOp::Delete;
        ev.before = std::move(before);
      } else {
        ev.op = ChangeOp::Update;
        ev.after = before;
        for (std::size_t i = 0; i < change.set_columns.size(); ++i) {
          int at = table.schema.index_of(change.set_columns[i]);
          if (at < 0) continue;
          ev.after[static_cast<std::size_t>(at)] = change.action == CascadeChange::Action::SetNull || i >= change.set_values.size()
                                                       ? Value()
                                                       : change.set_values[i];
        }
        ev.before = std::move(before);
      }
      events.push_back(std::move(ev));
    }
    if (events.empty()) return;
    inner_->apply(table, events);
    mirror(table, events);
  }

  void commit(const std::string& session, const std::vector<CheckpointEntry>& checkpoint) override {
    if (!lock_.owns_lock()) {
      inner_->commit(session, checkpoint);
      return;
    }
    auto& s = *state_->impl_;
    const std::int64_t n = s.open;
    s.set_meta("last", n);
    s.db.exec("COMMIT");  // durable before the destination has it: a replay finds the undo
    s.last = n;
    s.open = 0;
    failpoint("cascade_state.committed");  // the copy has n, the destination not yet
    std::vector<CheckpointEntry> entries = checkpoint;
    entries.push_back({CascadeState::checkpoint_key(), std::to_string(n)});
    try {
      inner_->commit(session, entries);
    } catch (...) {
      s.unsure = true;  // the next transaction asks the destination how far it got
      lock_.unlock();
      throw;
    }
    try {
      s.drop_undo(n);
    } catch (const Error& e) {
      logf(LogLevel::Warn, "session", "", "cascade state: dropping the undo of transaction {} failed ({}); the next start does", n,
           e.what());
    }
    lock_.unlock();
  }

  void rollback() noexcept override {
    inner_->rollback();
    end_txn();
  }

  void quarantine(const std::string& session, const std::vector<QuarantinedRow>& rows) override { inner_->quarantine(session, rows); }
  std::vector<std::string> evolve(const DestinationTable& table, const std::vector<TargetColumnChange>& changes) override {
    return inner_->evolve(table, changes);
  }
  void record_schema_changes(const std::string& session, const std::vector<SchemaHistoryEntry>& entries) override {
    inner_->record_schema_changes(session, entries);
  }

  void backfill(const DestinationTable& table, const std::vector<Row>& rows, const std::vector<bool>& columns) override {
    inner_->backfill(table, rows, columns);
    if (!table.reached_by_cascades) return;
    auto& s = touch();
    std::int64_t tbl = s.table_id(table);
    auto key = key_positions(table);
    for (const auto& r : rows) {
      std::string k = key_of(r, key);
      auto old = s.read(tbl, k);
      if (!old) continue;
      Row merged = to_row(decode_row(*old), table);
      for (std::size_t i = 0; i < columns.size() && i < merged.size() && i < r.size(); ++i)
        if (columns[i]) merged[i] = r[i];
      s.set(tbl, k, encode_row(table, merged));
    }
  }

  void stage_keys(const DestinationTable& table, const std::string& set, const std::vector<Row>& rows) override {
    inner_->stage_keys(table, set, rows);
    if (!table.reached_by_cascades) return;
    auto& s = touch();
    std::int64_t tbl = s.table_id(table);
    auto key = key_positions(table);
    auto ins = s.stmt("INSERT OR IGNORE INTO staged(tbl, s, k) VALUES (?, ?, ?)");
    for (const auto& r : rows) {
      std::string k = key_of(r, key);
      ins.bind_int64(1, tbl);
      ins.bind_text(2, set);
      ins.bind_blob(3, k);
      ins.run();
    }
  }

  std::int64_t sweep_unstaged(const DestinationTable& table, const std::string& set) override {
    std::int64_t removed = inner_->sweep_unstaged(table, set);
    if (!table.reached_by_cascades) return removed;
    auto& s = touch();
    std::int64_t tbl = s.table_id(table);
    auto gone = s.stmt("SELECT k FROM rows WHERE tbl = ? AND k NOT IN (SELECT k FROM staged WHERE tbl = ? AND s = ?)");
    gone.bind_int64(1, tbl);
    gone.bind_int64(2, tbl);
    gone.bind_text(3, set);
    for (const auto& k : CascadeState::Impl::keys(gone)) s.set(tbl, k, std::nullopt);
    drop_staged(s, tbl, set);
    return removed;
  }

  void drop_key_set(const DestinationTable& table, const std::string& set) override {
    inner_->drop_key_set(table, set);
    if (!table.reached_by_cascades) return;
    auto& s = touch();
    drop_staged(s, s.table_id(table), set);
  }

 private:
  // Opens this writer's transaction on the copy (waiting for another writer's to end).
  CascadeState::Impl& touch() {
    auto& s = *state_->impl_;
    if (lock_.owns_lock()) return s;
    lock_ = std::unique_lock<std::mutex>(state_->txn_mu_);
    try {
      if (s.unsure) {
        lock_.unlock();
        if (state_->reconcile(CascadeState::published(s.store->load(s.session)), true) == CascadeState::Verdict::Behind)
          throw Error(ErrorKind::State, fmt::format("cascade state {} lost transactions the destination has; restart the session so "
                                                    "that it copies the tables cascades reach again",
                                                    s.path));
        lock_ = std::unique_lock<std::mutex>(state_->txn_mu_);
      }
      s.begin();
    } catch (...) {
      if (lock_.owns_lock()) lock_.unlock();
      throw;
    }
    return s;
  }

  void end_txn() noexcept {
    if (!lock_.owns_lock()) return;
    auto& s = *state_->impl_;
    s.db.rollback_quietly();
    s.open = 0;
    lock_.unlock();
  }

  static void clear(CascadeState::Impl& s, const DestinationTable& table) {
    std::int64_t tbl = s.table_id(table);
    auto all = s.stmt("SELECT k FROM rows WHERE tbl = ?");
    all.bind_int64(1, tbl);
    for (const auto& k : CascadeState::Impl::keys(all)) s.set(tbl, k, std::nullopt);
  }

  static void drop_staged(CascadeState::Impl& s, std::int64_t tbl, const std::string& set) {
    auto d = s.stmt("DELETE FROM staged WHERE tbl = ? AND s = ?");
    d.bind_int64(1, tbl);
    d.bind_text(2, set);
    d.run();
  }

  // Keeps the copy of `table` in step with changes applied to it.
  void mirror(const DestinationTable& table, const std::vector<ChangeEvent>& changes) {
    auto& s = touch();
    std::int64_t tbl = s.table_id(table);
    auto key = key_positions(table);
    for (const auto& ch : changes) {
      switch (ch.op) {
        case ChangeOp::Truncate: clear(s, table); break;
        case ChangeOp::Delete:
          if (!ch.before.empty()) s.set(tbl, key_of(ch.before, key), std::nullopt);
          break;
        case ChangeOp::Insert:
        case ChangeOp::Update: {
          std::string k = key_of(ch.after, key);
          Row after = ch.after;
          if (!ch.unchanged.empty()) {  // columns the source did not send keep their value
            std::string from = ch.op == ChangeOp::Update && !ch.before.empty() ? key_of(ch.before, key) : k;
            if (auto old = s.read(tbl, from)) {
              Row prev = to_row(decode_row(*old), table);
              for (std::size_t i = 0; i < ch.unchanged.size() && i < after.size(); ++i)
                if (ch.unchanged[i]) after[i] = prev[i];
            }
          }
          if (ch.op == ChangeOp::Update && !ch.before.empty()) {
            std::string old_key = key_of(ch.before, key);
            if (old_key != k) s.set(tbl, old_key, std::nullopt);
          }
          s.set(tbl, k, encode_row(table, after));
          break;
        }
      }
    }
  }

  // The rows a selection reaches, as the copy has them now, in the table's column order.
  std::vector<Row> select(CascadeState::Impl& s, const RowSelection& sel) {
    std::vector<std::vector<Value>> values;
    if (sel.parent) {
      const DestinationTable& up = sel.parent->table;
      for (const Row& r : select(s, *sel.parent)) {
        std::vector<Value> v;
        for (const auto& c : sel.parent_columns) {
          int at = up.schema.index_of(c);
          v.push_back(at >= 0 && static_cast<std::size_t>(at) < r.size() ? r[static_cast<std::size_t>(at)] : Value());
        }
        values.push_back(std::move(v));
      }
    } else {
      values.assign(sel.keys.begin(), sel.keys.end());
    }
    std::int64_t tbl = s.table_id(sel.table);
    const std::string cols = join_names(sel.columns);
    s.ensure_colset(tbl, cols);
    std::vector<Row> out;
    std::set<std::string> seen;
    for (const auto& v : values) {
      if (has_null(v)) continue;
      for (const auto& k : s.referencing(tbl, cols, normal(v))) {
        if (!seen.insert(k).second) continue;
        if (auto blob = s.read(tbl, k)) out.push_back(to_row(decode_row(*blob), sel.table));
      }
    }
    return out;
  }

  std::unique_ptr<DestinationWriter> inner_;
  std::shared_ptr<CascadeState> state_;
  std::unique_lock<std::mutex> lock_;
};

namespace {

class CascadeStateDestination : public DestinationConnector {
 public:
  CascadeStateDestination(std::shared_ptr<DestinationConnector> inner, std::shared_ptr<CascadeState> state)
      : inner_(std::move(inner)), state_(std::move(state)) {}

  std::string dialect() const override { return inner_->dialect(); }
  void describe_source(const SourceInfo& source) override { inner_->describe_source(source); }
  DestinationCapabilities capabilities() const override {
    auto caps = inner_->capabilities();
    caps.cascades = true;
    return caps;
  }
  std::string render_ddl(const DestinationTable& table) const override { return inner_->render_ddl(table); }
  void prepare_table(const DestinationTable& table) override { inner_->prepare_table(table); }
  std::unique_ptr<DestinationWriter> open_writer() override {
    return std::make_unique<CascadeStateWriter>(inner_->open_writer(), state_);
  }
  SchemaObjectReport create_table_objects(const DestinationTable& table, const std::string& source_dialect,
                                          const SchemaSettings& settings) override {
    return inner_->create_table_objects(table, source_dialect, settings);
  }
  SchemaObjectReport create_foreign_keys(const std::vector<DestinationTable>& tables, const std::string& source_dialect,
                                         const SchemaSettings& settings) override {
    return inner_->create_foreign_keys(tables, source_dialect, settings);
  }
  SchemaObjectReport finish(const std::vector<DestinationTable>& tables, const std::string& source_dialect,
                            const SchemaSettings& settings) override {
    return inner_->finish(tables, source_dialect, settings);
  }
  std::shared_ptr<CheckpointStore> checkpoint_store() override { return inner_->checkpoint_store(); }
  std::size_t max_identifier_length() const override { return inner_->max_identifier_length(); }

 private:
  std::shared_ptr<DestinationConnector> inner_;
  std::shared_ptr<CascadeState> state_;
};

}  // namespace

std::shared_ptr<DestinationConnector> CascadeState::wrap(std::shared_ptr<DestinationConnector> inner, std::shared_ptr<CascadeState> state) {
  return std::make_shared<CascadeStateDestination>(std::move(inner), std::move(state));
}

}  // namespace cdc::detail
