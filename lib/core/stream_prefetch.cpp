#include "core/stream_prefetch.h"

#include "core/logging.h"

#include <algorithm>

namespace cdc::detail {

namespace {
// How long one read of the inner stream may wait: bounds how late an acknowledgement or a stop
// is noticed while the source is idle.
constexpr std::chrono::milliseconds kInnerPollWait{100};
}  // namespace

PrefetchingStream::PrefetchingStream(std::unique_ptr<ChangeStream> inner, std::size_t max_queued_events)
    : inner_(std::move(inner)), max_queued_(std::max<std::size_t>(1, max_queued_events)) {
  delivered_ = inner_->position();
  thread_ = std::thread([this, pipeline = log_pipeline()] {
    ScopedLogPipeline tag(pipeline);  // the reader logs for the pipeline that opened it
    run();
  });
}

PrefetchingStream::~PrefetchingStream() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The reader thread is gone: pass on the last acknowledgement ourselves.
  if (has_ack_) {
    try {
      inner_->acknowledge(pending_ack_);
    } catch (...) {
      // A broken stream cannot take it; the position is in the checkpoint anyway.
    }
  }
}

void PrefetchingStream::run() {
  std::vector<ChangeEvent> buf;
  try {
    for (;;) {
      std::size_t want = 0;
      Position ack;
      bool ack_now = false;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || has_ack_ || (batch_size_ > 0 && queued_events_ < max_queued_ && !held_); });
        if (stop_) break;
        if (has_ack_) {
          ack = std::move(pending_ack_);
          has_ack_ = false;
          ack_now = true;
        }
        if (queued_events_ < max_queued_ && !held_) want = batch_size_;
      }
      if (ack_now) inner_->acknowledge(ack);
      if (want == 0) continue;
      std::chrono::milliseconds wait;
      std::uint64_t seq;
      {
        std::lock_guard<std::mutex> lock(mu_);
        wait = inner_wait_;
        seq = ++polls_started_;
        if (buf.capacity() == 0 && !spare_.empty()) {  // reuse a handed-out batch's memory
          buf = std::move(spare_.back());
          spare_.pop_back();
        }
      }
      buf.clear();
      inner_->poll(buf, want, wait);
      Position after = inner_->position();
      bool schema_change =
          std::any_of(buf.begin(), buf.end(), [](const ChangeEvent& e) { return e.schema_change != nullptr; });
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (buf.empty()) {
          empty_poll_ = seq;
          if (queue_.empty()) delivered_ = std::move(after);  // idle: the stream moved on with nothing to hand out
        } else {
          queued_events_ += buf.size();
          queue_.push_back(Batch{std::move(buf), std::move(after), 0});
          buf = {};
        }
        if (schema_change) held_ = true;
      }
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
  }
  cv_.notify_all();
}

void PrefetchingStream::poll(std::vector<ChangeEvent>& out, std::size_t max_events, std::chrono::milliseconds timeout) {
  max_events = std::max<std::size_t>(1, max_events);
  std::unique_lock<std::mutex> lock(mu_);
  if (held_ && queue_.empty()) {
    held_ = false;  // the schema change was handed out and the caller reads on with this stream
    cv_.notify_all();
  }
  inner_wait_ = std::clamp(timeout, std::chrono::milliseconds(1), kInnerPollWait);
  if (batch_size_ != max_events) {
    batch_size_ = max_events;
    cv_.notify_all();
  }
  // Nothing queued after `timeout` means "nothing to read" only once a read of the source that
  // began after this call came back empty: a caller that stops when idle must not stop while the
  // reader thread is still on its way to events already in the log.
  // Such an empty read also ends the wait early: the source has nothing more now (a caller
  // draining a backlog until idle learns it within one read, not after its whole timeout).
  const std::uint64_t entry = polls_started_;
  cv_.wait_for(lock, timeout + kInnerPollWait + std::chrono::seconds(5),
               [&] { return !queue_.empty() || finished_ || empty_poll_ > entry; });
  std::size_t n = 0;
  while (!queue_.empty() && n < max_events) {
    Batch& b = queue_.front();
    const std::size_t take = std::min(max_events - n, b.events.size() - b.taken);
    if (out.empty() && b.taken == 0 && take == b.events.size()) {
      out.swap(b.events);  // a whole read: hand over its vector rather than move every event
    } else {
      const auto first = b.events.begin() + static_cast<std::ptrdiff_t>(b.taken);
      out.insert(out.end(), std::make_move_iterator(first), std::make_move_iterator(first + static_cast<std::ptrdiff_t>(take)));
    }
    n += take;
    b.taken += take;
    queued_events_ -= take;
    if (b.taken < b.events.size()) {
      delivered_ = out.back().position;  // through the last event handed out; the rest stays queued
      break;
    }
    delivered_ = std::move(b.after);
    b.events.clear();
    if (spare_.size() < 2) spare_.push_back(std::move(b.events));
    queue_.pop_front();
  }
  if (n > 0) {
    lock.unlock();
    cv_.notify_all();  // room in the queue again
    return;
  }
  if (error_) std::rethrow_exception(error_);
}

Position PrefetchingStream::position() const {
  std::lock_guard<std::mutex> lock(mu_);
  return delivered_;
}

void PrefetchingStream::acknowledge(const Position& position) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ack_ = position;
    has_ack_ = true;
  }
  cv_.notify_all();
}

}  // namespace cdc::detail
