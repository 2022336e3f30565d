// PostgreSQL destination: DDL from the mapped schema, snapshot rows through COPY (binary where
// every column's type has a codec in copy_binary.h, else text), change batches
// applied set-wise (reduced to one final state per key, staged with COPY into a temporary table,
// then DELETE ... USING and INSERT ... ON CONFLICT DO UPDATE), checkpoints in
// cdc_metadata.checkpoints inside the same transaction, and a CheckpointStore over that table.
// Writers run with session_replication_role=replica, so target triggers and FK checks do not
// fire for rows the source already checked (and chunks may load in any order).
// The connector holds one admin connection behind `mu_`; each writer has its own connection.
#include "postgres/copy_binary.h"
#include "postgres/pg_connectors.h"
#include "postgres/pg_lease.h"
#include "postgres/pg_types.h"

#include "core/array_literal.h"
#include "core/logging.h"

#include <cdc/plan.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

namespace cdc::pg {

std::string checkpoint_ddl() {
  return fmt::format(
      "CREATE SCHEMA IF NOT EXISTS {0}; "
      "CREATE TABLE IF NOT EXISTS {0}.{1} (session text NOT NULL, key text NOT NULL, value text NOT NULL, "
      "updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (session, key)); "
      // Rows that could not be converted (Config::on_conversion_error: quarantine), with the reason.
      "CREATE TABLE IF NOT EXISTS {0}.{2} (id bigserial PRIMARY KEY, session text NOT NULL, source_table text NOT NULL, "
      "row_key text, column_name text, raw_value text, error text NOT NULL, position text, at timestamptz NOT NULL); "
      // Source schema changes seen by the stream and what was done about them.
      "CREATE TABLE IF NOT EXISTS {0}.{3} (id bigserial PRIMARY KEY, session text NOT NULL, source_table text NOT NULL, "
      "target_table text NOT NULL, kind text NOT NULL, column_name text NOT NULL, old_column text, old_type text, "
      "new_type text, action text NOT NULL, ddl text, position text, at timestamptz NOT NULL)",
      kMetadataSchema, kCheckpointTable, kQuarantineTable, kSchemaHistoryTable);
}

namespace {

std::string where_of(const TableSchema& s) { return "table " + s.id.to_string(); }

// Target tables are created in the source table's schema when it has one, else in `public`.
std::string schema_of(const TableSchema& s) { return s.id.schema.empty() ? "public" : s.id.schema; }
std::string target_name(const TableSchema& s) { return quote_table(schema_of(s), s.id.name); }

// A string literal for DDL (enum labels, CHECK lists, comments); E'' so backslashes are plain.
std::string quote_literal(std::string_view text) {
  std::string out = "E'";
  for (char c : text) {
    if (c == '\\' || c == '\'') out += c;
    out += c;
  }
  return out + "'";
}

std::string literal_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + quote_literal(i);
  return out;
}

constexpr std::size_t kMaxIdentifier = 63;  // NAMEDATALEN - 1; enum labels have the same limit

// An ENUM mapped with enum_as: type gets a PostgreSQL enum type named <table>_<column> in the
// table's schema (shortened like every identifier), created once and reused on restart.
bool has_enum_type(const Column& c) { return c.source_type.empty() && c.type.id == TypeId::Enum && !c.type.members.empty(); }
std::string enum_type_name(const TableSchema& s, const Column& c) { return fit_identifier(s.id.name + "_" + c.name, kMaxIdentifier); }

// The column's type alone (what ALTER COLUMN ... TYPE takes).
std::string base_type(const TableSchema& s, const Column& c) {
  if (!c.source_type.empty()) return c.source_type;
  if (has_enum_type(c)) return quote_table(schema_of(s), enum_type_name(s, c));
  return pg_type_for(c.type);
}

// The type with its constraint, for CREATE TABLE and ADD COLUMN: an ENUM with enum_as: check is
// text limited to the labels.
std::string column_type(const TableSchema& s, const Column& c) {
  std::string type = base_type(s, c);
  if (c.source_type.empty() && c.type.id == TypeId::String && !c.type.members.empty())
    type += fmt::format(" CHECK ({} IN ({}))", quote_ident(c.name), literal_list(c.type.members));
  return type;
}

// A text[] made from a MariaDB SET keeps the labels in its comment (see kSetComment).
std::string column_comment(const TableSchema& s, const Column& c) {
  if (!c.source_type.empty() || c.type.id != TypeId::Array || c.type.members.empty()) return {};
  return fmt::format("; COMMENT ON COLUMN {}.{} IS {}", target_name(s), quote_ident(c.name), quote_literal(kSetComment + detail::text_array_literal(c.type.members)));
}

std::string create_enum_type(const TableSchema& s, const Column& c) {
  for (const auto& label : c.type.members)
    if (label.size() > kMaxIdentifier)
      throw Error(ErrorKind::Schema,
                  fmt::format("ENUM label '{}' of column {} is longer than the {} bytes a PostgreSQL enum label may have; "
                              "set enum_as: check for this table",
                              label, c.name, kMaxIdentifier),
                  false, where_of(s));
  return fmt::format("CREATE TYPE {} AS ENUM ({})", quote_table(schema_of(s), enum_type_name(s, c)), literal_list(c.type.members));
}

std::string render(const DestinationTable& table) {
  const TableSchema& s = table.schema;
  std::string sql = "CREATE TABLE IF NOT EXISTS " + target_name(s) + " (";
  std::string comments;
  for (std::size_t i = 0; i < s.columns.size(); ++i) {
    const Column& c = s.columns[i];
    sql += (i ? ", " : "") + quote_ident(c.name) + " " + column_type(s, c);
    if (!c.nullable) sql += " NOT NULL";
    if (c.default_expr && !c.source_type.empty()) sql += " DEFAULT " + *c.default_expr;
    comments += column_comment(s, c);
  }
  if (!s.primary_key.empty()) {
    sql += ", PRIMARY KEY (";
    for (std::size_t i = 0; i < s.primary_key.size(); ++i) sql += (i ? ", " : "") + quote_ident(s.primary_key[i]);
    sql += ")";
  }
  return sql + ")" + comments;
}

// Creates the enum types of a table's columns that do not exist yet, and adds labels an existing
// one lacks (a restart, or a second table's run, finds them in place).
void ensure_enum_types(Conn& c, const TableSchema& s) {
  for (const auto& col : s.columns) {
    if (!has_enum_type(col)) continue;
    const std::string name = enum_type_name(s, col);
    const std::string ddl = create_enum_type(s, col);
    Result have = c.exec_params(
        "SELECT t.typtype, e.enumlabel FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "LEFT JOIN pg_enum e ON e.enumtypid = t.oid WHERE n.nspname = $1 AND t.typname = $2 ORDER BY e.enumsortorder",
        {schema_of(s), name}, where_of(s));
    if (have.rows() == 0) {
      std::string state = c.try_exec(ddl);
      if (state == "42710") continue;  // created concurrently
      if (!state.empty()) c.exec(ddl, where_of(s));
      detail::logf(LogLevel::Info, "postgres.destination", s.id.to_string(), "created enum type {} for column {}", name, col.name);
      continue;
    }
    if (have.text(0, 0) != "e")
      throw Error(ErrorKind::Schema,
                  fmt::format("type {} for column {} already exists and is not an enum type; set enum_as: check or text",
                              quote_table(schema_of(s), name), col.name),
                  false, where_of(s));
    std::set<std::string> labels;
    for (int i = 0; i < have.rows(); ++i) labels.insert(have.text(i, 1));
    for (const auto& label : col.type.members)
      if (!labels.count(label))
        c.exec(fmt::format("ALTER TYPE {} ADD VALUE IF NOT EXISTS {}", quote_table(schema_of(s), name), quote_literal(label)),
               where_of(s));
  }
}

void write_checkpoint(Conn& c, const std::string& session, const std::vector<CheckpointEntry>& entries) {
  for (const auto& e : entries) {
    if (e.value.empty())
      c.exec_params(fmt::format("DELETE FROM {}.{} WHERE session = $1 AND key = $2", kMetadataSchema, kCheckpointTable),
                    {session, e.key}, "checkpoint table");
    else
      c.exec_params(fmt::format("INSERT INTO {}.{} (session, key, value, updated_at) VALUES ($1, $2, $3, now()) "
                                "ON CONFLICT (session, key) DO UPDATE SET value = excluded.value, updated_at = now()",
                                kMetadataSchema, kCheckpointTable),
                    {session, e.key, e.value}, "checkpoint table");
  }
}

// Per-table layout and SQL pieces, cached by a writer.
struct TableInfo {
  std::string signature;
  std::string name;        // quoted target
  std::string where;
  std::string columns;     // quoted column list
  std::size_t ncols = 0;
  std::vector<int> key;
  int flag = -1;           // soft-delete column index
  std::string stage;       // temp staging table (quoted), created lazily
  bool needs_upsert = false;  // write_rows met existing keys: always upsert from now on
  // Binary form of each target column's type; empty when the table is written as COPY text (a
  // column type without a binary codec, or a value that did not fit its column's binary form).
  std::vector<BinaryType> wire;
  DestinationTable table;  // as info() last saw it (for a deferred COPY's retry)
};

// Send COPY data about this much at a time.
constexpr std::size_t kCopyChunk = 1 << 20;

// The reduced state of one key within a batch.
struct KeyState {
  bool deleted = false;
  Row row;                      // upsert image (full width)
  std::vector<bool> unchanged;  // columns not to write (empty = all written)
  Row delete_image;             // the image a delete removes (keyed: key columns used)
  std::size_t order = 0;        // first touch, for a stable application order
};

class PgWriter final : public DestinationWriter {
 public:
  explicit PgWriter(const ConnParams& p) : c_(p, ErrorKind::Destination) {
    if (!c_.try_exec("SET session_replication_role = replica").empty())
      detail::logf(LogLevel::Debug, "postgres.destination", "", "session_replication_role=replica not permitted; triggers fire");
    c_.exec("SET synchronous_commit = on");
  }

