// PostgreSQL destination: DDL from the mapped schema, snapshot rows through COPY (binary where
// every column's type has a codec in copy_binary.h, else text), change batches reduced to one
// final state per key (core/writer/change_reducer.h), staged with COPY into a temporary table and
// applied with DELETE ... USING and INSERT ... ON CONFLICT DO UPDATE; backfills as COPY then
// UPDATE ... FROM; resync key sets in cdc_metadata; checkpoints in cdc_metadata.checkpoints inside
// the same transaction, and a CheckpointStore over that table.
// Writers run with session_replication_role=replica, so target triggers and FK checks do not
// fire for rows the source already checked (and chunks may load in any order).
// The connector holds one admin connection behind `mu_`; each writer has its own connection.
#include "postgres/copy_binary.h"
#include "postgres/pg_connectors.h"
#include "postgres/pg_lease.h"
#include "postgres/pg_types.h"

#include "core/array_literal.h"
#include "core/geometry.h"
#include "core/logging.h"
#include "core/run_history.h"
#include "core/sql_expr.h"
#include "core/writer/cascade_sql.h"
#include "core/writer/change_reducer.h"
#include "core/writer/error_context.h"
#include "core/writer/key_set.h"
#include "core/writer/table_layout.h"

#include <cdc/plan.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <set>

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

// Rows a COPY writes, by address: the batch's own rows, never copies (a row may hold a value of
// many MB).
using RowRefs = std::vector<const Row*>;
RowRefs refs_of(const std::vector<Row>& rows) {
  RowRefs out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(&r);
  return out;
}

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

// The column's type alone (what ALTER COLUMN ... TYPE takes). `postgis`: the target has PostGIS
// (a geometry column is then geometry, else bytea holding EWKB).
std::string base_type(const TableSchema& s, const Column& c, bool postgis) {
  if (!c.source_type.empty()) return c.source_type;
  if (has_enum_type(c)) return quote_table(schema_of(s), enum_type_name(s, c));
  return pg_type_for(c.type, postgis);
}

// An ENUM mapped with enum_as: check: text limited to the labels by a CHECK constraint.
bool is_check_enum(const Column& c) { return c.source_type.empty() && c.type.id == TypeId::String && !c.type.members.empty(); }
std::string label_check(const Column& c) {
  return fmt::format("CHECK ({} IN ({}))", quote_ident(c.name), literal_list(c.type.members));
}

// The type with its constraint, for CREATE TABLE and ADD COLUMN.
std::string column_type(const TableSchema& s, const Column& c, bool postgis) {
  std::string type = base_type(s, c, postgis);
  if (is_check_enum(c)) type += " " + label_check(c);
  return type;
}

