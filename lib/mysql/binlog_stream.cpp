// The binlog change stream. libmariadb's replication API (mariadb_rpl_open/mariadb_rpl_fetch)
// only carries the bytes; binlog_decoder.cpp decodes events and rows (libmariadb's own row
// extraction fails on CHAR/BINARY/ENUM/SET and integer-only tables and mis-decodes negative TIME).
// Rows are mapped to the requested schemas by column name (binlog_row_metadata=FULL), so an
// event logged before an ALTER TABLE decodes with the table map it was logged with.
// Events of one transaction are delivered in order; the last carries end_of_transaction and the
// position just after its XID/COMMIT, so a checkpoint never lands inside a transaction.
#include "mysql/binlog_stream.h"

#include "core/geometry.h"

#include "mysql/binlog_decoder.h"
#include "mysql/ddl_parse.h"
#include "mysql/mysql_types.h"

#include "core/logging.h"

#include <mariadb_rpl.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <strings.h>
#include <unistd.h>

namespace cdc::mysql {

BinlogPos parse_position(const std::string& full) {
  BinlogPos p;
  auto hash = full.find('#');
  std::string text = full.substr(0, hash);
  if (hash != std::string::npos) {
    p.gtid = full.substr(hash + 1);
    for (char c : p.gtid)
      if (!std::isdigit(static_cast<unsigned char>(c)) && c != '-' && c != ',')
        throw Error(ErrorKind::State, fmt::format("\"{}\" is not a MariaDB binlog position (bad GTID state)", full));
  }
  auto colon = text.rfind(':');
  bool ok = colon != std::string::npos && colon > 0 && colon + 1 < text.size();
  if (ok) {
    for (std::size_t i = colon + 1; i < text.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) ok = false;
  }
  if (!ok || text.size() - colon > 20)
    throw Error(ErrorKind::State, fmt::format("\"{}\" is not a MariaDB binlog position (file:offset)", full));
  p.file = text.substr(0, colon);
  p.offset = std::stoull(text.substr(colon + 1));
  return p;
}

namespace {
// "binlog.000012" -> 12; files of one server share the base name, the suffix orders them.
std::uint64_t file_index(const std::string& file) {
  auto dot = file.rfind('.');
  std::string suffix = dot == std::string::npos ? std::string() : file.substr(dot + 1);
  if (suffix.empty() || suffix.size() > 18 ||
      !std::all_of(suffix.begin(), suffix.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    throw Error(ErrorKind::State, fmt::format("binlog file name \"{}\" has no numeric suffix", file));
  return std::stoull(suffix);
}
}  // namespace

int compare_binlog_positions(const Position& a, const Position& b) {
  BinlogPos x = parse_position(a.str()), y = parse_position(b.str());
  std::uint64_t fx = file_index(x.file), fy = file_index(y.file);
  if (fx != fy) return fx < fy ? -1 : 1;
  if (x.offset != y.offset) return x.offset < y.offset ? -1 : 1;
  return 0;
}

void check_binlog_settings(Conn& conn) {
  auto rows = conn.rows(
      "SELECT @@global.log_bin, @@global.binlog_format, @@global.binlog_row_image, "
      "IFNULL(@@global.binlog_row_metadata, 'NONE')");
  if (rows.empty()) throw Error(ErrorKind::Source, "cannot read the binlog settings");
  auto& r = rows[0];
  auto val = [&](std::size_t i) { return r[i].value_or(""); };
  auto upper = [](std::string s) {
    for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string where = "source";
  if (val(0) != "1" && upper(val(0)) != "ON")
    throw Error(ErrorKind::Config, "the server has no binary log: start it with log_bin (and binlog_format=ROW)", false, where);
  if (upper(val(1)) != "ROW")
    throw Error(ErrorKind::Config,
                fmt::format("binlog_format is {}: set binlog_format=ROW (SET GLOBAL binlog_format='ROW' and in the server config)",
                            val(1)),
                false, where);
  if (upper(val(2)) != "FULL")
    throw Error(ErrorKind::Config,
                fmt::format("binlog_row_image is {}: set binlog_row_image=FULL so updates carry whole rows", val(2)), false,
                where);
  if (upper(val(3)) != "FULL")
    throw Error(ErrorKind::Config,
                fmt::format("binlog_row_metadata is {}: set binlog_row_metadata=FULL so row events carry column names", val(3)),
                false, where);
  try {
    conn.rows("SHOW MASTER STATUS");
  } catch (const Error& e) {
    throw Error(ErrorKind::Config, "cannot read the binlog position: " + e.message(), false, where);
  }
  // Reading the binlog needs REPLICATION SLAVE, which the server checks only once the dump
  // starts: asked here, so that a missing grant stops cdc before its snapshot rather than after.
  // The account's own global privileges; with a role set, the dump's own error tells.
  auto rs = conn.rows(
      "SELECT (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'REPLICATION SLAVE' "
      "AND GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), "
      "'''')), IFNULL(CURRENT_ROLE(), 'NONE')");
  if (!rs.empty() && rs[0][0].value_or("") == "0" && rs[0][1].value_or("") == "NONE") {
    const char* refused = "Access denied; you need (at least one of) the REPLICATION SLAVE privilege(s) for this operation";
    Error e = make_error(ErrorKind::Source, ER_SPECIFIC_ACCESS_DENIED_ERROR, "42000", refused, "reading the binlog", where,
                         &conn.params());
    throw Error(ErrorKind::Config, e.message(), false, where);
  }
}

std::map<std::string, std::string> renamed_columns(const std::string& alter_sql) {
  return ddl::renames_of(ddl::parse(alter_sql));
}

namespace {

using binlog::EventType;

struct WantedTable {
  TableId id;
  TableSchema schema;
};

class BinlogStream final : public ChangeStream {
 public:
  BinlogStream(const ConnParams& params, const std::vector<StreamTable>& tables, const Position& from,
               std::function<DescribedTable(const TableId&)> describe)
      : params_(params), pos_(parse_position(from.str())), describe_(std::move(describe)) {
    for (const auto& t : tables) {
      std::string k = key(t.schema.id.schema.empty() ? params_.database : t.schema.id.schema, t.schema.id.name);
      wanted_[k] = t.schema;
      if (!t.source.columns.empty() && describe_) known_[k] = t.source;
      if (!t.where.empty()) filters_[k] = t.where;
    }
    std::size_t start = 0;
    while (start < pos_.gtid.size()) {  // "d-s-n,d-s-n": the last GTID applied per domain
      auto comma = pos_.gtid.find(',', start);
      std::string g = pos_.gtid.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!g.empty()) gtid_state_[std::uint32_t(std::stoul(g.substr(0, g.find('-'))))] = g;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    connect();
  }

  ~BinlogStream() override { disconnect(); }

  void poll(std::vector<ChangeEvent>& out, std::size_t max_events, std::chrono::milliseconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!rpl_) connect();
    std::size_t start = out.size();
    while (out.size() - start < max_events) {
      MARIADB_RPL_EVENT* ev = mariadb_rpl_fetch(rpl_, event_);
      if (!ev) {
        unsigned code = mysql_errno(conn_.get());
        std::string msg = mysql_error(conn_.get());
        // libmariadb 3.3 frees the event it was handed whenever it returns none: on a rejected
        // packet (RPL_SAFEGUARD), on the server's EOF and on a read error such as a lost connection
        // (a server restart); freeing it again here crashed.
        event_ = nullptr;
        disconnect();
        if (code == 0) break;  // end of stream (non-blocking mode); not expected
        if (code == ER_MASTER_FATAL_ERROR_READING_BINLOG && resume_by_gtid(msg)) continue;
        Error e = make_error(ErrorKind::Source, code, "", msg.c_str(), fmt::format("reading the binlog at {}", pos_.to_string()),
                             params_.redacted, &params_);
        if (code == ER_MASTER_FATAL_ERROR_READING_BINLOG) throw purged_error(msg);
        if (is_privilege_error(code)) throw e;  // a missing grant does not come back by reconnecting
        throw Error(e.kind() == ErrorKind::Source ? ErrorKind::Connection : e.kind(), e.message(), true, e.where());
      }
      event_ = ev;
      const std::uint8_t* data = ev->raw_data;
      std::size_t size = ev->raw_data_size;
      // The packet's OK byte may still lead the event.
      if (size >= 20 && !(size >= 13 && read_le32(data + 9) == size) && read_le32(data + 10) == size - 1) {
        ++data;
        --size;
      }
      bool heartbeat = handle(data, size, out);
      if (schema_reported_) {  // rows after it need the session's new plan: it reopens the stream
        schema_reported_ = false;
        break;
      }
      // A heartbeat says the server has sent everything it has: return what was read, or nothing
      // (the source is idle now; a caller draining a backlog learns it within one heartbeat).
      if (heartbeat || (out.size() > start && std::chrono::steady_clock::now() >= deadline)) break;
    }
  }

  Position position() const override { return Position(committed_.file.empty() ? pos_.to_string() : committed_.to_string()); }

  void acknowledge(const Position& position) override { acked_ = position; }

 private:
  static std::uint32_t read_le32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
  }

  static std::string key(const std::string& schema, const std::string& table) { return schema + '\x1f' + table; }

  Error purged_error(const std::string& msg) const {
    return Error(ErrorKind::Source,
                 fmt::format("the binlog position {} is no longer available on the server ({}); the binlog was purged "
                             "before cdc read it. Start over with a fresh snapshot: remove this session's checkpoints "
                             "(or give the session a new name) and run again",
                             pos_.to_string(), msg),
                 false, params_.redacted);
  }

  void connect() {
    disconnect();
    ConnParams p = params_;
    p.read_timeout = 60;  // heartbeats arrive every 25 ms while idle; a silent minute means a dead link
    conn_ = Conn(p, ErrorKind::Source);
    check_binlog_settings(conn_);
    auto cs = conn_.scalar("SELECT @@global.binlog_checksum");
    bool checksums = cs && (*cs == "CRC32" || *cs == "crc32");
    conn_.exec("SET @master_binlog_checksum = @@global.binlog_checksum, @mariadb_slave_capability = 4, "
               "@master_heartbeat_period = 25000000");
    decoder_ = binlog::Decoder(checksums);
    decoder_.set_table_filter([this](const std::string& schema, const std::string& table) { return wanted_.count(key(schema, table)) > 0; });
    rpl_ = mariadb_rpl_init(conn_.get());
    if (!rpl_) throw Error(ErrorKind::Internal, "mariadb_rpl_init failed");
    // A replica id no real server uses, different per process.
    std::random_device rd;
    std::uint32_t server_id = 0x40000000u | (std::uint32_t(rd()) & 0x3fffffffu);
    if (gtid_mode_) {
      // MariaDB GTID mode: the server finds the file itself and starts after the last GTID of
      // each domain in the state; file name and offset are ignored.
      conn_.exec("SET @slave_connect_state = " + conn_.quoted(gtid_text()) +
                 ", @slave_gtid_strict_mode = 0, @slave_gtid_ignore_duplicates = 0");
      mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FILENAME, "", std::size_t(0));
      mariadb_rpl_optionsv(rpl_, MARIADB_RPL_START, static_cast<unsigned long>(4));
    } else {
      mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FILENAME, pos_.file.c_str(), pos_.file.size());
      mariadb_rpl_optionsv(rpl_, MARIADB_RPL_START, static_cast<unsigned long>(pos_.offset));
    }
    mariadb_rpl_optionsv(rpl_, MARIADB_RPL_SERVER_ID, server_id);
    if (mariadb_rpl_open(rpl_) != 0) {
      unsigned code = mysql_errno(conn_.get());
      std::string msg = mysql_error(conn_.get());
      disconnect();
      if (code == ER_MASTER_FATAL_ERROR_READING_BINLOG && resume_by_gtid(msg)) return;
      if (code == ER_MASTER_FATAL_ERROR_READING_BINLOG) throw purged_error(msg);
      throw make_error(ErrorKind::Source, code, "", msg.c_str(), fmt::format("opening the binlog at {}", pos_.to_string()),
                       params_.redacted, &params_);
    }
    tx_ = Tx{};
    detail::logf(LogLevel::Debug, "mysql.stream", "", "reading the binlog from {}", pos_.to_string());
  }