  ~PgWriter() override { rollback(); }

  void begin() override {
    if (in_txn_) throw Error(ErrorKind::Internal, "PostgreSQL writer: begin() inside a transaction", false, c_.display());
    c_.exec("BEGIN");
    in_txn_ = true;
  }

  void write_rows(const DestinationTable& table, const std::vector<Row>& rows) override {
    if (rows.empty()) return;
    finish_pending();
    TableInfo& t = info(table);
    if (t.key.empty()) {
      if (send_binary(t, rows)) defer(t, false);
      else copy_rows(t, t.name, rows, nullptr);
      return;
    }
    // Fast path: COPY straight in. A key already present (a re-read chunk, an incremental
    // poll) fails it, and the rows go through staging and an upsert instead.
    if (!t.needs_upsert) {
      c_.exec("SAVEPOINT cdc_rows", t.where);
      try {
        if (send_binary(t, rows)) {
          defer(t, true);
          return;
        }
        copy_rows(t, t.name, rows, nullptr);
        c_.exec("RELEASE SAVEPOINT cdc_rows", t.where);
        return;
      } catch (const Error& e) {
        if (e.message().find("SQLSTATE 23505") == std::string::npos || !c_.healthy()) throw;
        c_.exec("ROLLBACK TO SAVEPOINT cdc_rows", t.where);
        t.needs_upsert = true;
      }
    }
    ensure_stage(t);
    c_.exec("DELETE FROM " + t.stage, t.where);
    copy_rows(t, t.stage, rows, nullptr);
    c_.exec(upsert_sql(table, t, {}), t.where);
  }

