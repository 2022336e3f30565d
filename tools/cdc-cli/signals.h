// SignalWatcher: turns SIGINT/SIGTERM into a call on an ordinary thread.
// The handlers only write the signal number to a self-pipe (async-signal-safe); a watcher thread
// reads it and calls `on_signal` (e.g. ReplicationSession::stop()). A second signal while the
// first is being handled exits the process at once (128 + signal). The previous handlers are
// restored on destruction. Only one watcher may exist at a time.
#pragma once

#include <functional>
#include <thread>

namespace cdc_cli {

class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  void loop();

  std::function<void(int)> on_signal_;
  int pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace cdc_cli
