// ReplicationSession: the public facade over the engine (engine.h). It owns the runner and
// reporter threads and turns the engine's outcome into run()/wait()'s result.
#include "core/session/engine.h"

#include "core/logging.h"

#include <cdc/error.h>
#include <cdc/session.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace cdc {

std::string_view to_string(TablePhase phase) {
  switch (phase) {
    case TablePhase::Pending: return "pending";
    case TablePhase::Snapshot: return "snapshot";
    case TablePhase::Streaming: return "streaming";
    case TablePhase::Incremental: return "incremental";
    case TablePhase::Done: return "done";
    case TablePhase::Failed: return "failed";
    case TablePhase::Stopped: return "stopped";
    case TablePhase::Resyncing: return "resyncing";
    case TablePhase::Removed: return "removed";
    case TablePhase::Dropped: return "dropped";
  }
  return "?";
}

std::string_view to_string(SessionState state) {
  switch (state) {
    case SessionState::Idle: return "idle";
    case SessionState::Starting: return "starting";
    case SessionState::Snapshot: return "snapshot";
    case SessionState::Streaming: return "streaming";
    case SessionState::Stopping: return "stopping";
    case SessionState::Finished: return "finished";
    case SessionState::Failed: return "failed";
  }
  return "?";
}

struct ReplicationSession::Impl {
  Impl(Config config, SessionOptions options, std::shared_ptr<SourceConnector> source,
       std::shared_ptr<DestinationConnector> destination)
      : engine(std::move(config), std::move(options), std::move(source), std::move(destination)) {}

  detail::Engine engine;
  std::mutex mu;  // guards the fields below
  std::condition_variable cv;
  std::thread runner;
  std::thread reporter;
  std::exception_ptr failure;
  SessionStatus final_status;
  bool finished = false;
  bool ran = false;

  void reporter_loop() {
    auto& on_progress = engine.options.on_progress;
    std::unique_lock<std::mutex> lock(mu);
    while (!finished) {
      engine.clock->wait(cv, lock, engine.options.progress_interval, [&] { return finished; });
      if (finished) break;
      lock.unlock();
      on_progress(engine.progress.status());
      lock.lock();
    }
  }

  void run_engine() {
    try {
      engine.run();
      std::lock_guard<std::mutex> lock(engine.mu);
      engine.state = SessionState::Finished;
    } catch (const Error& e) {
      std::lock_guard<std::mutex> lock(engine.mu);
      engine.state = SessionState::Failed;
      if (engine.error.empty()) engine.error = e.what();
      failure = std::current_exception();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(engine.mu);
      engine.state = SessionState::Failed;
      if (engine.error.empty()) engine.error = e.what();
      failure = std::make_exception_ptr(Error(ErrorKind::Internal, e.what()));
    }
    engine.request_stop();  // wakes whoever waits for the engine (a reload during a failed start)
    {
      SessionState final_state;
      {
        std::lock_guard<std::mutex> lock(engine.mu);
        final_state = engine.state;
      }
      engine.end_run(final_state);  // before the lease goes: the next run finds this one ended
    }
    engine.lease.reset();   // the next process may take the session over
    auto status = engine.progress.status();
    {
      std::lock_guard<std::mutex> lock(mu);
      final_status = status;
      finished = true;
      cv.notify_all();
    }
    if (engine.options.on_progress) engine.options.on_progress(status);
  }
};

ReplicationSession::ReplicationSession(Config config, SessionOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options), nullptr, nullptr)) {
  validate_config(*impl_->engine.config_);
}

ReplicationSession::ReplicationSession(Config config, std::shared_ptr<SourceConnector> source,
                                       std::shared_ptr<DestinationConnector> destination, SessionOptions options) {
  if (!source || !destination) throw config_error("session", "source and destination connectors must not be null");
  // URLs are only names here; connectors were given.
  if (config.source.empty()) config.source = "custom://" + source->dialect();
  if (config.destination.empty()) config.destination = "custom://" + destination->dialect();
  validate_config(config);
  impl_ = std::make_unique<Impl>(std::move(config), std::move(options), std::move(source), std::move(destination));
}

ReplicationSession::~ReplicationSession() {
  stop();
  if (impl_->runner.joinable()) impl_->runner.join();
  if (impl_->reporter.joinable()) impl_->reporter.join();
}

void ReplicationSession::start() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.ran) throw Error(ErrorKind::State, "a session runs once; create a new ReplicationSession to run again");
    s.ran = true;
    s.finished = false;
  }
  if (s.engine.options.on_progress)
    s.reporter = std::thread([&s] {
      detail::ScopedLogPipeline tag(s.engine.log_name);
      s.reporter_loop();
    });
  s.runner = std::thread([&s] {
    detail::ScopedLogPipeline tag(s.engine.log_name);
    s.run_engine();
  });
}

void ReplicationSession::stop() {
  impl_->engine.stopped_by_user = true;
  impl_->engine.request_stop();
  std::lock_guard<std::mutex> lock(impl_->engine.mu);
  auto& state = impl_->engine.state;
  if (state != SessionState::Finished && state != SessionState::Failed && state != SessionState::Idle) state = SessionState::Stopping;
}

SessionStatus ReplicationSession::wait() {
  if (impl_->runner.joinable()) impl_->runner.join();
  if (impl_->reporter.joinable()) impl_->reporter.join();
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->failure) std::rethrow_exception(impl_->failure);
  return impl_->final_status;
}

SessionStatus ReplicationSession::run() {
  start();
  return wait();
}

bool ReplicationSession::running() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->runner.joinable() && !impl_->finished;
}

void ReplicationSession::pause() {
  std::lock_guard<std::mutex> lock(impl_->engine.mu);
  impl_->engine.paused_all = true;
  impl_->engine.cv.notify_all();
}

void ReplicationSession::resume() {
  std::lock_guard<std::mutex> lock(impl_->engine.mu);
  impl_->engine.paused_all = false;
  impl_->engine.cv.notify_all();
}

void ReplicationSession::pause_table(const std::string& table) { impl_->engine.lifecycle.pause(table); }
void ReplicationSession::resume_table(const std::string& table) { impl_->engine.lifecycle.resume(table); }
void ReplicationSession::stop_table(const std::string& table) { impl_->engine.lifecycle.stop(table); }
void ReplicationSession::resync_table(const std::string& table) { impl_->engine.lifecycle.resync(table); }

void ReplicationSession::reload(Config config) {
  if (!running()) throw Error(ErrorKind::State, "the session is not running: give the new config to a new session");
  {
    // A session still starting takes the new config once its tables are in place.
    detail::Engine& e = impl_->engine;
    std::unique_lock<std::mutex> lock(e.mu);
    e.cv.wait(lock, [&] { return e.opened || e.stopping(); });
    if (!e.opened) throw Error(ErrorKind::State, "the session stopped before it could take the new config");
  }
  impl_->engine.lifecycle.reload(std::move(config));
}

SessionStatus ReplicationSession::status() const { return impl_->engine.progress.status(); }

const Config& ReplicationSession::config() const {
  std::lock_guard<std::mutex> lock(impl_->engine.mu);
  return *impl_->engine.config_;
}

}  // namespace cdc
