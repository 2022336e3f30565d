#include "redis/redis_destination.h"

#include "core/event/event_destination.h"
#include "core/failpoint.h"

#include <cdc/error.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <hiredis/hiredis.h>

#include <initializer_list>
#include <mutex>
#include <string_view>

namespace cdc::redis {

namespace {

namespace json = boost::json;
using detail::EncodedEvent;

struct ContextDeleter {
  void operator()(redisContext* c) const {
    if (c) redisFree(c);
  }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisDestination;

class RedisWriter final : public detail::EventWriter {
 public:
  RedisWriter(std::shared_ptr<const detail::EventEncoder> enc, RedisDestination& d) : EventWriter(std::move(enc)), dest_(d) {}

 protected:
  void publish(std::vector<EncodedEvent>& events, const std::string& session, const std::vector<CheckpointEntry>& checkpoint) override;

 private:
  RedisDestination& dest_;
};

class RedisCheckpointStore;

class RedisDestination final : public detail::EventDestination, public std::enable_shared_from_this<RedisDestination> {
 public:
  RedisDestination(const ConnectorUrl& url, detail::EventOptions options, std::string prefix, long long maxlen)
      : EventDestination(options, std::move(prefix)), url_(url), shown_(url.redacted()), maxlen_(maxlen) {
    if (url.host.empty()) throw config_error("destination", fmt::format("\"{}\": no host (redis://[:PASSWORD@]HOST:PORT/DB)", shown_));
    if (!url.path.empty()) {
      if (url.path.find_first_not_of("0123456789") != std::string::npos)
        throw config_error("destination", fmt::format("\"{}\": database \"{}\" is not a number", shown_, url.path));
      db_ = std::stoi(url.path);
    }
  }

  std::unique_ptr<DestinationWriter> open_writer() override { return std::make_unique<RedisWriter>(encoder(), *this); }
  std::shared_ptr<CheckpointStore> checkpoint_store() override;

  std::string checkpoint_hash() const { return prefix() + ":_cdc_checkpoints"; }

  // MULTI, the XADDs, the checkpoint's HSET/HDEL, EXEC: all or nothing. The commands are written
  // in the protocol's form straight into a buffer that is sent whenever it holds kSendBytes, so the
  // server queues the first XADDs while the rest are formatted (and no copy of the batch is kept).
  void publish(const std::vector<EncodedEvent>& events, const std::string& session, const std::vector<CheckpointEntry>& checkpoint) {
    const std::string prefix = this->prefix();
    const std::string maxlen = maxlen_ > 0 ? std::to_string(maxlen_) : "";
    const std::string hash = checkpoint_hash();
    std::vector<const char*> names;  // each command's name, for the errors
    names.reserve(events.size() + checkpoint.size() + 2);
    std::lock_guard<std::mutex> lock(mu_);
    connect();
    std::string& buf = buf_;
    buf.clear();
    auto add = [&](std::initializer_list<std::string_view> args) {
      names.push_back(args.begin()->data());
      append_command(buf, args);
      if (buf.size() >= kSendBytes) send(buf);
    };
    std::vector<Reply> replies;
    try {
      add({"MULTI"});
      std::string stream;
      for (const auto& ev : events) {
        stream.assign(prefix).append(":").append(ev.stream);
        if (maxlen_ > 0) add({"XADD", stream, "MAXLEN", "~", maxlen, "*", "key", ev.key, "value", ev.value});
        else add({"XADD", stream, "*", "key", ev.key, "value", ev.value});
      }
      for (const auto& e : checkpoint) {
        const std::string field = json::serialize(json::array{json::string(session), json::string(e.key)});
        if (e.value.empty()) add({"HDEL", hash, field});
        else add({"HSET", hash, field, e.value});
      }
      add({"EXEC"});
      send(buf);
      detail::failpoint("redis.before_exec");
      replies = receive(names.size());
    } catch (...) {
      ctx_.reset();  // a transaction sent in part: closing the connection discards it
      throw;
    }
    // Queued commands answer QUEUED; EXEC answers an array of their results (errors included).
    const redisReply* exec = replies.back().get();
    if (exec->type != REDIS_REPLY_ARRAY)
      throw Error(ErrorKind::Destination, fmt::format("{}: the transaction was not executed: {}", shown_, describe(exec)), true, "destination");
    for (std::size_t i = 0; i + 1 < replies.size(); ++i)
      if (replies[i]->type == REDIS_REPLY_ERROR)
        throw Error(ErrorKind::Destination, fmt::format("{}: {} refused: {}", shown_, names[i], replies[i]->str), false, "destination");
    for (std::size_t i = 0; i < exec->elements; ++i)
      if (exec->element[i]->type == REDIS_REPLY_ERROR)
        throw Error(ErrorKind::Destination, fmt::format("{}: {} failed inside the transaction: {}", shown_, names[i + 1],
                                                        exec->element[i]->str),
                    false, "destination");
  }

  std::map<std::string, std::map<std::string, std::string>> read_checkpoints() {
    std::lock_guard<std::mutex> lock(mu_);
    connect();
    const std::string hash = checkpoint_hash();
    std::string buf;
    append_command(buf, {"HGETALL", hash});
    send(buf);
    auto replies = receive(1);
    std::map<std::string, std::map<std::string, std::string>> out;
    const redisReply* r = replies.at(0).get();
    if (r->type != REDIS_REPLY_ARRAY)
      throw Error(ErrorKind::Destination, fmt::format("{}: HGETALL {}: {}", shown_, hash, describe(r)), false, "destination");
    for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
      boost::system::error_code ec;
      json::value k = json::parse(std::string_view(r->element[i]->str, r->element[i]->len), ec);
      if (ec || !k.is_array() || k.as_array().size() != 2) continue;
      out[std::string(k.as_array()[0].as_string())][std::string(k.as_array()[1].as_string())] =
          std::string(r->element[i + 1]->str, r->element[i + 1]->len);
    }
    return out;
  }