// A text[] made from a MariaDB SET keeps the labels in its comment (see kSetComment).
// A geometry column kept as bytea (no PostGIS) says what it holds there (see kGeometryComment).
std::string column_comment(const TableSchema& s, const Column& c, bool postgis) {
  if (c.source_type.empty() && c.type.id == TypeId::Geometry && !postgis)
    return fmt::format("; COMMENT ON COLUMN {}.{} IS {}", target_name(s), quote_ident(c.name), quote_literal(kGeometryComment + pg_type_for(c.type, true)));
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

// The primary key's columns, quoted and comma-separated.
std::string primary_key_list(const TableSchema& s) {
  std::string out;
  for (const auto& k : s.primary_key) out += (out.empty() ? "" : ", ") + quote_ident(k);
  return out;
}

std::string render(const DestinationTable& table, bool postgis) {
  const TableSchema& s = table.schema;
  std::string sql = "CREATE TABLE IF NOT EXISTS " + target_name(s) + " (";
  std::string comments;
  for (std::size_t i = 0; i < s.columns.size(); ++i) {
    const Column& c = s.columns[i];
    sql += (i ? ", " : "") + quote_ident(c.name) + " " + column_type(s, c, postgis);
    // A generated column is created generated when its expression translated (planning left it
    // plain otherwise): PostgreSQL 15 stores every generated column.
    if (!c.generated.empty()) sql += " GENERATED ALWAYS AS (" + c.generated + ") STORED";
    if (!c.nullable) sql += " NOT NULL";
    // Defaults are in PostgreSQL's terms: the source's text within one dialect, a translation
    // from another (see DestinationTable).
    if (c.default_expr && c.generated.empty()) sql += " DEFAULT " + *c.default_expr;
    comments += column_comment(s, c, postgis);
  }
  if (!s.primary_key.empty() && !table.key_after_load) sql += ", PRIMARY KEY (" + primary_key_list(s) + ")";
  return sql + ")" + comments;
}

// Creates the enum types of a table's columns that do not exist yet, and adds labels an existing
// one lacks (a restart, a second table's run, or labels added at the source), each before the
// label that follows it in the source's list, so the type sorts as the source does. Returns the
// statements run. Inside a transaction (PostgreSQL 12 and later) an added label can be used once
// that transaction committed.
std::vector<std::string> ensure_enum_types(Conn& c, const TableSchema& s) {
  std::vector<std::string> ran;
  for (const auto& col : s.columns) {
    if (!has_enum_type(col)) continue;
    const std::string name = enum_type_name(s, col);
    const std::string type = quote_table(schema_of(s), name);
    const std::string ddl = create_enum_type(s, col);
    Result have = c.exec_params(
        "SELECT t.typtype, e.enumlabel FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "LEFT JOIN pg_enum e ON e.enumtypid = t.oid WHERE n.nspname = $1 AND t.typname = $2 ORDER BY e.enumsortorder",
        {schema_of(s), name}, where_of(s));
    if (have.rows() == 0) {
      std::string state = c.try_exec(ddl);
      if (state == "42710") continue;  // created concurrently
      if (!state.empty()) c.exec(ddl, where_of(s));
      ran.push_back(ddl);
      detail::logf(LogLevel::Info, "postgres.destination", s.id.to_string(), "created enum type {} for column {}", name, col.name);
      continue;
    }
    if (have.text(0, 0) != "e")
      throw Error(ErrorKind::Schema,
                  fmt::format("type {} for column {} already exists and is not an enum type; set enum_as: check or text",
                              type, col.name),
                  false, where_of(s));
    std::set<std::string> labels;
    for (int i = 0; i < have.rows(); ++i) labels.insert(have.text(i, 1));
    const auto& members = col.type.members;
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (labels.count(members[i])) continue;
      std::string sql = fmt::format("ALTER TYPE {} ADD VALUE IF NOT EXISTS {}", type, quote_literal(members[i]));
      for (std::size_t j = i + 1; j < members.size(); ++j)
        if (labels.count(members[j])) {
          sql += " BEFORE " + quote_literal(members[j]);
          break;
        }
      c.exec(sql, where_of(s) + " column " + col.name);
      labels.insert(members[i]);
      ran.push_back(std::move(sql));
    }
  }
  return ran;
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

// A writer's own state for one target table, beside its TableLayout (detail::LayoutCache).
struct PgTable {
  std::string name;                  // quoted target
  std::vector<std::string> columns;  // quoted column names, in schema order
  std::string column_list;           // the columns a full row writes (generated ones left out), comma-separated
  std::vector<bool> writable;        // those columns, one flag per column
  std::string stage;                 // temp staging table (quoted), created lazily
  bool needs_upsert = false;         // write_rows met existing keys: always upsert from now on
  // Binary form of each target column's type; empty when the table is written as COPY text (a
  // column type without a binary codec, or a value that did not fit its column's binary form).
  std::vector<BinaryType> wire;
  DestinationTable table;  // as info() last saw it (for a deferred COPY's retry)
};
using TableEntry = detail::LayoutCache<PgTable>::Entry;

// Send COPY data about this much at a time.
constexpr std::size_t kCopyChunk = 1 << 20;

// Writers run with session_replication_role = replica. A user that may not set it would have the
// target's triggers and foreign keys fire on rows the source already checked (and chunks loaded
// out of order fail their foreign keys), so that is an error, never a quiet fallback: the
// destination checks it when it opens, before anything is written.
void set_replica_role(Conn& c) {
  try {
    c.exec("SET session_replication_role = replica", "session_replication_role");
  } catch (const Error& e) {
    throw Error(ErrorKind::Config,
                "the destination user may not set session_replication_role = replica, without which the target's "
                "triggers and foreign keys would fire while cdc writes; nothing was written: " +
                    e.message(),
                false, e.where());
  }
}

// "public.t": the target as messages name it.
std::string display_name(const TableSchema& s) { return schema_of(s) + "." + s.id.name; }

// The key set `set` of a target lives in cdc_metadata (see DestinationWriter::stage_keys).
std::string key_set_table(const TableSchema& s, const std::string& set) {
  return quote_table(kMetadataSchema, detail::key_set_table_name("keys_", TableId(schema_of(s), s.id.name), set, kMaxIdentifier));
}

class PgWriter final : public DestinationWriter {
 public:
  PgWriter(const ConnParams& p, bool postgis) : params_(p), postgis_(postgis), c_(p, ErrorKind::Destination) {
    set_replica_role(c_);
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
    TableEntry& t = info(table);
    PgTable& p = t.state;
    const RowRefs refs = refs_of(rows);
    if (!t.layout.keyed()) {
      if (send_binary(t, refs)) defer(t, false);
      else copy_rows(t, p.name, refs, nullptr);
      return;
    }
    // Fast path: COPY straight in. A key already present (a re-read chunk, an incremental
    // poll) fails it, and the rows go through staging and an upsert instead.
    if (!p.needs_upsert) {
      c_.exec("SAVEPOINT cdc_rows", t.layout.where);
      try {
        if (send_binary(t, refs)) {
          defer(t, true);
          return;
        }
        copy_rows(t, p.name, refs, nullptr);
        c_.exec("RELEASE SAVEPOINT cdc_rows", t.layout.where);
        return;
      } catch (const Error& e) {
        if (e.message().find("SQLSTATE 23505") == std::string::npos || !c_.healthy()) throw;
        c_.exec("ROLLBACK TO SAVEPOINT cdc_rows", t.layout.where);
        p.needs_upsert = true;
      }
    }
    stage(t, refs, nullptr);
    c_.exec(upsert_sql(t, {}), t.layout.where);
  }

  // Keyed tables: the batch reduced per key (detail::reduce_changes), each segment applied
  // set-wise through the staging table. Tables without a key: in order.
  void apply(const DestinationTable& table, const std::vector<ChangeEvent>& changes) override {
    finish_pending();
    TableEntry& t = info(table);
    const TableSchema& s = table.schema;
    if (!t.layout.keyed()) {
      apply_keyless(t, changes);
      return;
    }
    detail::SegmentSink sink;
    sink.truncate = [&] { truncate_rows(t); };
    sink.move = [&](const detail::KeyMove& m) { move_row(t, m); };
    sink.deletes = [&](const std::vector<detail::ReducedRow>& rows) {
      detail::applying(t.layout.name, [&] { return detail::rows_text("delete", s, rows); }, [&] { delete_rows(t, rows); });
    };
    sink.upserts = [&](const detail::UpsertGroup& g) {
      detail::applying(t.layout.name, [&] { return detail::rows_text("upsert", s, g.rows); }, [&] { upsert_rows(t, g); });
    };
    detail::apply_reduced(t.layout, s, changes, sink);
  }

  void truncate(const DestinationTable& table) override {
    finish_pending();
    empty_table(info(table));
  }

  void commit(const std::string& session, const std::vector<CheckpointEntry>& checkpoint) override {
    finish_pending();
    if (!in_txn_) begin();
    if (!checkpoint.empty()) write_checkpoint(c_, session, checkpoint);
    c_.exec("COMMIT");
    in_txn_ = false;
  }

  void quarantine(const std::string& session, const std::vector<QuarantinedRow>& rows) override {
    open_txn();
    const std::string sql = fmt::format(
        "INSERT INTO {}.{} (session, source_table, row_key, column_name, raw_value, error, position, at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8::double precision / 1000000))",
        kMetadataSchema, kQuarantineTable);
    for (const auto& q : rows)
      c_.exec_params(sql, {session, q.table, q.key, q.column, q.value, q.error, q.position, std::to_string(q.at_us)},
                     "quarantine table");
  }

  std::vector<std::string> evolve(const DestinationTable& table, const std::vector<TargetColumnChange>& changes) override {
    open_txn();
    const TableSchema& s = table.schema;
    const std::string name = target_name(s);
    // What the table has now: a change replayed after a restart must not fail on its own effect.
    Result have = c_.exec_params(
        "SELECT a.attname, n.nspname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        {name}, where_of(s));
    std::map<std::string, std::pair<std::string, std::string>> existing;  // column -> (type schema, type name)
    for (int i = 0; i < have.rows(); ++i) existing[have.text(i, 0)] = {have.text(i, 1), have.text(i, 2)};
    std::vector<std::string> out;
    for (const auto& ch : changes) {
      const std::string col = quote_ident(ch.column);
      const std::string where = where_of(s) + " column " + ch.column;
      std::vector<std::string> ran;
      auto run = [&](std::string sql) {
        c_.exec(sql, where);
        ran.push_back(std::move(sql));
      };
      switch (ch.kind) {
        case ColumnChangeKind::Added: {
          if (existing.count(ch.column)) break;
          if (has_enum_type(ch.target)) {  // its enum type first (enum_as: type)
            TableSchema one = s;
            one.columns = {ch.target};
            for (auto& sql : ensure_enum_types(c_, one)) ran.push_back(std::move(sql));
          }
          // Nullable whatever the source says: rows already copied have no value for it, unless
          // the source gave its existing rows one (fill).
          std::string def;
          if (ch.fill && !ch.fill->is_null()) def = " DEFAULT " + literal(*ch.fill);
          else if (ch.target.default_expr && !ch.target.source_type.empty()) def = " DEFAULT " + *ch.target.default_expr;
          run(fmt::format("ALTER TABLE {} ADD COLUMN {} {}{}{}", name, col, column_type(s, ch.target, postgis_), def,
                          ch.target.type.id == TypeId::Geometry ? column_comment(s, ch.target, postgis_) : std::string()));
          existing[ch.column] = {};
          break;
        }
        case ColumnChangeKind::Dropped: run(fmt::format("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL", name, col)); break;
        case ColumnChangeKind::Widened:
        case ColumnChangeKind::Incompatible: {
          auto now = existing.find(ch.column);
          if (has_enum_type(ch.target)) {
            // Labels added at the source are added to the column's enum type.
            TableSchema one = s;
            one.columns = {ch.target};
            for (auto& sql : ensure_enum_types(c_, one)) ran.push_back(std::move(sql));
            const bool same_type = now != existing.end() && now->second.first == schema_of(s) &&
                                   now->second.second == enum_type_name(s, ch.target);
            if (!same_type)
              run(fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::text::{}", name, col, base_type(s, ch.target, postgis_), col,
                              base_type(s, ch.target, postgis_)));
            break;
          }
          if (is_check_enum(ch.target)) {
            // enum_as: check: the column stays text, its CHECK takes the new label list.
            if (now == existing.end() || now->second.second != "text")
              run(fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE text USING {}::text", name, col, col));
            for (auto& sql : replace_label_check(s, ch.target)) run(std::move(sql));
            break;
          }
          run(fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}", name, col, base_type(s, ch.target, postgis_), col,
                          base_type(s, ch.target, postgis_)));
          break;
        }
        case ColumnChangeKind::Renamed:
          if (!existing.count(ch.old_name) && existing.count(ch.column)) break;
          run(fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", name, quote_ident(ch.old_name), col));
          existing[ch.column] = existing[ch.old_name];
          existing.erase(ch.old_name);
          break;
      }
      std::string text;
      for (const auto& sql : ran) text += (text.empty() ? "" : "; ") + sql;
      out.push_back(std::move(text));
    }
    tables_.forget(name);  // statements and staging follow the new shape
    return out;
  }

  void record_schema_changes(const std::string& session, const std::vector<SchemaHistoryEntry>& entries) override {
    open_txn();
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

  // One statement per derived cascade (detail::cascade_statement), values as parameters.
  void apply_cascade(const CascadeChange& change) override {
    open_txn();
    std::vector<std::optional<std::string>> params;
    detail::CascadeDialect d;
    d.quote_ident = [](const std::string& n) { return quote_ident(n); };
    d.table_name = [](const TableSchema& s) { return target_name(s); };
    d.value = [&](const Value& v, const Column&) {
      if (v.is_null()) return std::string("NULL");
      std::string text;
      append_param(v, text);
      params.push_back(std::move(text));
      return fmt::format("${}", params.size());
    };
    const std::string sql = detail::cascade_statement(change, d);
    const TableSchema& s = change.rows.table.schema;
    detail::applying(target_name(s), [&] { return std::string("a foreign key cascade"); },
                     [&] { c_.exec_params(sql, params, where_of(s)); });
  }

  // COPY into the staging table, then one UPDATE ... FROM: only keys the target has are touched.
  void backfill(const DestinationTable& table, const std::vector<Row>& rows, const std::vector<bool>& columns) override {
    open_txn();
    TableEntry& t = info(table);
    const std::vector<bool> include = backfill_columns(t, columns, "backfill");
    std::string set;
    for (std::size_t i = 0; i < t.layout.ncols; ++i)
      if (include[i] && !t.layout.is_key(i))
        set += (set.empty() ? "" : ", ") + t.state.columns[i] + " = s." + t.state.columns[i];
    if (set.empty() || rows.empty()) return;
    detail::applying(
        t.layout.name, [&] { return fmt::format("a backfill of {} rows", rows.size()); },
        [&] {
          stage(t, refs_of(rows), &include);
          c_.exec(fmt::format("UPDATE {} AS d SET {} FROM {} AS s WHERE {}", t.state.name, set, t.state.stage, key_match(t, "d", "s")),
                  t.layout.where);
        });
  }

  void stage_keys(const DestinationTable& table, const std::string& set, const std::vector<Row>& rows) override {
    open_txn();
    TableEntry& t = info(table);
    require_key(t, "a resync sweep");
    const std::string keys = key_set_table(table.schema, set);
    ensure_key_set(t, keys);
    if (rows.empty()) return;
    std::vector<bool> key_only(t.layout.ncols, false);
    for (int k : t.layout.key) key_only[static_cast<std::size_t>(k)] = true;
    std::string cols = key_columns(t, "");
    detail::applying(
        t.layout.name, [&] { return fmt::format("{} keys staged for set {}", rows.size(), set); },
        [&] {
          stage(t, refs_of(rows), &key_only);
          c_.exec(fmt::format("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING", keys, cols, cols, t.state.stage),
                  t.layout.where);
        });
  }

  std::int64_t sweep_unstaged(const DestinationTable& table, const std::string& set) override {
    open_txn();
    TableEntry& t = info(table);
    require_key(t, "a resync sweep");
    const std::string keys = key_set_table(table.schema, set);
    if (!key_set_exists(t, keys)) {
      // Swept and dropped by a transaction that committed before a crash: nothing is left to do.
      detail::logf(LogLevel::Info, "postgres.destination", t.layout.name, "key set {} is gone: the sweep already ran", set);
      return 0;
    }
    std::string cond;
    for (std::size_t i = 0; i < t.layout.key.size(); ++i) {
      const std::string& c = t.state.columns[static_cast<std::size_t>(t.layout.key[i])];
      cond += (i ? " AND " : "") + fmt::format("k.{0} = d.{0}", c);
    }
    Result r;
    if (t.layout.soft_delete >= 0)
      r = c_.exec(fmt::format("UPDATE {0} AS d SET {1} = true WHERE d.{1} IS NOT TRUE AND NOT EXISTS (SELECT 1 FROM {2} AS k WHERE {3})",
                              t.state.name, t.state.columns[static_cast<std::size_t>(t.layout.soft_delete)], keys, cond),
                  t.layout.where);
    else
      r = c_.exec(fmt::format("DELETE FROM {} AS d WHERE NOT EXISTS (SELECT 1 FROM {} AS k WHERE {})", t.state.name, keys, cond),
                  t.layout.where);
    c_.exec("DROP TABLE " + keys, t.layout.where);
    const std::string n = r.affected();
    return n.empty() ? 0 : std::stoll(n);
  }

  void drop_key_set(const DestinationTable& table, const std::string& set) override {
    open_txn();
    c_.exec("DROP TABLE IF EXISTS " + key_set_table(table.schema, set), where_of(table.schema));
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
    tables_.for_each([](TableEntry& t) { t.state.stage.clear(); });
  }

 private:
  // The optional operations run in the current transaction, opening one when none is.
  void open_txn() {
    finish_pending();
    if (!in_txn_) begin();
  }

  TableEntry& info(const DestinationTable& table) {
    if (!c_) throw Error(ErrorKind::Connection, "PostgreSQL writer connection was closed", true, "destination");
    const TableSchema& s = table.schema;
    const std::string id = target_name(s);
    bool rebuilt = false;
    TableEntry& t = tables_.get(id, table, display_name(s), &rebuilt);
    if (rebuilt) {
      PgTable& p = t.state;
      p.name = id;
      // Generated columns as the target has them: PostgreSQL refuses values for them.
      Result gen = c_.exec_params(
          "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated <> ''",
          {id}, t.layout.where);
      std::vector<std::string> generated;
      for (int i = 0; i < gen.rows(); ++i) generated.push_back(gen.text(i, 0));
      t.layout.set_computed(table, generated, [](const std::string& a, const std::string& b) { return a == b; });
      p.writable = t.layout.writable();
      for (const auto& c : s.columns) p.columns.push_back(quote_ident(c.name));
      for (std::size_t i = 0; i < p.columns.size(); ++i)
        if (p.writable[i]) p.column_list += (p.column_list.empty() ? "" : ", ") + p.columns[i];
      p.table = table;
      p.wire = binary_types(t);
    }
    return t;
  }

  static void require_key(const TableEntry& t, const char* what) {
    if (!t.layout.keyed())
      throw Error(ErrorKind::Schema, fmt::format("table {} has no primary key, which {} needs", t.layout.name, what), false,
                  t.layout.where);
  }

  // Validates a backfill's column marks; the columns to stage (marked ones and the key).
  static std::vector<bool> backfill_columns(const TableEntry& t, const std::vector<bool>& marked, const char* what) {
    require_key(t, what);
    if (marked.size() != t.layout.ncols)
      throw Error(ErrorKind::Internal, fmt::format("{} marks {} columns, table {} has {}", what, marked.size(), t.layout.name, t.layout.ncols),
                  false, t.layout.where);
    std::vector<bool> include(t.layout.ncols, false);
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (marked[i] && (t.layout.is_key(i) || t.layout.is_flag(i)))
        throw Error(ErrorKind::Internal, fmt::format("{} may not set key or soft-delete column {} of table {}", what, i, t.layout.name),
                    false, t.layout.where);
      include[i] = (marked[i] && !t.layout.is_computed(i)) || t.layout.is_key(i);
    }
    return include;
  }

  // The binary form of each column of the table as it is at the destination (its types may
  // differ from the mapped schema when the table existed); empty when one has no codec.
  std::vector<BinaryType> binary_types(const TableEntry& t) {
    const TableSchema& s = t.state.table.schema;
    Result r = c_.exec_params(
        "SELECT a.attname, bt.typname, bt.typtype FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
        "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
        {t.state.name}, t.layout.where);
    std::map<std::string, std::pair<std::string, std::string>> types;
    for (int i = 0; i < r.rows(); ++i) types[r.text(i, 0)] = {r.text(i, 1), r.text(i, 2)};
    std::vector<BinaryType> wire;
    for (std::size_t i = 0; i < s.columns.size(); ++i) {
      if (t.layout.is_computed(i)) {  // never written
        wire.push_back(BinaryType::None);
        continue;
      }
      auto it = types.find(s.columns[i].name);
      // name: its binary input refuses what its text input would truncate.
      BinaryType b = BinaryType::None;
      if (it != types.end() && it->second.second != "d" && it->second.first != "name")
        b = target_binary_type(it->second.first, it->second.second.empty() ? 'b' : it->second.second[0]);
      if (t.layout.is_flag(i) && b != BinaryType::Bool) b = BinaryType::None;
      if (b == BinaryType::None) {
        detail::logf(LogLevel::Debug, "postgres.destination", s.id.to_string(), "COPY text: column {} has type {}",
                     s.columns[i].name, it == types.end() ? "?" : it->second.first);
        return {};
      }
      wire.push_back(b);
    }
    return wire;
  }

  void ensure_stage(TableEntry& t) {
    PgTable& p = t.state;
    if (!p.stage.empty()) return;
    std::string name = quote_ident("cdc_stage_" + std::to_string(++stage_counter_));
    // Emptied by DELETE between uses in a transaction and cheaply at commit.
    c_.exec(fmt::format("CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA", name,
                        p.column_list, p.name),
            t.layout.where);
    p.stage = name;
  }

  // Empties the staging table and COPYs `rows` (the `include` columns, all when null) into it.
  void stage(TableEntry& t, const RowRefs& rows, const std::vector<bool>* include) {
    ensure_stage(t);
    c_.exec("DELETE FROM " + t.state.stage, t.layout.where);
    copy_rows(t, t.state.stage, rows, include);
  }

  // Starts a binary COPY of `rows` into the table itself and sends all of it with its end, without
  // waiting for the result (see defer). False, with nothing sent, when the table goes as text.
  bool send_binary(TableEntry& t, const RowRefs& rows) {
    for (const Row* row : rows) detail::check_width(t.layout, *row);
    if (t.state.wire.empty() || !encode_binary(t, rows, nullptr)) return false;
    send_copy_binary(t.state.name, t.state.column_list, bin_, t.layout.where);
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
  void defer(TableEntry& t, bool savepoint) {
    pending_.active = true;
    pending_.t = &t;
    pending_.savepoint = savepoint;
    std::swap(pending_.data, bin_);
  }

  void finish_pending() {
    if (!pending_.active) return;
    pending_.active = false;
    TableEntry& t = *pending_.t;
    try {
      c_.copy_in_wait(t.layout.where);
      if (pending_.savepoint) c_.exec("RELEASE SAVEPOINT cdc_rows", t.layout.where);
    } catch (const Error& e) {
      if (!pending_.savepoint || e.message().find("SQLSTATE 23505") == std::string::npos || !c_.healthy()) throw;
      c_.exec("ROLLBACK TO SAVEPOINT cdc_rows", t.layout.where);
      t.state.needs_upsert = true;
      ensure_stage(t);
      c_.exec("DELETE FROM " + t.state.stage, t.layout.where);
      send_copy_binary(t.state.stage, t.state.column_list, pending_.data, t.layout.where);
      c_.copy_in_wait(t.layout.where);
      c_.exec(upsert_sql(t, {}), t.layout.where);
    }
  }

  // COPY rows (selected columns when `include` is given) into `target`: binary when every value
  // fits its column's binary form, else text.
  void copy_rows(TableEntry& t, const std::string& target, const RowRefs& rows, const std::vector<bool>* include) {
    const PgTable& p = t.state;
    if (!include && t.layout.has_computed()) include = &p.writable;
    std::string cols;
    if (include) {
      for (std::size_t i = 0; i < p.columns.size(); ++i)
        if ((*include)[i]) cols += (cols.empty() ? "" : ", ") + p.columns[i];
    } else {
      cols = p.column_list;
    }
    for (const Row* row : rows) detail::check_width(t.layout, *row);
    if (!p.wire.empty() && encode_binary(t, rows, include)) {
      send_copy_binary(target, cols, bin_, t.layout.where);
      c_.copy_in_wait(t.layout.where);
      return;
    }
    c_.copy_in_start(fmt::format("COPY {} ({}) FROM STDIN", target, cols), t.layout.where);
    text_.clear();
    for (const Row* row : rows) {
      bool first = true;
      for (std::size_t i = 0; i < t.layout.ncols; ++i) {
        if (include && !(*include)[i]) continue;
        if (!first) text_ += '\t';
        first = false;
        append_text(t.layout.value(*row, i), text_);
      }
      text_ += '\n';
      if (text_.size() >= kCopyChunk) {
        c_.copy_in_put(text_.data(), text_.size(), t.layout.where);
        text_.clear();
      }
    }
    c_.copy_in_put(text_.data(), text_.size(), t.layout.where);
    c_.copy_in_end(t.layout.where);
  }

  // The whole COPY binary stream of `rows` into bin_ (encoded before the COPY starts, so a value
  // that does not fit sends the batch as text instead of half a stream). False when a value does
  // not fit: the table is written as text from then on.
  bool encode_binary(TableEntry& t, const RowRefs& rows, const std::vector<bool>* include) {
    if (!include && t.layout.has_computed()) include = &t.state.writable;
    bin_.clear();
    append_copy_binary_header(bin_);
    const std::size_t ncols = t.layout.ncols;
    std::size_t nfields = include ? static_cast<std::size_t>(std::count(include->begin(), include->end(), true)) : ncols;
    for (const Row* row : rows) {
      char* n = bin_.grow(2);
      n[0] = static_cast<char>(nfields >> 8);
      n[1] = static_cast<char>(nfields & 0xff);
      for (std::size_t i = 0; i < ncols; ++i) {
        if (include && !(*include)[i]) continue;
        const Value& v = t.layout.value(*row, i);
        if (!append_binary_field(t.state.wire[i], v, bin_)) {
          detail::logf(LogLevel::Info, "postgres.destination", t.layout.where,
                       "{} value {} of column {} has no exact binary form: the table is written as COPY text", to_string(v.kind()),
                       v.to_display(), t.state.columns[i]);
          t.state.wire.clear();
          return false;
        }
      }
    }
    append_copy_binary_trailer(bin_);
    return true;
  }

  std::string upsert_sql(const TableEntry& t, const std::vector<bool>& include) const {
    const PgTable& p = t.state;
    std::string cols, set;
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      if (include.empty() ? t.layout.is_computed(i) : !include[i]) continue;
      const std::string& c = p.columns[i];
      cols += (cols.empty() ? "" : ", ") + c;
      if (t.layout.is_key(i)) continue;
      set += (set.empty() ? "" : ", ") + c + " = excluded." + c;
    }
    return fmt::format("INSERT INTO {0} ({1}) SELECT {1} FROM {2} ON CONFLICT ({3}) DO {4}", p.name, cols, p.stage,
                       key_columns(t, ""), set.empty() ? "NOTHING" : "UPDATE SET " + set);
  }

  // The key columns, quoted and comma-separated, each prefixed by `alias.` when given.
  static std::string key_columns(const TableEntry& t, const std::string& alias) {
    std::string out;
    for (int k : t.layout.key)
      out += (out.empty() ? "" : ", ") + (alias.empty() ? "" : alias + ".") + t.state.columns[static_cast<std::size_t>(k)];
    return out;
  }

  static std::string key_match(const TableEntry& t, const std::string& a, const std::string& b) {
    std::string cond;
    for (int k : t.layout.key) {
      const std::string& c = t.state.columns[static_cast<std::size_t>(k)];
      cond += (cond.empty() ? "" : " AND ") + a + "." + c + " = " + b + "." + c;
    }
    return cond;
  }

  // Deletes by key (or sets the flag) for every reduced delete, through the staging table.
  void delete_rows(TableEntry& t, const std::vector<detail::ReducedRow>& deletes) {
    // Only key columns matter; other columns may be NULL in a key-only old image.
    std::vector<bool> key_only(t.layout.ncols, false);
    for (int k : t.layout.key) key_only[static_cast<std::size_t>(k)] = true;
    RowRefs keys;
    keys.reserve(deletes.size());
    for (const auto& d : deletes) keys.push_back(&d.row());
    stage(t, keys, &key_only);
    if (t.layout.soft_delete >= 0)
      c_.exec(fmt::format("UPDATE {0} AS d SET {1} = true FROM {2} AS s WHERE {3}", t.state.name,
                          t.state.columns[static_cast<std::size_t>(t.layout.soft_delete)], t.state.stage, key_match(t, "d", "s")),
              t.layout.where);
    else
      c_.exec(fmt::format("DELETE FROM {0} AS d USING {1} AS s WHERE {2}", t.state.name, t.state.stage, key_match(t, "d", "s")),
              t.layout.where);
  }

  void upsert_rows(TableEntry& t, const detail::UpsertGroup& g) {
    RowRefs rows;
    rows.reserve(g.rows.size());
    for (const auto& r : g.rows) rows.push_back(&r.row());
    const bool all = g.all_written();
    stage(t, rows, all ? nullptr : &g.written);
    c_.exec(upsert_sql(t, all ? std::vector<bool>{} : g.written), t.layout.where);
  }

  // A key-changing update whose new image lacks unsent (TOAST) values: the old row is updated in
  // place. A soft-deleted row holding the new key gives way; a live one means this move was
  // already applied (a replay), and the move is skipped instead of failing on the key.
  void move_row(TableEntry& t, const detail::KeyMove& m) {
    const PgTable& p = t.state;
    // One statement's $n parameters.
    struct Params {
      const PgWriter* w;
      std::vector<std::optional<std::string>> values;
      std::string add(const Value& v) {
        if (v.is_null()) return "NULL";
        std::string text;
        w->append_param(v, text);
        values.push_back(std::move(text));
        return fmt::format("${}", values.size());
      }
    };
    auto key_cond = [&](Params& ps, const Row& image) {
      std::string cond;
      for (int k : t.layout.key) {
        const auto i = static_cast<std::size_t>(k);
        cond += (cond.empty() ? "" : " AND ") + p.columns[i] + " = " + ps.add(image[i]);
      }
      return cond;
    };
    if (t.layout.soft_delete >= 0) {
      Params d{this, {}};
      const std::string cond = key_cond(d, m.after);
      c_.exec_params(fmt::format("DELETE FROM {} WHERE {} AND {} IS TRUE", p.name, cond,
                                 p.columns[static_cast<std::size_t>(t.layout.soft_delete)]),
                     d.values, t.layout.where);
    }
    Params u{this, {}};
    std::string set;
    for (std::size_t i = 0; i < t.layout.ncols; ++i)
      if (m.written[i]) set += (set.empty() ? "" : ", ") + p.columns[i] + " = " + u.add(t.layout.value(m.after, i));
    const std::string old_key = key_cond(u, m.before);
    const std::string new_key = key_cond(u, m.after);
    c_.exec_params(fmt::format("UPDATE {0} SET {1} WHERE {2} AND NOT EXISTS (SELECT 1 FROM {0} WHERE {3})", p.name, set, old_key,
                               new_key),
                   u.values, t.layout.where);
  }

  // A value in COPY text format. A geometry goes as hex EWKB into PostGIS's geometry, as a bytea
  // of its EWKB without PostGIS.
  void append_text(const Value& v, std::string& out) const {
    if (v.kind() == ValueKind::Geometry && !postgis_) return append_copy_text(Value::bytes(detail::geometry_to_ewkb(v.text())), out);
    append_copy_text(v, out);
  }

  // Text parameter form of a value (as COPY text without the escaping).
  void append_param(const Value& v, std::string& out) const {
    if (v.kind() == ValueKind::Geometry) {
      if (postgis_) out += detail::geometry_to_hex_ewkb(v.text());
      else append_param(Value::bytes(detail::geometry_to_ewkb(v.text())), out);
      return;
    }
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

  // A value as an SQL literal (DDL defaults), through libpq's escaping; PostgreSQL casts it to the
  // column's type.
  std::string literal(const Value& v) const {
    if (v.is_null()) return "NULL";
    std::string text;
    append_param(v, text);
    return c_.literal(text);
  }

  // Tables without a key: inserts append (a run of them in one COPY); deletes remove one row
  // equal to the old image; an update is both.
  void apply_keyless(TableEntry& t, const std::vector<ChangeEvent>& changes) {
    const TableSchema& s = t.state.table.schema;
    RowRefs inserts;
    auto flush_inserts = [&] {
      if (inserts.empty()) return;
      detail::applying(t.layout.name, [&] { return fmt::format("{} inserts", inserts.size()); },
                       [&] { copy_rows(t, t.state.name, inserts, nullptr); });
      inserts.clear();
    };
    for (const auto& e : changes) {
      if (e.op == ChangeOp::Insert) {
        inserts.push_back(&e.after);
        continue;
      }
      flush_inserts();
      detail::applying(
          t.layout.name,
          [&] { return e.op == ChangeOp::Truncate ? std::string("truncate") : detail::change_text(e.op, s, e.before); },
          [&] {
            switch (e.op) {
              case ChangeOp::Truncate: truncate_rows(t); return;
              case ChangeOp::Insert: return;
              case ChangeOp::Delete: remove_one(t, e.before); return;
              case ChangeOp::Update:
                if (e.before.empty())
                  throw Error(ErrorKind::Destination, "update of a table without a key arrived without its old row", false,
                              t.layout.where);
                remove_one(t, e.before);
                copy_rows(t, t.state.name, {&e.after}, nullptr);
                return;
            }
          });
    }
    flush_inserts();
  }

  void remove_one(TableEntry& t, const Row& image) {
    detail::check_width(t.layout, image);
    const PgTable& p = t.state;
    std::vector<std::optional<std::string>> params;
    std::string cond;
    for (std::size_t i = 0; i < t.layout.ncols; ++i) {
      // A generated column follows the others (and the source's change may not carry it).
      if (t.layout.is_flag(i) || t.layout.is_computed(i)) continue;
      if (image[i].is_null()) {
        cond += (cond.empty() ? "" : " AND ") + p.columns[i] + " IS NULL";
        continue;
      }
      std::string v;
      append_param(image[i], v);
      params.push_back(v);
      cond += (cond.empty() ? "" : " AND ") + p.columns[i] + fmt::format(" = ${}", params.size());
    }
    if (t.layout.soft_delete >= 0) {
      const std::string& f = p.columns[static_cast<std::size_t>(t.layout.soft_delete)];
      c_.exec_params(fmt::format("UPDATE {0} SET {1} = true WHERE ctid = (SELECT ctid FROM {0} WHERE {2} AND NOT {1} LIMIT 1)",
                                 p.name, f, cond),
                     params, t.layout.where);
    } else {
      c_.exec_params(fmt::format("DELETE FROM {0} WHERE ctid = (SELECT ctid FROM {0} WHERE {1} LIMIT 1)", p.name, cond), params,
                     t.layout.where);
    }
  }

  void truncate_rows(TableEntry& t) {
    if (t.layout.soft_delete >= 0)
      c_.exec(fmt::format("UPDATE {} SET {} = true", t.state.name, t.state.columns[static_cast<std::size_t>(t.layout.soft_delete)]),
              t.layout.where);
    else
      empty_table(t);
  }

  // TRUNCATE, or DELETE when another table's foreign key references this one: PostgreSQL refuses
  // to truncate it alone (even under session_replication_role = replica, under which a DELETE
  // neither checks nor cascades). Asked at each call: foreign keys arrive after a table's load.
  void empty_table(TableEntry& t) {
    Result r = c_.exec_params(
        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = to_regclass($1) AND conrelid <> confrelid)",
        {t.state.name}, t.layout.where);
    c_.exec((r.text(0, 0) == "t" ? "DELETE FROM " : "TRUNCATE ") + t.state.name, t.layout.where);
  }

  // PostgreSQL's DDL is transactional, but two chunk writers of one resync may both find the key
  // set missing and would then collide on its name when they commit; it is created on a
  // connection of its own (an empty table is harmless if this transaction rolls back).
  void ensure_key_set(const TableEntry& t, const std::string& keys) {
    if (key_set_exists(t, keys)) return;
    Result types = c_.exec_params(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        {t.state.name}, t.layout.where);
    std::map<std::string, std::string> type_of;
    for (int i = 0; i < types.rows(); ++i) type_of[types.text(i, 0)] = types.text(i, 1);
    std::string cols;
    for (int k : t.layout.key) {
      const std::string& name = t.state.table.schema.columns[static_cast<std::size_t>(k)].name;
      auto it = type_of.find(name);
      if (it == type_of.end())
        throw Error(ErrorKind::Schema, fmt::format("key column {} is missing from table {}", name, t.layout.name), false,
                    t.layout.where);
      cols += quote_ident(name) + " " + it->second + " NOT NULL, ";
    }
    const std::string ddl = fmt::format("CREATE TABLE IF NOT EXISTS {} ({}PRIMARY KEY ({}))", keys, cols, key_columns(t, ""));
    Conn side(params_, ErrorKind::Destination);
    const std::string state = side.try_exec(ddl);
    if (!state.empty() && state != "23505" && state != "42P07") side.exec(ddl, t.layout.where);  // throws its error
  }

  // The label CHECK of an enum_as: check column, replaced by one with the column's labels now.
  // The constraint was named by PostgreSQL when the column was made; it is found as the column's
  // own CHECK that compares it with literals (`= ANY (ARRAY[...])`, or `= '...'` for one label),
  // so a CHECK a user added on the column otherwise stays.
  std::vector<std::string> replace_label_check(const TableSchema& s, const Column& col) {
    const std::string name = target_name(s);
    Result cons = c_.exec_params(
        "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "WHERE c.conrelid = $1::regclass AND c.contype = 'c' AND cardinality(c.conkey) = 1 AND a.attname = $2 ORDER BY c.conname",
        {name, col.name}, where_of(s));
    std::vector<std::string> out;
    std::string keep;
    for (int i = 0; i < cons.rows(); ++i) {
      const std::string def = cons.text(i, 1);
      if (def.find("= ANY (ARRAY[") == std::string::npos && def.find(" = '") == std::string::npos) continue;
      out.push_back(fmt::format("ALTER TABLE {} DROP CONSTRAINT {}", name, quote_ident(cons.text(i, 0))));
      if (keep.empty()) keep = cons.text(i, 0);
    }
    if (keep.empty()) keep = fit_identifier(s.id.name + "_" + col.name + "_check", kMaxIdentifier);
    out.push_back(fmt::format("ALTER TABLE {} ADD CONSTRAINT {} {}", name, quote_ident(keep), label_check(col)));
    return out;
  }

  bool key_set_exists(const TableEntry& t, const std::string& keys) {
    return c_.exec_params("SELECT to_regclass($1) IS NOT NULL", {keys}, t.layout.where).text(0, 0) == "t";
  }

  ConnParams params_;
  bool postgis_ = false;  // geometry columns are PostGIS geometry (else bytea holding EWKB)
  Conn c_;
  ByteBuffer bin_;     // COPY binary data being sent
  struct Pending {
    bool active = false;    // a COPY was sent whose result is not taken yet
    TableEntry* t = nullptr;
    bool savepoint = false; // it runs inside SAVEPOINT cdc_rows (write_rows' fast path)
    ByteBuffer data;        // what it sent
  } pending_;
  std::string text_;  // COPY text data being sent
  bool in_txn_ = false;
  int stage_counter_ = 0;
  detail::LayoutCache<PgTable> tables_;
};

// ---- schema objects (docs/schema-objects.md) ----

// The key list of an index: its expression, or its columns quoted.
std::string key_list(const IndexDef& idx) {
  if (!idx.expression.empty()) return idx.expression;
  std::string out;
  for (const auto& c : idx.columns) out += (out.empty() ? "" : ", ") + quote_ident(c);
  return out;
}

// A unique key over plain columns is made a unique constraint at finish(), as PostgreSQL usually
// holds them; others (expressions, predicates, other methods) a unique index.
bool as_constraint(const IndexDef& idx) {
  return idx.unique && idx.expression.empty() && idx.where.empty() && (idx.method.empty() || idx.method == "btree");
}

std::string index_text(const TableSchema& s, const IndexDef& idx) {
  return fmt::format("{}index {} on {} ({})", idx.unique ? "unique " : "", idx.name, display_name(s),
                     idx.expression.empty() ? detail::join_names(idx.columns) : idx.expression);
}

std::string fk_text(const TableSchema& s, const ForeignKeyDef& fk) {
  return fmt::format("foreign key {} on {} ({}) -> {}.{} ({}) ON DELETE {} ON UPDATE {}", fk.name, display_name(s), detail::join_names(fk.columns),
                     fk.references.schema.empty() ? "public" : fk.references.schema, fk.references.name,
                     detail::join_names(fk.referenced_columns), detail::action_sql(fk.on_delete), detail::action_sql(fk.on_update));
}

bool is_integer_type(TypeId id) {
  return id == TypeId::Int8 || id == TypeId::Int16 || id == TypeId::Int24 || id == TypeId::Int32 || id == TypeId::Int64;
}

// Runs `sql`; on failure the error goes to the report's skipped entries (with `what`) and false is
// returned: one object that cannot be made does not keep the others from being made.
bool run_or_report(Conn& c, const std::string& sql, const std::string& what, SchemaObjectReport& report, const std::string& where) {
  try {
    c.exec(sql, where);
    return true;
  } catch (const Error& e) {
    if (!c.healthy()) throw;
    report.skipped.push_back(fmt::format("{}: {}", what, e.message()));
    return false;
  }
}

// The schema objects of target tables, on a connection of their own (index builds take long and
// must not hold the destination's admin connection).
class PgObjects {
 public:
  explicit PgObjects(const ConnParams& params) : c_(params, ErrorKind::Destination) {
    postgis_ = c_.exec(kHasPostgisSql, "PostGIS check").text(0, 0) == "t";
  }

  // `at_finish`: the cut-over, when CHECKs translated from another dialect are added too.
  void table_objects(const DestinationTable& table, const std::string& source_dialect, const SchemaSettings& settings,
                     SchemaObjectReport& report, bool at_finish = false) {
    const TableSchema& s = table.schema;
    const std::string name = target_name(s);
    const std::string where = where_of(s);
    report.skipped.insert(report.skipped.end(), table.not_carried.begin(), table.not_carried.end());
    if (!exists(name, where)) {
      report.skipped.push_back(fmt::format("schema objects of {}: the table does not exist", display_name(s)));
      return;
    }
    if (settings.indexes)
      for (const auto& idx : s.indexes) {
        if (relation_exists(schema_of(s), idx.name, where)) continue;
        const std::string what = index_text(s, idx);
        // A unique key is a plain index until finish(): while changes are applied the target
        // holds rows read at different moments (chunks of a MariaDB or SQLite copy, a table
        // copied again beside the stream), and even a deferred check at commit could refuse a
        // batch the source accepted, failing the table for good.
        if (run_or_report(c_, create_index_sql(s, idx, false), what, report, where)) {
          if (idx.unique)
            report.created.push_back(what + ": a plain index until finish makes it unique (rows read at different moments could "
                                            "break a unique check while changes are applied)");
          else
            report.created.push_back(what);
        }
      }
    if (settings.constraints)
      for (const auto& ck : s.checks) {
        if (constraint_exists(name, ck.name, where)) continue;
        const std::string what = fmt::format("CHECK {} on {} ({})", ck.name, display_name(s), ck.expression);
        // PostgreSQL checks every row a writer writes (session_replication_role does not turn
        // CHECKs off). The source's own CHECK says the same thing of the same rows; one
        // translated from another dialect may not (case-insensitive comparisons in MariaDB), so
        // it waits for the cut-over, where VALIDATE reports rows that break it.
        if (source_dialect != "postgresql" && !at_finish) {
          report.created.push_back(what + ": added by finish (translated from " + (source_dialect == "mysql" ? "MariaDB" : "SQLite") +
                                   ", it could refuse a row the source accepted)");
          continue;
        }
        // NOT VALID: rows already copied are checked by finish() (VALIDATE), new rows at once.
        if (run_or_report(c_, fmt::format("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({}) NOT VALID", name, quote_ident(ck.name), ck.expression),
                          what, report, where))
          report.created.push_back(what + ", not validated yet (finish validates)");
      }
    if (settings.sequences) identities(s, report);
    if (settings.comments) comments(s, report);
  }

  void foreign_keys(const std::vector<DestinationTable>& tables, SchemaObjectReport& report) {
    for (const auto& t : tables) {
      report.skipped.insert(report.skipped.end(), t.not_carried_foreign_keys.begin(), t.not_carried_foreign_keys.end());
      const TableSchema& s = t.schema;
      const std::string name = target_name(s);
      for (const auto& fk : s.foreign_keys) {
        const std::string where = where_of(s);
        const std::string what = fk_text(s, fk);
        if (!exists(name, where)) {
          report.skipped.push_back(what + ": the table does not exist");
          continue;
        }
        if (constraint_exists(name, fk.name, where)) continue;
        const std::string parent = quote_table(fk.references.schema.empty() ? "public" : fk.references.schema, fk.references.name);
        // NOT VALID: the rows already there (chunks read at different source positions may not
        // agree yet) are checked by finish(); the stream's writes run with
        // session_replication_role = replica, so the key neither checks nor cascades their rows.
        if (run_or_report(c_,
                          fmt::format("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {} NOT VALID",
                                      name, quote_ident(fk.name), detail::join_quoted(fk.columns, "postgresql"), parent, detail::join_quoted(fk.referenced_columns, "postgresql"),
                                      detail::action_sql(fk.on_delete), detail::action_sql(fk.on_update)),
                          what, report, where))
          report.created.push_back(what + ", not validated yet (finish validates)");
      }
    }
  }

  // The cut-over: each unique key replaces its stand-in (before the foreign keys, which may
  // reference it).
  void unique_keys(const std::vector<DestinationTable>& tables, SchemaObjectReport& report) {
    for (const auto& t : tables) {
      const TableSchema& s = t.schema;
      const std::string name = target_name(s);
      const std::string where = where_of(s);
      if (!exists(name, where)) continue;
      for (const auto& idx : s.indexes) {
        if (!idx.unique) continue;
        Result r = c_.exec_params(
            "SELECT i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relname = $2",
            {schema_of(s), idx.name}, where);
        if (r.rows() > 0 && r.text(0, 0) == "t") continue;
        const std::string what = index_text(s, idx);
        std::string make = create_index_sql(s, idx, true);
        if (as_constraint(idx)) {
          make = fmt::format("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})", name, quote_ident(idx.name), key_list(idx));
          if (!idx.include.empty()) make += " INCLUDE (" + detail::join_quoted(idx.include, "postgresql") + ")";
        }
        const std::string drop = r.rows() > 0 ? "DROP INDEX " + quote_table(schema_of(s), idx.name) + "; " : std::string();
        if (run_or_report(c_, "BEGIN; " + drop + make + "; COMMIT", what + ": could not be made unique", report, where))
          report.created.push_back(what + ": made unique");
        else
          c_.try_exec("ROLLBACK");
      }
    }
  }

  // The cut-over's checks: constraints added NOT VALID are validated, sequences set.
  void finish(const std::vector<DestinationTable>& tables, const SchemaSettings& settings, SchemaObjectReport& report) {
    for (const auto& t : tables) {
      const TableSchema& s = t.schema;
      const std::string name = target_name(s);
      const std::string where = where_of(s);
      if (!exists(name, where)) continue;
      // Foreign keys and CHECKs added NOT VALID are validated now that the target has caught up.
      Result pending = c_.exec_params(
          "SELECT conname, contype FROM pg_constraint WHERE conrelid = to_regclass($1) AND NOT convalidated AND contype IN ('f', 'c') "
          "ORDER BY contype DESC, conname",
          {name}, where);
      for (int i = 0; i < pending.rows(); ++i) {
        const std::string what = fmt::format("{} {} on {}", pending.text(i, 1) == "f" ? "foreign key" : "CHECK", pending.text(i, 0),
                                             display_name(s));
        if (run_or_report(c_, fmt::format("ALTER TABLE {} VALIDATE CONSTRAINT {}", name, quote_ident(pending.text(i, 0))),
                          what + ": validation failed", report, where))
          report.created.push_back(what + ": validated");
      }
      if (settings.sequences) identities(s, report, true);
    }
  }

 private:
  std::string create_index_sql(const TableSchema& s, const IndexDef& idx, bool unique) {
    std::string sql = fmt::format("CREATE {}INDEX {}{} ON {}", unique ? "UNIQUE " : "", unique ? "" : "IF NOT EXISTS ",
                                  quote_ident(idx.name), target_name(s));
    if (!idx.method.empty() && idx.method != "btree") sql += " USING " + idx.method;
    sql += " (" + key_list(idx) + ")";
    if (!idx.include.empty()) sql += " INCLUDE (" + detail::join_quoted(idx.include, "postgresql") + ")";
    if (!idx.where.empty()) sql += " WHERE " + idx.where;
    return sql;
  }

  bool exists(const std::string& table, const std::string& where) {
    return c_.exec_params("SELECT to_regclass($1) IS NOT NULL", {table}, where).text(0, 0) == "t";
  }

  bool relation_exists(const std::string& schema, const std::string& name, const std::string& where) {
    return c_.exec_params("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
                          {schema, name}, where)
               .rows() > 0;
  }

  bool constraint_exists(const std::string& table, const std::string& name, const std::string& where) {
    return c_.exec_params("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2", {table, name}, where).rows() > 0;
  }

  // Identity columns: GENERATED BY DEFAULT AS IDENTITY added to the copied column (rows written
  // with their ids keep working), and its sequence set past the highest value present.
  void identities(const TableSchema& s, SchemaObjectReport& report, bool at_finish = false) {
    const std::string name = target_name(s);
    const std::string where = where_of(s);
    for (const auto& col : s.columns) {
      if (!col.identity || !is_integer_type(col.type.id)) continue;
      Result a = c_.exec_params(
          "SELECT a.attidentity, a.attnotnull, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
          "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
          "WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
          {name, col.name}, where);
      if (a.rows() == 0) continue;
      const std::string what = fmt::format("identity column {}.{}", display_name(s), col.name);
      const bool serial = !a.is_null(0, 2) && a.text(0, 2).rfind("nextval(", 0) == 0;
      if (a.text(0, 0).empty() && !serial) {
        if (a.text(0, 1) != "t") {
          report.skipped.push_back(what + ": the column may be NULL, which an identity column may not");
          continue;
        }
        if (!a.is_null(0, 2)) {
          report.skipped.push_back(what + ": the column has a default (" + a.text(0, 2) + ")");
          continue;
        }
        if (!run_or_report(c_, fmt::format("ALTER TABLE {} ALTER COLUMN {} ADD GENERATED BY DEFAULT AS IDENTITY", name, quote_ident(col.name)),
                           what, report, where))
          continue;
        report.created.push_back(what + " (GENERATED BY DEFAULT AS IDENTITY)");
      }
      Result r = c_.exec_params(fmt::format("SELECT setval(pg_get_serial_sequence($1, $2), m) FROM (SELECT max({}) AS m FROM {}) x "
                                            "WHERE m IS NOT NULL",
                                            quote_ident(col.name), name),
                                {name, col.name}, where);
      if (r.rows() > 0 && at_finish) report.created.push_back(fmt::format("{}: sequence continues after {}", what, r.text(0, 0)));
    }
  }

  void comments(const TableSchema& s, SchemaObjectReport& report) {
    const std::string name = target_name(s);
    const std::string where = where_of(s);
    bool any = false;
    if (!s.comment.empty()) any = run_or_report(c_, fmt::format("COMMENT ON TABLE {} IS {}", name, quote_literal(s.comment)),
                                                "comment on " + display_name(s), report, where) || any;
    for (const auto& col : s.columns) {
      if (col.comment.empty()) continue;
      if (!column_comment(s, col, postgis_).empty()) {  // a text[] from a MariaDB SET keeps its labels there
        report.skipped.push_back(fmt::format("comment on column {}.{}: the column's comment holds {}", display_name(s), col.name,
                                             col.type.id == TypeId::Geometry ? "its geometry type (a bytea of EWKB)"
                                                                             : "the labels of its MariaDB SET"));
        continue;
      }
      any = run_or_report(c_, fmt::format("COMMENT ON COLUMN {}.{} IS {}", name, quote_ident(col.name), quote_literal(col.comment)),
                          fmt::format("comment on column {}.{}", display_name(s), col.name), report, where) || any;
    }
    if (any) report.created.push_back("comments on " + display_name(s));
  }

  Conn c_;
  bool postgis_ = false;  // geometry columns are PostGIS geometry, else bytea with a comment
};

// cdc_metadata.runs and cdc_metadata.errors (CheckpointStore's run history).
detail::SqlHistory::Dialect history_dialect() {
  detail::SqlHistory::Dialect d;
  d.runs = fmt::format("{}.runs", kMetadataSchema);
  d.errors = fmt::format("{}.errors", kMetadataSchema);
  d.create_runs = fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (session text NOT NULL, run bigint NOT NULL, kind text NOT NULL, "
      "started_at timestamptz NOT NULL, ended_at timestamptz, outcome text NOT NULL, rows_copied bigint NOT NULL, "
      "changes_applied bigint NOT NULL, version text NOT NULL, holder text NOT NULL, error text, PRIMARY KEY (session, run))",
      d.runs);
  d.create_errors = fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, session text NOT NULL, run bigint NOT NULL, "
      "at timestamptz NOT NULL, source_table text NOT NULL, kind text NOT NULL, message text NOT NULL, position text)",
      d.errors);
  d.now = "now()";
  d.time_value = "(CAST(? AS timestamp) AT TIME ZONE 'UTC')";
  d.time_text = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')";
  return d;
}

