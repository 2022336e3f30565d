// Trigger-based change capture for SQLite.
//
// SQLite has no change log a client can read, so cdc installs one:
//   _cdc_log(seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl, op, ts)   one row per row change, global order
//   _cdc_tables(id, name, columns)                                   captured tables and their column lists
//   _cdc_img_<id>(seq, "b:<col>"..., "a:<col>"...)                  before/after images per table
//   _cdc_image_columns(tbl, name, since)                             when each image column began
// and AFTER INSERT/UPDATE/DELETE triggers "_cdc_trg_<table>_ins|_upd|_del" that append to them.
// When a table's columns change, installing its capture again (prepare_stream/extend_capture)
// adds the new image columns and recreates the triggers in one write transaction; `since` is the
// last sequence logged before that, so entries up to it were written without the column and
// arrive with it marked unchanged (not as a NULL the table never held).
// Image columns are declared without a type: no affinity, so every value keeps its storage class
// exactly (JSON would lose BLOBs). Updates record the full before image so key changes and
// tables without a key can be applied. SQLite serialises writers, so every committed log entry
// is a safe checkpoint boundary; a position is the decimal text of a sequence number.
#include "sqlite/sqlite_capture.h"
#include "sqlite/sqlite_db.h"

#include "core/logging.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

namespace cdc::sqlite {

namespace {

constexpr int kWriteFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
constexpr int kBusyTimeoutMs = 30000;
constexpr const char* kLog = "\"_cdc_log\"";
constexpr const char* kTables = "\"_cdc_tables\"";
constexpr const char* kImageColumns = "\"_cdc_image_columns\"";
// Microseconds since the epoch (SQLite 3.40 has no unixepoch('subsec'); julianday has ms precision).
constexpr const char* kNowUs = "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)";

enum Op : int { kInsert = 1, kUpdate = 2, kDelete = 3 };

std::string image_table(std::int64_t id) { return quote_ident(fmt::format("_cdc_img_{}", id)); }
std::string trigger_name(const std::string& table, const char* suffix) {
  return quote_ident(fmt::format("_cdc_trg_{}_{}", table, suffix));
}

std::int64_t position_value(const Position& p) {
  if (p.empty()) return 0;
  std::int64_t v;
  if (!parse_int64(p.str(), v) || v < 0)
    throw Error(ErrorKind::State, fmt::format("\"{}\" is not a SQLite capture position (a sequence number)", p.str()));
  return v;
}

std::string encode_names(const std::vector<Column>& cols) {
  std::vector<Value> names;
  for (auto& c : cols) names.push_back(Value::string(c.name));
  return encode_key(names);
}

void create_log(Db& db) {
  db.exec(fmt::format("CREATE TABLE IF NOT EXISTS {}(seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl INTEGER NOT NULL, "
                      "op INTEGER NOT NULL, ts INTEGER NOT NULL)",
                      kLog));
  db.exec(fmt::format("CREATE TABLE IF NOT EXISTS {}(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
                      "columns TEXT NOT NULL)",
                      kTables));
  db.exec(fmt::format("CREATE TABLE IF NOT EXISTS {}(tbl INTEGER NOT NULL, name TEXT NOT NULL, since INTEGER NOT NULL, "
                      "PRIMARY KEY (tbl, name))",
                      kImageColumns));
}

std::int64_t current_seq(Db& db) {
  Stmt s(db,
         "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '_cdc_log'), 0), "
         "coalesce((SELECT max(seq) FROM \"_cdc_log\"), 0))");
  s.step();
  return s.column_int64(0);
}

void install_table(Db& db, const std::string& name) {
  const std::string where = "table " + name;
  TableInfo info = read_table_info(db, name);
  if (!info.exists)
    throw Error(ErrorKind::Schema, fmt::format("table {} does not exist in the SQLite source", name), false, where);
  if (info.columns.empty())
    throw Error(ErrorKind::Schema, fmt::format("table {} has no capturable columns", name), false, where);
  const std::string cols = encode_names(info.columns);

  std::int64_t id = -1;
  std::string stored;
  {
    Stmt s(db, fmt::format("SELECT id, columns FROM {} WHERE name = ?1", kTables), where);
    s.bind_text(1, name);
    if (s.step()) {
      id = s.column_int64(0);
      stored = s.column_text(1);
    }
  }
  if (id < 0) {
    Stmt ins(db, fmt::format("INSERT INTO {}(name, columns) VALUES(?1, '')", kTables), where);
    ins.bind_text(1, name);
    ins.run();
    id = sqlite3_last_insert_rowid(db.get());
  }
  const std::string img = image_table(id);

  // Image table: one untyped column per side and source column; new columns are added, none dropped
  // (old log entries keep their images).
  db.exec(fmt::format("CREATE TABLE IF NOT EXISTS {}(seq INTEGER PRIMARY KEY)", img), where);
  std::vector<std::string> have;
  {
    Stmt s(db, "SELECT name FROM pragma_table_info(?1)", where);
    std::string plain = fmt::format("_cdc_img_{}", id);
    s.bind_text(1, plain);
    while (s.step()) have.push_back(s.column_text(0));
  }
  const std::int64_t since = current_seq(db);
  for (const char* side : {"b:", "a:"})
    for (auto& c : info.columns) {
      std::string col = side + c.name;
      if (std::find(have.begin(), have.end(), col) != have.end()) continue;
      db.exec(fmt::format("ALTER TABLE {} ADD COLUMN {}", img, quote_ident(col)), where);
      Stmt rec(db, fmt::format("INSERT OR REPLACE INTO {}(tbl, name, since) VALUES(?1, ?2, ?3)", kImageColumns), where);
      rec.bind_int64(1, id);
      rec.bind_text(2, col);
      rec.bind_int64(3, since);
      rec.run();
    }

  const std::string t = quote_ident(name);
  const std::string ins_name = trigger_name(name, "ins"), upd_name = trigger_name(name, "upd"),
                    del_name = trigger_name(name, "del");
  if (stored != cols) {
    for (auto* trg : {&ins_name, &upd_name, &del_name}) db.exec("DROP TRIGGER IF EXISTS " + *trg, where);
    Stmt up(db, fmt::format("UPDATE {} SET columns = ?1 WHERE id = ?2", kTables), where);
    up.bind_text(1, cols);
    up.bind_int64(2, id);
    up.run();
    if (!stored.empty())
      detail::logf(LogLevel::Info, "sqlite.capture", name, "column list changed: capture triggers recreated");
  }

  std::string a_cols, b_cols, new_vals, old_vals;
  for (auto& c : info.columns) {
    a_cols += ", " + quote_ident("a:" + c.name);
    b_cols += ", " + quote_ident("b:" + c.name);
    new_vals += ", NEW." + quote_ident(c.name);
    old_vals += ", OLD." + quote_ident(c.name);
  }
  auto log_insert = [&](int op) {
    return fmt::format("INSERT INTO {}(tbl, op, ts) VALUES({}, {}, {});", kLog, id, op, kNowUs);
  };
  const std::string seq = fmt::format("(SELECT max(seq) FROM {})", kLog);
  db.exec(fmt::format("CREATE TRIGGER IF NOT EXISTS {} AFTER INSERT ON {} BEGIN {} INSERT INTO {}(seq{}) "
                      "VALUES({}{}); END",
                      ins_name, t, log_insert(kInsert), img, a_cols, seq, new_vals),
          where);
  db.exec(fmt::format("CREATE TRIGGER IF NOT EXISTS {} AFTER UPDATE ON {} BEGIN {} INSERT INTO {}(seq{}{}) "
                      "VALUES({}{}{}); END",
                      upd_name, t, log_insert(kUpdate), img, b_cols, a_cols, seq, old_vals, new_vals),
          where);
  db.exec(fmt::format("CREATE TRIGGER IF NOT EXISTS {} AFTER DELETE ON {} BEGIN {} INSERT INTO {}(seq{}) "
                      "VALUES({}{}); END",
                      del_name, t, log_insert(kDelete), img, b_cols, seq, old_vals),
          where);
}

// ---------------------------------------------------------------------------------------------

class CaptureStream final : public ChangeStream {
 public:
  CaptureStream(const std::string& path, const std::vector<StreamTable>& tables, const Position& from)
      : db_(path, kWriteFlags, kBusyTimeoutMs, ErrorKind::Source), last_(position_value(from)) {
    for (auto& t : tables) wanted_.emplace(t.schema.id.name, t);
  }

