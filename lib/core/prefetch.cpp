#include "core/prefetch.h"

namespace cdc::detail {

Prefetcher::Prefetcher(RowReader& reader, Prepare prepare, std::size_t depth)
    : reader_(reader), prepare_(std::move(prepare)), spare_(depth < 1 ? 1 : depth) {
  thread_ = std::thread([this] { produce(); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Prefetcher::produce() {
  for (;;) {
    Batch batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return cancelled_ || !spare_.empty(); });
      if (cancelled_) return;
      batch = std::move(spare_.back());
      spare_.pop_back();
    }
    bool more = false;
    std::exception_ptr error;
    try {
      batch.quarantined.clear();
      more = reader_.next(batch.rows);
      if (more && prepare_) prepare_(batch);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (more && !error) {
        ready_.push_back(std::move(batch));
      } else {
        finished_ = true;
        error_ = error;
      }
    }
    cv_.notify_all();
    if (!more || error) return;
  }
}

bool Prefetcher::next(Batch& out) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !ready_.empty() || finished_; });
  if (ready_.empty()) {
    if (error_) std::rethrow_exception(error_);
    return false;
  }
  spare_.push_back(std::move(out));
  out = std::move(ready_.front());
  ready_.pop_front();
  lock.unlock();
  cv_.notify_all();
  return true;
}

}  // namespace cdc::detail