  std::string gtid_text() const {
    std::string out;
    for (const auto& [domain, g] : gtid_state_) out += (out.empty() ? "" : ",") + g;
    return out;
  }

  // The file position is gone (purged, or another server after a failover): resume from the
  // GTID state when the position carries one. Returns false when it does not.
  bool resume_by_gtid(const std::string& msg) {
    if (gtid_mode_ || gtid_state_.empty()) return false;
    detail::logf(LogLevel::Warn, "mysql.stream", "", "binlog position {} is not available ({}); resuming by GTID {}",
                 pos_.to_string(), msg, gtid_text());
    gtid_mode_ = true;
    connect();
    return true;
  }

  void disconnect() {
    if (event_) {
      mariadb_free_rpl_event(event_);
      event_ = nullptr;
    }
    if (rpl_) {
      mariadb_rpl_close(rpl_);
      rpl_ = nullptr;
    }
    conn_ = Conn();
  }

  // Per-transaction state: the last event is held back until the next one (or the commit)
  // tells whether it ends the transaction.
  struct Tx {
    bool open = false;
    std::string id;  // GTID "domain-server-sequence", empty without GTIDs
    std::uint32_t domain = 0;
    bool has_pending = false;
    ChangeEvent pending;
  };

  void emit_pending(std::vector<ChangeEvent>& out, bool end, const BinlogPos* at) {
    if (!tx_.has_pending) return;
    tx_.pending.end_of_transaction = end;
    if (at) tx_.pending.position = Position(at->to_string());
    out.push_back(std::move(tx_.pending));
    tx_.pending = ChangeEvent{};
    tx_.has_pending = false;
  }