class PgCheckpointStore final : public detail::HistoryCheckpointStore {
 public:
  explicit PgCheckpointStore(ConnParams p) : HistoryCheckpointStore(history_dialect()), params_(std::move(p)) {}


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
      history_.forget_tables();
      if (!ready_) {
        c_.exec(checkpoint_ddl(), "checkpoint table");
        ready_ = true;
      }
    }
    return c_;
  }

  void with_query(const std::function<void(const detail::SqlHistory::Query&)>& f) override {
    std::lock_guard<std::mutex> lock(mu_);
    f([this](const std::string& sql, const detail::SqlHistory::Params& params) {
      Result r = conn().exec_params(detail::number_placeholders(sql, [](int n) { return "$" + std::to_string(n); }), params,
                                    "run history");
      detail::SqlHistory::Rows rows(static_cast<std::size_t>(r.rows()));
      for (int i = 0; i < r.rows(); ++i)
        for (int j = 0; j < r.cols(); ++j)
          rows[static_cast<std::size_t>(i)].push_back(r.is_null(i, j) ? std::nullopt : std::optional<std::string>(r.text(i, j)));
      return rows;
    });
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
    postgis_ = c.exec(kHasPostgisSql, "PostGIS check").text(0, 0) == "t";
    set_replica_role(c);
  }

  std::string dialect() const override { return "postgresql"; }

  DestinationCapabilities capabilities() const override {
    DestinationCapabilities c;
    c.ddl = c.atomic_checkpoints = c.quarantine = c.schema_evolution = c.schema_history = true;
    c.transactional_ddl = c.backfill = c.resync_sweep = c.cascades = c.schema_objects = true;
    c.key_after_load = true;
    return c;
  }

  SchemaObjectReport create_table_objects(const DestinationTable& table, const std::string& source_dialect,
                                          const SchemaSettings& settings) override {
    SchemaObjectReport report;
    PgObjects(params_).table_objects(table, source_dialect, settings, report);
    return report;
  }

  SchemaObjectReport create_foreign_keys(const std::vector<DestinationTable>& tables, const std::string&,
                                         const SchemaSettings& settings) override {
    SchemaObjectReport report;
    if (settings.foreign_keys) PgObjects(params_).foreign_keys(tables, report);
    return report;
  }

  SchemaObjectReport finish(const std::vector<DestinationTable>& tables, const std::string& source_dialect,
                            const SchemaSettings& settings) override {
    SchemaObjectReport report;
    PgObjects objects(params_);
    for (const auto& t : tables) objects.table_objects(t, source_dialect, settings, report, true);
    if (settings.indexes) objects.unique_keys(tables, report);
    if (settings.foreign_keys) objects.foreign_keys(tables, report);
    objects.finish(tables, settings, report);
    return report;
  }

  std::string render_ddl(const DestinationTable& table) const override {
    std::string types;
    for (const auto& c : table.schema.columns)
      if (has_enum_type(c)) types += create_enum_type(table.schema, c) + "; ";
    return types + render(table, postgis_);
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
      c.exec(render(table, postgis_), where_of(s));
      detail::logf(LogLevel::Info, "postgres.destination", s.id.to_string(), "created table{}",
                   table.key_after_load && !s.primary_key.empty() ? " (its primary key is built once its rows are in)" : "");
      return;
    }
    if (!table.key_after_load) ensure_key(c, table);
    std::set<std::string> existing;
    for (int i = 0; i < have.rows(); ++i) existing.insert(have.text(i, 0));
    for (const auto& col : s.columns) {
      if (existing.count(col.name)) continue;
      // Same dialect: the source's default too, so existing rows read as they do at the source.
      std::string def = col.default_expr && !col.source_type.empty() ? " DEFAULT " + *col.default_expr : "";
      c.exec(fmt::format("ALTER TABLE {} ADD COLUMN {} {}{}{}", target_name(s), quote_ident(col.name), column_type(s, col, postgis_), def,
                         column_comment(s, col, postgis_)),
             where_of(s));
      detail::logf(LogLevel::Info, "postgres.destination", s.id.to_string(), "added column {}", col.name);
    }
  }

  std::unique_ptr<DestinationWriter> open_writer() override { return std::make_unique<PgWriter>(params_, postgis_); }

  // A table created without its primary key for its copy (key_after_load) gets it now, built
  // from the rows in one sort. A table that has the key, or a unique index on exactly its
  // columns (a target the user made), is left as it is.
  static void ensure_key(Conn& c, const DestinationTable& table) {
    const TableSchema& s = table.schema;
    if (s.primary_key.empty()) return;
    std::vector<std::string> key = s.primary_key;
    std::sort(key.begin(), key.end());
    std::string joined;
    for (const auto& k : key) joined += (joined.empty() ? "" : "\x1f") + k;
    Result have = c.exec_params(
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND (i.indisprimary OR (i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL)) "
        "AND (SELECT string_agg(a.attname::text, E'\\x1f' ORDER BY a.attname::text COLLATE \"C\") FROM pg_attribute a "
        "WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey)) = $3",
        {schema_of(s), s.id.name, joined}, where_of(s));
    if (have.rows() > 0) return;
    const std::string cols = primary_key_list(s);
    c.exec(fmt::format("ALTER TABLE {} ADD PRIMARY KEY ({})", target_name(s), cols), where_of(s));
    detail::logf(LogLevel::Info, "postgres.destination", s.id.to_string(), "built its primary key ({})", cols);
  }

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
  bool postgis_ = false;  // PostGIS's geometry type exists (checked once, at open)
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