  void apply(const DestinationTable& table, const std::vector<ChangeEvent>& changes) override {
    finish_pending();
    TableInfo& t = info(table);
    if (t.key.empty()) {
      // Runs of inserts (an append-only log table's whole batch) go in one COPY.
      std::vector<Row> inserts;
      auto flush_inserts = [&] {
        if (!inserts.empty()) copy_rows(t, t.name, inserts, nullptr);
        inserts.clear();
      };
      for (const auto& e : changes) {
        if (e.op == ChangeOp::Insert) {
          inserts.push_back(e.after);
          continue;
        }
        flush_inserts();
        apply_keyless(table, t, e);
      }
      flush_inserts();
      return;
    }
    std::map<std::string, KeyState> states;
    std::size_t order = 0;
    auto flush = [&] {
      if (!states.empty()) apply_states(table, t, states);
      states.clear();
    };
    for (const auto& e : changes) {
      switch (e.op) {
        case ChangeOp::Truncate:
          flush();
          truncate_rows(table, t);
          break;
        case ChangeOp::Delete: {
          check_width(t, e.before);
          KeyState& s = states[key_of(t, e.before)];
          if (s.order == 0) s.order = ++order;
          s.deleted = true;
          s.row.clear();
          s.unchanged.clear();
          s.delete_image = e.before;
          break;
        }
        case ChangeOp::Insert:
        case ChangeOp::Update: {
          check_width(t, e.after);
          bool key_change = false;
          if (e.op == ChangeOp::Update && !e.before.empty()) {
            check_width(t, e.before);
            for (int k : t.key)
              if (!e.before[static_cast<std::size_t>(k)].is_null() &&
                  e.before[static_cast<std::size_t>(k)] != e.after[static_cast<std::size_t>(k)])
                key_change = true;
          }
          bool masked = std::find(e.unchanged.begin(), e.unchanged.end(), true) != e.unchanged.end();
          if (key_change && masked) {
            // The new row takes unsent values from the old one: move it in place.
            flush();
            move_row(table, t, e);
            break;
          }
          if (key_change) {
            KeyState& old = states[key_of(t, e.before)];
            if (old.order == 0) old.order = ++order;
            old.deleted = true;
            old.row.clear();
            old.unchanged.clear();
            old.delete_image = e.before;
          }
          KeyState& s = states[key_of(t, e.after)];
          if (s.order == 0) s.order = ++order;
          if (masked && !s.deleted && !s.row.empty()) {
            // Fill unsent columns from the earlier image of this batch where it had them.
            Row merged = e.after;
            std::vector<bool> mask = e.unchanged;
            for (std::size_t i = 0; i < mask.size() && i < merged.size(); ++i)
              if (mask[i] && (s.unchanged.empty() || !s.unchanged[i])) {
                merged[i] = s.row[i];
                mask[i] = false;
              }
            s.row = std::move(merged);
            s.unchanged = std::find(mask.begin(), mask.end(), true) != mask.end() ? std::move(mask) : std::vector<bool>{};
          } else if (masked && s.deleted) {
            // Deleted earlier in this batch, so unsent values are unknown: write what was sent.
            s.row = e.after;
            s.unchanged = e.unchanged;
          } else {
            s.row = e.after;
            s.unchanged = masked ? e.unchanged : std::vector<bool>{};
          }
          s.deleted = false;
          break;
        }
      }
    }
    flush();
  }

  void truncate(const DestinationTable& table) override {
    finish_pending();
    TableInfo& t = info(table);
    c_.exec("TRUNCATE " + t.name, t.where);
  }

  void commit(const std::string& session, const std::vector<CheckpointEntry>& checkpoint) override {
    finish_pending();
    if (!in_txn_) begin();
    if (!checkpoint.empty()) write_checkpoint(c_, session, checkpoint);
    c_.exec("COMMIT");
    in_txn_ = false;
  }

  void quarantine(const std::string& session, const std::vector<QuarantinedRow>& rows) override {
    finish_pending();
    if (!in_txn_) begin();
    const std::string sql = fmt::format(
        "INSERT INTO {}.{} (session, source_table, row_key, column_name, raw_value, error, position, at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8::double precision / 1000000))",
        kMetadataSchema, kQuarantineTable);
    for (const auto& q : rows)
      c_.exec_params(sql, {session, q.table, q.key, q.column, q.value, q.error, q.position, std::to_string(q.at_us)},
                     "quarantine table");
  }