  void push(std::vector<ChangeEvent>& out, ChangeEvent&& ev) {
    emit_pending(out, false, nullptr);
    tx_.pending = std::move(ev);
    tx_.has_pending = true;
  }

  void commit_tx(std::vector<ChangeEvent>& out) {
    if (!tx_.id.empty()) {
      gtid_state_[tx_.domain] = tx_.id;
      pos_.gtid = gtid_text();
    }
    emit_pending(out, true, &pos_);
    tx_ = Tx{};
    committed_ = pos_;
  }

  // Returns true for a heartbeat (the server is idle).
  bool handle(const std::uint8_t* data, std::size_t size, std::vector<ChangeEvent>& out) {
    binlog::Event e = decoder_.decode(data, size);
    const auto& h = e.header;
    if (h.type == EventType::Rotate) {
      pos_.file = e.next_file;
      pos_.offset = e.next_position;
      if (!tx_.open) committed_ = pos_;
      return false;
    }
    if (h.type == EventType::Heartbeat) {
      if (!e.heartbeat_file.empty()) pos_.file = e.heartbeat_file;
      if (h.log_pos) pos_.offset = h.log_pos;
      if (!tx_.open) committed_ = pos_;
      return true;
    }
    if (h.log_pos != 0 && !h.artificial()) pos_.offset = h.log_pos;
    switch (h.type) {
      case EventType::Gtid:
        tx_ = Tx{};
        tx_.open = !e.gtid_standalone;
        tx_.id = e.gtid();
        tx_.domain = e.gtid_domain;
        if (e.gtid_standalone) tx_.open = true;  // its single QUERY closes it
        break;
      case EventType::Query: {
        std::string sql = trim_upper_head(e.sql);
        if (sql == "BEGIN" || sql.rfind("XA START", 0) == 0) {
          tx_.open = true;
        } else if (sql == "COMMIT" || sql.rfind("XA COMMIT", 0) == 0) {
          commit_tx(out);
        } else if (sql == "ROLLBACK") {
          tx_ = Tx{};
        } else {
          // DDL commits implicitly. TRUNCATE of a wanted table becomes a Truncate event; CREATE,
          // DROP and RENAME TABLE lifecycle events; ALTER TABLE of a table the session described
          // a schema change event. Rows need nothing more: they decode by the table map logged
          // with them.
          emit_pending(out, false, nullptr);
          const std::int64_t when = std::int64_t(h.timestamp) * 1000000;
          if (auto t = truncated_table(e.sql, e.schema)) {
            ChangeEvent ev;
            ev.op = ChangeOp::Truncate;
            ev.table = *t;
            ev.position = Position(pos_.to_string());
            ev.transaction_id = tx_.id;
            ev.commit_time_us = when;
            push(out, std::move(ev));
          } else {
            ddl_events(e, when, out);
          }
          commit_tx(out);
        }
        break;
      }
      case EventType::Xid: commit_tx(out); break;
      case EventType::WriteRowsV1:
      case EventType::UpdateRowsV1:
      case EventType::DeleteRowsV1:
      case EventType::WriteRows:
      case EventType::UpdateRows:
      case EventType::DeleteRows: rows_event(e, out); break;
      default: break;
    }
    if (!tx_.open && !tx_.has_pending) committed_ = pos_;
    return false;
  }

