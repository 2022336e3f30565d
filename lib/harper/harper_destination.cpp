#include "harper/harper_destination.h"

#include "core/event/event_destination.h"
#include "core/failpoint.h"
#include "harper/harper_client.h"

#include <cdc/error.h>
#include <cdc/log.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <map>
#include <mutex>
#include <unordered_map>

namespace cdc::harper {

namespace {

namespace json = boost::json;
using detail::ColumnForm;
using detail::EncodedEvent;

constexpr const char* kKeyAttribute = "_cdc_key";
constexpr const char* kCheckpoints = "_cdc_checkpoints";
constexpr const char* kQuarantine = "_cdc_quarantine";
// One request carries at most this many records or bytes of JSON (Harper's own limit is 1 GiB).
constexpr std::size_t kBatchRecords = 1000;
constexpr std::size_t kBatchBytes = 8u << 20;

// Where a source table's records go.
struct TableInfo {
  std::string name;      // the Harper table
  std::string key;       // its primary key attribute: the source key column, or _cdc_key
  bool packed = false;   // the key is the JSON array text of the key's values, in _cdc_key
  std::string source;    // the source table, for messages
};

// A key's last state in the batch: its record (merged over the batch's events) or a delete.
struct Pending {
  json::value id;
  json::object record;
  bool del = false;
  char op = 'c';
};

struct TableBatch {
  TableInfo info;
  bool truncate = false;
  std::vector<std::string> order;  // ids (JSON text) in first-seen order
  std::unordered_map<std::string, Pending> rows;
};

// A record Harper refused: kept in _cdc_quarantine.
struct Refused {
  std::string table, id, reason, record;
  char op;
};

// A short, stable id for a quarantined record: the key itself may be what Harper refused.
std::string quarantine_id(const std::string& table, const std::string& key) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (unsigned char c : table + '\n' + key) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{}:{:016x}", table, h);
}

bool transient(int status) { return status == 429 || status == 502 || status == 503 || status == 504; }

class HarperDestination;

class HarperWriter final : public detail::EventWriter {
 public:
  HarperWriter(std::shared_ptr<const detail::EventEncoder> enc, HarperDestination& d);

 protected:
  void publish(std::vector<EncodedEvent>& events, const std::string& session, const std::vector<CheckpointEntry>& checkpoint) override;

 private:
  void send(const TableInfo& t, bool del, std::vector<Pending*>& rows, std::size_t begin, std::size_t end, std::vector<Refused>& refused);

  HarperDestination& dest_;
  Client client_;
};

class HarperCheckpointStore;

class HarperDestination final : public detail::EventDestination, public std::enable_shared_from_this<HarperDestination> {
 public:
  HarperDestination(const ConnectorUrl& url, detail::EventOptions options, detail::SslParams tls)
      : EventDestination(options, ""), url_(url), shown_(url.redacted()), tls_(std::move(tls)), client_(url, shown_, tls_) {
    if (url.host.empty() || url.path.empty() || url.path.find('/') != std::string::npos)
      throw config_error("destination", fmt::format("\"{}\": expected harper://USER:PASSWORD@HOST:PORT/DATABASE", shown_));
    if (url.user.empty())
      throw config_error("destination", fmt::format("\"{}\": no user (harper://USER:PASSWORD@HOST:PORT/DATABASE)", shown_));
  }

  std::unique_ptr<DestinationWriter> open_writer() override { return std::make_unique<HarperWriter>(encoder(), *this); }
  std::shared_ptr<CheckpointStore> checkpoint_store() override;

  const ConnectorUrl& url() const { return url_; }
  const std::string& shown() const { return shown_; }
  const detail::SslParams& tls() const { return tls_; }
  const std::string& database() const { return url_.path; }

  TableInfo table_for(const std::string& stream) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tables_.find(stream);
    if (it == tables_.end()) throw Error(ErrorKind::Internal, fmt::format("Harper: table {} was not prepared", stream));
    return it->second;
  }

  json::object op(const char* operation, const std::string& table) const {
    return json::object{{"operation", operation}, {"database", database()}, {"table", table}};
  }