  void poll(std::vector<ChangeEvent>& out, std::size_t max_events, std::chrono::milliseconds timeout) override {
    if (max_events == 0) return;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::size_t before = out.size();
      std::size_t consumed = read_batch(out, max_events);
      if (out.size() > before) return;
      if (consumed > 0) continue;  // only entries of other tables: keep reading
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(deadline - now,
                                                                                std::chrono::milliseconds(25)));
    }
  }

  Position position() const override { return Position(std::to_string(last_)); }

  void acknowledge(const Position& position) override {
    std::int64_t upto = position_value(position);
    db_.exec("BEGIN IMMEDIATE");
    try {
      std::vector<std::int64_t> ids;
      {
        Stmt s(db_, fmt::format("SELECT id FROM {}", kTables));
        while (s.step()) ids.push_back(s.column_int64(0));
      }
      Stmt del(db_, fmt::format("DELETE FROM {} WHERE seq <= ?1", kLog));
      del.bind_int64(1, upto);
      del.run();
      for (auto id : ids) {
        if (!table_exists(fmt::format("_cdc_img_{}", id))) continue;
        Stmt d(db_, fmt::format("DELETE FROM {} WHERE seq <= ?1", image_table(id)));
        d.bind_int64(1, upto);
        d.run();
      }
      db_.exec("COMMIT");
    } catch (...) {
      db_.rollback_quietly();
      throw;
    }
  }

