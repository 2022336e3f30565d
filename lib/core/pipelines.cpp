// Several pipelines in one process: the shared snapshot-worker budget and the runner that keeps
// one ReplicationSession per pipeline (<cdc/pipelines.h>). Each pipeline has a waiter thread that
// collects its session's outcome, so that one pipeline failing is noticed (and, with its
// stop_on_error, stops the others) without the rest waiting on it.
#include "core/logging.h"

#include <cdc/error.h>
#include <cdc/pipelines.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace cdc {

// ---- PipelinesConfig ----

const Config* PipelinesConfig::find(const std::string& name) const {
  for (const auto& c : pipelines)
    if (pipeline_name(c) == name) return &c;
  return nullptr;
}

std::vector<Config> PipelinesConfig::select(const std::vector<std::string>& names) const {
  if (names.empty()) return pipelines;
  std::set<std::string> wanted;
  for (const auto& n : names) {
    if (!find(n)) {
      std::string known;
      for (const auto& c : pipelines) known += (known.empty() ? "" : ", ") + pipeline_name(c);
      throw config_error("--pipeline", fmt::format("no pipeline named \"{}\" (the config has: {})", n, known));
    }
    wanted.insert(n);
  }
  std::vector<Config> out;
  for (const auto& c : pipelines)
    if (wanted.count(pipeline_name(c))) out.push_back(c);
  return out;
}

std::string pipeline_name(const Config& config) { return config.name.empty() ? session_name(config) : config.name; }

// ---- WorkerBudget ----

struct WorkerBudget::State {
  mutable std::mutex mu;
  std::condition_variable cv;
  int slots = 0;
  int in_use = 0;
  int peak = 0;
};

WorkerBudget::WorkerBudget(int slots) : state_(std::make_shared<State>()) { state_->slots = std::max(1, slots); }

bool WorkerBudget::acquire(const std::function<bool()>& cancelled) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mu);
  while (s.in_use >= s.slots) {
    if (cancelled && cancelled()) return false;
    s.cv.wait_for(lock, std::chrono::milliseconds(50));
  }
  if (cancelled && cancelled()) return false;
  s.in_use += 1;
  s.peak = std::max(s.peak, s.in_use);
  return true;
}

void WorkerBudget::release() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->in_use > 0) state_->in_use -= 1;
  }
  state_->cv.notify_one();
}

void WorkerBudget::resize(int slots) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->slots = std::max(1, slots);
  }
  state_->cv.notify_all();
}

int WorkerBudget::slots() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->slots;
}

int WorkerBudget::in_use() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->in_use;
}

int WorkerBudget::peak() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->peak;
}

// ---- PipelineRunner ----

struct PipelineRunner::Impl {
  struct Pipeline {
    std::string name;
    Config config;  // guarded by Impl::mu once started
    std::unique_ptr<ReplicationSession> session;
    std::thread waiter;
    PipelineResult result;
    bool started = false;
    bool done = false;
  };

  PipelinesConfig config;
  PipelineRunnerOptions options;
  std::shared_ptr<WorkerBudget> budget;
  std::mutex reload_mu;  // one reload at a time; taken before mu
  mutable std::mutex mu;  // guards the fields below
  std::condition_variable cv;
  std::vector<std::unique_ptr<Pipeline>> pipelines;  // running and ended, in start order
  std::vector<PipelineResult> removed;               // results of pipelines a reload removed
  bool started = false;
  bool stopping = false;

  std::unique_ptr<Pipeline> make(const Config& c) {
    auto p = std::make_unique<Pipeline>();
    p->name = pipeline_name(c);
    p->config = c;
    SessionOptions so = options.session;
    so.worker_budget = budget;
    p->session = std::make_unique<ReplicationSession>(c, std::move(so));
    p->result.name = p->name;
    return p;
  }

  // Starts `p`'s session and the thread that waits for it (caller does not hold mu).
  void launch(Pipeline& p) {
    if (options.on_added) options.on_added(p.name, *p.session);
    {
      std::lock_guard<std::mutex> lock(mu);
      p.started = true;
    }
    p.session->start();
    p.waiter = std::thread([this, &p] {
      detail::ScopedLogPipeline tag(p.name);
      PipelineResult r;
      r.name = p.name;
      try {
        r.status = p.session->wait();
      } catch (const std::exception& e) {
        r.error = e.what();
        r.status = p.session->status();
      }
      r.failed = !r.error.empty() || r.status.state == SessionState::Failed;
      for (const auto& t : r.status.tables)
        if (t.phase == TablePhase::Failed) r.failed = true;
      if (!r.error.empty())
        log(LogLevel::Error, "pipelines", "", fmt::format("the pipeline failed: {}", r.error));
      bool stop_all;
      {
        std::lock_guard<std::mutex> lock(mu);  // a reload may replace p.config meanwhile
        stop_all = r.failed && p.config.stop_on_error;
        p.result = std::move(r);
        p.done = true;
      }
      cv.notify_all();
      if (stop_all) {
        log(LogLevel::Error, "pipelines", "", "the pipeline failed and has stop_on_error: stopping every pipeline");
        stop_all_sessions();
      }
    });
  }

  void stop_all_sessions() {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
    for (auto& p : pipelines) p->session->stop();
  }

  // Stops, waits for and destroys `p` (caller does not hold mu; `p` is out of `pipelines`).
  PipelineResult retire(std::unique_ptr<Pipeline> p) {
    p->session->stop();
    if (p->waiter.joinable()) p->waiter.join();
    if (options.on_removed) options.on_removed(p->name, *p->session);
    PipelineResult r = p->result;
    if (!p->started) r.status = p->session->status();
    p.reset();
    return r;
  }
};

