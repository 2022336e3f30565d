// A throwaway redis-server on loopback for the Redis Streams tests (tests/redis, tests/events), and
// a table rebuilt from its stream (support/event_replay.h). Needs CDC_REDIS_SERVER.
#pragma once

#include "support/event_fixture.h"
#include "support/free_port.h"

#include <catch2/catch.hpp>

#include <hiredis/hiredis.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace cdc_test {

// A throwaway redis-server on loopback, optionally with a password; killed on destruction.
class RedisServer {
 public:
  explicit RedisServer(std::string password = "") : port_(free_port()), password_(std::move(password)) {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string port = std::to_string(port_);
      std::vector<const char*> argv = {CDC_REDIS_SERVER, "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"};
      if (!password_.empty()) {
        argv.push_back("--requirepass");
        argv.push_back(password_.c_str());
      }
      argv.push_back(nullptr);
      std::freopen("/dev/null", "w", stdout);
      ::execv(CDC_REDIS_SERVER, const_cast<char* const*>(argv.data()));
      std::_Exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      redisContext* c = redisConnect("127.0.0.1", port_);
      bool up = c && !c->err;
      if (c) redisFree(c);
      if (up) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    FAIL("redis-server did not start");
  }
  ~RedisServer() {
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
  int port() const { return port_; }
  std::string url(const std::string& params = "") const {
    return "redis://" + (password_.empty() ? "" : ":" + password_ + "@") + "127.0.0.1:" + std::to_string(port_) + "/0" + params;
  }

  // Every entry of a stream in order: (key, value).
  std::vector<std::pair<std::string, std::string>> xrange(const std::string& stream) const {
    redisContext* c = redisConnect("127.0.0.1", port_);
    if (!password_.empty()) freeReplyObject(redisCommand(c, "AUTH %s", password_.c_str()));
    auto* r = static_cast<redisReply*>(redisCommand(c, "XRANGE %s - +", stream.c_str()));
    std::vector<std::pair<std::string, std::string>> out;
    REQUIRE(r->type == REDIS_REPLY_ARRAY);
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* fields = r->element[i]->element[1];
      std::string key, value;
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
        std::string name(fields->element[f]->str, fields->element[f]->len);
        std::string v(fields->element[f + 1]->str, fields->element[f + 1]->len);
        if (name == "key") key = v;
        if (name == "value") value = v;
      }
      out.emplace_back(key, value);
    }
    freeReplyObject(r);
    redisFree(c);
    return out;
  }

  std::vector<std::string> rebuild(const std::string& stream, const std::string& table) const {
    EventReplay r = EventFixture::new_replay();
    for (const auto& [k, v] : xrange(stream)) r.apply(v);
    return r.rows(table);
  }

 private:
  int port_;
  std::string password_;
  pid_t pid_ = -1;
};

}  // namespace cdc_test
