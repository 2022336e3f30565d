// PostgreSQL source: discovery from the catalogs, PK-range (or ctid-range) snapshot chunks read
// with COPY ... TO STDOUT (FORMAT binary) under one exported snapshot, watermark reads, and the
// slot and publication behind the change stream.
//
// Positions are commit LSNs as text "X/Y": position L means "every transaction whose commit
// record starts at or before L has been delivered"; resuming after L starts replication at L+1,
// which the server turns into "skip commits before L+1". A slot's exported snapshot holds exactly
// the transactions committed before its consistent point C, so its position is C-1.
//
// Snapshots shared by the readers: a replicating session's comes from creating its slot (or a
// temporary one when the slot exists) with EXPORT_SNAPSHOT; a copy's from pg_export_snapshot()
// in a REPEATABLE READ transaction held open, so a copy creates no slot. When a stream's snapshot
// is gone (its connection died), a whole-table read takes a temporary slot's snapshot in its own
// transaction (SNAPSHOT 'use'), whose consistent point is again the exact position of the rows read.
// A whole-table read that asks for an exact position (ReadRequest::exact_position) without a
// snapshot does the same: a table joining a running stream takes over from it exactly there.
//
// The position now (current_position) is the WAL insert position P minus one. A commit record
// inserted after P was read starts at or after P, so its transaction is delivered strictly after
// P-1; one inserted before starts before P. pg_current_wal_lsn() would not do: it is where WAL has
// been written, which lags behind inserted records (with synchronous_commit=off a transaction is
// visible before its commit record is written, and would come out after the position although
// committed before it). Inserted is not yet visible, though: a committing backend inserts its
// commit record, flushes it (and waits for synchronous standbys) and only then leaves the proc
// array. A table copied right after the call could miss such a transaction while its position
// says it is in the copy. So the call then waits until every transaction of this database that
// held an xid when P was read, and whose backend was inside a statement (a commit always runs
// inside one; a backend idle in its transaction is not committing), has ended, left that statement
// or gone idle (PgSource::wait_for_committing). Prepared transactions committed by COMMIT PREPARED
// at that very moment are not waited for.
//
// Tables joining a running stream (extend_capture) are added to cdc's publication in a
// transaction that first takes a SHARE lock on them, which waits for every transaction writing to
// them to end. pgoutput decides per change whether its table is published, with the catalog as of
// that change in the WAL: a transaction that wrote to the table before ALTER PUBLICATION ... ADD
// TABLE committed never has those writes sent, even when it commits afterwards (see
// https://github.com/electric-sql/electric/pull/4787, and PostgreSQL commit 4909b38af0 "Fix data
// loss in logical replication", back-patched in 2025, which distributes the invalidations of such
// DDL to concurrent transactions being decoded but leaves changes made before it unpublished).
// With the lock, such writers have committed before the table joins, so a snapshot taken later
// holds their rows, and every later write is made after the publication changed and is sent.
//
// Thread-safety: each call opens its own connection; the shared pieces, the connections that
// keep exported snapshots readable, are guarded by `mu_`.
#include "postgres/copy_binary.h"
#include "postgres/pg_connectors.h"
#include "postgres/pg_types.h"

#include "core/array_literal.h"
#include "core/batch_reader.h"
#include "core/logging.h"
#include "core/sql_expr.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

namespace cdc::pg {

namespace json = boost::json;

namespace {

std::string where_of(const TableId& t) { return "table " + t.to_string(); }

std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + quote_ident(names[i]);
  return out;
}

std::string encode_bound(const std::vector<std::string>& key) {
  json::array a;
  for (const auto& k : key) a.emplace_back(k);
  return json::serialize(a);
}

std::vector<std::string> decode_bound(const std::string& text, const TableId& t) {
  std::vector<std::string> out;
  try {
    json::value parsed = json::parse(text);
    for (const auto& v : parsed.as_array()) out.emplace_back(v.as_string().c_str(), v.as_string().size());
  } catch (const std::exception&) {
    throw Error(ErrorKind::State, fmt::format("bad chunk bound \"{}\" for table {}", text, t.to_string()), false, where_of(t));
  }
  return out;
}

// A slot name derived from the database name: cdc_<db>, lowercased, [a-z0-9_], at most 63 bytes.
std::string default_slot(const std::string& db) {
  std::string s = "cdc_";
  for (char c : db) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    s += (std::isalnum(static_cast<unsigned char>(l)) || l == '_') ? l : '_';
  }
  return s.substr(0, 63);
}

// A value as a typed SQL literal for the watermark comparison (through libpq's escaping).
std::string value_literal(Conn& c, const Value& v) {
  switch (v.kind()) {
    case ValueKind::Null: return "NULL";
    case ValueKind::Bool: return v.as_bool() ? "true" : "false";
    case ValueKind::Int: return std::to_string(v.as_int());
    case ValueKind::UInt: return std::to_string(v.as_uint());
    case ValueKind::Double: return c.literal(fmt::format("{}", v.as_double())) + "::float8";
    case ValueKind::Bytes: {
      std::string t;
      append_copy_text(v, t);  // \\x..: COPY escaping doubled the backslash
      return c.literal(t.substr(1)) + "::bytea";
    }
    case ValueKind::Decimal: return c.literal(v.text()) + "::numeric";
    case ValueKind::Date: return c.literal(v.text()) + "::date";
    case ValueKind::Time: return c.literal(v.text()) + "::time";
    case ValueKind::Timestamp: return c.literal(v.text()) + "::timestamp";
    case ValueKind::TimestampTz: return c.literal(v.text()) + "::timestamptz";
    case ValueKind::Uuid: return c.literal(v.text()) + "::uuid";
    default: return c.literal(v.text());
  }
}

// Reads the COPY binary rows of one query into batches of Values (one batch at a time); owns its
// connection and transaction. The query selects each column as copy_binary.h's codec expects it.
class CopyRowReader final : public detail::BatchRowReader {
 public:
  CopyRowReader(Conn conn, std::vector<Column> columns, std::int64_t batch_size, std::string where, Position position = {})
      : BatchRowReader(columns.size(), batch_size),
        conn_(std::move(conn)),
        columns_(std::move(columns)),
        where_(std::move(where)),
        position_(std::move(position)) {
    for (const auto& c : columns_) types_.push_back(source_binary_type(c));
  }

  ~CopyRowReader() override {
    // Abandoned mid-copy: closing the connection ends the COPY and the transaction.
    if (!done()) conn_.close();
  }

  // The exported snapshot's position when the rows were read under it; empty for a fresh snapshot.
  Position position() const override { return position_; }

 private:
  bool read_row(Row& row) override {
    if (!next_tuple()) return false;
    const std::size_t ncols = columns_.size();
    if (fields_.size() != ncols)
      throw Error(ErrorKind::Source, fmt::format("COPY row has {} fields, expected {}", fields_.size(), ncols), false, where_);
    for (std::size_t c = 0; c < ncols; ++c) {
      const BinaryField& f = fields_[c];
      if (f.len < 0) row[c] = Value();
      else read_binary_value(types_[c], columns_[c], f.data, static_cast<std::size_t>(f.len), row[c]);
    }
    return true;
  }