  static std::string trim_upper_head(const std::string& sql) {
    std::size_t b = 0;
    while (b < sql.size() && std::isspace(static_cast<unsigned char>(sql[b]))) ++b;
    std::string s = sql.substr(b, 32);
    for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
    while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) || s.back() == ';')) s.pop_back();
    return s;
  }

  // The events of a DDL statement (see open_binlog_stream in binlog_stream.h). Each event carries
  // the statement's position; poll() returns after them, since the session plans the stream anew.
  void ddl_events(const binlog::Event& e, std::int64_t when, std::vector<ChangeEvent>& out) {
    const ddl::Statement st = ddl::parse(e.sql, e.has_sql_mode ? ddl::options_for_sql_mode(e.sql_mode) : ddl::TokenizeOptions{});
    auto db_of = [&](const ddl::TableName& t) { return t.db.empty() ? e.schema : t.db; };
    auto ours = [&](const ddl::TableName& t) { return db_of(t) == params_.database; };
    auto gone = [&](const ddl::TableName& t) {
      if (!ours(t)) return;
      std::string k = key(db_of(t), t.name);
      known_.erase(k);  // a table created again under the name starts from its own description
      gone_.insert(k);
      lifecycle(SchemaChangeKind::Dropped, t, e, when, out);
    };
    auto created = [&](const ddl::TableName& t) {
      if (!ours(t)) return;
      gone_.erase(key(db_of(t), t.name));
      lifecycle(SchemaChangeKind::Created, t, e, when, out);
    };
    switch (st.kind) {
      case ddl::Statement::Kind::CreateTable: {
        // Temporary tables are session-private (and not logged in row format anyway).
        if (st.temporary) break;
        const ddl::TableName& t = st.tables.front();
        if (st.or_replace) gone(t);
        // CREATE TABLE IF NOT EXISTS is logged even when the table existed: for a table this
        // stream follows, and did not see dropped, it changed nothing.
        std::string k = key(db_of(t), t.name);
        if (st.if_not_exists && !st.or_replace && wanted_.count(k) && !gone_.count(k)) break;
        created(t);
        break;
      }
      case ddl::Statement::Kind::DropTable:
        if (st.temporary) break;
        for (const auto& t : st.tables) gone(t);
        break;
      case ddl::Statement::Kind::RenameTable:
        for (const auto& [from, to] : st.renames) {
          gone(from);
          created(to);
        }
        break;
      case ddl::Statement::Kind::AlterTable:
        if (!st.renames.empty()) {
          // ALTER TABLE a RENAME TO b (whatever else it changed): b is a table to describe anew.
          for (const auto& [from, to] : st.renames) {
            gone(from);
            created(to);
          }
        } else if (auto change = schema_change(st, e, when)) {
          push(out, std::move(*change));
          schema_reported_ = true;
        }
        break;
      case ddl::Statement::Kind::Other: break;
    }
  }

  void lifecycle(SchemaChangeKind kind, const ddl::TableName& t, const binlog::Event& e, std::int64_t when,
                 std::vector<ChangeEvent>& out) {
    auto w = wanted_.find(key(params_.database, t.name));
    ChangeEvent ev;
    ev.op = ChangeOp::Update;  // means nothing: a schema change event
    // One database per URL: names are unqualified, like discover() gives them.
    ev.table = w != wanted_.end() ? w->second.id : TableId(t.name);
    ev.position = Position(pos_.to_string());
    ev.transaction_id = tx_.id;
    ev.commit_time_us = when;
    auto change = std::make_shared<SchemaChange>();
    change->kind = kind;
    change->after.id = ev.table;
    change->statement = e.sql;
    ev.schema_change = std::move(change);
    push(out, std::move(ev));
    schema_reported_ = true;
  }

  // ALTER TABLE of a table whose schema the session gave: the table after this one statement
  // (ddl::apply_alter: what the statement touches as the server describes it now, the rest as
  // it was), compared with the schema known before it, which is the session's at first and then
  // the one each earlier ALTER left. So a stream that replays several ALTERs reports each in
  // turn, and rows between them decode with the columns they had. observed_at tells the session
  // that a description may already include later DDL.
  std::optional<ChangeEvent> schema_change(const ddl::Statement& st, const binlog::Event& e, std::int64_t when) {
    if (known_.empty()) return std::nullopt;
    const ddl::TableName& t = st.tables.front();
    auto k = known_.find(key(t.db.empty() ? e.schema : t.db, t.name));
    if (k == known_.end()) return std::nullopt;
    const TableId id = wanted_.at(k->first).id;
    DescribedTable described = describe_(id);
    const TableSchema* now = described.schema ? &*described.schema : nullptr;
    std::optional<TableSchema> applied = ddl::apply_alter(k->second, now, st);
    TableSchema after = applied ? std::move(*applied) : now ? *now : k->second;
    after.id = id;
    auto renamed = ddl::renames_of(st);
    auto changes = diff_schemas(k->second, after, renamed);
    if (changes.empty()) return std::nullopt;
    auto change = std::make_shared<SchemaChange>();
    change->observed_at = described.observed_at;
    for (const auto& clause : st.clauses) {
      if (clause.kind != ddl::ClauseKind::AddColumn) continue;
      for (const auto& c : changes)
        if (c.kind == ColumnChangeKind::Added && strcasecmp(c.column.c_str(), clause.column.c_str()) == 0)
          if (auto v = ddl::added_column_value(clause.def, c.after, e.client_collation)) change->fill[c.column] = *v;
    }
    change->values_kept = ddl::values_kept(changes);
    k->second = after;
    ChangeEvent ev;
    ev.op = ChangeOp::Update;
    ev.table = id;
    ev.position = Position(pos_.to_string());
    ev.transaction_id = tx_.id;
    ev.commit_time_us = when;
    change->after = std::move(after);
    change->renamed = std::move(renamed);
    change->statement = e.sql;
    ev.schema_change = std::move(change);
    return ev;
  }

  // "TRUNCATE [TABLE] [`db`.]`t`" -> the wanted table it names.
  std::optional<TableId> truncated_table(const std::string& sql, const std::string& default_db) const {
    std::string head = trim_upper_head(sql);
    if (head.rfind("TRUNCATE", 0) != 0) return std::nullopt;
    std::size_t i = sql.find_first_not_of(" \t\r\n");
    i += 8;
    auto skip_ws = [&] {
      while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
    };
    auto ident = [&]() {
      std::string s;
      if (i < sql.size() && sql[i] == '`') {
        ++i;
        while (i < sql.size()) {
          if (sql[i] == '`' && i + 1 < sql.size() && sql[i + 1] == '`') {
            s += '`';
            i += 2;
          } else if (sql[i] == '`') {
            ++i;
            break;
          } else {
            s += sql[i++];
          }
        }
      } else {
        while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_' || sql[i] == '$')) s += sql[i++];
      }
      return s;
    };
    skip_ws();
    std::string first = ident();
    if (first == "TABLE" || first == "table" || first == "Table") {
      skip_ws();
      first = ident();
    }
    std::string db = default_db, name = first;
    if (i < sql.size() && sql[i] == '.') {
      ++i;
      db = first;
      name = ident();
    }
    auto it = wanted_.find(key(db, name));
    if (it == wanted_.end()) return std::nullopt;
    return it->second.id;
  }

  // Converts a decoded row (table-map order) to the requested schema's order and value kinds.
  Row map_row(const binlog::TableMap& tm, const TableSchema& schema, const std::vector<int>& idx, Row&& src) const {
    Row out(schema.columns.size());
    for (std::size_t i = 0; i < schema.columns.size(); ++i) {
      int j = idx[i];
      if (j < 0 || std::size_t(j) >= src.size()) continue;
      Value v = std::move(src[std::size_t(j)]);
      const LogicalType& t = schema.columns[i].type;
      if (!v.is_null()) {
        switch (t.id) {
          case TypeId::Bytes:
          case TypeId::Unknown:
            if (v.kind() == ValueKind::String) v = Value::bytes(v.text());
            if (t.fixed_length && t.length > 0 && v.text().size() < std::size_t(t.length)) {
              std::string s = v.text();
              s.resize(std::size_t(t.length), '\0');  // BINARY(n): the binlog drops trailing zero bytes
              v = Value::bytes(std::move(s));
            }
            break;
          case TypeId::Json:
            if (v.kind() == ValueKind::String) v = Value::json(v.text());
            break;
          case TypeId::Geometry:  // a length-prefixed BLOB holding the stored form: SRID + WKB
            if (v.kind() == ValueKind::Bytes) v = Value::geometry(detail::geometry_from_mariadb(v.text()));
            break;
          case TypeId::Uuid:
            if (v.kind() == ValueKind::String) v = Value::uuid(v.text());
            break;
          case TypeId::Int8:
          case TypeId::Int16:
          case TypeId::Int24:
          case TypeId::Int32:
          case TypeId::Int64:
            if (t.is_unsigned && v.kind() == ValueKind::Int) {
              // Signedness metadata missing: reinterpret at the column's width.
              int bits = t.id == TypeId::Int8 ? 8 : t.id == TypeId::Int16 ? 16 : t.id == TypeId::Int24 ? 24 : t.id == TypeId::Int32 ? 32 : 64;
              std::uint64_t u = std::uint64_t(v.as_int());
              if (bits < 64) u &= (1ULL << bits) - 1;
              v = Value::uint64(u);
            }
            break;
          default: break;
        }
      }
      out[i] = std::move(v);
    }
    (void)tm;
    return out;
  }

  void rows_event(binlog::Event& e, std::vector<ChangeEvent>& out) {
    const auto& tm = e.rows.table;
    if (!tm) return;
    auto it = wanted_.find(key(tm->schema, tm->table));
    if (it == wanted_.end()) return;
    const TableSchema& schema = it->second;
    if (!tm->has_names)
      throw Error(ErrorKind::Config,
                  fmt::format("row events of {}.{} carry no column names: set binlog_row_metadata=FULL", tm->schema, tm->table),
                  false, "source");
    // Column positions by name, cached per table map (the entry keeps the map alive, so its
    // address cannot be reused by another table's map while cached).
    if (index_cache_.size() > 1024) index_cache_.clear();
    auto& entry = index_cache_[tm.get()];
    if (!entry.map) {
      entry.map = tm;
      entry.index.assign(schema.columns.size(), -1);
      for (std::size_t i = 0; i < schema.columns.size(); ++i)
        for (std::size_t j = 0; j < tm->columns.size(); ++j)
          if (strcasecmp(tm->columns[j].name.c_str(), schema.columns[i].name.c_str()) == 0) entry.index[i] = int(j);
      // A column the rows lack was added after they were logged (or is not there any more):
      // marked unchanged, so the destination keeps what it has instead of writing NULL.
      if (std::find(entry.index.begin(), entry.index.end(), -1) != entry.index.end())
        for (int j : entry.index) entry.absent.push_back(j < 0);
      // The table changed since the session planned it: say so once per table definition.
      std::string missing, extra;
      for (std::size_t i = 0; i < schema.columns.size(); ++i)
        if (entry.index[i] < 0) missing += (missing.empty() ? "" : ", ") + schema.columns[i].name;
      for (const auto& col : tm->columns) {
        bool known = std::any_of(schema.columns.begin(), schema.columns.end(),
                                 [&](const Column& c) { return strcasecmp(c.name.c_str(), col.name.c_str()) == 0; });
        if (!known) extra += (extra.empty() ? "" : ", ") + col.name;
      }
      std::string note = missing + "\x1f" + extra;
      if ((!missing.empty() || !extra.empty()) && warned_[tm->table] != note) {
        warned_[tm->table] = note;
        // Extra columns alone are usually ones the config leaves out: debug only.
        detail::logf(missing.empty() ? LogLevel::Debug : LogLevel::Warn, "mysql.stream", schema.id.to_string(),
                     "binlog rows at {} {}{}{}", pos_.to_string(),
                     missing.empty() ? "" : "lack column(s) " + missing + " (marked unchanged)",
                     !missing.empty() && !extra.empty() ? "; " : "",
                     extra.empty() ? "" : "carry column(s) " + extra + " the session does not replicate (excluded, or added since it started)");
      }
    }
    const std::vector<int> map = entry.index;
    const std::vector<bool> absent = entry.absent;
    auto& rows = e.rows.rows;
    const auto kind = e.rows.kind;
    const std::int64_t when = std::int64_t(e.header.timestamp) * 1000000;
    // Row filter: every image is tested by the server on the whole binlog row (the filter may
    // name columns the session does not copy). Images are in `rows` order.
    std::vector<bool> pass;
    auto fit = filters_.find(key(tm->schema, tm->table));
    if (fit != filters_.end()) pass = filter_images(*tm, schema, fit->second, rows);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      ChangeEvent ev;
      ev.table = schema.id;
      ev.position = Position(pos_.to_string());
      ev.transaction_id = tx_.id;
      ev.commit_time_us = when;
      if (kind == binlog::RowsEvent::Kind::Write) {
        if (!pass.empty() && !pass[r]) continue;
        ev.op = ChangeOp::Insert;
        ev.after = map_row(*tm, schema, map, std::move(rows[r]));
        ev.unchanged = absent;
      } else if (kind == binlog::RowsEvent::Kind::Delete) {
        if (!pass.empty() && !pass[r]) continue;
        ev.op = ChangeOp::Delete;
        ev.before = map_row(*tm, schema, map, std::move(rows[r]));
      } else {
        bool in_before = pass.empty() || pass[r], in_after = pass.empty() || pass[r + 1];
        if (in_before && in_after) {
          ev.op = ChangeOp::Update;
          ev.before = map_row(*tm, schema, map, std::move(rows[r]));
          ev.after = map_row(*tm, schema, map, std::move(rows[r + 1]));
          ev.unchanged = absent;
        } else if (in_after) {  // moved into the filter: arrives as an insert
          ev.op = ChangeOp::Insert;
          ev.after = map_row(*tm, schema, map, std::move(rows[r + 1]));
          ev.unchanged = absent;
        } else if (in_before) {  // left the filter: arrives as a delete
          ev.op = ChangeOp::Delete;
          ev.before = map_row(*tm, schema, map, std::move(rows[r]));
        }
        ++r;
        if (!in_before && !in_after) continue;
      }
      push(out, std::move(ev));
    }
  }

  // Whether each image satisfies `where`: the server evaluates it over a derived table of
  // literal rows named like the table's columns (values escaped by the driver), 500 at a time,
  // on a connection of its own (the binlog connection is busy streaming).
  std::vector<bool> filter_images(const binlog::TableMap& tm, const TableSchema& schema, const std::string& where,
                                  const std::vector<Row>& images) {
    if (!filter_conn_) filter_conn_ = Conn(params_, ErrorKind::Source);
    std::vector<bool> out;
    out.reserve(images.size());
    for (std::size_t start = 0; start < images.size(); start += 500) {
      std::size_t end = std::min(images.size(), start + 500);
      std::string sql = "SELECT (" + where + ") IS TRUE FROM (";
      for (std::size_t i = start; i < end; ++i) {
        sql += i == start ? "SELECT " : " UNION ALL SELECT ";
        sql += std::to_string(i) + " AS `_cdc_n`";
        for (std::size_t j = 0; j < tm.columns.size() && j < images[i].size(); ++j) {
          Column col;
          col.name = tm.columns[j].name;
          sql += ", ";
          append_literal(filter_conn_, sql, images[i][j], col);
          sql += " AS " + quote_ident(col.name);
        }
      }
      sql += ") AS t ORDER BY `_cdc_n`";
      for (auto& r : filter_conn_.rows(sql, "filter of table " + schema.id.to_string())) out.push_back(r[0].value_or("0") == "1");
    }
    if (out.size() != images.size())
      throw Error(ErrorKind::Internal, "row filter returned a different number of rows", false, "table " + schema.id.to_string());
    return out;
  }

  ConnParams params_;
  BinlogPos pos_;        // end of the last event read
  BinlogPos committed_;  // end of the last whole transaction read
  Position acked_;
  std::map<std::string, TableSchema> wanted_;
  std::function<DescribedTable(const TableId&)> describe_;
  std::map<std::string, TableSchema> known_;  // table key -> the whole table as known at this point of the log
  std::set<std::string> gone_;                // table keys dropped (or renamed away) in the log read so far
  bool schema_reported_ = false;              // a schema change event was just delivered
  Conn conn_;
  MARIADB_RPL* rpl_ = nullptr;
  MARIADB_RPL_EVENT* event_ = nullptr;
  binlog::Decoder decoder_;
  Tx tx_;
  std::map<std::uint32_t, std::string> gtid_state_;  // domain -> last committed GTID
  bool gtid_mode_ = false;
  std::map<std::string, std::string> filters_;  // table key -> row filter (SQL)
  Conn filter_conn_;
  std::map<std::string, std::string> warned_;  // table -> last schema difference logged
  // Per table map: requested columns -> its column (-1 = absent), and the absent ones (empty
  // when none). The entry keeps the map alive, so its address is not reused while cached.
  struct MapIndex {
    std::shared_ptr<const binlog::TableMap> map;
    std::vector<int> index;
    std::vector<bool> absent;
  };
  std::map<const binlog::TableMap*, MapIndex> index_cache_;
};

}  // namespace

std::unique_ptr<ChangeStream> open_binlog_stream(const ConnParams& params, const std::vector<StreamTable>& tables,
                                                 const Position& from, std::function<DescribedTable(const TableId&)> describe) {
  return std::make_unique<BinlogStream>(params, tables, from, std::move(describe));
}

}  // namespace cdc::mysql
