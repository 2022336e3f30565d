#include "kafka/kafka_destination.h"

#include "core/event/event_destination.h"
#include "core/failpoint.h"
#include "core/logging.h"

#include <cdc/error.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace cdc::kafka {

namespace {

namespace json = boost::json;
using detail::EncodedEvent;

constexpr int kTimeoutMs = 30000;
constexpr int kConnectTimeoutMs = 10000;

// The properties cdc sets itself; a URL may not override them.
const std::set<std::string> kOwnProperties = {"bootstrap.servers", "enable.idempotence", "transactional.id", "dr_msg_cb"};
const std::set<std::string> kCdcParams = {"topic_prefix", "schemas", "decimal_handling", "tombstones"};

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const {
    if (rk) rd_kafka_destroy(rk);
  }
};
using Handle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const {
    if (t) rd_kafka_topic_destroy(t);
  }
};
using TopicHandle = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;

struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const {
    if (e) rd_kafka_error_destroy(e);
  }
};
using KError = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

bool is_connection_error(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
         e == RD_KAFKA_RESP_ERR__RESOLVE || e == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE;
}

// Counts failed deliveries of the messages of one publish (the message's opaque points at it).
struct Delivery {
  std::atomic<int> failed{0};
  std::string first_error;
  std::mutex mu;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (!m->_private || m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* d = static_cast<Delivery*>(m->_private);
  std::lock_guard<std::mutex> lock(d->mu);
  if (d->failed++ == 0)
    d->first_error = fmt::format("{} (topic {})", rd_kafka_err2str(m->err), m->rkt ? rd_kafka_topic_name(m->rkt) : "?");
}

class KafkaDestination;

class KafkaWriter final : public detail::EventWriter {
 public:
  KafkaWriter(std::shared_ptr<const detail::EventEncoder> enc, KafkaDestination& d) : EventWriter(std::move(enc)), dest_(d) {}

 protected:
  void publish(std::vector<EncodedEvent>& events, const std::string& session, const std::vector<CheckpointEntry>& checkpoint) override;

 private:
  KafkaDestination& dest_;
};

class KafkaCheckpointStore;

class KafkaDestination final : public detail::EventDestination, public std::enable_shared_from_this<KafkaDestination> {
 public:
  KafkaDestination(const ConnectorUrl& url, detail::EventOptions options, std::string prefix, bool tombstones,
                   std::map<std::string, std::string> properties)
      : EventDestination(options, std::move(prefix)),
        shown_(url.redacted()),
        tombstones_(tombstones),
        properties_(std::move(properties)) {
    for (const auto& h : url.hosts) servers_ += (servers_.empty() ? "" : ",") + h;
    if (servers_.empty()) throw config_error("destination", fmt::format("\"{}\": no broker address (kafka://HOST:PORT[,HOST:PORT...])", shown_));
    // Checked now, so a misspelt property fails before anything runs.
    rd_kafka_conf_t* conf = make_conf(false, "");
    rd_kafka_conf_destroy(conf);
  }

  std::unique_ptr<DestinationWriter> open_writer() override { return std::make_unique<KafkaWriter>(encoder(), *this); }
  std::shared_ptr<CheckpointStore> checkpoint_store() override;

  // Writes the events and then (or, with transactions, together with them) the checkpoint.
  void publish(const std::vector<EncodedEvent>& events, const std::string& session, const std::vector<CheckpointEntry>& checkpoint) {
    std::lock_guard<std::mutex> lock(mu_);
    connect();
    const std::string prefix = this->prefix();
    Delivery delivery;
    if (transactional_) {
      if (KError e{rd_kafka_begin_transaction(rk_.get())}) fail_txn(e.get(), "begin a transaction");
      try {
        for (const auto& ev : events) produce_event(prefix, ev, &delivery);
        produce_checkpoint(prefix, session, checkpoint, &delivery);
      } catch (...) {
        KError abort{rd_kafka_abort_transaction(rk_.get(), kTimeoutMs)};
        throw;
      }
      detail::failpoint("kafka.before_commit");
      if (KError e{rd_kafka_commit_transaction(rk_.get(), kTimeoutMs)}) {
        if (rd_kafka_error_txn_requires_abort(e.get())) KError abort{rd_kafka_abort_transaction(rk_.get(), kTimeoutMs)};
        fail_txn(e.get(), "commit a transaction");
      }
      return;
    }
    for (const auto& ev : events) produce_event(prefix, ev, &delivery);
    await(delivery, "events");
    detail::failpoint("kafka.before_commit");
    produce_checkpoint(prefix, session, checkpoint, &delivery);
    await(delivery, "checkpoint");
  }