  void finish() override { conn_.exec("COMMIT", where_); }

  // The next tuple into fields_ (pointing into the current CopyData message, or into pending_
  // when a tuple spans messages); false after the trailer and the end of the copy.
  bool next_tuple() {
    for (;;) {
      if (!view_.empty()) {
        std::string_view v = view_;
        if (!header_done_ && parse_copy_binary_header(v)) header_done_ = true;
        TupleStatus st = header_done_ ? parse_copy_binary_tuple(v, fields_) : TupleStatus::Incomplete;
        if (st == TupleStatus::Row) {
          view_ = v;
          return true;
        }
        if (st == TupleStatus::End) {
          if (!v.empty()) throw Error(ErrorKind::Source, "COPY binary data after the trailer", false, where_);
        } else {
          if (pending_view_) pending_.erase(0, static_cast<std::size_t>(view_.data() - pending_.data()));
          else pending_.assign(view_.data(), view_.size());
          carry_ = true;
        }
        view_ = {};
      }
      const char* data = nullptr;
      int len = 0;
      if (!conn_.copy_out_row(data, len, where_)) {
        if (carry_) throw Error(ErrorKind::Source, "COPY binary data ends inside a row", false, where_);
        return false;
      }
      if (carry_) {
        // PostgreSQL sends one row a message; this only runs for a row split across messages.
        pending_.append(data, static_cast<std::size_t>(len));
        view_ = pending_;
        carry_ = false;
        pending_view_ = true;
      } else {
        view_ = std::string_view(data, static_cast<std::size_t>(len));
        pending_view_ = false;
      }
    }
  }

  Conn conn_;
  std::vector<Column> columns_;
  std::vector<BinaryType> types_;
  std::string where_;
  Position position_;
  bool header_done_ = false;
  bool carry_ = false;        // pending_ holds a partial tuple
  bool pending_view_ = false; // view_ points into pending_
  std::string_view view_;     // unparsed rest of the current message
  std::string pending_;       // a tuple split across messages, put together
  std::vector<BinaryField> fields_;
};

class PgSource final : public SourceConnector {
 public:
  explicit PgSource(const ConnectorUrl& url) : params_(conn_params(url)) {
    auto it = params_.cdc.find("slot");
    slot_ = it != params_.cdc.end() && !it->second.empty() ? it->second : default_slot(params_.database);
    it = params_.cdc.find("publication");
    own_publication_ = it == params_.cdc.end() || it->second.empty();
    publication_ = own_publication_ ? "cdc_pub" : it->second;
  }

  ~PgSource() override = default;

  std::string dialect() const override { return "postgresql"; }
  std::size_t max_identifier_length() const override { return 63; }

  std::vector<TableSchema> discover(const std::function<bool(const TableId&)>& wanted) override {
    Conn c = open();
    Result r = c.exec(
        "SELECT c.oid, n.nspname, c.relname, "
        "  CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(greatest(p.reltuples, 0)), 0)::bigint "
        "       FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid WHERE t.isleaf) "
        "  ELSE c.reltuples::bigint END, "
        "  CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_relation_size(t.relid)), 0) FROM pg_partition_tree(c.oid) t) "
        "  ELSE pg_relation_size(c.oid) END, c.relkind IN ('v', 'm') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition "
        "  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'cdc_metadata') "
        "  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
        "  AND c.relname NOT LIKE '\\_cdc\\_%' "
        // Tables and views an extension owns (PostGIS's spatial_ref_sys, geometry_columns) are not
        // the user's: the extension makes them at the target.
        "  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') "
        "ORDER BY n.nspname, c.relname",
        "discovery");
    std::vector<TableSchema> out;
    std::vector<std::string> oids;
    for (int i = 0; i < r.rows(); ++i) {
      TableId id(r.text(i, 1), r.text(i, 2));
      if (wanted && !wanted(id)) continue;
      oids.push_back(r.text(i, 0));
      TableSchema t = describe(c, r.text(i, 0), id);
      t.view = r.text(i, 5) == "t";  // a view or a materialized view: no change log
      t.estimated_rows = t.view ? -1 : r.int64(i, 3);
      t.estimated_bytes = t.view ? -1 : r.int64(i, 4);
      if (!t.view && t.estimated_rows <= 0) {
        // Never analysed (reltuples -1) or empty: an exact count is cheap enough for small tables
        // and right for the rest.
        if (t.estimated_rows < 0 || t.estimated_bytes > 0)
          t.estimated_rows = c.exec("SELECT count(*) FROM " + quote_table(id.schema, id.name), where_of(id)).int64(0, 0);
      }
      out.push_back(std::move(t));
    }
    read_objects(c, oids, out);
    return out;
  }

