// The PostgreSQL change stream: a libpq replication connection running
// START_REPLICATION SLOT ... LOGICAL with pgoutput (proto_version 1), CopyBoth framing
// (https://www.postgresql.org/docs/15/protocol-replication.html: XLogData 'w', keepalive 'k',
// standby status update 'r'), and the mapping of decoded messages to ChangeEvents.
//
// Every event of a transaction carries its commit LSN (Begin's final_lsn) as position; the last
// one is flagged end_of_transaction, so one event is held back until the next message shows
// whether it was the last. The flushed LSN reported to the server only moves in acknowledge(),
// which the session calls once its checkpoint holds that position: so the slot's
// confirmed_flush_lsn never passes a stored checkpoint, and a slot found past the checkpoint it
// resumes from was moved by someone else (or dropped and created again), which loses changes.
#include "postgres/pg_connectors.h"
#include "postgres/pg_types.h"
#include "postgres/pgoutput_decoder.h"
#include "postgres/streamed_txn.h"

#include "core/logging.h"

#include <fmt/format.h>

#include <sys/select.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

namespace cdc::pg {

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

void put64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (i * 8)) & 0xff);
}

std::int64_t now_pg_us() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return us - kPgEpochOffsetUs;
}

struct RelMap {
  bool wanted = false;
  const StreamTable* table = nullptr;
  std::vector<int> from;  // for each output column, its index in the relation's columns (-1 = absent)
};

