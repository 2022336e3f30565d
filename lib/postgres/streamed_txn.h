// StreamedTxn: the changes of one in-progress transaction that pgoutput protocol v2 streams
// before it commits (Stream Start .. Stream Stop blocks). They are kept in an anonymous temp
// file, so memory does not grow with the transaction; an aborted subtransaction cuts the file
// back to where that subtransaction's first change began (as PostgreSQL's own apply worker does);
// at Stream Commit the changes are read back in order. Not thread-safe; owned by one stream.
#pragma once

#include <cdc/change_event.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace cdc::pg {

class StreamedTxn {
 public:
  StreamedTxn();
  ~StreamedTxn();
  StreamedTxn(StreamedTxn&& o) noexcept;
  StreamedTxn& operator=(StreamedTxn&& o) noexcept;
  StreamedTxn(const StreamedTxn&) = delete;
  StreamedTxn& operator=(const StreamedTxn&) = delete;

  // Appends a change made by (sub)transaction `xid`.
  void append(std::uint32_t xid, const ChangeEvent& event);
  // Drops the changes of subtransaction `subxid` and of every subtransaction that began after it.
  void abort_subtransaction(std::uint32_t subxid);
  std::size_t size() const { return count_; }

  // Reading back, after the last append: rewinds, then next() returns false at the end.
  void rewind();
  bool next(ChangeEvent& event);

 private:
  std::FILE* file_ = nullptr;
  std::size_t count_ = 0;
  struct Sub {
    std::uint32_t xid;
    long offset;
    std::size_t count;  // changes before it
  };
  std::vector<Sub> subs_;  // in order of first change
};

}  // namespace cdc::pg