  std::vector<SnapshotChunk> plan_snapshot(const TableSchema& table, const SnapshotPlanOptions& options) override {
    Conn c = open();
    const std::string t = qualified(table.id);
    const std::string w = where_of(table.id);
    std::int64_t chunk_rows = options.whole_table ? std::numeric_limits<std::int64_t>::max() : std::max<std::int64_t>(1, options.chunk_rows);
    int min_chunks = options.whole_table ? 1 : std::max(1, options.min_chunks);
    Result est = c.exec(
        fmt::format("SELECT CASE WHEN c.reltuples < 0 THEN -1 ELSE c.reltuples::bigint END, "
                    "  coalesce(s.last_analyze, s.last_autoanalyze) IS NOT NULL, coalesce(s.n_mod_since_analyze, -1) "
                    "FROM pg_class c LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid WHERE c.oid = {}::regclass",
                    c.literal(t)),
        w);
    std::int64_t rows = est.int64(0, 0);
    // Statistics steer the split: fresh ones (analysed, and changed by less than a tenth since)
    // are used as they are; small, never analysed or much changed tables are counted.
    bool fresh = rows >= 0 && est.text(0, 1) == "t" && est.int64(0, 2) >= 0 && est.int64(0, 2) <= rows / 10;
    const bool whole = options.whole_table;
    if (!whole && !fresh && (rows < 0 || rows / 4 < chunk_rows)) rows = c.exec("SELECT count(*) FROM " + t, w).int64(0, 0);
    if (rows < 0) rows = 0;
    std::int64_t n = std::max<std::int64_t>(min_chunks, rows / chunk_rows + (rows % chunk_rows != 0 ? 1 : 0));
    if (rows == 0) n = 1;
    std::vector<std::string> bounds;  // lower bounds of chunks 2..n
    std::vector<std::string> pk = table.primary_key;
    if (pk.empty()) pk = primary_key(c, table.id);
    if (n > 1 && !pk.empty()) {
      bool int_key = false;
      if (pk.size() == 1) {
        int ki = table.index_of(pk[0]);
        if (ki >= 0) {
          auto id = table.columns[static_cast<std::size_t>(ki)].type.id;
          int_key = id == TypeId::Int16 || id == TypeId::Int32 || id == TypeId::Int64;
        }
      }
      if (int_key) {
        Result mm = c.exec(fmt::format("SELECT min({0})::text, max({0})::text FROM {1}", quote_ident(pk[0]), t), w);
        if (!mm.is_null(0, 0)) {
          long double lo = std::stold(mm.text(0, 0)), hi = std::stold(mm.text(0, 1));
          long double range = hi - lo + 1;
          if (static_cast<long double>(n) > range) n = static_cast<std::int64_t>(range);
          for (std::int64_t i = 1; i < n; ++i) {
            auto b = static_cast<long long>(std::floor(lo + range * static_cast<long double>(i) / static_cast<long double>(n)));
            bounds.push_back(encode_bound({std::to_string(b)}));
          }
        }
      } else {
        std::int64_t size = std::max<std::int64_t>(1, rows / n);
        std::string keys = name_list(pk);
        std::string texts;
        for (std::size_t i = 0; i < pk.size(); ++i) texts += (i ? ", " : "") + quote_ident(pk[i]) + "::text";
        Result b = c.exec(fmt::format("SELECT {0} FROM (SELECT {1}, row_number() OVER (ORDER BY {1}) AS cdc_rn FROM {2}) s "
                                      "WHERE cdc_rn > 1 AND (cdc_rn - 1) % {3} = 0 ORDER BY cdc_rn LIMIT {4}",
                                      texts, keys, t, size, n - 1),
                          w);
        for (int i = 0; i < b.rows(); ++i) {
          std::vector<std::string> key;
          for (int k = 0; k < b.cols(); ++k) key.push_back(b.text(i, k));
          bounds.push_back(encode_bound(key));
        }
      }
    } else if (n > 1) {
      // No key: ranges of heap pages (TID range scans, PostgreSQL 14+).
      std::int64_t pages =
          c.exec(fmt::format("SELECT pg_relation_size({0}::regclass) / current_setting('block_size')::bigint", c.literal(t)), w)
              .int64(0, 0);
      if (pages > 1) {
        n = std::min<std::int64_t>(n, pages);
        for (std::int64_t i = 1; i < n; ++i) bounds.push_back("ctid:" + std::to_string(pages * i / n));
      }
    }
    std::vector<SnapshotChunk> chunks;
    int count = static_cast<int>(bounds.size()) + 1;
    for (int i = 0; i < count; ++i) {
      SnapshotChunk ch;
      ch.index = i;
      ch.count = count;
      ch.lower = i == 0 ? "" : bounds[static_cast<std::size_t>(i - 1)];
      ch.upper = i == count - 1 ? "" : bounds[static_cast<std::size_t>(i)];
      ch.estimated_rows = rows / count;
      chunks.push_back(std::move(ch));
    }
    detail::logf(LogLevel::Debug, "postgres.source", table.id.to_string(), "planned {} chunk(s) over ~{} rows", chunks.size(), rows);
    return chunks;
  }

  std::unique_ptr<RowReader> read_chunk(const ReadRequest& req) override {
    const TableSchema& schema = req.schema;
    const std::string w = where_of(schema.id);
    Conn c = open();
    std::vector<std::string> conds;
    for (auto [text, op] : {std::pair{&req.chunk.lower, ">="}, std::pair{&req.chunk.upper, "<"}}) {
      if (text->empty()) continue;
      if (text->rfind("ctid:", 0) == 0) {
        conds.push_back(fmt::format("ctid {} {}::tid", op, c.literal("(" + text->substr(5) + ",0)")));
        continue;
      }
      std::vector<std::string> key = decode_bound(*text, schema.id);
      std::vector<std::string> pk = schema.primary_key;
      if (pk.size() != key.size())
        throw Error(ErrorKind::State, fmt::format("chunk bound {} does not match the key of table {}", *text, schema.id.to_string()),
                    false, w);
      std::string lits;
      for (std::size_t i = 0; i < key.size(); ++i) lits += (i ? ", " : "") + c.literal(key[i]);
      conds.push_back(fmt::format("ROW({}) {} ROW({})", name_list(pk), op, lits));
    }
    if (!req.where.empty()) conds.push_back("(" + req.where + ")");
    std::string sql = fmt::format("COPY (SELECT {} FROM {}", select_list(schema.columns), qualified(schema.id));
    for (std::size_t i = 0; i < conds.size(); ++i) sql += (i ? " AND " : " WHERE ") + conds[i];
    sql += ") TO STDOUT (FORMAT binary)";
    Position at = begin_snapshot(c, req, w);
    c.copy_out_start(sql, w);
    return std::make_unique<CopyRowReader>(std::move(c), schema.columns, req.batch_size, w, at);
  }

  std::unique_ptr<RowReader> read_incremental(const IncrementalRequest& req) override {
    const TableSchema& schema = req.schema;
    const std::string w = where_of(schema.id);
    Conn c = open();
    std::string lit = req.last_value && !req.last_value->is_null() ? value_literal(c, *req.last_value) : "NULL";
    std::string sql;
    if (req.query.empty()) {
      if (schema.index_of(req.watermark_column) < 0)
        throw Error(ErrorKind::Config,
                    fmt::format("watermark column \"{}\" is not among the columns read from table {}", req.watermark_column,
                                schema.id.to_string()),
                    false, w);
      std::string wm = quote_ident(req.watermark_column);
      sql = fmt::format("SELECT {} FROM {}", select_list(schema.columns), qualified(schema.id));
      std::vector<std::string> conds;
      if (lit != "NULL") conds.push_back(wm + " > " + lit);
      if (!req.where.empty()) conds.push_back("(" + req.where + ")");
      for (std::size_t i = 0; i < conds.size(); ++i) sql += (i ? " AND " : " WHERE ") + conds[i];
      sql += " ORDER BY " + wm;
    } else {
      std::string q = req.query;
      for (std::size_t p = q.find(":last_value"); p != std::string::npos; p = q.find(":last_value", p + lit.size()))
        q.replace(p, 11, lit);
      sql = fmt::format("SELECT {} FROM ({}) AS cdc_q", select_list(schema.columns, false), q);
    }
    c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", w);
    c.copy_out_start("COPY (" + sql + ") TO STDOUT (FORMAT binary)", w);
    return std::make_unique<CopyRowReader>(std::move(c), schema.columns, req.batch_size, w);
  }

  std::int64_t count_rows(const TableId& table, const std::string& where) override {
    Conn c = open();
    std::string sql = "SELECT count(*) FROM " + qualified(table);
    if (!where.empty()) sql += " WHERE (" + where + ")";
    return c.exec(sql, where_of(table)).int64(0, 0);
  }

  bool supports_stream() const override { return true; }