PipelineRunner::PipelineRunner(PipelinesConfig config, PipelineRunnerOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  if (config.pipelines.empty()) throw config_error("pipelines", "no pipeline to run");
  std::set<std::string> names;
  for (const auto& c : config.pipelines)
    if (!names.insert(pipeline_name(c)).second)
      throw config_error("pipelines", fmt::format("pipeline \"{}\" is given twice", pipeline_name(c)));
  s.options = std::move(options);
  if (config.workers > 0) s.budget = std::make_shared<WorkerBudget>(config.workers);
  for (const auto& c : config.pipelines) s.pipelines.push_back(s.make(c));
  s.config = std::move(config);
}

PipelineRunner::~PipelineRunner() {
  Impl& s = *impl_;
  s.stop_all_sessions();
  std::vector<std::unique_ptr<Impl::Pipeline>> all;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    all.swap(s.pipelines);
  }
  for (auto& p : all) s.retire(std::move(p));
}

void PipelineRunner::start() {
  Impl& s = *impl_;
  std::vector<Impl::Pipeline*> todo;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.started) throw Error(ErrorKind::State, "the pipelines run once; create a new PipelineRunner to run them again");
    s.started = true;
    for (auto& p : s.pipelines) todo.push_back(p.get());
  }
  for (auto* p : todo) s.launch(*p);
}

void PipelineRunner::stop() { impl_->stop_all_sessions(); }

std::vector<PipelineResult> PipelineRunner::wait() {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.mu);
  s.cv.wait(lock, [&] {
    return std::all_of(s.pipelines.begin(), s.pipelines.end(), [](const auto& p) { return p->done || !p->started; });
  });
  std::vector<PipelineResult> out = s.removed;
  for (auto& p : s.pipelines) out.push_back(p->result);
  return out;
}

std::vector<PipelineResult> PipelineRunner::run() {
  start();
  return wait();
}

std::string PipelineRunner::reload(PipelinesConfig config, const std::vector<std::string>& only) {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> reload_lock(s.reload_mu);
  auto selected = [&](const std::string& name) {
    return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
  };
  if (s.budget && config.workers > 0) s.budget->resize(config.workers);

  std::vector<std::unique_ptr<Impl::Pipeline>> gone;
  std::vector<std::pair<Impl::Pipeline*, const Config*>> kept;
  std::vector<const Config*> fresh;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stopping) throw Error(ErrorKind::State, "the pipelines are stopping");
    for (auto it = s.pipelines.begin(); it != s.pipelines.end();) {
      const Config* next = config.find((*it)->name);
      if (!next && selected((*it)->name)) {
        gone.push_back(std::move(*it));
        it = s.pipelines.erase(it);
      } else {
        if (next) kept.emplace_back(it->get(), next);
        ++it;
      }
    }
    for (const auto& c : config.pipelines) {
      std::string name = pipeline_name(c);
      bool running = std::any_of(s.pipelines.begin(), s.pipelines.end(), [&](const auto& p) { return p->name == name; });
      if (!running && selected(name)) fresh.push_back(&c);
    }
  }
  std::vector<std::string> added, removed, reloaded, refused;
  for (auto& p : gone) {
    std::string name = p->name;
    PipelineResult r = s.retire(std::move(p));
    r.removed = true;
    std::lock_guard<std::mutex> lock(s.mu);
    s.removed.push_back(std::move(r));
    removed.push_back(name);
  }
  for (auto& [p, next] : kept) {
    bool ended;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      ended = p->done;
    }
    if (ended) continue;  // a copy that finished or a pipeline that failed: nothing to reload
    try {
      p->session->reload(*next);
      {
        std::lock_guard<std::mutex> lock(s.mu);
        p->config = *next;
      }
      reloaded.push_back(p->name);
    } catch (const std::exception& e) {
      refused.push_back(fmt::format("pipeline {}: {}", p->name, e.what()));
    }
  }
  for (const Config* c : fresh) {
    std::unique_ptr<Impl::Pipeline> p;
    try {
      p = s.make(*c);
    } catch (const std::exception& e) {
      refused.push_back(fmt::format("pipeline {}: {}", pipeline_name(*c), e.what()));
      continue;
    }
    Impl::Pipeline* raw = p.get();
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.pipelines.push_back(std::move(p));
    }
    s.launch(*raw);
    added.push_back(raw->name);
  }
  auto list = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
    return out.empty() ? std::string("none") : out;
  };
  std::string summary = fmt::format("pipelines added: {}; removed: {}; reloaded: {}", list(added), list(removed), list(reloaded));
  if (!refused.empty()) {
    std::string why;
    for (const auto& r : refused) why += (why.empty() ? "" : "; ") + r;
    throw Error(ErrorKind::Config, fmt::format("{} ({} applied); not applied: {}", summary, added.size() + removed.size() + reloaded.size(), why));
  }
  s.config = std::move(config);
  return summary;
}

std::vector<std::pair<std::string, SessionStatus>> PipelineRunner::status() const {
  const Impl& s = *impl_;
  std::vector<std::pair<std::string, SessionStatus>> out;
  std::lock_guard<std::mutex> lock(s.mu);
  for (const auto& p : s.pipelines) out.emplace_back(p->name, p->session->status());
  return out;
}

std::vector<std::string> PipelineRunner::names() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& p : impl_->pipelines) out.push_back(p->name);
  return out;
}

std::shared_ptr<WorkerBudget> PipelineRunner::worker_budget() const { return impl_->budget; }

}  // namespace cdc