class PgStream final : public ChangeStream {
 public:
  PgStream(const StreamSettings& s, const std::vector<StreamTable>& tables, const Position& from)
      : settings_(s), tables_(tables), conn_(s.params, ErrorKind::Source, ConnKind::Replication) {
    for (const auto& t : tables_)
      if (!t.source.columns.empty()) known_[t.schema.id] = t.source;
    std::uint64_t start = 0;
    if (!from.empty()) {
      std::uint64_t p = parse_lsn(from.str());
      start = p + 1;
      delivered_ = p;
      check_slot(p);
    }
    // The server's WAL position now: until the stream has passed it, it is catching up.
    Result ident = conn_.exec("IDENTIFY_SYSTEM", "replication slot " + s.slot);
    if (ident.rows() == 1 && !ident.is_null(0, 2)) catchup_ = parse_lsn(ident.text(0, 2));
    // Protocol v2 streams large in-progress transactions (PostgreSQL 14+) instead of letting the
    // server spill them; "streaming=off" in the URL keeps protocol v1.
    auto opt = s.params.cdc.find("streaming");
    streaming_ = PQserverVersion(conn_.get()) >= 140000 && (opt == s.params.cdc.end() || opt->second != "off");
    std::string cmd = fmt::format("START_REPLICATION SLOT {} LOGICAL {} (proto_version '{}', publication_names {}{})",
                                  quote_ident(s.slot), format_lsn(start), streaming_ ? 2 : 1,
                                  conn_.literal(quote_ident(s.publication)), streaming_ ? ", streaming 'on'" : "");
    Result r(PQexec(conn_.get(), cmd.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COPY_BOTH) {
      const char* st = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
      std::string state = st ? st : "";
      auto err = make_error(ErrorKind::Source, "START_REPLICATION failed on slot " + s.slot, state,
                            PQresultErrorMessage(r.get()), "replication slot " + s.slot);
      // A slot in use by another process (55006) is transient; a missing slot is not.
      if (state == "55006") throw Error(ErrorKind::Connection, err.message(), true, err.where());
      throw err;
    }
    detail::logf(LogLevel::Debug, "postgres.stream", "", "START_REPLICATION at {}", format_lsn(start));
  }

  void poll(std::vector<ChangeEvent>& out, std::size_t max_events, std::chrono::milliseconds timeout) override {
    auto now = Clock::now();
    auto deadline = now + timeout;
    // With events in hand, return by then: a backlog read in one go would leave the destination
    // waiting until the whole batch is decoded.
    const auto hand_over = deadline;
    // While the server is still decoding the WAL that existed when the stream opened, silence
    // does not mean idle: wait longer (bounded, so stop() stays responsive) and ask where it is.
    if (!caught_up()) deadline = std::max(deadline, now + std::chrono::seconds(5));
    std::size_t start_size = out.size();
    if (replay_) {
      drain_replay(out, max_events);
      if (replay_ || out.size() - start_size >= max_events) return;
    }
    auto next_ask = now + std::min<Clock::duration>(timeout, std::chrono::milliseconds(250));
    bool asked_final = false;
    for (;;) {
      char* buf = nullptr;
      int n = PQgetCopyData(conn_.get(), &buf, 1);
      if (n > 0) {
        std::unique_ptr<char, void (*)(void*)> guard(buf, PQfreemem);
        handle(std::string_view(buf, static_cast<std::size_t>(n)), out);
        if (schema_reported_) {  // rows after it need the session's new plan: it reopens the stream
          schema_reported_ = false;
          break;
        }
        if (replay_) drain_replay(out, max_events - std::min(max_events, out.size() - start_size));
        if (replay_ || out.size() - start_size >= max_events) break;
        if (out.size() > start_size && Clock::now() >= hand_over) break;
        continue;
      }
      if (n == -1) finish_copy();
      if (n == -2) conn_.fail("replication stream failed", "replication slot " + settings_.slot);
      // No complete message buffered. With events in hand, linger briefly for more: bigger
      // batches mean fewer destination transactions.
      if (out.size() > start_size) {
        if (!wait_readable(Clock::now() + std::chrono::milliseconds(5))) break;
        continue;
      }
      maybe_send_status(false);
      now = Clock::now();
      if (!in_txn_ && now >= next_ask && !caught_up()) {
        send_status(true);  // the keepalive reply carries how far the server has decoded
        next_ask = now + std::chrono::milliseconds(250);
      }
      if (now >= deadline) {
        if (!asked_final && !in_txn_) {
          // Ask the server where it is, so position() moves on while idle.
          send_status(true);
          asked_final = true;
          deadline = now + std::chrono::milliseconds(50);
          wait_readable(deadline);
          continue;
        }
        break;
      }
      wait_readable(std::min(deadline, caught_up() ? deadline : next_ask));
    }
  }

  Position position() const override { return Position(format_lsn(delivered_)); }

  bool caught_up() const { return delivered_ + 1 >= catchup_; }

  void acknowledge(const Position& position) override {
    std::uint64_t p = parse_lsn(position.str());
    if (p > acked_) acked_ = p;
    send_status(false);
  }

 private:
  // Waits for the socket until `deadline`; true when data arrived.
  bool wait_readable(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
    if (left <= 0) left = 0;
    int fd = PQsocket(conn_.get());
    fd_set set;
    FD_ZERO(&set);
    FD_SET(fd, &set);
    timeval tv{static_cast<time_t>(left / 1000000), static_cast<suseconds_t>(left % 1000000)};
    int rc = ::select(fd + 1, &set, nullptr, nullptr, &tv);
    if (rc < 0 && errno != EINTR) conn_.fail("replication stream: select failed", "replication slot " + settings_.slot);
    if (rc > 0 && PQconsumeInput(conn_.get()) == 0) conn_.fail("replication stream lost", "replication slot " + settings_.slot);
    return rc > 0;
  }

  [[noreturn]] void finish_copy() {
    PGresult* res = PQgetResult(conn_.get());
    Result r(res);
    if (res && PQresultStatus(res) == PGRES_FATAL_ERROR)
      conn_.fail("replication stream ended", "replication slot " + settings_.slot, res);
    throw Error(ErrorKind::Connection, "the server ended the replication stream", true, "replication slot " + settings_.slot);
  }

  // What the server may forget: what the session acknowledged (0 = nothing yet, which the server
  // ignores: a stream opened at a held table's position keeps what that table still needs).
  std::uint64_t flush_lsn() const { return acked_ == 0 ? 0 : acked_ + 1; }

  // A resumed stream needs every commit after `from` (checkpoint position). The slot gives
  // commits after its confirmed_flush_lsn only; cdc never confirms past its checkpoint, so a slot
  // ahead of it, or none, means changes were consumed elsewhere or dropped with the slot.
  void check_slot(std::uint64_t from) {
    const std::string& slot = settings_.slot;
    const std::string where = "replication slot " + slot;
    Result r = conn_.exec("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = " + conn_.literal(slot),
                          where);
    static const char* kStartOver =
        "Start over with a fresh snapshot: remove this session's checkpoints (or give the session a new `name`) "
        "and run `cdc-cli replicate` again";
    if (r.rows() == 0)
      throw Error(ErrorKind::Source,
                  fmt::format("replication slot \"{}\" does not exist on the PostgreSQL source, but this session's "
                              "checkpoint resumes its stream after LSN {}: the slot was dropped (by `cdc-cli teardown` or "
                              "by hand), and the changes committed since then are lost. {}",
                              slot, format_lsn(from), kStartOver),
                  false, where);
    if (r.is_null(0, 0)) return;  // not a logical slot: START_REPLICATION says so
    std::uint64_t confirmed = parse_lsn(r.text(0, 0));
    if (confirmed <= from + 1) return;
    if (!settings_.slot_created_at.empty()) {
      // The slot this run created cannot serve the session: left in place it would only pin WAL
      // (and make the next run's error a different one). Dropped again, every run says the same.
      std::string dropped = "dropped it again";
      if (std::string state = conn_.try_exec("DROP_REPLICATION_SLOT " + quote_ident(slot)); !state.empty())
        dropped = fmt::format("could not drop it again (SQLSTATE {}): drop it by hand, it retains WAL", state);
      throw Error(ErrorKind::Source,
                  fmt::format("replication slot \"{}\" did not exist when this session resumed from its checkpoint at "
                              "LSN {} (it was dropped); cdc created it anew at LSN {} and {}, so the changes committed "
                              "between the two are lost. {}",
                              slot, format_lsn(from), settings_.slot_created_at, dropped, kStartOver),
                  false, where);
    }
    throw Error(ErrorKind::Source,
                fmt::format("replication slot \"{}\" has confirmed_flush_lsn {}, past this session's checkpoint at LSN {}: "
                            "another client consumed or advanced the slot, or it was dropped and created again, so the "
                            "changes committed between the two are lost to cdc. {}",
                            slot, format_lsn(confirmed), format_lsn(from), kStartOver),
                false, where);
  }

  void send_status(bool reply) {
    std::string msg;
    msg += 'r';
    std::uint64_t f = flush_lsn();
    put64(msg, f);
    put64(msg, f);
    put64(msg, f);
    put64(msg, static_cast<std::uint64_t>(now_pg_us()));
    msg += static_cast<char>(reply ? 1 : 0);
    if (PQputCopyData(conn_.get(), msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(conn_.get()) != 0)
      conn_.fail("replication stream: cannot send status", "replication slot " + settings_.slot);
    last_status_ = Clock::now();
  }

  void maybe_send_status(bool force) {
    if (force || Clock::now() - last_status_ > std::chrono::seconds(10)) send_status(false);
  }

  void handle(std::string_view msg, std::vector<ChangeEvent>& out) {
    if (msg.empty()) return;
    if (msg[0] == 'k') {
      if (msg.size() < 18) throw Error(ErrorKind::Protocol, "replication keepalive truncated");
      std::uint64_t wal_end = be64(msg.data() + 1);
      bool reply = msg[17] != 0;
      // Everything before the server's sent position has been sent: when no transaction is open,
      // every commit before it is delivered.
      if (!in_txn_ && !replay_ && wal_end > 0 && wal_end - 1 > delivered_) delivered_ = wal_end - 1;
      if (reply) send_status(false);
      return;
    }
    if (msg[0] != 'w') return;
    if (msg.size() < 25) throw Error(ErrorKind::Protocol, "replication XLogData truncated");
    auto decoded = decoder_.decode(msg.substr(25));
    std::visit([&](auto& m) { on(m, out); }, decoded);
  }

  // ---- messages ---------------------------------------------------------------------------

  void on(BeginMsg& m, std::vector<ChangeEvent>&) {
    in_txn_ = true;
    txn_lsn_ = m.final_lsn;
    txn_xid_ = std::to_string(m.xid);
    txn_time_us_ = m.commit_time + kPgEpochOffsetUs;
  }

  void on(CommitMsg& m, std::vector<ChangeEvent>& out) {
    if (pending_) {
      pending_->end_of_transaction = true;
      out.push_back(std::move(*pending_));
      pending_.reset();
    }
    in_txn_ = false;
    if (m.commit_lsn > delivered_) delivered_ = m.commit_lsn;
  }

  void on(OriginMsg&, std::vector<ChangeEvent>&) {}
  void on(TypeMsg&, std::vector<ChangeEvent>&) {}
  void on(LogicalMsg&, std::vector<ChangeEvent>&) {}
  // ---- protocol v2: streamed in-progress transactions ------------------------------------

  void on(StreamStartMsg& m, std::vector<ChangeEvent>&) {
    stream_xid_ = m.xid;
    if (!streamed_.count(m.xid)) streamed_.emplace(m.xid, StreamedTxn());
  }

  void on(StreamStopMsg&, std::vector<ChangeEvent>&) { stream_xid_ = 0; }

  void on(StreamAbortMsg& m, std::vector<ChangeEvent>&) {
    auto it = streamed_.find(m.xid);
    if (it == streamed_.end()) return;
    if (m.subxid == m.xid) streamed_.erase(it);
    else it->second.abort_subtransaction(m.subxid);
  }

  void on(StreamCommitMsg& m, std::vector<ChangeEvent>&) {
    auto it = streamed_.find(m.xid);
    if (it == streamed_.end() || it->second.size() == 0) {
      if (it != streamed_.end()) streamed_.erase(it);
      if (m.commit_lsn > delivered_) delivered_ = m.commit_lsn;
      return;
    }
    // Delivered from the spill file by drain_replay(), across polls if it is large.
    replay_ = std::make_unique<StreamedTxn>(std::move(it->second));
    streamed_.erase(it);
    replay_->rewind();
    replay_left_ = replay_->size();
    replay_lsn_ = m.commit_lsn;
    replay_xid_ = std::to_string(m.xid);
    replay_time_us_ = m.commit_time + kPgEpochOffsetUs;
  }

  void drain_replay(std::vector<ChangeEvent>& out, std::size_t room) {
    ChangeEvent e;
    while (replay_ && room > 0) {
      if (!replay_->next(e)) break;
      --room;
      --replay_left_;
      e.position = Position(format_lsn(replay_lsn_));
      e.transaction_id = replay_xid_;
      e.commit_time_us = replay_time_us_;
      e.end_of_transaction = replay_left_ == 0;
      out.push_back(std::move(e));
      if (replay_left_ == 0) {
        replay_.reset();
        if (replay_lsn_ > delivered_) delivered_ = replay_lsn_;
      }
    }
    if (replay_ && replay_left_ == 0) replay_.reset();
  }

  void on(RelationMsg& m, std::vector<ChangeEvent>& out) {
    RelMap map;
    TableId id(m.nspname, m.relname);
    if (auto root = settings_.partition_root.find(id); root != settings_.partition_root.end()) id = root->second;
    for (const auto& t : tables_) {
      if (t.schema.id != id) continue;
      map.wanted = true;
      map.table = &t;
      for (const auto& col : t.schema.columns) {
        int found = -1;
        for (std::size_t i = 0; i < m.columns.size(); ++i)
          if (m.columns[i].name == col.name) found = static_cast<int>(i);
        map.from.push_back(found);
      }
      if (known_.count(id) && settings_.describe) {
        check_schema(id, m, out);
      } else if (auto known = settings_.known_columns.find(id); known != settings_.known_columns.end()) {
        // Without the session's description of the table, a column added since the stream
        // opened would be lost: stop here; a restart plans it in and replays from the checkpoint.
        std::string added;
        for (const auto& c : m.columns)
          if (!known->second.count(c.name)) added += (added.empty() ? "" : ", ") + c.name;
        if (!added.empty())
          throw Error(ErrorKind::Schema,
                      fmt::format("table {} gained column(s) {} on the source; restart replication to add them at the "
                                  "destination (changes since the last checkpoint are replayed)",
                                  id.to_string(), added),
                      false, "table " + id.to_string());
      }
      break;
    }
    rels_[m.relid] = std::move(map);
  }

  // A Relation message unlike the last one of this table: the table as the catalog has it now
  // is compared with what the session knows, and a difference the message already shows is
  // reported as a schema change event (before any row of the new shape), after which poll()
  // returns. A stream that runs behind meets Relation messages of older shapes, while the catalog
  // is already ahead: those report nothing (their rows map by name, columns they lack marked
  // unchanged), so that rows logged before a DDL are applied before the session learns of it.
  void check_schema(const TableId& id, const RelationMsg& m, std::vector<ChangeEvent>& out) {
    std::string sig;
    for (const auto& c : m.columns) sig += fmt::format("{}\x1f{}\x1f{}\x1e", c.name, c.type_oid, c.typmod);
    std::string& last = relation_sig_[id];
    if (last == sig) return;
    last = sig;
    DescribedTable described = settings_.describe(id);
    TableSchema now = std::move(described.table);
    TableSchema& known = known_[id];
    auto changes = diff_schemas(known, now);
    if (changes.empty() || !shows_any(m, changes, described)) return;
    known = now;
    auto change = std::make_shared<SchemaChange>();
    // The catalog may already be ahead of this point of the WAL (the stream runs behind): the
    // session applies what it reads back from the source only once the stream passed this.
    change->observed_at = Position(format_lsn(described.observed_lsn));
    for (const auto& c : changes) {
      if (c.kind != ColumnChangeKind::Added) continue;
      auto fill = described.fills.find(c.column);
      if (fill != described.fills.end()) change->fill.emplace(c.column, fill->second);
    }
    // values_kept stays empty: ALTER COLUMN ... TYPE may rewrite values (USING) without logging
    // a row change, so every changed column is read back from the source.
    ChangeEvent e;
    e.op = ChangeOp::Update;
    e.table = id;
    // Inside a streamed block the commit LSN is not known yet; anything after the last commit
    // delivered orders the same way.
    e.position = Position(format_lsn(decoder_.in_stream_block() || !in_txn_ ? delivered_ + 1 : txn_lsn_));
    e.transaction_id = txn_xid_;
    e.commit_time_us = txn_time_us_;
    e.end_of_transaction = false;
    change->after = std::move(now);
    e.schema_change = std::move(change);
    if (pending_) out.push_back(std::move(*pending_));
    pending_.reset();
    out.push_back(std::move(e));
    schema_reported_ = true;
  }

  // Whether the Relation message already has the shape after at least one of `changes`: an
  // added or renamed column present, a dropped one absent, a changed type as the catalog has it.
  static bool shows_any(const RelationMsg& m, const std::vector<ColumnChange>& changes, const DescribedTable& now) {
    auto find = [&](const std::string& name) -> const RelationColumn* {
      for (const auto& c : m.columns)
        if (c.name == name) return &c;
      return nullptr;
    };
    for (const auto& c : changes) {
      const RelationColumn* col = find(c.column);
      switch (c.kind) {
        case ColumnChangeKind::Added:
        case ColumnChangeKind::Renamed:
          if (col) return true;
          break;
        case ColumnChangeKind::Dropped:
          if (!col) return true;
          break;
        case ColumnChangeKind::Widened:
        case ColumnChangeKind::Incompatible: {
          auto type = now.types.find(c.column);
          if (col && type != now.types.end() && type->second == std::make_pair(col->type_oid, col->typmod)) return true;
          break;
        }
      }
    }
    return false;
  }

  const RelMap* rel(std::uint32_t relid) const {
    auto it = rels_.find(relid);
    if (it == rels_.end())
      throw Error(ErrorKind::Protocol, fmt::format("pgoutput: change for relation {} before its Relation message", relid));
    return it->second.wanted ? &it->second : nullptr;
  }

  // Output row from a tuple; `unchanged` marks 'u' columns (when non-null).
  // Columns the relation does not have (yet: events from before an ADD COLUMN) count as unchanged,
  // so the destination keeps its value (or default) instead of writing NULL.
  Row project(const RelMap& r, const TupleData& t, std::vector<bool>* unchanged) const {
    const auto& cols = r.table->schema.columns;
    Row row(cols.size());
    if (unchanged) unchanged->assign(cols.size(), false);
    for (std::size_t i = 0; i < cols.size(); ++i) {
      int src = r.from[i];
      if (src < 0 || static_cast<std::size_t>(src) >= t.size()) {
        if (unchanged) (*unchanged)[i] = true;
        continue;
      }
      const TupleValue& v = t[static_cast<std::size_t>(src)];
      switch (v.kind) {
        case TupleKind::Null: break;
        case TupleKind::Unchanged:
          if (unchanged) (*unchanged)[i] = true;
          break;
        case TupleKind::Text:
        case TupleKind::Binary: row[i] = value_from_text(cols[i], v.data); break;
      }
    }
    return row;
  }

  ChangeEvent event(ChangeOp op, const RelMap& r) const {
    ChangeEvent e;
    e.op = op;
    e.table = r.table->schema.id;
    e.position = Position(format_lsn(txn_lsn_));
    e.transaction_id = txn_xid_;
    e.commit_time_us = txn_time_us_;
    e.end_of_transaction = false;
    return e;
  }

  void emit(ChangeEvent e, std::vector<ChangeEvent>& out, std::uint32_t xid = 0) {
    if (decoder_.in_stream_block()) {
      streamed_.at(stream_xid_).append(xid ? xid : stream_xid_, e);
      return;
    }
    if (pending_) out.push_back(std::move(*pending_));
    pending_ = std::move(e);
  }

  void on(InsertMsg& m, std::vector<ChangeEvent>& out) {
    const RelMap* r = rel(m.relid);
    if (!r) return;
    ChangeEvent e = event(ChangeOp::Insert, *r);
    std::vector<bool> unchanged;
    e.after = project(*r, m.tuple, &unchanged);
    if (std::find(unchanged.begin(), unchanged.end(), true) != unchanged.end()) e.unchanged = std::move(unchanged);
    emit(std::move(e), out, m.xid);
  }

  void on(UpdateMsg& m, std::vector<ChangeEvent>& out) {
    const RelMap* r = rel(m.relid);
    if (!r) return;
    ChangeEvent e = event(ChangeOp::Update, *r);
    std::vector<bool> unchanged;
    e.after = project(*r, m.tuple, &unchanged);
    if (m.old_kind) {
      std::vector<bool> old_unchanged;
      e.before = project(*r, m.old_tuple, &old_unchanged);
      if (m.old_kind == 'O') {
        // REPLICA IDENTITY FULL: the old row has the values the new one did not resend.
        for (std::size_t i = 0; i < unchanged.size(); ++i)
          if (unchanged[i] && !old_unchanged[i]) {
            e.after[i] = e.before[i];
            unchanged[i] = false;
          }
      }
    }
    bool any = false;
    for (bool u : unchanged) any = any || u;
    if (any) e.unchanged = std::move(unchanged);
    emit(std::move(e), out, m.xid);
  }

  void on(DeleteMsg& m, std::vector<ChangeEvent>& out) {
    const RelMap* r = rel(m.relid);
    if (!r) return;
    ChangeEvent e = event(ChangeOp::Delete, *r);
    e.before = project(*r, m.old_tuple, nullptr);
    emit(std::move(e), out, m.xid);
  }

  void on(TruncateMsg& m, std::vector<ChangeEvent>& out) {
    for (auto relid : m.relids) {
      const RelMap* r = rel(relid);
      if (!r) continue;
      emit(event(ChangeOp::Truncate, *r), out, m.xid);
    }
  }

  StreamSettings settings_;
  std::vector<StreamTable> tables_;
  Conn conn_;
  PgOutputDecoder decoder_;
  std::map<std::uint32_t, RelMap> rels_;
  std::map<TableId, TableSchema> known_;          // tables as the session knows them (StreamTable::source)
  std::map<TableId, std::string> relation_sig_;   // last Relation message per table: names, types, typmods
  bool schema_reported_ = false;                  // a schema change event was just delivered
  std::optional<ChangeEvent> pending_;
  bool in_txn_ = false;
  std::uint64_t txn_lsn_ = 0;
  std::string txn_xid_;
  std::int64_t txn_time_us_ = 0;
  std::uint64_t delivered_ = 0;       // every commit at or before it is delivered
  std::uint64_t acked_ = 0;           // the session's checkpoint holds it (0 = nothing acknowledged yet)
  std::uint64_t catchup_ = 0;         // server WAL position when the stream opened
  bool streaming_ = false;            // protocol v2 with streamed in-progress transactions
  std::uint32_t stream_xid_ = 0;      // transaction of the open Stream Start block
  std::map<std::uint32_t, StreamedTxn> streamed_;  // in-progress streamed transactions
  std::unique_ptr<StreamedTxn> replay_;            // a committed streamed transaction being delivered
  std::size_t replay_left_ = 0;
  std::uint64_t replay_lsn_ = 0;
  std::string replay_xid_;
  std::int64_t replay_time_us_ = 0;
  Clock::time_point last_status_ = Clock::now();
};

}  // namespace

std::unique_ptr<ChangeStream> open_pg_stream(const StreamSettings& settings, const std::vector<StreamTable>& tables,
                                             const Position& from) {
  return std::make_unique<PgStream>(settings, tables, from);
}

}  // namespace cdc::pg
