// CheckpointStore on a SQLite file: table _cdc_checkpoints(session, key, value, updated_at).
// Used standalone (scheme "sqlite") and as the destination's own store, where writers commit
// entries in their data transaction. One connection guarded by one mutex.
#include "sqlite/sqlite_connectors.h"
#include "sqlite/sqlite_db.h"
#include "sqlite/sqlite_lease.h"

#include "core/run_history.h"

#include <fmt/format.h>

#include <mutex>

namespace cdc::sqlite {

// Rows that could not be converted (Config::on_conversion_error: quarantine), with the reason.
std::string quarantine_table_ddl() {
  return fmt::format(
      "CREATE TABLE IF NOT EXISTS {}(id INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, source_table TEXT NOT NULL, "
      "row_key TEXT, column_name TEXT, raw_value TEXT, error TEXT NOT NULL, position TEXT, at TEXT NOT NULL)",
      quote_ident(kQuarantineTable));
}

// Source schema changes seen by the stream and what was done about them.
std::string schema_history_table_ddl() {
  return fmt::format(
      "CREATE TABLE IF NOT EXISTS {}(id INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, source_table TEXT NOT NULL, "
      "target_table TEXT NOT NULL, kind TEXT NOT NULL, column_name TEXT NOT NULL, old_column TEXT, old_type TEXT, "
      "new_type TEXT, action TEXT NOT NULL, ddl TEXT, position TEXT, at TEXT NOT NULL)",
      quote_ident(kSchemaHistoryTable));
}

std::string checkpoint_table_ddl() {
  return fmt::format(
      "CREATE TABLE IF NOT EXISTS {}(session TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
      "updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')), PRIMARY KEY(session, key))",
      quote_ident(kCheckpointTable));
}

namespace {

// _cdc_runs and _cdc_errors (CheckpointStore's run history). Times are text, as everywhere here.
detail::SqlHistory::Dialect history_dialect() {
  detail::SqlHistory::Dialect d;
  d.runs = quote_ident("_cdc_runs");
  d.errors = quote_ident("_cdc_errors");
  d.create_runs = fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (session TEXT NOT NULL, run INTEGER NOT NULL, kind TEXT NOT NULL, started_at TEXT NOT NULL, "
      "ended_at TEXT, outcome TEXT NOT NULL, rows_copied INTEGER NOT NULL, changes_applied INTEGER NOT NULL, version TEXT NOT NULL, "
      "holder TEXT NOT NULL, error TEXT, PRIMARY KEY (session, run))",
      d.runs);
  d.create_errors = fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (id INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, run INTEGER NOT NULL, "
      "at TEXT NOT NULL, source_table TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, position TEXT)",
      d.errors);
  d.now = "strftime('%Y-%m-%d %H:%M:%f', 'now')";
  d.time_value = "?";
  d.time_text = "{}";
  return d;
}

class SqliteCheckpointStore final : public detail::HistoryCheckpointStore {
 public:
  explicit SqliteCheckpointStore(std::string path) : HistoryCheckpointStore(history_dialect()), path_(std::move(path)) {
    std::lock_guard lock(mu_);
    ensure_open();
  }


  std::map<std::string, std::string> load(const std::string& session) override {
    std::lock_guard lock(mu_);
    ensure_open();
    std::map<std::string, std::string> out;
    Stmt s(db_, fmt::format("SELECT key, value FROM {} WHERE session = ?1", quote_ident(kCheckpointTable)), where());
    s.bind_text(1, session);
    while (s.step()) out.emplace(s.column_text(0), s.column_text(1));
    return out;
  }

  void put(const std::string& session, const std::vector<CheckpointEntry>& entries) override {
    if (entries.empty()) return;
    std::lock_guard lock(mu_);
    ensure_open();
    db_.exec("BEGIN IMMEDIATE", where());
    try {
      Stmt up(db_,
              fmt::format("INSERT INTO {}(session, key, value, updated_at) VALUES(?1, ?2, ?3, "
                          "strftime('%Y-%m-%d %H:%M:%f', 'now')) ON CONFLICT(session, key) DO UPDATE SET "
                          "value = excluded.value, updated_at = excluded.updated_at",
                          quote_ident(kCheckpointTable)),
              where());
      Stmt del(db_, fmt::format("DELETE FROM {} WHERE session = ?1 AND key = ?2", quote_ident(kCheckpointTable)),
               where());
      for (auto& e : entries) {
        Stmt& s = e.value.empty() ? del : up;
        s.bind_text(1, session);
        s.bind_text(2, e.key);
        if (!e.value.empty()) s.bind_text(3, e.value);
        s.run();
      }
      db_.exec("COMMIT", where());
    } catch (...) {
      db_.rollback_quietly();
      throw;
    }
  }

  void clear(const std::string& session) override {
    std::lock_guard lock(mu_);
    ensure_open();
    Stmt s(db_, fmt::format("DELETE FROM {} WHERE session = ?1", quote_ident(kCheckpointTable)), where());
    s.bind_text(1, session);
    s.run();
  }

  std::vector<std::string> sessions() override {
    std::lock_guard lock(mu_);
    ensure_open();
    std::vector<std::string> out;
    Stmt s(db_, fmt::format("SELECT DISTINCT session FROM {} ORDER BY session", quote_ident(kCheckpointTable)),
           where());
    while (s.step()) out.push_back(s.column_text(0));
    return out;
  }

  std::unique_ptr<SessionLease> acquire_lease(const std::string& session, const std::string& holder) override {
    return sqlite::acquire_lease(path_, session, holder);
  }

  std::optional<std::string> lease_holder(const std::string& session) override { return sqlite::lease_holder(path_, session); }

 private:
  std::string where() const { return "checkpoint store " + path_; }

  void ensure_open() {
    if (db_.get()) return;
    Db db(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, 60000, ErrorKind::State);
    {
      Stmt wal(db, "PRAGMA journal_mode=WAL", where());
      wal.step();
    }
    db.exec("PRAGMA synchronous=NORMAL", where());
    db.exec(checkpoint_table_ddl(), where());
    db_ = std::move(db);
  }

  void with_query(const std::function<void(const detail::SqlHistory::Query&)>& f) override {
    std::lock_guard lock(mu_);
    ensure_open();
    f([this](const std::string& sql, const detail::SqlHistory::Params& params) {
      Stmt s(db_, sql, "run history");
      for (std::size_t i = 0; i < params.size(); ++i) {
        if (params[i]) s.bind_text(static_cast<int>(i + 1), *params[i]);
        else s.bind_null(static_cast<int>(i + 1));
      }
      detail::SqlHistory::Rows rows;
      while (s.step()) {
        rows.emplace_back();
        for (int c = 0; c < s.column_count(); ++c)
          rows.back().push_back(s.column_is_null(c) ? std::nullopt : std::optional<std::string>(s.column_text(c)));
      }
      return rows;
    });
  }

  std::mutex mu_;
  std::string path_;
  Db db_;
};

}  // namespace

std::shared_ptr<CheckpointStore> make_checkpoint_store(const std::string& path) {
  return std::make_shared<SqliteCheckpointStore>(path);
}

}  // namespace cdc::sqlite