  StreamStart prepare_stream(const std::vector<StreamTable>& tables) override {
    Conn c = open();
    std::string level = c.exec("SHOW wal_level").text(0, 0);
    if (level != "logical")
      throw Error(ErrorKind::Config,
                  fmt::format("PostgreSQL {} has wal_level={}; change capture needs wal_level=logical "
                              "(ALTER SYSTEM SET wal_level = logical, then restart the server)",
                              params_.display, level),
                  false, "source");
    Result perm = c.exec("SELECT rolsuper OR rolreplication, current_user FROM pg_roles WHERE rolname = current_user");
    if (perm.rows() == 1 && perm.text(0, 0) != "t")
      throw Error(ErrorKind::Config,
                  fmt::format("the PostgreSQL user {0} needs the REPLICATION attribute for change capture: "
                              "ALTER ROLE {0} REPLICATION (a copy needs none)",
                              quote_ident(perm.text(0, 1))),
                  false, "source");
    check_replica_identity(c, tables);
    ensure_publication(c, tables);

    bool have_slot = c.exec_params("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {slot_}).rows() > 0;
    // Exporting the snapshot takes a WAL sender and a slot (a temporary one when the slot exists).
    check_replication_capacity(c);
    // The slot's exported snapshot lives as long as this connection: keep it for the readers.
    Conn repl(params_, ErrorKind::Source, ConnKind::Replication);
    std::string cmd = have_slot ? fmt::format("CREATE_REPLICATION_SLOT {} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT",
                                              quote_ident(temp_slot_name("snap", repl)))
                                : fmt::format("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput EXPORT_SNAPSHOT", quote_ident(slot_));
    Result r = create_slot(repl, cmd);  // waits for running transactions to end
    std::uint64_t consistent = parse_lsn(r.text(0, 1));
    StreamStart start;
    start.position = Position(format_lsn(consistent - 1));
    start.snapshot_id = r.text(0, 2);
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_[start.snapshot_id] = std::move(repl);
      stream_snapshots_[start.snapshot_id] = start.position;
      if (!have_slot) slot_created_at_ = r.text(0, 1);
    }
    detail::logf(LogLevel::Info, "postgres.source", "", "{} slot {} at {} (snapshot {})", have_slot ? "using" : "created", slot_,
                 r.text(0, 1), start.snapshot_id);
    return start;
  }

  // A copy reads every chunk under one snapshot exported from a transaction held open until
  // release_snapshot(); no slot, no replication privilege needed.
  std::string share_snapshot() override {
    Conn c = open();
    // It sits idle in its transaction on purpose: a server-wide timeout must not end it.
    c.exec("SET idle_in_transaction_session_timeout = 0; BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "snapshot");
    std::string id = c.exec("SELECT pg_export_snapshot()", "snapshot").text(0, 0);
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_[id] = std::move(c);
    }
    detail::logf(LogLevel::Info, "postgres.source", "", "snapshot {} shared by every reader", id);
    return id;
  }

  void release_snapshot(const std::string& snapshot_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    held_.erase(snapshot_id);  // closing the connection ends its transaction (and temporary slot)
  }