  // The committed checkpoint entries of every session (latest value per key, tombstones erase).
  std::map<std::string, std::map<std::string, std::string>> read_checkpoints() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      connect();  // a transactional producer first aborts what a crashed predecessor left open
    }
    const std::string topic = prefix() + ".cdc_checkpoints";
    rd_kafka_conf_t* conf = make_conf(true, "");
    char err[512];
    rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof err);  // at the end of a partition, say so at once
    rd_kafka_conf_set(conf, "group.id", ("cdc-checkpoint-reader-" + topic).c_str(), err, sizeof err);
    Handle c(rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err));
    if (!c) throw Error(ErrorKind::Config, fmt::format("{}: cannot create a consumer: {}", shown_, err), false, "destination");
    int partitions = partition_count(c.get(), topic, false);
    std::map<std::string, std::map<std::string, std::string>> out;
    if (partitions <= 0) return out;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p)
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    std::set<int> done;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
    while (static_cast<int>(done.size()) < partitions) {
      if (std::chrono::steady_clock::now() > deadline)
        throw Error(ErrorKind::Connection, fmt::format("{}: timed out reading the checkpoints in topic {}", shown_, topic), true,
                    "destination");
      rd_kafka_message_t* m = rd_kafka_consumer_poll(c.get(), 200);
      if (!m) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        done.insert(m->partition);
      } else if (m->err) {
        std::string what = rd_kafka_message_errstr(m);
        auto code = m->err;
        rd_kafka_message_destroy(m);
        if (code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return out;
        throw Error(ErrorKind::Connection, fmt::format("{}: reading topic {}: {}", shown_, topic, what), true, "destination");
      } else if (m->key) {
        boost::system::error_code ec;
        json::value k = json::parse(std::string_view(static_cast<const char*>(m->key), m->key_len), ec);
        if (!ec && k.is_array() && k.as_array().size() == 2 && k.as_array()[0].is_string() && k.as_array()[1].is_string()) {
          std::string session(k.as_array()[0].as_string()), key(k.as_array()[1].as_string());
          if (m->payload) out[session][key] = std::string(static_cast<const char*>(m->payload), m->len);
          else out[session].erase(key);
        }
      }
      if (m) rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c.get());
    return out;
  }

  void put_checkpoint(const std::string& session, const std::vector<CheckpointEntry>& entries) { publish({}, session, entries); }

 private:
  rd_kafka_conf_t* make_conf(bool consumer, const std::string& transactional_id) const {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    auto set = [&](const std::string& k, const std::string& v, bool user) {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        if (user)
          throw config_error("destination", fmt::format("\"{}\": parameter {}: {} (parameters other than {} are librdkafka "
                                                        "properties)",
                                                        shown_, k, err, "topic_prefix, schemas, decimal_handling, tombstones"));
        throw Error(ErrorKind::Internal, fmt::format("{}: {}={}: {}", shown_, k, v, err));
      }
    };
    set("bootstrap.servers", servers_, false);
    if (!consumer) {
      set("enable.idempotence", "true", false);
      if (!transactional_id.empty()) set("transactional.id", transactional_id, false);
      rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    }
    for (const auto& [k, v] : properties_) {
      // Producer properties mean nothing to the checkpoint reader (and librdkafka warns about them).
      if (consumer && (k == "acks" || k == "compression.type" || k == "linger.ms" || k == "batch.size" ||
                       k == "message.timeout.ms" || k == "queue.buffering.max.messages" || k == "queue.buffering.max.kbytes" ||
                       k == "compression.codec" || k == "batch.num.messages" || k == "request.required.acks"))
        continue;
      set(k, v, true);
    }
    return conf;
  }

  // Opens the producer once: transactional when the cluster supports it, else idempotent only.
  void connect() {
    if (rk_) return;
    const std::string txn_id = "cdc-" + source_info().session;
    char err[512];
    Handle rk(rd_kafka_new(RD_KAFKA_PRODUCER, make_conf(false, txn_id), err, sizeof err));
    if (!rk) throw config_error("destination", fmt::format("\"{}\": {}", shown_, err));
    // Reachable at all? A broker that does not answer is a connection error, retried.
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t merr = rd_kafka_metadata(rk.get(), 0, nullptr, &md, kConnectTimeoutMs);
    if (merr) {
      throw Error(ErrorKind::Connection, fmt::format("cannot reach the Kafka cluster at {}: {}", shown_, rd_kafka_err2str(merr)), true,
                  "destination");
    }
    rd_kafka_metadata_destroy(md);
    KError e{rd_kafka_init_transactions(rk.get(), kTimeoutMs)};
    if (!e) {
      rk_ = std::move(rk);
      transactional_ = true;
      create_checkpoint_topic();
      return;
    }
    if (is_connection_error(rd_kafka_error_code(e.get())))
      throw Error(ErrorKind::Connection, fmt::format("{}: cannot start transactions: {}", shown_, rd_kafka_error_string(e.get())), true,
                  "destination");
    detail::logf(LogLevel::Warn, "kafka", "",
                 "{}: the cluster does not take transactions ({}): checkpoints are written after the events are acknowledged "
                 "(at least once: a crash may repeat the last batch)",
                 shown_, rd_kafka_error_string(e.get()));
    rk.reset();
    rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, make_conf(false, ""), err, sizeof err));
    if (!rk_) throw config_error("destination", fmt::format("\"{}\": {}", shown_, err));
    transactional_ = false;
    create_checkpoint_topic();
  }

  // `<prefix>.cdc_checkpoints` as a compacted topic (if it is missing); where the cluster refuses,
  // it is left to auto-creation, and a warning says so.
  void create_checkpoint_topic() {
    const std::string topic = prefix() + ".cdc_checkpoints";
    if (topic_exists(topic)) return;
    char err[512];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), 1, -1, err, sizeof err);
    if (!nt) return;
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk_.get());
    rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(options, kConnectTimeoutMs / 2, err, sizeof err);
    rd_kafka_CreateTopics(rk_.get(), &nt, 1, options, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, kConnectTimeoutMs);
    rd_kafka_AdminOptions_destroy(options);
    std::string problem;
    if (!ev) {
      problem = "no answer";
    } else {
      const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
      if (rd_kafka_event_error(ev)) {
        problem = rd_kafka_event_error_string(ev);
      } else if (res) {
        size_t n = 0;
        const rd_kafka_topic_result_t** r = rd_kafka_CreateTopics_result_topics(res, &n);
        for (size_t i = 0; i < n; ++i)
          if (rd_kafka_topic_result_error(r[i]) && rd_kafka_topic_result_error(r[i]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            problem = rd_kafka_err2str(rd_kafka_topic_result_error(r[i]));
      }
      rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    if (!problem.empty())
      detail::logf(LogLevel::Warn, "kafka", "", "{}: could not create the compacted topic {} ({}); it is auto-created", shown_, topic,
                   problem);
  }

  bool topic_exists(const std::string& topic) {
    const rd_kafka_metadata_t* md = nullptr;
    bool exists = false;
    // Only known topics: asking for one by name would auto-create it (without compaction).
    if (rd_kafka_metadata(rk_.get(), 1, nullptr, &md, kConnectTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < md->topic_cnt; ++i)
        if (topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) exists = true;
      rd_kafka_metadata_destroy(md);
    }
    return exists;
  }

  [[noreturn]] void fail_txn(rd_kafka_error_t* e, const char* what) {
    std::string msg = fmt::format("{}: cannot {}: {}", shown_, what, rd_kafka_error_string(e));
    if (rd_kafka_error_is_fatal(e)) {
      topics_.clear();
      rk_.reset();  // fenced by a newer producer of the session, or broken: a new one next time
      throw Error(ErrorKind::Destination, msg, false, "destination");
    }
    throw Error(is_connection_error(rd_kafka_error_code(e)) ? ErrorKind::Connection : ErrorKind::Destination, msg, true, "destination");
  }

  int partition_count(rd_kafka_t* rk, const std::string& topic, bool create) {
    if (auto it = partitions_.find(topic); it != partitions_.end() && !create) return it->second;
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    int n = -1;
    for (int attempt = 0; attempt < 50 && n <= 0; ++attempt) {
      if (rd_kafka_metadata(rk, 0, t, &md, kConnectTimeoutMs) != RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) n = md->topics[0].partition_cnt;
      bool unknown = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
      rd_kafka_metadata_destroy(md);
      if (unknown && !create) break;
      if (n <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    rd_kafka_topic_destroy(t);
    if (n > 0 && rk == rk_.get()) partitions_[topic] = n;
    return n;
  }

  // The producer's handle of `topic`, kept: naming the topic in each message would have librdkafka
  // look it up by name (under its lock) for every one.
  rd_kafka_topic_t* topic_handle(const std::string& topic) {
    auto it = topics_.find(topic);
    if (it != topics_.end()) return it->second.get();
    TopicHandle t(rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr));
    if (!t)
      throw Error(ErrorKind::Destination, fmt::format("{}: cannot use topic {}: {}", shown_, topic, rd_kafka_err2str(rd_kafka_last_error())),
                  true, "topic " + topic);
    return topics_.emplace(topic, std::move(t)).first->second.get();
  }

  void produce(const std::string& topic, int partition, const std::string* key, const std::string* value, Delivery* d) {
    rd_kafka_topic_t* rkt = topic_handle(topic);
    for (;;) {
      // rd_kafka_produceva: the RD_KAFKA_V_* macros of rd_kafka_producev are GNU statement expressions.
      rd_kafka_vu_t vu[6];
      vu[0].vtype = RD_KAFKA_VTYPE_RKT;
      vu[0].u.rkt = rkt;
      vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
      vu[1].u.i32 = partition;
      vu[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
      vu[2].u.i = RD_KAFKA_MSG_F_COPY;
      vu[3].vtype = RD_KAFKA_VTYPE_KEY;
      vu[3].u.mem.ptr = key ? const_cast<char*>(key->data()) : nullptr;
      vu[3].u.mem.size = key ? key->size() : 0;
      vu[4].vtype = RD_KAFKA_VTYPE_VALUE;
      vu[4].u.mem.ptr = value ? const_cast<char*>(value->data()) : nullptr;
      vu[4].u.mem.size = value ? value->size() : 0;
      vu[5].vtype = RD_KAFKA_VTYPE_OPAQUE;
      vu[5].u.ptr = d;
      KError produced{rd_kafka_produceva(rk_.get(), vu, 6)};
      rd_kafka_resp_err_t err = produced ? rd_kafka_error_code(produced.get()) : RD_KAFKA_RESP_ERR_NO_ERROR;
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk_.get(), 50);
        continue;
      }
      if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && value) {
        // Never dropped silently: the key and the reason go to the quarantine topic.
        json::object q{{"topic", topic},
                       {"key", key ? json::value(*key) : json::value(nullptr)},
                       {"reason", fmt::format("message of {} bytes is over message.max.bytes", value->size())}};
        const std::string text = json::serialize(q);
        detail::logf(LogLevel::Error, "kafka", "", "{}: a message of {} bytes for topic {} is too large; kept in {}._cdc_quarantine",
                     shown_, value->size(), topic, prefix());
        produce(prefix() + "._cdc_quarantine", RD_KAFKA_PARTITION_UA, key, &text, d);
        return;
      }
      throw Error(is_connection_error(err) ? ErrorKind::Connection : ErrorKind::Destination,
                  fmt::format("{}: cannot produce to topic {}: {}", shown_, topic, rd_kafka_err2str(err)), true, "topic " + topic);
    }
  }

  void produce_event(const std::string& prefix, const EncodedEvent& ev, Delivery* d) {
    std::string& topic = topic_name_;  // reused: no allocation per event
    topic.assign(prefix).append(".").append(ev.stream);
    if (ev.op == 't') {
      // Every partition gets the truncate: each key's consumer sees it in order with that key's events.
      int n = partition_count(rk_.get(), topic, true);
      if (n <= 0) throw Error(ErrorKind::Destination, fmt::format("{}: topic {} has no partitions", shown_, topic), true, "topic " + topic);
      for (int p = 0; p < n; ++p) produce(topic, p, nullptr, &ev.value, d);
      return;
    }
    produce(topic, RD_KAFKA_PARTITION_UA, &ev.key, &ev.value, d);
    if (ev.op == 'd' && tombstones_) produce(topic, RD_KAFKA_PARTITION_UA, &ev.key, nullptr, d);
  }

  void produce_checkpoint(const std::string& prefix, const std::string& session, const std::vector<CheckpointEntry>& entries,
                          Delivery* d) {
    const std::string topic = prefix + ".cdc_checkpoints";
    for (const auto& e : entries) {
      const std::string key = json::serialize(json::array{json::string(session), json::string(e.key)});
      produce(topic, RD_KAFKA_PARTITION_UA, &key, e.value.empty() ? nullptr : &e.value, d);
    }
  }

  // Waits for every delivery report; any failure fails the publish (retried by the session).
  void await(Delivery& d, const char* what) {
    rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), kTimeoutMs);
    if (err)
      throw Error(ErrorKind::Connection, fmt::format("{}: {} not acknowledged: {}", shown_, what, rd_kafka_err2str(err)), true,
                  "destination");
    if (d.failed > 0)
      throw Error(ErrorKind::Destination, fmt::format("{}: {} of the {} were not delivered: {}", shown_, d.failed.load(), what, d.first_error),
                  true, "destination");
  }

  std::mutex mu_;  // one publish at a time (one transactional producer)
  std::string shown_;
  std::string servers_;
  bool tombstones_;
  std::map<std::string, std::string> properties_;
  Handle rk_;
  std::map<std::string, TopicHandle> topics_;  // of rk_ (declared after it: destroyed before it)
  std::string topic_name_;
  bool transactional_ = false;
  std::map<std::string, int> partitions_;
  std::shared_ptr<KafkaCheckpointStore> store_;
};

