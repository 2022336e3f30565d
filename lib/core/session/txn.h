// Destination transactions as objects: DestinationTxn begins on construction and rolls back on
// every exit that did not commit (an exception, a stop, an early return), dropping the writer
// so that a connection in an unknown state is never reused. Committer commits data together
// with checkpoint entries where the destination can, and right after it otherwise.
// Used by one thread at a time (like the writer it wraps).
#pragma once

#include <cdc/checkpoint_store.h>
#include <cdc/destination.h>

#include <memory>
#include <string>
#include <vector>

namespace cdc::detail {

class Committer {
 public:
  Committer(std::string session, std::shared_ptr<CheckpointStore> store, bool atomic)
      : session_(std::move(session)), store_(std::move(store)), atomic_(atomic) {}

  // Commits the writer's transaction with `entries`: in it when the store lives in the
  // destination, else just after it (a crash in between replays the batch, which is idempotent).
  void commit(DestinationWriter& writer, const std::vector<CheckpointEntry>& entries) const {
    if (atomic_) {
      writer.commit(session_, entries);
      return;
    }
    writer.commit(session_, {});
    if (!entries.empty()) store_->put(session_, entries);
  }
  // Writes entries outside any data transaction.
  void put(const std::vector<CheckpointEntry>& entries) const {
    if (!entries.empty()) store_->put(session_, entries);
  }
  const std::string& session() const { return session_; }
  CheckpointStore& store() const { return *store_; }
  bool atomic() const { return atomic_; }

 private:
  std::string session_;
  std::shared_ptr<CheckpointStore> store_;
  bool atomic_;
};

class DestinationTxn {
 public:
  // Opens `writer` when it is not open yet and begins a transaction on it.
  DestinationTxn(DestinationConnector& destination, std::unique_ptr<DestinationWriter>& writer) : writer_(writer) {
    if (!writer_) writer_ = destination.open_writer();
    writer_->begin();
  }
  ~DestinationTxn() {
    if (done_ || !writer_) return;
    writer_->rollback();
    writer_.reset();
  }
  DestinationTxn(const DestinationTxn&) = delete;
  DestinationTxn& operator=(const DestinationTxn&) = delete;

  DestinationWriter* operator->() { return writer_.get(); }
  DestinationWriter& writer() { return *writer_; }

  void commit(const Committer& committer, const std::vector<CheckpointEntry>& entries) {
    committer.commit(*writer_, entries);
    done_ = true;
  }
  // Ends the transaction without writing anything (nothing to commit), keeping the writer.
  void rollback() {
    writer_->rollback();
    done_ = true;
  }

 private:
  std::unique_ptr<DestinationWriter>& writer_;
  bool done_ = false;
};

}  // namespace cdc::detail