  // Creates the database and cdc's own tables once per process.
  void ensure_database(Client& c) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (database_ready_) return;
    }
    Reply r = c.request(json::object{{"operation", "describe_database"}, {"database", database()}});
    if (!r.ok()) {
      Reply made = c.request(json::object{{"operation", "create_database"}, {"database", database()}});
      if (!made.ok() && made.error().find("already exists") == std::string::npos)
        throw Error(ErrorKind::Destination, fmt::format("Harper at {}: cannot create database {}: {}", shown_, database(), made.error()),
                    made.status >= 500, "destination");
    }
    ensure_table(c, {kCheckpoints, "id", false, kCheckpoints});
    ensure_table(c, {kQuarantine, "id", false, kQuarantine});
    std::lock_guard<std::mutex> lock(mu_);
    database_ready_ = true;
  }

  // Creates `t` with its primary key, or checks that the existing table has that key.
  void ensure_table(Client& c, const TableInfo& t) {
    for (int attempt = 0;; ++attempt) {
      Reply d = c.request(op("describe_table", t.name));
      if (d.ok()) {
        const json::value* key = d.body.is_object() ? d.body.as_object().if_contains("hash_attribute") : nullptr;
        std::string have = key && key->is_string() ? std::string(key->as_string()) : "";
        if (have != t.key)
          throw Error(ErrorKind::Schema,
                      fmt::format("Harper table {}.{} has the primary key \"{}\", but cdc keeps table {} there with the key \"{}\"; "
                                  "drop the Harper table or give the source table another target name",
                                  database(), t.name, have, t.source, t.key),
                      false, "table " + t.source);
        return;
      }
      json::object create = op("create_table", t.name);
      create["primary_key"] = t.key;
      Reply made = c.request(create);
      if (made.ok()) return;
      // Another writer created it first: describe it again.
      if (made.error().find("already exists") != std::string::npos && attempt == 0) continue;
      throw Error(ErrorKind::Destination,
                  fmt::format("Harper at {}: cannot create table {}.{} for {}: {}", shown_, database(), t.name, t.source, made.error()),
                  made.status >= 500, "table " + t.source);
    }
  }

  // A fresh snapshot starts: the table is dropped and created again (Harper has no truncate).
  void truncate(Client& c, const TableInfo& t) {
    Reply r = c.request(op("drop_table", t.name));
    if (!r.ok() && r.status != 404)
      throw Error(ErrorKind::Destination, fmt::format("Harper at {}: cannot empty table {}.{}: {}", shown_, database(), t.name, r.error()),
                  r.status >= 500, "table " + t.source);
    ensure_table(c, t);
  }

  // Checkpoint entries as records of _cdc_checkpoints; an empty value deletes the entry.
  void write_checkpoint(Client& c, const std::string& session, const std::vector<CheckpointEntry>& entries) {
    if (entries.empty()) return;
    ensure_database(c);
    json::array upserts, deletes;
    for (const auto& e : entries) {
      std::string id = json::serialize(json::array{json::string(session), json::string(e.key)});
      if (e.value.empty()) deletes.push_back(json::string(id));
      else upserts.push_back(json::object{{"id", id}, {"session", session}, {"key", e.key}, {"value", e.value}});
    }
    if (!upserts.empty()) {
      json::object o = op("upsert", kCheckpoints);
      o["records"] = std::move(upserts);
      c.call(o, "writing checkpoints");
    }
    if (!deletes.empty()) {
      json::object o = op("delete", kCheckpoints);
      o["ids"] = std::move(deletes);
      c.call(o, "deleting checkpoints");
    }
  }

  detail::SessionMapCheckpointStore::Sessions read_checkpoints() {
    std::lock_guard<std::mutex> lock(client_mu_);
    ensure_database(client_);
    json::object o = op("search_by_value", kCheckpoints);
    o["search_attribute"] = "id";
    o["search_value"] = "*";
    o["get_attributes"] = json::array{"*"};  // naming attributes fails while the table is empty
    json::value rows = client_.call(o, "reading checkpoints");
    detail::SessionMapCheckpointStore::Sessions out;
    if (!rows.is_array()) return out;
    for (const auto& r : rows.as_array()) {
      const auto* s = r.as_object().if_contains("session");
      const auto* k = r.as_object().if_contains("key");
      const auto* v = r.as_object().if_contains("value");
      if (s && k && v && s->is_string() && k->is_string() && v->is_string())
        out[std::string(s->as_string())][std::string(k->as_string())] = std::string(v->as_string());
    }
    return out;
  }

  void put_checkpoint(const std::string& session, const std::vector<CheckpointEntry>& entries) {
    std::lock_guard<std::mutex> lock(client_mu_);
    write_checkpoint(client_, session, entries);
  }

 protected:
  void prepare_stream(const std::string& stream, const DestinationTable& table) override {
    TableInfo t;
    t.name = table.schema.id.name;
    t.source = table.schema.id.to_string();
    t.key = kKeyAttribute;
    t.packed = true;
    if (table.schema.primary_key.size() == 1) {
      const std::string connector = source_info().connector;
      for (const auto& col : table.schema.columns) {
        if (col.name != table.schema.primary_key[0]) continue;
        switch (detail::column_form(col, connector)) {
          case ColumnForm::Integer:
          case ColumnForm::BigUnsigned:
          case ColumnForm::Decimal:
          case ColumnForm::Text:
          case ColumnForm::Base64:
          case ColumnForm::Date:
          case ColumnForm::LocalTimestamp:
          case ColumnForm::UtcTimestamp:
            t.key = col.name;
            t.packed = false;
            break;
          default: break;
        }
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [s, other] : tables_)
        if (s != stream && other.name == t.name)
          throw config_error("table " + t.source,
                             fmt::format("tables {} and {} would both be the Harper table {}.{}; give one another target name",
                                         other.source, t.source, database(), t.name));
    }
    {
      std::lock_guard<std::mutex> lock(client_mu_);
      ensure_database(client_);
      ensure_table(client_, t);
    }
    std::lock_guard<std::mutex> lock(mu_);
    tables_[stream] = t;
  }

 private:
  std::mutex mu_;  // tables_, database_ready_, store_
  ConnectorUrl url_;
  std::string shown_;
  detail::SslParams tls_;
  std::map<std::string, TableInfo> tables_;  // by stream name (EncodedEvent::stream)
  bool database_ready_ = false;
  std::mutex client_mu_;  // client_: prepare_table and the checkpoint store
  Client client_;
  std::shared_ptr<HarperCheckpointStore> store_;
};