 private:
  // Per captured table, resolved once per read: image statement, projection and filter.
  struct Reader {
    const StreamTable* table = nullptr;  // null: not wanted
    Stmt image;
    std::vector<int> before_idx, after_idx;  // image column per output column, -1 = not logged
    std::vector<std::int64_t> after_since;   // per output column: entries up to it lack the column
    std::vector<int> all_after;              // every "a:" column of the image, for the filter
    Stmt filter;
    std::vector<int> key;                    // key indexes in the output schema
  };

  bool table_exists(const std::string& name) {
    Stmt s(db_, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1");
    s.bind_text(1, name);
    return s.step();
  }

  std::map<std::int64_t, std::string> table_names() {
    std::map<std::int64_t, std::string> names;
    Stmt s(db_, fmt::format("SELECT id, name FROM {}", kTables));
    while (s.step()) names.emplace(s.column_int64(0), s.column_text(1));
    return names;
  }

  Reader& reader_for(std::map<std::int64_t, Reader>& readers, std::int64_t id,
                     std::map<std::int64_t, std::string>& names) {
    auto it = readers.find(id);
    if (it != readers.end()) return it->second;
    Reader& r = readers[id];
    auto n = names.find(id);
    if (n == names.end()) return r;
    auto w = wanted_.find(n->second);
    if (w == wanted_.end()) return r;
    r.table = &w->second;
    const TableSchema& schema = r.table->schema;
    const std::string where = "table " + schema.id.to_string();
    r.image = Stmt(db_, fmt::format("SELECT * FROM {} WHERE seq = ?1", image_table(id)), where);
    std::map<std::string, int> cols;
    for (int i = 0; i < r.image.column_count(); ++i) {
      std::string c = r.image.column_name(i);
      cols.emplace(c, i);
      if (c.rfind("a:", 0) == 0) r.all_after.push_back(i);
    }
    std::map<std::string, std::int64_t> since;
    if (table_exists("_cdc_image_columns")) {
      Stmt s(db_, fmt::format("SELECT name, since FROM {} WHERE tbl = ?1", kImageColumns), where);
      s.bind_int64(1, id);
      while (s.step()) since[s.column_text(0)] = s.column_int64(1);
    }
    for (auto& c : schema.columns) {
      auto b = cols.find("b:" + c.name);
      auto a = cols.find("a:" + c.name);
      r.before_idx.push_back(b == cols.end() ? -1 : b->second);
      r.after_idx.push_back(a == cols.end() ? -1 : a->second);
      auto sa = since.find("a:" + c.name);
      r.after_since.push_back(sa == since.end() ? 0 : sa->second);
    }
    r.key = schema.key_indexes();
    if (!r.table->where.empty()) {
      std::string inner;
      for (std::size_t i = 0; i < r.all_after.size(); ++i) {
        inner += i ? ", " : "";
        inner += "? AS " + quote_ident(r.image.column_name(r.all_after[i]).substr(2));
      }
      r.filter = Stmt(db_, fmt::format("SELECT CASE WHEN ({}) THEN 1 ELSE 0 END FROM (SELECT {})", r.table->where, inner),
                      where + " (stream filter)");
    }
    return r;
  }

  static Row project(const Stmt& image, const std::vector<int>& idx, const TableSchema& schema) {
    Row row(idx.size());
    for (std::size_t i = 0; i < idx.size(); ++i)
      if (idx[i] >= 0) row[i] = image.column_value(idx[i], schema.columns[i].type.id);
    return row;
  }

  // The columns entry `seq` did not log: none of its triggers had them (the image table lacks
  // the column, or gained it after the entry). Empty when every column was logged.
  static std::vector<bool> not_logged(const Reader& r, std::int64_t seq) {
    std::vector<bool> out(r.after_idx.size(), false);
    bool any = false;
    for (std::size_t i = 0; i < out.size(); ++i)
      if (r.after_idx[i] < 0 || seq <= r.after_since[i]) out[i] = any = true;
    if (!any) out.clear();
    return out;
  }

  bool passes(Reader& r) {
    if (!r.filter) return true;
    for (std::size_t i = 0; i < r.all_after.size(); ++i)
      sqlite3_bind_value(r.filter.get(), int(i) + 1, sqlite3_column_value(r.image.get(), r.all_after[i]));
    bool ok = r.filter.step() && r.filter.column_int64(0) != 0;
    r.filter.reset();
    return ok;
  }

  static bool same_key(const Row& a, const Row& b, const std::vector<int>& key) {
    for (int k : key)
      if (a[std::size_t(k)] != b[std::size_t(k)]) return false;
    return true;
  }

  // Reads up to `max` log entries after last_ in one read transaction; returns how many were consumed.
  std::size_t read_batch(std::vector<ChangeEvent>& out, std::size_t max) {
    std::size_t consumed = 0;
    db_.exec("BEGIN");
    try {
      if (!table_exists("_cdc_log")) {
        db_.exec("COMMIT");
        return 0;
      }
      auto names = table_names();
      std::map<std::int64_t, Reader> readers;
      Stmt log(db_, fmt::format("SELECT seq, tbl, op, ts FROM {} WHERE seq > ?1 ORDER BY seq LIMIT ?2", kLog));
      log.bind_int64(1, last_);
      log.bind_int64(2, std::int64_t(max));
      std::size_t delivered = 0;
      while (delivered < max && log.step()) {
        std::int64_t seq = log.column_int64(0), id = log.column_int64(1), ts = log.column_int64(3);
        int op = int(log.column_int64(2));
        ++consumed;
        Reader& r = reader_for(readers, id, names);
        if (r.table) {
          r.image.bind_int64(1, seq);
          if (!r.image.step())
            throw Error(ErrorKind::Protocol, fmt::format("capture log entry {} has no row image", seq), false,
                        "table " + r.table->schema.id.to_string());
          delivered += emit(r, seq, op, ts, out);
          r.image.reset();
        }
        last_ = seq;
      }
      log.finalize();
      readers.clear();
      db_.exec("COMMIT");
    } catch (...) {
      db_.rollback_quietly();
      throw;
    }
    return consumed;
  }

  std::size_t emit(Reader& r, std::int64_t seq, int op, std::int64_t ts, std::vector<ChangeEvent>& out) {
    const TableSchema& schema = r.table->schema;
    auto make = [&](ChangeOp o) -> ChangeEvent& {
      ChangeEvent& e = out.emplace_back();
      e.op = o;
      e.table = schema.id;
      e.position = Position(std::to_string(seq));
      e.commit_time_us = ts;
      e.end_of_transaction = true;
      return e;
    };
    const bool keyed = !r.key.empty();
    switch (op) {
      case kInsert: {
        Row after = project(r.image, r.after_idx, schema);
        if (passes(r)) {
          ChangeEvent& e = make(ChangeOp::Insert);
          e.after = std::move(after);
          e.unchanged = not_logged(r, seq);
        } else if (keyed) {
          make(ChangeOp::Delete).before = std::move(after);
        } else {
          return 0;
        }
        return 1;
      }
      case kUpdate: {
        Row before = project(r.image, r.before_idx, schema);
        Row after = project(r.image, r.after_idx, schema);
        if (passes(r)) {
          ChangeEvent& e = make(ChangeOp::Update);
          e.before = std::move(before);
          e.after = std::move(after);
          e.unchanged = not_logged(r, seq);
          return 1;
        }
        // The row left the filter: remove it under its old key (and the new one, if that differs).
        bool key_changed = keyed && !same_key(before, after, r.key);
        make(ChangeOp::Delete).before = std::move(before);
        if (!key_changed) return 1;
        out.back().end_of_transaction = false;
        make(ChangeOp::Delete).before = std::move(after);
        return 2;
      }
      case kDelete: make(ChangeOp::Delete).before = project(r.image, r.before_idx, schema); return 1;
      default:
        throw Error(ErrorKind::Protocol, fmt::format("capture log entry {} has unknown operation {}", seq, op), false,
                    "table " + schema.id.to_string());
    }
  }

  Db db_;
  std::map<std::string, StreamTable> wanted_;
  std::int64_t last_ = 0;
};

}  // namespace