  std::vector<std::string> evolve(const DestinationTable& table, const std::vector<TargetColumnChange>& changes) override {
    finish_pending();
    if (!in_txn_) begin();
    const TableSchema& s = table.schema;
    const std::string name = target_name(s);
    // What the table has now: a change replayed after a restart must not fail on its own effect.
    Result have = c_.exec_params(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped", {name},
        where_of(s));
    std::set<std::string> existing;
    for (int i = 0; i < have.rows(); ++i) existing.insert(have.text(i, 0));
    std::vector<std::string> out;
    for (const auto& ch : changes) {
      const std::string col = quote_ident(ch.column);
      std::string sql;
      switch (ch.kind) {
        case ColumnChangeKind::Added:
          if (existing.count(ch.column)) break;
          if (has_enum_type(ch.target)) {  // its enum type first (enum_as: type)
            TableSchema one = s;
            one.columns = {ch.target};
            ensure_enum_types(c_, one);
          }
          // Nullable whatever the source says: rows already copied have no value for it.
          sql = fmt::format("ALTER TABLE {} ADD COLUMN {} {}{}", name, col, column_type(s, ch.target),
                            ch.target.default_expr && !ch.target.source_type.empty() ? " DEFAULT " + *ch.target.default_expr : "");
          existing.insert(ch.column);
          break;
        case ColumnChangeKind::Dropped: sql = fmt::format("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL", name, col); break;
        case ColumnChangeKind::Widened:
        case ColumnChangeKind::Incompatible:
          sql = fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}", name, col, base_type(s, ch.target), col,
                            base_type(s, ch.target));
          break;
        case ColumnChangeKind::Renamed:
          if (!existing.count(ch.old_name) && existing.count(ch.column)) break;
          sql = fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", name, quote_ident(ch.old_name), col);
          existing.erase(ch.old_name);
          existing.insert(ch.column);
          break;
      }
      if (!sql.empty()) c_.exec(sql, where_of(s) + " column " + ch.column);
      out.push_back(sql);
    }
    tables_.erase(name);  // statements and staging follow the new shape
    return out;
  }

  void record_schema_changes(const std::string& session, const std::vector<SchemaHistoryEntry>& entries) override {
    finish_pending();
    if (!in_txn_) begin();
    const std::string sql = fmt::format(
        "INSERT INTO {}.{} (session, source_table, target_table, kind, column_name, old_column, old_type, new_type, action, "
        "ddl, position, at) VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), $9, NULLIF($10, ''), $11, "
        "to_timestamp($12::double precision / 1000000))",
        kMetadataSchema, kSchemaHistoryTable);
    for (const auto& h : entries)
      c_.exec_params(sql,
                     {session, h.table, h.target, h.kind, h.column, h.old_column, h.old_type, h.new_type, h.action, h.ddl,
                      h.position, std::to_string(h.at_us)},
                     "schema history table");
  }

  void rollback() noexcept override {
    if (!in_txn_) return;
    in_txn_ = false;
    if (!c_) return;
    if (pending_.active) {
      // The COPY's outcome no longer matters: collect it, so the connection can roll back.
      pending_.active = false;
      while (PGresult* r = PQgetResult(c_.get())) PQclear(r);
    }
    if (PQtransactionStatus(c_.get()) == PQTRANS_ACTIVE) {
      c_.close();  // stuck in a COPY or statement: drop the connection
      return;
    }
    Result r(PQexec(c_.get(), "ROLLBACK"));
    // Staging tables created in the failed transaction are gone.
    for (auto& [k, t] : tables_) t.stage.clear();
  }

 private:
  TableInfo& info(const DestinationTable& table) {
    if (!c_) throw Error(ErrorKind::Connection, "PostgreSQL writer connection was closed", true, "destination");
    const TableSchema& s = table.schema;
    std::string sig = shape_signature(table);
    std::string id = target_name(s);
    TableInfo& t = tables_[id];
    if (t.signature == sig) return t;
    t = TableInfo{};
    t.signature = sig;
    t.name = id;
    t.where = where_of(s);
    t.ncols = s.columns.size();
    WriteLayout layout = write_layout(table);
    t.key = std::move(layout.key);
    t.flag = layout.soft_delete;
    for (std::size_t i = 0; i < s.columns.size(); ++i) t.columns += (i ? ", " : "") + quote_ident(s.columns[i].name);
    t.wire = binary_types(table, t);
    t.table = table;
    return t;
  }

  // The binary form of each column of the table as it is at the destination (its types may
  // differ from the mapped schema when the table existed); empty when one has no codec.
  std::vector<BinaryType> binary_types(const DestinationTable& table, const TableInfo& t) {
    const TableSchema& s = table.schema;
    Result r = c_.exec_params(
        "SELECT a.attname, bt.typname, bt.typtype FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
        "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
        {t.name}, t.where);
    std::map<std::string, std::pair<std::string, std::string>> types;
    for (int i = 0; i < r.rows(); ++i) types[r.text(i, 0)] = {r.text(i, 1), r.text(i, 2)};
    std::vector<BinaryType> wire;
    for (std::size_t i = 0; i < s.columns.size(); ++i) {
      auto it = types.find(s.columns[i].name);
      // name: its binary input refuses what its text input would truncate.
      BinaryType b = BinaryType::None;
      if (it != types.end() && it->second.second != "d" && it->second.first != "name")
        b = target_binary_type(it->second.first, it->second.second.empty() ? 'b' : it->second.second[0]);
      if (static_cast<int>(i) == t.flag && b != BinaryType::Bool) b = BinaryType::None;
      if (b == BinaryType::None) {
        detail::logf(LogLevel::Debug, "postgres.destination", s.id.to_string(), "COPY text: column {} has type {}",
                     s.columns[i].name, it == types.end() ? "?" : it->second.first);
        return {};
      }
      wire.push_back(b);
    }
    return wire;
  }

  void ensure_stage(TableInfo& t) {
    if (!t.stage.empty()) return;
    std::string name = quote_ident("cdc_stage_" + std::to_string(++stage_counter_));
    // Emptied by DELETE between uses in a transaction and cheaply at commit.
    c_.exec(fmt::format("CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA", name, t.columns,
                        t.name),
            t.where);
    t.stage = name;
  }

  // Rows may omit a trailing soft-delete flag (written as false).
  static void check_width(const TableInfo& t, const Row& row) {
    if (row.size() == t.ncols) return;
    if (t.flag >= 0 && static_cast<std::size_t>(t.flag) == t.ncols - 1 && row.size() == t.ncols - 1) return;
    throw Error(ErrorKind::Internal, fmt::format("row has {} values, table has {} columns", row.size(), t.ncols), false, t.where);
  }

  static std::string key_of(const TableInfo& t, const Row& r) {
    std::string k;
    for (int i : t.key) {
      append_copy_text(r[static_cast<std::size_t>(i)], k);
      k += '\t';
    }
    return k;
  }

  // Starts a binary COPY of `rows` into the table itself and sends all of it with its end, without
  // waiting for the result (see defer). False, with nothing sent, when the table goes as text.
  bool send_binary(TableInfo& t, const std::vector<Row>& rows) {
    for (const Row& row : rows) check_width(t, row);
    if (t.wire.empty() || !encode_binary(t, rows, nullptr)) return false;
    send_copy_binary(t.name, t.columns, bin_, t.where);
    return true;
  }

  // A binary COPY of `data` into `target` (`cols`), sent whole with its end; the caller takes the
  // result (copy_in_wait) now or later.
  void send_copy_binary(const std::string& target, const std::string& cols, const ByteBuffer& data, const std::string& where) {
    c_.copy_in_start(fmt::format("COPY {} ({}) FROM STDIN (FORMAT binary)", target, cols), where);
    for (std::size_t at = 0; at < data.size(); at += kCopyChunk)
      c_.copy_in_put(data.data() + at, std::min(kCopyChunk, data.size() - at), where);
    c_.copy_in_send_end(where);
  }

  // The COPY just sent finishes on the server while the caller reads the next batch; its result
  // is taken by finish_pending() before anything else uses the connection. Its data is kept for
  // the retry through staging that a key already present needs.
  void defer(TableInfo& t, bool savepoint) {
    pending_.active = true;
    pending_.t = &t;
    pending_.savepoint = savepoint;
    std::swap(pending_.data, bin_);
  }

  void finish_pending() {
    if (!pending_.active) return;
    pending_.active = false;
    TableInfo& t = *pending_.t;
    try {
      c_.copy_in_wait(t.where);
      if (pending_.savepoint) c_.exec("RELEASE SAVEPOINT cdc_rows", t.where);
    } catch (const Error& e) {
      if (!pending_.savepoint || e.message().find("SQLSTATE 23505") == std::string::npos || !c_.healthy()) throw;
      c_.exec("ROLLBACK TO SAVEPOINT cdc_rows", t.where);
      t.needs_upsert = true;
      ensure_stage(t);
      c_.exec("DELETE FROM " + t.stage, t.where);
      send_copy_binary(t.stage, t.columns, pending_.data, t.where);
      c_.copy_in_wait(t.where);
      c_.exec(upsert_sql(t.table, t, {}), t.where);
    }
  }

  // COPY rows (selected columns when `include` is given) into `target`: binary when every value
  // fits its column's binary form, else text.
  void copy_rows(TableInfo& t, const std::string& target, const std::vector<Row>& rows, const std::vector<bool>* include) {
    std::string cols;
    if (include) {
      auto names = split_columns(t);
      for (std::size_t i = 0; i < names.size(); ++i)
        if ((*include)[i]) cols += (cols.empty() ? "" : ", ") + names[i];
    } else {
      cols = t.columns;
    }
    for (const Row& row : rows) check_width(t, row);
    if (!t.wire.empty() && encode_binary(t, rows, include)) {
      send_copy_binary(target, cols, bin_, t.where);
      c_.copy_in_wait(t.where);
      return;
    }
    c_.copy_in_start(fmt::format("COPY {} ({}) FROM STDIN", target, cols), t.where);
    text_.clear();
    for (const Row& row : rows) {
      bool first = true;
      for (std::size_t i = 0; i < t.ncols; ++i) {
        if (include && !(*include)[i]) continue;
        if (!first) text_ += '\t';
        first = false;
        if (static_cast<int>(i) == t.flag && (i >= row.size() || row[i].is_null())) text_ += 'f';
        else append_copy_text(row[i], text_);
      }
      text_ += '\n';
      if (text_.size() >= kCopyChunk) {
        c_.copy_in_put(text_.data(), text_.size(), t.where);
        text_.clear();
      }
    }
    c_.copy_in_put(text_.data(), text_.size(), t.where);
    c_.copy_in_end(t.where);
  }

  // The whole COPY binary stream of `rows` into bin_ (encoded before the COPY starts, so a value
  // that does not fit sends the batch as text instead of half a stream). False when a value does
  // not fit: the table is written as text from then on.
  bool encode_binary(TableInfo& t, const std::vector<Row>& rows, const std::vector<bool>* include) {
    bin_.clear();
    append_copy_binary_header(bin_);
    std::size_t nfields = include ? static_cast<std::size_t>(std::count(include->begin(), include->end(), true)) : t.ncols;
    static const Value kFalse = Value::boolean(false);
    for (const Row& row : rows) {
      char* n = bin_.grow(2);
      n[0] = static_cast<char>(nfields >> 8);
      n[1] = static_cast<char>(nfields & 0xff);
      for (std::size_t i = 0; i < t.ncols; ++i) {
        if (include && !(*include)[i]) continue;
        const Value& v = static_cast<int>(i) == t.flag && (i >= row.size() || row[i].is_null()) ? kFalse : row[i];
        if (!append_binary_field(t.wire[i], v, bin_)) {
          detail::logf(LogLevel::Info, "postgres.destination", t.where,
                       "{} value {} of column {} has no exact binary form: the table is written as COPY text", to_string(v.kind()),
                       v.to_display(), split_columns(t)[i]);
          t.wire.clear();
          return false;
        }
      }
    }
    append_copy_binary_trailer(bin_);
    return true;
  }

  static std::vector<std::string> split_columns(const TableInfo& t) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      char ch = t.columns[i];
      if (ch == '"') {
        quoted = !quoted;
        cur += ch;
      } else if (!quoted && ch == ',') {
        out.push_back(cur);
        cur.clear();
        if (i + 1 < t.columns.size() && t.columns[i + 1] == ' ') ++i;
      } else {
        cur += ch;
      }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
  }

  std::string upsert_sql(const DestinationTable& table, const TableInfo& t, const std::vector<bool>& include) const {
    const TableSchema& s = table.schema;
    std::string cols, set;
    for (std::size_t i = 0; i < t.ncols; ++i) {
      if (!include.empty() && !include[i]) continue;
      std::string c = quote_ident(s.columns[i].name);
      cols += (cols.empty() ? "" : ", ") + c;
      if (std::find(t.key.begin(), t.key.end(), static_cast<int>(i)) != t.key.end()) continue;
      set += (set.empty() ? "" : ", ") + c + " = excluded." + c;
    }
    std::string keys;
    for (std::size_t i = 0; i < s.primary_key.size(); ++i) keys += (i ? ", " : "") + quote_ident(s.primary_key[i]);
    return fmt::format("INSERT INTO {0} ({1}) SELECT {1} FROM {2} ON CONFLICT ({3}) DO {4}", t.name, cols, t.stage, keys,
                       set.empty() ? "NOTHING" : "UPDATE SET " + set);
  }

  std::string key_match(const DestinationTable& table, const TableInfo& t, const std::string& a, const std::string& b) const {
    std::string cond;
    for (std::size_t i = 0; i < t.key.size(); ++i) {
      std::string c = quote_ident(table.schema.primary_key[i]);
      cond += (i ? " AND " : "") + a + "." + c + " = " + b + "." + c;
    }
    return cond;
  }

  void apply_states(const DestinationTable& table, TableInfo& t, std::map<std::string, KeyState>& states) {
    ensure_stage(t);
    std::vector<const KeyState*> ordered;
    for (auto& [k, s] : states) ordered.push_back(&s);
    std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->order < b->order; });
    // Deletes first: the remaining upserts touch other keys.
    std::vector<Row> deletes;
    for (auto* s : ordered)
      if (s->deleted) deletes.push_back(s->delete_image);
    if (!deletes.empty()) {
      c_.exec("DELETE FROM " + t.stage, t.where);
      // Only key columns matter; other columns may be NULL in a key-only old image.
      std::vector<Row> keys;
      keys.reserve(deletes.size());
      for (auto& d : deletes) {
        Row r(t.ncols);
        for (int k : t.key) r[static_cast<std::size_t>(k)] = d[static_cast<std::size_t>(k)];
        if (t.flag >= 0) r[static_cast<std::size_t>(t.flag)] = Value::boolean(true);
        keys.push_back(std::move(r));
      }
      copy_rows(t, t.stage, keys, nullptr);
      if (t.flag >= 0)
        c_.exec(fmt::format("UPDATE {0} AS d SET {1} = true FROM {2} AS s WHERE {3}", t.name,
                            quote_ident(table.schema.columns[static_cast<std::size_t>(t.flag)].name), t.stage,
                            key_match(table, t, "d", "s")),
                t.where);
      else
        c_.exec(fmt::format("DELETE FROM {0} AS d USING {1} AS s WHERE {2}", t.name, t.stage, key_match(table, t, "d", "s")),
                t.where);
    }
    // Upserts grouped by which columns they write.
    std::map<std::vector<bool>, std::vector<Row>> groups;
    for (auto* s : ordered) {
      if (s->deleted) continue;
      std::vector<bool> include(t.ncols, true);
      for (std::size_t i = 0; i < s->unchanged.size() && i < t.ncols; ++i)
        if (s->unchanged[i] && std::find(t.key.begin(), t.key.end(), static_cast<int>(i)) == t.key.end() &&
            static_cast<int>(i) != t.flag)
          include[i] = false;
      groups[include].push_back(s->row);
    }
    for (auto& [include, rows] : groups) {
      c_.exec("DELETE FROM " + t.stage, t.where);
      bool all = std::find(include.begin(), include.end(), false) == include.end();
      copy_rows(t, t.stage, rows, all ? nullptr : &include);
      c_.exec(upsert_sql(table, t, all ? std::vector<bool>{} : include), t.where);
    }
  }

  // A key-changing update whose new image lacks unsent (TOAST) values: update the old row in place.
  void move_row(const DestinationTable& table, TableInfo& t, const ChangeEvent& e) {
    std::vector<std::optional<std::string>> params;
    std::string set, cond;
    int p = 0;
    for (std::size_t i = 0; i < t.ncols; ++i) {
      if (i < e.unchanged.size() && e.unchanged[i]) continue;
      std::string v;
      if (static_cast<int>(i) == t.flag) v = "f";
      else if (e.after[i].is_null()) {
        set += (set.empty() ? "" : ", ") + quote_ident(table.schema.columns[i].name) + " = NULL";
        continue;
      } else append_param(e.after[i], v);
      set += (set.empty() ? "" : ", ") + quote_ident(table.schema.columns[i].name) + fmt::format(" = ${}", ++p);
      params.push_back(v);
    }
    for (std::size_t k = 0; k < t.key.size(); ++k) {
      std::string v;
      append_param(e.before[static_cast<std::size_t>(t.key[k])], v);
      cond += (k ? " AND " : "") + quote_ident(table.schema.primary_key[k]) + fmt::format(" = ${}", ++p);
      params.push_back(v);
    }
    c_.exec_params(fmt::format("UPDATE {} SET {} WHERE {}", t.name, set, cond), params, t.where);
  }

  // Text parameter form of a value (as COPY text without the escaping).
  static void append_param(const Value& v, std::string& out) {
    if (v.kind() == ValueKind::Bytes) {
      std::string t;
      append_copy_text(v, t);
      out += t.substr(1);
      return;
    }
    if (v.has_text()) {
      out += v.text();
      return;
    }
    append_copy_text(v, out);
  }

  // Tables without a key: inserts append; deletes remove one row equal to the old image.
  void apply_keyless(const DestinationTable& table, TableInfo& t, const ChangeEvent& e) {
    switch (e.op) {
      case ChangeOp::Truncate: truncate_rows(table, t); return;
      case ChangeOp::Insert: copy_rows(t, t.name, {e.after}, nullptr); return;
      case ChangeOp::Delete: remove_one(table, t, e.before); return;
      case ChangeOp::Update:
        if (e.before.empty())
          throw Error(ErrorKind::Destination, "update of a table without a key arrived without its old row", false, t.where);
        remove_one(table, t, e.before);
        copy_rows(t, t.name, {e.after}, nullptr);
        return;
    }
  }

  void remove_one(const DestinationTable& table, TableInfo& t, const Row& image) {
    check_width(t, image);
    std::vector<std::optional<std::string>> params;
    std::string cond;
    int p = 0;
    for (std::size_t i = 0; i < t.ncols; ++i) {
      if (static_cast<int>(i) == t.flag) continue;
      std::string c = quote_ident(table.schema.columns[i].name);
      if (image[i].is_null()) {
        cond += (cond.empty() ? "" : " AND ") + c + " IS NULL";
        continue;
      }
      std::string v;
      append_param(image[i], v);
      params.push_back(v);
      cond += (cond.empty() ? "" : " AND ") + c + fmt::format(" = ${}", ++p);
    }
    if (t.flag >= 0) {
      std::string f = quote_ident(table.schema.columns[static_cast<std::size_t>(t.flag)].name);
      c_.exec_params(fmt::format("UPDATE {0} SET {1} = true WHERE ctid = (SELECT ctid FROM {0} WHERE {2} AND NOT {1} LIMIT 1)",
                                 t.name, f, cond),
                     params, t.where);
    } else {
      c_.exec_params(fmt::format("DELETE FROM {0} WHERE ctid = (SELECT ctid FROM {0} WHERE {1} LIMIT 1)", t.name, cond), params,
                     t.where);
    }
  }

  void truncate_rows(const DestinationTable& table, TableInfo& t) {
    if (t.flag >= 0)
      c_.exec(fmt::format("UPDATE {} SET {} = true", t.name, quote_ident(table.schema.columns[static_cast<std::size_t>(t.flag)].name)),
              t.where);
    else
      c_.exec("TRUNCATE " + t.name, t.where);
  }

  Conn c_;
  ByteBuffer bin_;     // COPY binary data being sent
  struct Pending {
    bool active = false;    // a COPY was sent whose result is not taken yet
    TableInfo* t = nullptr;
    bool savepoint = false; // it runs inside SAVEPOINT cdc_rows (write_rows' fast path)
    ByteBuffer data;        // what it sent
  } pending_;
  std::string text_;  // COPY text data being sent
  bool in_txn_ = false;
  int stage_counter_ = 0;
  std::unordered_map<std::string, TableInfo> tables_;
};