class HarperCheckpointStore final : public detail::SessionMapCheckpointStore {
 public:
  explicit HarperCheckpointStore(HarperDestination& d) : dest_(d) {}
  void put(const std::string& session, const std::vector<CheckpointEntry>& entries) override { dest_.put_checkpoint(session, entries); }

 private:
  Sessions read_all() override { return dest_.read_checkpoints(); }
  HarperDestination& dest_;
};

std::shared_ptr<CheckpointStore> HarperDestination::checkpoint_store() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!store_) store_ = std::make_shared<HarperCheckpointStore>(*this);
  return std::shared_ptr<CheckpointStore>(shared_from_this(), store_.get());
}

HarperWriter::HarperWriter(std::shared_ptr<const detail::EventEncoder> enc, HarperDestination& d)
    : EventWriter(std::move(enc)), dest_(d), client_(d.url(), d.shown(), d.tls()) {}

// Upserts (or deletes) rows[begin, end) in one request. A refused request is split in halves
// until the refused records are alone; each of those is quarantined when the server still answers
// for the table (the refusal is the record's, not the server's).
void HarperWriter::send(const TableInfo& t, bool del, std::vector<Pending*>& rows, std::size_t begin, std::size_t end,
                        std::vector<Refused>& refused) {
  json::object o = dest_.op(del ? "delete" : "upsert", t.name);
  json::array items;
  items.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i) items.push_back(del ? rows[i]->id : json::value(rows[i]->record));
  o[del ? "ids" : "records"] = std::move(items);
  Reply r = client_.request(o);
  if (r.ok()) return;
  if (transient(r.status))
    throw Error(ErrorKind::Destination, fmt::format("Harper at {} is busy (HTTP {}): {}", dest_.shown(), r.status, r.error()), true,
                "table " + t.source);
  if (end - begin > 1) {
    std::size_t mid = begin + (end - begin) / 2;
    send(t, del, rows, begin, mid, refused);
    send(t, del, rows, mid, end, refused);
    return;
  }
  Reply probe = client_.request(dest_.op("describe_table", t.name));
  if (!probe.ok())
    throw Error(ErrorKind::Destination, fmt::format("Harper at {}: {} in {}.{} failed (HTTP {}): {}", dest_.shown(), del ? "delete" : "upsert",
                                                    dest_.database(), t.name, r.status, r.error()),
                probe.status >= 500, "table " + t.source);
  const Pending& p = *rows[begin];
  refused.push_back({t.name, json::serialize(p.id), fmt::format("HTTP {}: {}", r.status, r.error()),
                     del ? std::string() : json::serialize(p.record), p.op});
}