// Checkpoints in the compacted topic `<prefix>.cdc_checkpoints`: key ["session", "key"], value the
// entry (a tombstone erases it). No lease: a second producer of the same session fences the first
// through its transactional id.
class KafkaCheckpointStore final : public detail::SessionMapCheckpointStore {
 public:
  explicit KafkaCheckpointStore(KafkaDestination& d) : dest_(d) {}
  void put(const std::string& session, const std::vector<CheckpointEntry>& entries) override { dest_.put_checkpoint(session, entries); }

 private:
  Sessions read_all() override { return dest_.read_checkpoints(); }
  KafkaDestination& dest_;
};

std::shared_ptr<CheckpointStore> KafkaDestination::checkpoint_store() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!store_) store_ = std::make_shared<KafkaCheckpointStore>(*this);
  // The store points into this destination: keep the destination alive as long as the store.
  return std::shared_ptr<CheckpointStore>(shared_from_this(), store_.get());
}

void KafkaWriter::publish(std::vector<EncodedEvent>& events, const std::string& session, const std::vector<CheckpointEntry>& checkpoint) {
  dest_.publish(events, session, checkpoint);
}

}  // namespace

std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url) {
  auto params = url.params;
  detail::EventOptions options = detail::take_event_options(params, url);
  std::string prefix;
  bool tombstones = true;
  if (auto it = params.find("topic_prefix"); it != params.end()) {
    prefix = it->second;
    if (prefix.empty()) throw config_error("destination", fmt::format("\"{}\": topic_prefix is empty", url.redacted()));
    params.erase(it);
  }
  if (auto it = params.find("tombstones"); it != params.end()) {
    tombstones = detail::bool_param(it->second, "tombstones", url);
    params.erase(it);
  }
  for (const auto& [k, v] : params)
    if (kOwnProperties.count(k))
      throw config_error("destination", fmt::format("\"{}\": parameter {} is set by cdc and cannot be given", url.redacted(), k));
  return std::make_shared<KafkaDestination>(url, options, prefix, tombstones, params);
}

}  // namespace cdc::kafka