class PgCheckpointStore final : public CheckpointStore {
 public:
  explicit PgCheckpointStore(ConnParams p) : params_(std::move(p)) {}

  std::map<std::string, std::string> load(const std::string& session) override {
    std::lock_guard<std::mutex> lock(mu_);
    Conn& c = conn();
    Result r = c.exec_params(fmt::format("SELECT key, value FROM {}.{} WHERE session = $1", kMetadataSchema, kCheckpointTable),
                             {session}, "checkpoint table");
    std::map<std::string, std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.emplace(r.text(i, 0), r.text(i, 1));
    return out;
  }

  void put(const std::string& session, const std::vector<CheckpointEntry>& entries) override {
    if (entries.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    Conn& c = conn();
    try {
      c.exec("BEGIN");
      write_checkpoint(c, session, entries);
      c.exec("COMMIT");
    } catch (...) {
      c_.close();
      throw;
    }
  }

  void clear(const std::string& session) override {
    std::lock_guard<std::mutex> lock(mu_);
    conn().exec_params(fmt::format("DELETE FROM {}.{} WHERE session = $1", kMetadataSchema, kCheckpointTable), {session},
                       "checkpoint table");
  }

  std::vector<std::string> sessions() override {
    std::lock_guard<std::mutex> lock(mu_);
    Result r = conn().exec(fmt::format("SELECT DISTINCT session FROM {}.{} ORDER BY 1", kMetadataSchema, kCheckpointTable),
                           "checkpoint table");
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
    return out;
  }

  std::unique_ptr<SessionLease> acquire_lease(const std::string& session, const std::string& holder) override {
    return pg::acquire_lease(params_, session, holder);
  }

  std::optional<std::string> lease_holder(const std::string& session) override { return pg::lease_holder(params_, session); }

 private:
  Conn& conn() {
    if (!c_.healthy()) {
      c_ = Conn(params_, ErrorKind::State);
      if (!ready_) {
        c_.exec(checkpoint_ddl(), "checkpoint table");
        ready_ = true;
      }
    }
    return c_;
  }

  std::mutex mu_;
  ConnParams params_;
  Conn c_;
  bool ready_ = false;
};

class PgDestination final : public DestinationConnector {
 public:
  explicit PgDestination(const ConnectorUrl& url) : params_(conn_params(url)) {
    Conn c(params_, ErrorKind::Destination);
    // Concurrent first runs may race on CREATE SCHEMA; a retry settles it.
    for (int attempt = 0;; ++attempt) {
      std::string state = c.try_exec(checkpoint_ddl());
      if (state.empty()) break;
      if (attempt >= 2 || (state != "23505" && state != "42P06" && state != "42P07")) c.exec(checkpoint_ddl(), "checkpoint table");
    }
  }