 private:
  static std::string describe(const redisReply* r) {
    if (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING) return std::string(r->str, r->len);
    if (r->type == REDIS_REPLY_NIL) return "nil (a watched key changed)";
    return "unexpected reply";
  }

  [[noreturn]] void lost(const std::string& what) {
    std::string why = ctx_ && ctx_->errstr[0] ? ctx_->errstr : "connection lost";
    ctx_.reset();
    throw Error(ErrorKind::Connection, fmt::format("{} Redis at {}: {}", what, shown_, why), true, "destination");
  }

  void connect() {
    if (ctx_) return;
    timeval tv{10, 0};
    ctx_.reset(redisConnectWithTimeout(url_.host.c_str(), url_.port ? url_.port : 6379, tv));
    if (!ctx_ || ctx_->err) lost("cannot connect to");
    redisSetTimeout(ctx_.get(), timeval{60, 0});
    auto simple = [&](std::vector<std::string> args, const char* what) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      Reply r(static_cast<redisReply*>(redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
      if (!r) lost("cannot talk to");
      if (r->type == REDIS_REPLY_ERROR) {
        std::string msg = fmt::format("{} at {} refused: {}", what, shown_, r->str);
        ctx_.reset();
        throw Error(ErrorKind::Connection, msg, false, "destination");
      }
    };
    if (!url_.password.empty()) {
      if (url_.user.empty()) simple({"AUTH", url_.password}, "AUTH");
      else simple({"AUTH", url_.user, url_.password}, "AUTH");
    }
    if (db_ != 0) simple({"SELECT", std::to_string(db_)}, "SELECT");
  }

  // Appends one command in the protocol's form: *N, then each argument as $LEN and its bytes.
  static void append_command(std::string& out, std::initializer_list<std::string_view> args) {
    out += '*';
    out += std::to_string(args.size());
    out += "\r\n";
    for (std::string_view a : args) {
      out += '$';
      out += std::to_string(a.size());
      out += "\r\n";
      out.append(a.data(), a.size());
      out += "\r\n";
    }
  }

  // Writes `buf` (whole commands) to the connection and empties it.
  void send(std::string& buf) {
    if (buf.empty()) return;
    if (redisAppendFormattedCommand(ctx_.get(), buf.data(), buf.size()) != REDIS_OK) lost("cannot send to");
    buf.clear();
    for (int done = 0; !done;)
      if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) lost("cannot send to");
  }

  std::vector<Reply> receive(std::size_t n) {
    std::vector<Reply> replies;
    replies.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      void* r = nullptr;
      if (redisGetReply(ctx_.get(), &r) != REDIS_OK || !r) lost("lost the connection to");
      replies.emplace_back(static_cast<redisReply*>(r));
    }
    return replies;
  }

  static constexpr std::size_t kSendBytes = 1 << 20;

  std::mutex mu_;  // the connection: one command batch at a time
  ConnectorUrl url_;
  std::string shown_;
  long long maxlen_;
  int db_ = 0;
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  std::shared_ptr<RedisCheckpointStore> store_;
  std::string buf_;  // commands not yet sent (kept between batches: its pages stay mapped)
};

class RedisCheckpointStore final : public detail::SessionMapCheckpointStore {
 public:
  explicit RedisCheckpointStore(RedisDestination& d) : dest_(d) {}
  void put(const std::string& session, const std::vector<CheckpointEntry>& entries) override { dest_.publish({}, session, entries); }

 private:
  Sessions read_all() override { return dest_.read_checkpoints(); }
  RedisDestination& dest_;
};

std::shared_ptr<CheckpointStore> RedisDestination::checkpoint_store() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!store_) store_ = std::make_shared<RedisCheckpointStore>(*this);
  return std::shared_ptr<CheckpointStore>(shared_from_this(), store_.get());
}

void RedisWriter::publish(std::vector<EncodedEvent>& events, const std::string& session, const std::vector<CheckpointEntry>& checkpoint) {
  dest_.publish(events, session, checkpoint);
}

}  // namespace

std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url) {
  auto params = url.params;
  detail::EventOptions options = detail::take_event_options(params, url);
  std::string prefix;
  long long maxlen = 0;
  if (auto it = params.find("stream_prefix"); it != params.end()) {
    prefix = it->second;
    if (prefix.empty()) throw config_error("destination", fmt::format("\"{}\": stream_prefix is empty", url.redacted()));
    params.erase(it);
  }
  if (auto it = params.find("maxlen"); it != params.end()) {
    const std::string& v = it->second;
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
      throw config_error("destination", fmt::format("\"{}\": maxlen={} is not a number of entries", url.redacted(), v));
    maxlen = std::stoll(v);
    params.erase(it);
  }
  detail::reject_unknown_params(params, {"stream_prefix", "maxlen", "schemas", "decimal_handling"}, url);
  return std::make_shared<RedisDestination>(url, options, prefix, maxlen);
}

}  // namespace cdc::redis