void HarperWriter::publish(std::vector<EncodedEvent>& events, const std::string& session, const std::vector<CheckpointEntry>& checkpoint) {
  // Each key's last state per table: a batch's events for one key collapse into one upsert (its
  // records merged in order, as Harper merges an upsert into the stored record) or one delete.
  std::map<std::string, TableBatch> batches;
  for (const auto& ev : events) {
    TableInfo info = dest_.table_for(ev.stream);
    TableBatch& b = batches[info.name];
    b.info = info;
    if (ev.op == 't') {
      b.truncate = true;
      b.rows.clear();
      b.order.clear();
      continue;
    }
    json::value key = json::parse(ev.key);
    json::value id;
    if (info.packed) {
      json::array values;
      for (const auto& [k, v] : key.as_object()) values.push_back(v);
      id = json::string(json::serialize(values));
    } else {
      id = key.as_object().at(info.key);
    }
    std::string id_text = json::serialize(id);
    auto [it, fresh] = b.rows.try_emplace(id_text);
    if (fresh) b.order.push_back(id_text);
    Pending& p = it->second;
    p.id = id;
    p.op = ev.op;
    if (ev.op == 'd') {
      p.del = true;
      p.record.clear();
      continue;
    }
    json::value value = json::parse(ev.value);
    json::object& after = value.as_object().at("after").as_object();
    if (p.del || p.record.empty()) p.record = std::move(after);
    else
      for (auto& [k, v] : after) p.record[k] = std::move(v);
    p.del = false;
    if (info.packed) p.record[kKeyAttribute] = id;
  }

  std::vector<Refused> refused;
  for (auto& [name, b] : batches) {
    const TableInfo& t = b.info;
    if (b.truncate) dest_.truncate(client_, t);
    std::vector<Pending*> deletes, upserts;
    for (const auto& id_text : b.order) {
      Pending& p = b.rows.at(id_text);
      (p.del ? deletes : upserts).push_back(&p);
    }
    for (bool del : {true, false}) {
      auto& rows = del ? deletes : upserts;
      for (std::size_t i = 0; i < rows.size();) {
        std::size_t j = i, bytes = 0;
        for (; j < rows.size() && j - i < kBatchRecords && (j == i || bytes < kBatchBytes); ++j)
          if (!del) bytes += json::serialize(rows[j]->record).size();
        send(t, del, rows, i, j, refused);
        i = j;
      }
    }
  }

  if (!refused.empty()) {
    json::array records;
    for (const auto& q : refused) {
      log(LogLevel::Warn, "harper", q.table, fmt::format("record {} refused, kept in {}: {}", q.id, kQuarantine, q.reason));
      records.push_back(json::object{{"id", quarantine_id(q.table, q.id)},
                                     {"table", q.table},
                                     {"key", q.id},
                                     {"op", std::string(1, q.op)},
                                     {"reason", q.reason},
                                     {"record", q.record},
                                     {"session", session},
                                     {"at_ms", detail::now_ms()}});
    }
    json::object o = dest_.op("upsert", kQuarantine);
    o["records"] = std::move(records);
    Reply r = client_.request(o);
    if (!r.ok())
      throw Error(ErrorKind::Destination,
                  fmt::format("Harper at {} refused record {} of table {} ({}) and cannot keep it in {} either: {}", dest_.shown(),
                              refused.front().id, refused.front().table, refused.front().reason, kQuarantine, r.error()),
                  transient(r.status), "table " + refused.front().table);
  }

  // After the data: a crash before this line replays the batch (idempotent upserts and deletes).
  detail::failpoint("harper.before_checkpoint");
  dest_.write_checkpoint(client_, session, checkpoint);
}

}  // namespace

std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url) {
  auto params = url.params;
  detail::SslParams tls = take_tls_params(params, url.redacted());
  detail::reject_unknown_params(params, {"decimal_handling", "ssl-mode", "ssl-ca", "ssl-cert", "ssl-key"}, url);
  detail::EventOptions options = detail::take_event_options(params, url);
  return std::make_shared<HarperDestination>(url, options, std::move(tls));
}

}  // namespace cdc::harper