  std::string dialect() const override { return "postgresql"; }

  std::string render_ddl(const DestinationTable& table) const override {
    std::string types;
    for (const auto& c : table.schema.columns)
      if (has_enum_type(c)) types += create_enum_type(table.schema, c) + "; ";
    return types + render(table);
  }

  void prepare_table(const DestinationTable& table) override {
    const TableSchema& s = table.schema;
    std::lock_guard<std::mutex> lock(mu_);
    Conn& c = admin();
    std::string schema = schema_of(s);
    c.exec("CREATE SCHEMA IF NOT EXISTS " + quote_ident(schema), where_of(s));
    ensure_enum_types(c, s);
    Result have = c.exec_params(
        "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
        {schema, s.id.name}, where_of(s));
    if (have.rows() == 0) {
      c.exec(render(table), where_of(s));
      detail::logf(LogLevel::Info, "postgres.destination", s.id.to_string(), "created table");
      return;
    }
    std::set<std::string> existing;
    for (int i = 0; i < have.rows(); ++i) existing.insert(have.text(i, 0));
    for (const auto& col : s.columns) {
      if (existing.count(col.name)) continue;
      // Same dialect: the source's default too, so existing rows read as they do at the source.
      std::string def = col.default_expr && !col.source_type.empty() ? " DEFAULT " + *col.default_expr : "";
      c.exec(fmt::format("ALTER TABLE {} ADD COLUMN {} {}{}{}", target_name(s), quote_ident(col.name), column_type(s, col), def,
                         column_comment(s, col)),
             where_of(s));
      detail::logf(LogLevel::Info, "postgres.destination", s.id.to_string(), "added column {}", col.name);
    }
  }

  std::unique_ptr<DestinationWriter> open_writer() override { return std::make_unique<PgWriter>(params_); }

  std::shared_ptr<CheckpointStore> checkpoint_store() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!store_) store_ = std::make_shared<PgCheckpointStore>(params_);
    return store_;
  }

  std::size_t max_identifier_length() const override { return 63; }

 private:
  Conn& admin() {
    if (!admin_.healthy()) admin_ = Conn(params_, ErrorKind::Destination);
    return admin_;
  }

  ConnParams params_;
  std::mutex mu_;
  Conn admin_;
  std::shared_ptr<CheckpointStore> store_;
};

}  // namespace

std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url) { return std::make_shared<PgDestination>(url); }

std::shared_ptr<CheckpointStore> make_checkpoint_store(const ConnectorUrl& url) {
  return std::make_shared<PgCheckpointStore>(conn_params(url));
}

}  // namespace cdc::pg
