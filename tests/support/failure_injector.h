// FailureInjector: scripted failures for the test fakes (ScriptedSource, MemoryDestination).
// A test arms a method by name ("poll", "read_chunk", "commit", ...): its next `times` calls throw
// the given cdc::Error before doing anything. Every call is counted, armed or not, so a test can
// also check how often the engine called something (a retry path: one failure, then one more call).
// Thread-safe.
#pragma once

#include <cdc/error.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace cdc_test {

class FailureInjector {
 public:
  // The next `times` calls of `method` throw `error` (added behind failures already armed).
  void fail(const std::string& method, const cdc::Error& error, int times = 1) {
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < times; ++i) armed_[method].push_back(error);
  }
  // Disarms every method (the call counts stay).
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_.clear();
  }
  // Calls of `method` so far, the failed ones included.
  int calls(const std::string& method) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(method);
    return it == calls_.end() ? 0 : it->second;
  }
  // Failures armed for `method` that have not been thrown yet.
  int pending(const std::string& method) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = armed_.find(method);
    return it == armed_.end() ? 0 : static_cast<int>(it->second.size());
  }

  // The `call`-th call of `method` (counting from the calls so far) parks its thread until
  // release(): the engine stands at an exact place while the test does something.
  void park(const std::string& method, int call) {
    std::lock_guard<std::mutex> lock(mu_);
    park_at_[method] = call;
  }
  // Waits up to `seconds` for a thread to be parked in `method`.
  bool parked(const std::string& method, int seconds = 20) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(seconds), [&] { return parked_.count(method) > 0; });
  }
  void release(const std::string& method) {
    std::lock_guard<std::mutex> lock(mu_);
    park_at_.erase(method);
    cv_.notify_all();
  }

  // Called by the fakes at the start of `method`: counts the call, parks or throws when armed.
  void enter(const std::string& method) {
    std::unique_lock<std::mutex> lock(mu_);
    const int call = ++calls_[method];
    if (auto p = park_at_.find(method); p != park_at_.end() && p->second == call) {
      parked_.insert(method);
      cv_.notify_all();
      cv_.wait(lock, [&] { return park_at_.count(method) == 0; });
      parked_.erase(method);
    }
    auto it = armed_.find(method);
    if (it == armed_.end() || it->second.empty()) return;
    cdc::Error error = it->second.front();
    it->second.pop_front();
    lock.unlock();
    throw error;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::deque<cdc::Error>> armed_;
  std::map<std::string, int> calls_;
  std::map<std::string, int> park_at_;
  std::set<std::string> parked_;
  std::condition_variable cv_;
};

// Shorthands for the errors tests inject most.
inline cdc::Error lost_connection(const std::string& what = "connection lost (injected)") {
  return cdc::Error(cdc::ErrorKind::Connection, what, true);
}
inline cdc::Error fatal_error(cdc::ErrorKind kind, const std::string& what = "failed (injected)") {
  return cdc::Error(kind, what, false);
}

}  // namespace cdc_test
