// A ChangeStream that reads ahead: a background thread polls the source's stream while the
// session applies the previous batch, so decoding the log and writing the destination overlap
// instead of taking turns. What the session sees is unchanged:
//   - events arrive in the source's order, in batches of at most the size it asked for, filled
//     from what was read ahead (a batch read ahead may be split between two polls), so that the
//     caller's transactions are as large as it allows while the source is ahead;
//   - position() is the position through which events have been handed out (never one of a
//     batch still waiting in the queue), so an idle checkpoint cannot skip queued events;
//   - acknowledge() reaches the source's stream between two of its polls, and once more when the
//     wrapper is destroyed, so the last acknowledgement is never lost;
//   - an error is thrown from poll() after the events read before it have been handed out;
//   - after a batch with a schema change it stops reading until that batch was handed out and
//     poll() is called again: the caller may instead reopen the stream with the new tables, and
//     rows after the change are then read by the new one.
// The inner stream is only ever used by the background thread (and by the destructor after that
// thread has ended), as ChangeStream's one-thread-at-a-time contract asks.
#pragma once

#include <cdc/source.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

namespace cdc::detail {

class PrefetchingStream final : public ChangeStream {
 public:
  // `max_queued_events` bounds what is read ahead (memory), counted in events.
  explicit PrefetchingStream(std::unique_ptr<ChangeStream> inner, std::size_t max_queued_events = 20000);
  ~PrefetchingStream() override;
  PrefetchingStream(const PrefetchingStream&) = delete;
  PrefetchingStream& operator=(const PrefetchingStream&) = delete;

  void poll(std::vector<ChangeEvent>& out, std::size_t max_events, std::chrono::milliseconds timeout) override;
  Position position() const override;
  void acknowledge(const Position& position) override;

 private:
  struct Batch {
    std::vector<ChangeEvent> events;
    Position after;         // the inner stream's position right after these events were read
    std::size_t taken = 0;  // events already handed out (a poll may take part of a batch)
  };
  void run();

  std::unique_ptr<ChangeStream> inner_;
  const std::size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::vector<std::vector<ChangeEvent>> spare_;  // emptied batches, kept for their capacity
  std::size_t queued_events_ = 0;
  std::size_t batch_size_ = 0;  // what the consumer asks for; 0 until its first poll
  Position delivered_;          // position() as the consumer sees it
  Position pending_ack_;        // acknowledged by the consumer, not yet passed on
  bool has_ack_ = false;
  std::chrono::milliseconds inner_wait_{1};  // how long one read of the inner stream may wait
  std::uint64_t polls_started_ = 0;          // reads of the inner stream begun so far
  std::uint64_t empty_poll_ = 0;             // the latest of them that came back empty
  std::exception_ptr error_;
  bool stop_ = false;
  bool held_ = false;      // a schema change is queued or was just handed out: read no further
  bool finished_ = false;  // the reader thread ended (error or stop)
  std::thread thread_;
};

}  // namespace cdc::detail