StreamStart prepare_capture(const std::string& path, const std::vector<StreamTable>& tables) {
  Db db(path, kWriteFlags, kBusyTimeoutMs, ErrorKind::Source);
  db.exec("BEGIN IMMEDIATE");
  std::int64_t seq = 0;
  try {
    create_log(db);
    for (auto& t : tables) install_table(db, t.schema.id.name);
    seq = current_seq(db);
    db.exec("COMMIT");
  } catch (...) {
    db.rollback_quietly();
    throw;
  }
  detail::logf(LogLevel::Debug, "sqlite.capture", "", "capture prepared for {} table(s) at sequence {}", tables.size(),
               seq);
  return StreamStart{Position(std::to_string(seq)), ""};
}

std::unique_ptr<ChangeStream> open_capture_stream(const std::string& path, const std::vector<StreamTable>& tables,
                                                  const Position& from) {
  return std::make_unique<CaptureStream>(path, tables, from);
}

std::vector<std::string> teardown_capture(const std::string& path) {
  Db db(path, kWriteFlags, kBusyTimeoutMs, ErrorKind::Source);
  std::vector<std::string> done;
  db.exec("BEGIN IMMEDIATE");
  try {
    std::vector<std::pair<std::string, std::string>> objects;
    {
      Stmt s(db,
             "SELECT type, name FROM sqlite_schema WHERE type IN ('trigger', 'table') AND substr(name, 1, 5) = '_cdc_' "
             "ORDER BY type = 'table', name");
      while (s.step()) objects.emplace_back(s.column_text(0), s.column_text(1));
    }
    for (auto& [type, name] : objects) {
      db.exec(fmt::format("DROP {} IF EXISTS {}", type == "trigger" ? "TRIGGER" : "TABLE", quote_ident(name)));
      done.push_back(fmt::format("dropped {} {}", type, name));
    }
    {
      Stmt s(db, "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'");
      if (s.step()) {
        s.finalize();
        db.exec("DELETE FROM sqlite_sequence WHERE substr(name, 1, 5) = '_cdc_'");
      }
    }
    db.exec("COMMIT");
  } catch (...) {
    db.rollback_quietly();
    throw;
  }
  for (auto& line : done) detail::logf(LogLevel::Info, "sqlite.capture", "", "{}", line);
  return done;
}

std::string capture_position(Db& db) {
  {
    Stmt s(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_cdc_log'");
    if (!s.step()) return {};
  }
  return std::to_string(current_seq(db));
}

int compare_capture_positions(const Position& a, const Position& b) {
  std::int64_t x = position_value(a), y = position_value(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

}  // namespace cdc::sqlite
