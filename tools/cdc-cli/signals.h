// SignalWatcher: turns SIGINT/SIGTERM (and, when asked, SIGHUP) into calls on an ordinary thread.
// The handlers only write the signal number to a self-pipe (async-signal-safe); a watcher thread
// reads it and calls `on_stop` (e.g. ReplicationSession::stop()) for SIGINT/SIGTERM, or
// `on_reload` for SIGHUP. A second SIGINT/SIGTERM while the first is being handled exits the
// process at once (128 + signal); SIGHUP never counts towards that. Without `on_reload`, SIGHUP
// keeps its previous disposition. The callbacks run on the watcher thread, one at a time (a
// SIGINT arriving during a reload is handled once the reload returns). The previous handlers are
// restored on destruction. Only one watcher may exist at a time.
#pragma once

#include <functional>
#include <thread>

namespace cdc_cli {

class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int)> on_stop, std::function<void()> on_reload = {});
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  void loop();

  std::function<void(int)> on_stop_;
  std::function<void()> on_reload_;
  int pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace cdc_cli
