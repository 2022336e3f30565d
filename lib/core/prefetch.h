// Reads a chunk's batches on a thread of their own, up to `depth` batches ahead of the writer,
// so the source produces (and the session converts) the next batch while the destination
// writes this one. Batches circulate between the two threads and are reused, so rows keep their
// allocations as they do with a plain reader.
#pragma once

#include <cdc/destination.h>
#include <cdc/source.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cdc::detail {

struct Batch {
  std::vector<Row> rows;
  std::vector<QuarantinedRow> quarantined;
};

class Prefetcher {
 public:
  // `prepare` runs on the reading thread for every batch (conversion, quarantine).
  using Prepare = std::function<void(Batch&)>;

  Prefetcher(RowReader& reader, Prepare prepare, std::size_t depth = 2);
  // Stops reading (after the batch being read, if any) and joins the thread.
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Swaps the next prepared batch into `out` (whose old contents are recycled). False after the
  // last batch; rethrows what the reader or `prepare` threw, in the caller's thread.
  bool next(Batch& out);

 private:
  void produce();

  RowReader& reader_;
  Prepare prepare_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> ready_;
  std::vector<Batch> spare_;
  bool finished_ = false;
  bool cancelled_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace cdc::detail