  std::unique_ptr<ChangeStream> open_stream(const std::vector<StreamTable>& tables, const Position& from) override {
    StreamSettings s{params_, slot_, publication_, {}, {}, {}, {}};
    {
      // The stream's snapshots are no longer needed once it runs (readers that still need one
      // fall back to a fresh snapshot; replay is idempotent).
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& kv : stream_snapshots_) held_.erase(kv.first);
      s.slot_created_at = slot_created_at_;
    }
    Conn c = open();
    for (const auto& t : tables) {
      Result r = c.exec_params(
          "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
          {quote_table(t.schema.id.schema, t.schema.id.name)}, where_of(t.schema.id));
      auto& known = s.known_columns[t.schema.id];
      for (int i = 0; i < r.rows(); ++i) known.insert(r.text(i, 0));
      Result parts = c.exec_params(
          "SELECT n.nspname, c.relname FROM pg_partition_tree($1::regclass) p JOIN pg_class c ON c.oid = p.relid "
          "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.level > 0",
          {quote_table(t.schema.id.schema, t.schema.id.name)}, where_of(t.schema.id));
      for (int i = 0; i < parts.rows(); ++i) s.partition_root[TableId(parts.text(i, 0), parts.text(i, 1))] = t.schema.id;
    }
    // Schema changes: the table as the catalog has it, on a connection the stream keeps.
    auto conn = std::make_shared<Conn>();
    s.describe = [this, conn](const TableId& id) {
      if (!conn->healthy()) *conn = open();
      Result r = conn->exec_params("SELECT $1::regclass::oid", {quote_table(id.schema, id.name)}, where_of(id));
      DescribedTable d;
      d.table = describe(*conn, r.text(0, 0), id);
      d.fills = known_fills(*conn, d.table);
      Result types = conn->exec_params(
          "SELECT attname, atttypid::bigint, atttypmod FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 "
          "AND NOT attisdropped",
          {r.text(0, 0)}, where_of(id));
      for (int i = 0; i < types.rows(); ++i)
        d.types[types.text(i, 0)] = {static_cast<std::uint32_t>(types.int64(i, 1)), static_cast<std::int32_t>(types.int64(i, 2))};
      // Read after the description: every DDL it reflects committed before (no wait needed,
      // since only an upper bound of those commits matters here).
      d.observed_lsn = insert_position(*conn) - 1;
      return d;
    };
    return open_pg_stream(s, tables, from);
  }

  int compare_positions(const Position& a, const Position& b) const override {
    std::uint64_t x = parse_lsn(a.str()), y = parse_lsn(b.str());
    return x < y ? -1 : x > y ? 1 : 0;
  }

  // See the header: the insert position minus one, once no transaction that may have inserted
  // its commit record before it is still invisible.
  Position current_position() override {
    Conn c = open();
    std::uint64_t insert = insert_position(c);
    wait_for_committing(c, insert);
    return Position(format_lsn(insert - 1));
  }

  std::int64_t log_bytes_between(const Position& from, const Position& to) override {
    if (from.empty() || to.empty()) return -1;
    std::uint64_t a = parse_lsn(from.str()), b = parse_lsn(to.str());
    return b > a ? static_cast<std::int64_t>(b - a) : 0;
  }

  void extend_capture(const std::vector<StreamTable>& tables) override {
    if (tables.empty()) return;
    Conn c = open();
    check_replica_identity(c, tables);
    Result pub = c.exec_params("SELECT puballtables FROM pg_publication WHERE pubname = $1", {publication_},
                               "publication " + publication_);
    if (!own_publication_) {
      if (pub.rows() == 0)
        throw Error(ErrorKind::Config, fmt::format("publication \"{}\" does not exist on the PostgreSQL source", publication_),
                    false, "source");
      for (const auto& st : tables) {
        const TableId& id = st.schema.id;
        if (published(c, id)) continue;
        throw Error(ErrorKind::Config,
                    fmt::format("table {} is not in publication \"{}\" (given by the source URL's publication parameter), "
                                "so its changes would not reach cdc: run ALTER PUBLICATION {} ADD TABLE {} on the source, "
                                "or leave the table out",
                                id.to_string(), publication_, quote_ident(publication_), qualified(id)),
                    false, where_of(id));
      }
      return;
    }
    if (pub.rows() > 0 && pub.text(0, 0) == "t") return;  // FOR ALL TABLES publishes every table already
    std::vector<const StreamTable*> missing;
    for (const auto& st : tables)
      if (pub.rows() == 0 || !published(c, st.schema.id)) missing.push_back(&st);
    if (missing.empty()) return;
    std::string locks, list;
    for (const StreamTable* st : missing) {
      locks += (locks.empty() ? "" : ", ") + qualified(st->schema.id);
      list += (list.empty() ? "" : ", ") + qualified(st->schema.id);
      if (!st->where.empty()) list += " WHERE (" + st->where + ")";
    }
    const std::string change =
        pub.rows() == 0 ? fmt::format("CREATE PUBLICATION {} FOR TABLE {} WITH (publish_via_partition_root = true)",
                                      quote_ident(publication_), list)
                        : fmt::format("ALTER PUBLICATION {} ADD TABLE {}", quote_ident(publication_), list);
    // SHARE conflicts with the ROW EXCLUSIVE lock of every writer: taking it waits for writers
    // that started before to end, and keeps new ones out until the publication has changed (see
    // the header). Short lock timeouts, retried, so that writers do not queue behind a long wait.
    const std::string where = "publication " + publication_;
    const auto deadline = std::chrono::steady_clock::now() + kCommitWait;
    for (int attempt = 1;; ++attempt) {
      c.exec("BEGIN", where);
      std::string state = c.try_exec("SET LOCAL lock_timeout = '500ms'; LOCK TABLE " + locks + " IN SHARE MODE");
      if (state.empty()) {
        c.exec(change, where);
        c.exec("COMMIT", where);
        break;
      }
      c.exec("ROLLBACK", where);
      if (state != "55P03" || std::chrono::steady_clock::now() >= deadline)
        throw Error(ErrorKind::Source,
                    fmt::format("cannot add {} to publication \"{}\": LOCK TABLE ... IN SHARE MODE failed with SQLSTATE {} "
                                "after {} attempt(s) (a transaction writing to the table has been open for long; it must "
                                "end first, so that none of its changes is lost)",
                                locks, publication_, state, attempt),
                    state == "55P03", where);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    detail::logf(LogLevel::Info, "postgres.source", "", "added {} to publication {}", locks, publication_);
  }

  std::vector<std::string> teardown() override {
    std::vector<std::string> out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_.clear();
    }
    Conn c = open();
    if (c.exec_params("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {slot_}).rows() > 0) {
      c.exec_params("SELECT pg_drop_replication_slot($1)", {slot_}, "replication slot " + slot_);
      out.push_back("dropped replication slot " + slot_);
    }
    if (own_publication_ && c.exec_params("SELECT 1 FROM pg_publication WHERE pubname = $1", {publication_}).rows() > 0) {
      c.exec("DROP PUBLICATION " + quote_ident(publication_), "publication " + publication_);
      out.push_back("dropped publication " + publication_);
    }
    return out;
  }

  std::vector<std::pair<std::string, std::string>> stream_diagnostics() override {
    std::vector<std::pair<std::string, std::string>> out;
    Conn c = open();
    Result r = c.exec_params(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, confirmed_flush_lsn::text, active "
        "FROM pg_replication_slots WHERE slot_name = $1",
        {slot_});
    if (r.rows() == 0) return out;
    std::int64_t retained = r.int64(0, 0);
    out.emplace_back("slot", slot_);
    out.emplace_back("retained_wal_bytes", std::to_string(retained));
    out.emplace_back("confirmed_flush_lsn", r.text(0, 1));
    out.emplace_back("slot_active", r.text(0, 2) == "t" ? "yes" : "no");
    constexpr std::int64_t kWarnBytes = 1LL << 30;
    if (retained > kWarnBytes)
      out.emplace_back("warning", fmt::format("slot {} retains {} MB of WAL; run replicate or teardown", slot_, retained >> 20));
    return out;
  }

 private:
  Conn open() const { return Conn(params_, ErrorKind::Source); }

  static std::string qualified(const TableId& id) { return quote_table(id.schema, id.name); }

  // Each column as CopyRowReader decodes it: natively where copy_binary.h has a codec for its
  // type, else as its text output. A user's query's columns are cast to the described types.
  static std::string select_list(const std::vector<Column>& cols, bool of_table = true) {
    std::string out;
    for (std::size_t i = 0; i < cols.size(); ++i)
      out += (i ? ", " : "") + binary_select_expr(cols[i], quote_ident(cols[i].name), of_table);
    return out;
  }

  // Starts the reader's transaction on the exported snapshot, or a fresh one when it is gone.
  // Returns the position the snapshot is consistent with, when known. A whole table read for a
  // stream whose snapshot is gone replaces `c` by a replication connection whose temporary slot
  // gives its transaction a snapshot with an exact position: the stream takes over there, which
  // is what keeps a table without a key free of doubled rows.
  Position begin_snapshot(Conn& c, const ReadRequest& req, const std::string& w) {
    const std::string& id = req.snapshot_id;
    const bool whole = req.chunk.lower.empty() && req.chunk.upper.empty();
    if (req.exact_position && !whole)
      throw Error(ErrorKind::Internal,
                  fmt::format("an exact position was asked for a part of table {} (only a whole-table read has one)",
                              req.schema.id.to_string()),
                  false, w);
    if (id.empty()) {
      if (req.exact_position) return begin_slot_snapshot(c, req, w, "no snapshot was given");
      c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", w);
      return {};
    }
    c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", w);
    std::string state = c.try_exec("SET TRANSACTION SNAPSHOT " + c.literal(id));
    bool for_stream = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = stream_snapshots_.find(id);
      for_stream = it != stream_snapshots_.end();
      if (state.empty()) return for_stream ? it->second : Position();
    }
    c.exec("ROLLBACK", w);
    if ((for_stream && req.chunk.count == 1) || req.exact_position)
      return begin_slot_snapshot(c, req, w, fmt::format("snapshot {} is gone (SQLSTATE {})", id, state));
    detail::logf(LogLevel::Warn, "postgres.source", req.schema.id.to_string(),
                 "snapshot {} is gone (SQLSTATE {}); this chunk reads a snapshot of its own", id, state);
    c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", w);
    return {};
  }

  // Replaces `c` by a replication connection whose transaction reads under the snapshot of a
  // temporary slot created for it; returns the slot's consistent point minus one, the exact
  // position of what the transaction sees. The slot goes with the connection.
  Position begin_slot_snapshot(Conn& c, const ReadRequest& req, const std::string& w, const std::string& why) {
    c = Conn(params_, ErrorKind::Source, ConnKind::Replication);
    // The slot command must be the transaction's first statement (protocol-replication.html,
    // CREATE_REPLICATION_SLOT ... SNAPSHOT 'use').
    c.exec("BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ", w);
    std::string name = temp_slot_name("read", c);
    Result r = create_slot(c, fmt::format("CREATE_REPLICATION_SLOT {} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'use')",
                                          quote_ident(name)));
    Position at(format_lsn(parse_lsn(r.text(0, 1)) - 1));
    detail::logf(LogLevel::Info, "postgres.source", req.schema.id.to_string(),
                 "{}; reading the table under temporary slot {} at {}", why, name, r.text(0, 1));
    return at;
  }

  static std::uint64_t insert_position(Conn& c) {
    return parse_lsn(c.exec("SELECT pg_current_wal_insert_lsn()::text", "source").text(0, 0));
  }

  // Waits until no transaction that may have inserted its commit record before WAL position
  // `insert` is still invisible (see the header): each transaction of this database holding an
  // xid whose backend is inside a statement is waited for until it ends (its xid lock goes, which
  // happens after it left the proc array), or its backend goes idle in the transaction or starts
  // another statement (then the statement running at `insert` did not commit). Without
  // pg_read_all_stats the state of other users' backends is hidden; they are waited for until
  // their transaction ends.
  void wait_for_committing(Conn& c, std::uint64_t insert) const {
    static const char* kRunning =
        "SELECT l.pid, l.transactionid::text, coalesce(a.state, ''), coalesce(a.query_start::text, '') "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted "
        "  AND l.pid <> pg_backend_pid() AND a.datname = current_database()";
    auto idle = [](const std::string& state) { return state.rfind("idle", 0) == 0; };
    std::map<std::pair<std::int64_t, std::string>, std::string> waiting;  // (pid, xid) -> statement start
    {
      Result r = c.exec(kRunning, "source");
      for (int i = 0; i < r.rows(); ++i)
        if (!idle(r.text(i, 2))) waiting[{r.int64(i, 0), r.text(i, 1)}] = r.text(i, 3);
    }
    const auto deadline = std::chrono::steady_clock::now() + kCommitWait;
    auto pause = std::chrono::milliseconds(1);
    while (!waiting.empty()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        const auto& [who, started] = *waiting.begin();
        throw Error(ErrorKind::Source,
                    fmt::format("transaction {} (backend pid {}) was inside a statement (started {}) when cdc read WAL "
                                "position {}, and still is after {} s: its commit may already be in the WAL without being "
                                "visible, so cdc cannot yet name a position that a snapshot agrees with; retrying later "
                                "(grant pg_read_all_stats to cdc's user so that idle transactions are not waited for)",
                                who.second, who.first, started.empty() ? "at an unknown time" : "at " + started,
                                format_lsn(insert), std::chrono::duration_cast<std::chrono::seconds>(kCommitWait).count()),
                    true, "source");
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
      std::map<std::pair<std::int64_t, std::string>, std::string> still;
      Result r = c.exec(kRunning, "source");
      for (int i = 0; i < r.rows(); ++i) {
        auto it = waiting.find({r.int64(i, 0), r.text(i, 1)});
        if (it != waiting.end() && !idle(r.text(i, 2)) && r.text(i, 3) == it->second) still.insert(*it);
      }
      waiting.swap(still);
    }
  }

  // Whether changes of table `id` reach the publication (as itself, its root, or its partitions).
  bool published(Conn& c, const TableId& id) const {
    Result r = c.exec_params(
        "WITH rels AS (SELECT $2::regclass AS relid UNION SELECT relid FROM pg_partition_tree($2::regclass) "
        "  UNION SELECT relid FROM pg_partition_ancestors($2::regclass)) "
        "SELECT EXISTS (SELECT 1 FROM pg_publication_tables p JOIN rels r "
        "  ON (quote_ident(p.schemaname) || '.' || quote_ident(p.tablename))::regclass = r.relid WHERE p.pubname = $1)",
        {publication_, qualified(id)}, where_of(id));
    return r.text(0, 0) == "t";
  }

  // What the rows that existed when each column was added hold in it, where the catalog proves
  // it, for every storage table behind `t` (itself, or the leaf partitions of a partitioned one):
  //  - a column added with a non-volatile default keeps that value as its "missing value"
  //    (pg_attribute.atthasmissing/attmissingval, PostgreSQL 11+) until the table is rewritten:
  //    the fill is that value, where every leaf has the same one;
  //  - a column without one holds NULL in rows that predate it, unless the table was rewritten
  //    (a volatile default computes values in a rewrite, which logical decoding does not show;
  //    a later rewrite also materialises and clears a missing value). A table never rewritten
  //    since its creation still has relfilenode = oid (a rewrite, TRUNCATE, VACUUM FULL or
  //    CLUSTER gives it a new relfilenode), so NULL is proven only when every leaf has
  //    relfilenode = oid and no missing value.
  // Anything else (a rewritten table, array columns whose missing value is an array of arrays,
  // leaves that disagree) is left out, and the session backfills the column from the source.
  std::map<std::string, Value> known_fills(Conn& c, const TableSchema& t) const {
    std::map<std::string, Value> out;
    Result r = c.exec_params(
        "SELECT a.attname, bool_and(c.relfilenode = c.oid), bool_and(NOT a.atthasmissing), "
        "  bool_and(a.atthasmissing), min(a.attmissingval::text), max(a.attmissingval::text) "
        "FROM (SELECT $1::regclass AS relid UNION SELECT relid FROM pg_partition_tree($1::regclass)) p "
        "JOIN pg_class c ON c.oid = p.relid "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE c.relkind NOT IN ('p', 'I') GROUP BY a.attname",
        {qualified(t.id)}, where_of(t.id));
    for (int i = 0; i < r.rows(); ++i) {
      int ci = t.index_of(r.text(i, 0));
      if (ci < 0) continue;
      const Column& col = t.columns[static_cast<std::size_t>(ci)];
      if (r.text(i, 2) == "t") {
        if (r.text(i, 1) == "t") out[col.name] = Value();
        continue;
      }
      if (r.text(i, 3) != "t" || r.is_null(i, 4) || r.text(i, 4) != r.text(i, 5) || col.type.id == TypeId::Array) continue;
      try {
        detail::ArrayNode missing = detail::parse_array_literal(r.text(i, 4));
        if (missing.items.size() != 1 || missing.items[0].is_array) continue;
        out[col.name] = missing.items[0].is_null ? Value() : value_from_text(col, missing.items[0].text);
      } catch (const Error&) {
        // Not a value cdc can read back exactly: the column is backfilled instead.
      }
    }
    return out;
  }

  // A temporary slot's name: unique on the server (the backend's pid), within 63 bytes.
  std::string temp_slot_name(const std::string& what, const Conn& c) {
    std::string suffix = fmt::format("_{}_{}_{}", what, PQbackendPID(c.get()), ++temp_counter_);
    return slot_.substr(0, 63 - std::min<std::size_t>(63, suffix.size())) + suffix;
  }

  // Runs CREATE_REPLICATION_SLOT; all slots in use is a setting to change, not a passing failure.
  Result create_slot(Conn& repl, const std::string& cmd) {
    Result r(PQexec(repl.get(), cmd.c_str()));
    if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) return r;
    const char* st = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
    if (st && std::string(st) == "53400") throw no_free_slot(-1);
    repl.fail("PostgreSQL statement failed", "replication slot " + slot_, r.get());
  }

  Error no_free_slot(std::int64_t max_slots) const {
    return Error(ErrorKind::Config,
                 fmt::format("no free replication slot on the PostgreSQL source {}{}: raise max_replication_slots (server "
                             "restart needed) or drop unused slots (SELECT pg_drop_replication_slot(slot_name) FROM "
                             "pg_replication_slots WHERE NOT active)",
                             params_.display, max_slots >= 0 ? fmt::format(" (max_replication_slots = {}, all in use)", max_slots) : ""),
                 false, "source");
  }

  // Change capture needs a free WAL sender (one replication connection at a time) and a free slot.
  void check_replication_capacity(Conn& c) const {
    Result r = c.exec(
        "SELECT current_setting('max_wal_senders')::int, "
        "  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'), "
        "  current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_replication_slots)",
        "source");
    std::int64_t max_senders = r.int64(0, 0), senders = r.int64(0, 1), max_slots = r.int64(0, 2), slots = r.int64(0, 3);
    if (senders >= max_senders)
      throw Error(ErrorKind::Config,
                  fmt::format("no free WAL sender on the PostgreSQL source {} (max_wal_senders = {}, {} in use): raise "
                              "max_wal_senders (server restart needed) or stop other replication clients",
                              params_.display, max_senders, senders),
                  false, "source");
    if (slots >= max_slots) throw no_free_slot(max_slots);
  }

  static std::vector<std::string> primary_key(Conn& c, const TableId& id) {
    Result r = c.exec_params(
        "SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY k.ord",
        {quote_table(id.schema, id.name)}, where_of(id));
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
    return out;
  }

  TableSchema describe(Conn& c, const std::string& oid, const TableId& id) {
    Result r = c.exec_params(
        "SELECT a.attname, a.attnotnull, pg_get_expr(d.adbin, d.adrelid), bt.typname, "
        "  format_type(bt.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END), "
        "  CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, bt.typtype, bt.typcategory, "
        "  et.typname, et.typtype, "
        "  (SELECT string_agg(e.enumlabel, E'\\x1f' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = bt.oid), "
        "  col_description(a.attrelid, a.attnum), a.attgenerated, a.attidentity, "
        // A default that calls a function outside pg_catalog (or reads a sequence) refers to
        // something the destination does not have.
        "  EXISTS (SELECT 1 FROM pg_depend dep JOIN pg_proc p ON p.oid = dep.refobjid JOIN pg_namespace pn ON pn.oid = p.pronamespace "
        "    WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid AND dep.refclassid = 'pg_proc'::regclass "
        "    AND pn.nspname <> 'pg_catalog') "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
        "LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A' "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        {oid}, where_of(id));
    TableSchema t;
    t.id = id;
    for (int i = 0; i < r.rows(); ++i) {
      Column col;
      col.name = r.text(i, 0);
      col.nullable = r.text(i, 1) != "t";
      if (!r.is_null(i, 2)) col.default_expr = r.text(i, 2);
      PgTypeInfo ti;
      ti.name = r.text(i, 3);
      ti.formatted = r.text(i, 4);
      ti.typmod = static_cast<int>(r.int64(i, 5));
      ti.typtype = r.text(i, 6).empty() ? 'b' : r.text(i, 6)[0];
      ti.category = r.text(i, 7).empty() ? 'U' : r.text(i, 7)[0];
      if (!r.is_null(i, 8)) ti.element = r.text(i, 8);
      if (!r.is_null(i, 9) && !r.text(i, 9).empty()) ti.element_typtype = r.text(i, 9)[0];
      if (!r.is_null(i, 10)) {
        std::string labels = r.text(i, 10);
        std::size_t p = 0;
        for (;;) {
          auto q = labels.find('\x1f', p);
          ti.enum_labels.push_back(labels.substr(p, q == std::string::npos ? std::string::npos : q - p));
          if (q == std::string::npos) break;
          p = q + 1;
        }
      }
      if (!r.is_null(i, 11)) ti.comment = r.text(i, 11);
      col.type = logical_type(ti, col.source_type);
      if (ti.comment.compare(0, std::string_view(kSetComment).size(), kSetComment) != 0 &&
          (col.type.id != TypeId::Geometry || ti.comment.compare(0, std::string_view(kGeometryComment).size(), kGeometryComment) != 0))
        col.comment = ti.comment;
      // A generated column's expression is its pg_attrdef entry; it has no default.
      if (r.text(i, 12) == "s") {
        col.generated = col.default_expr.value_or("");
        col.generated_stored = true;
        col.default_expr.reset();
      }
      // Identity and serial columns: the destination makes its own sequence.
      if (!r.text(i, 13).empty() || (col.default_expr && col.default_expr->rfind("nextval(", 0) == 0)) {
        col.identity = true;
        col.default_expr.reset();
      }
      // User functions a default calls do not exist at the destination.
      if (col.default_expr && r.text(i, 14) == "t") col.default_expr.reset();
      t.columns.push_back(std::move(col));
    }
    t.primary_key = primary_key(c, id);
    return t;
  }

  // Indexes, foreign keys, CHECK constraints and comments of the tables `oids` (parallel to
  // `tables`), read at once for all of them.
  static void read_objects(Conn& c, const std::vector<std::string>& oids, std::vector<TableSchema>& tables) {
    if (oids.empty()) return;
    std::map<std::string, TableSchema*> by_oid;
    std::string list = "{";
    for (std::size_t i = 0; i < oids.size(); ++i) {
      by_oid[oids[i]] = &tables[i];
      list += (i ? "," : "") + oids[i];
    }
    list += "}";
    auto split = [](const std::string& text) {
      std::vector<std::string> out;
      std::size_t p = 0;
      for (;;) {
        auto q = text.find('\x1f', p);
        out.push_back(text.substr(p, q == std::string::npos ? std::string::npos : q - p));
        if (q == std::string::npos) return out;
        p = q + 1;
      }
    };
    Result comments = c.exec_params("SELECT oid::bigint, obj_description(oid, 'pg_class') FROM pg_class WHERE oid = ANY($1::oid[])",
                                    {list}, "discovery");
    for (int i = 0; i < comments.rows(); ++i)
      if (!comments.is_null(i, 1)) by_oid[comments.text(i, 0)]->comment = comments.text(i, 1);

    // Indexes other than the primary key's, those of exclusion constraints, and invalid ones. The
    // key list is taken from pg_get_indexdef as PostgreSQL writes it; it is kept as the index's
    // expression when it is more than the plain columns (expressions, sort orders, operator
    // classes, collations).
    Result idx = c.exec_params(
        "SELECT i.indrelid::bigint, ic.relname, i.indisunique, am.amname, i.indnkeyatts, pg_get_indexdef(i.indexrelid), "
        "  pg_get_expr(i.indpred, i.indrelid, true), "
        "  (SELECT string_agg(coalesce(a.attname, ''), E'\\x1f' ORDER BY k.ord) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, ord) "
        "     LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n AND k.n > 0), "
        "  (SELECT string_agg(coalesce(quote_ident(a.attname), ''), E'\\x1f' ORDER BY k.ord) FROM unnest(i.indkey::int2[]) "
        "     WITH ORDINALITY k(n, ord) LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n AND k.n > 0) "
        "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam "
        "WHERE i.indrelid = ANY($1::oid[]) AND NOT i.indisprimary AND i.indisvalid AND i.indislive "
        "  AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.contype = 'x') "
        "ORDER BY i.indrelid, ic.relname",
        {list}, "discovery");
    for (int i = 0; i < idx.rows(); ++i) {
      IndexDef d;
      d.name = idx.text(i, 1);
      d.unique = idx.text(i, 2) == "t";
      d.method = idx.text(i, 3);
      const int nkeys = static_cast<int>(idx.int64(i, 4));
      const std::string def = idx.text(i, 5);
      if (!idx.is_null(i, 6)) d.where = idx.text(i, 6);
      const auto names = split(idx.text(i, 7));
      const auto quoted = split(idx.text(i, 8));
      const auto using_at = def.find(" USING " + d.method + " ");
      auto keys = detail::parenthesized(def, "postgresql", using_at == std::string::npos ? 0 : using_at);
      const auto parts = detail::split_list(keys.first, "postgresql");
      bool plain = static_cast<int>(parts.size()) == nkeys;
      for (int k = 0; k < static_cast<int>(names.size()); ++k) {
        if (k < nkeys) {
          if (names[static_cast<std::size_t>(k)].empty() || !plain || parts[static_cast<std::size_t>(k)] != quoted[static_cast<std::size_t>(k)])
            plain = false;
          d.columns.push_back(names[static_cast<std::size_t>(k)]);
        } else if (!names[static_cast<std::size_t>(k)].empty()) {
          d.include.push_back(names[static_cast<std::size_t>(k)]);
        }
      }
      if (!plain) {
        d.expression = keys.first;
        d.columns.clear();
      }
      by_oid[idx.text(i, 0)]->indexes.push_back(std::move(d));
    }

    Result con = c.exec_params(
        "SELECT c.conrelid::bigint, c.conname, c.contype, "
        "  (SELECT string_agg(a.attname, E'\\x1f' ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord) "
        "     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n), "
        "  fn.nspname, fc.relname, "
        "  (SELECT string_agg(a.attname, E'\\x1f' ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord) "
        "     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n), "
        "  c.confdeltype, c.confupdtype, pg_get_constraintdef(c.oid, true) "
        "FROM pg_constraint c LEFT JOIN pg_class fc ON fc.oid = c.confrelid LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace "
        "WHERE c.conrelid = ANY($1::oid[]) AND c.contype IN ('f', 'c') ORDER BY c.conrelid, c.conname",
        {list}, "discovery");
    auto action = [](const std::string& a) {
      if (a == "r") return ForeignKeyAction::Restrict;
      if (a == "c") return ForeignKeyAction::Cascade;
      if (a == "n") return ForeignKeyAction::SetNull;
      if (a == "d") return ForeignKeyAction::SetDefault;
      return ForeignKeyAction::NoAction;
    };
    for (int i = 0; i < con.rows(); ++i) {
      TableSchema& t = *by_oid[con.text(i, 0)];
      if (con.text(i, 2) == "c") {
        // "CHECK ((qty > 0)) NOT VALID": the expression is what the parentheses after CHECK hold.
        auto expr = detail::parenthesized(con.text(i, 9), "postgresql");
        if (!expr.first.empty()) t.checks.push_back(CheckDef{con.text(i, 1), expr.first});
        continue;
      }
      ForeignKeyDef fk;
      fk.name = con.text(i, 1);
      fk.columns = split(con.text(i, 3));
      fk.references = TableId(con.text(i, 4), con.text(i, 5));
      fk.referenced_columns = split(con.text(i, 6));
      fk.on_delete = action(con.text(i, 7));
      fk.on_update = action(con.text(i, 8));
      t.foreign_keys.push_back(std::move(fk));
    }
  }

  // Updates and deletes of a table without replica identity fail on the source once it is
  // published; refuse before that happens.
  static void check_replica_identity(Conn& c, const std::vector<StreamTable>& tables) {
    for (const auto& st : tables) {
      const TableId& id = st.schema.id;
      Result r = c.exec_params(
          "SELECT c.relreplident, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND "
          "  (i.indisprimary OR i.indisreplident)) FROM pg_class c WHERE c.oid = $1::regclass",
          {quote_table(id.schema, id.name)}, where_of(id));
      if (r.rows() == 0) continue;
      std::string ident = r.text(0, 0);
      bool has_index = r.text(0, 1) == "t";
      bool ok = ident == "f" || ((ident == "d" || ident == "i") && has_index);
      if (!ok)
        throw Error(ErrorKind::Schema,
                    fmt::format("table {} has no primary key or replica identity, so its updates and deletes cannot be "
                                "replicated; run ALTER TABLE {} REPLICA IDENTITY FULL (or add a primary key)",
                                id.to_string(), quote_table(id.schema, id.name)),
                    false, where_of(id));
      if (!st.where.empty() && ident != "f")
        throw Error(ErrorKind::Config,
                    fmt::format("table {} has a `where` filter: streaming it through a publication row filter needs "
                                "ALTER TABLE {} REPLICA IDENTITY FULL",
                                id.to_string(), quote_table(id.schema, id.name)),
                    false, where_of(id));
    }
  }

  void ensure_publication(Conn& c, const std::vector<StreamTable>& tables) {
    bool exists = c.exec_params("SELECT 1 FROM pg_publication WHERE pubname = $1", {publication_}).rows() > 0;
    if (!own_publication_) {
      if (!exists)
        throw Error(ErrorKind::Config, fmt::format("publication \"{}\" does not exist on the PostgreSQL source", publication_),
                    false, "source");
      return;
    }
    std::string list;
    for (const auto& st : tables) {
      list += (list.empty() ? "" : ", ") + quote_table(st.schema.id.schema, st.schema.id.name);
      if (!st.where.empty()) list += " WHERE (" + st.where + ")";
    }
    if (list.empty()) return;
    if (!exists)
      c.exec(fmt::format("CREATE PUBLICATION {} FOR TABLE {} WITH (publish_via_partition_root = true)", quote_ident(publication_),
                         list),
             "publication " + publication_);
    else
      c.exec(fmt::format("ALTER PUBLICATION {} SET TABLE {}", quote_ident(publication_), list), "publication " + publication_);
  }

  // How long current_position() waits for a transaction inside a statement, and
  // extend_capture() for the writers of a table, before giving up (retryable).
  static constexpr std::chrono::seconds kCommitWait{120};

  ConnParams params_;
  std::string slot_;
  std::string publication_;
  bool own_publication_ = true;
  std::mutex mu_;
  std::map<std::string, Conn> held_;                   // exported snapshot -> the connection keeping it readable
  std::map<std::string, Position> stream_snapshots_;  // snapshot exported for a stream -> its position
  std::string slot_created_at_;                       // LSN where this source created the slot ("" = it existed)
  std::atomic<int> temp_counter_{0};
};

}  // namespace

std::shared_ptr<SourceConnector> make_source(const ConnectorUrl& url) { return std::make_shared<PgSource>(url); }

}  // namespace cdc::pg
