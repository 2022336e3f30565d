// A RowReader that connectors fill one row at a time: next() owns the batch bookkeeping
// (reusing the caller's Row objects, stopping at the batch size, remembering the end) so a
// reader only says how to read one row and how to finish its read transaction.
#pragma once

#include <cdc/source.h>

#include <algorithm>
#include <cstdint>

namespace cdc::detail {

class BatchRowReader : public RowReader {
 public:
  bool next(std::vector<Row>& batch) final {
    std::size_t count = 0;
    while (!done_ && static_cast<std::int64_t>(count) < batch_size_) {
      if (count == batch.size()) batch.emplace_back();
      Row& row = batch[count];
      row.resize(columns_);
      if (!read_row(row)) {
        done_ = true;
        finish();
        break;
      }
      ++count;
    }
    batch.resize(count);
    return count > 0;
  }

 protected:
  BatchRowReader(std::size_t columns, std::int64_t batch_size)
      : columns_(columns), batch_size_(std::max<std::int64_t>(1, batch_size)) {}
  // Reads the next row into `row` (sized to the column count); false at the end of the rows.
  virtual bool read_row(Row& row) = 0;
  // Called once after the last row (commits the reader's transaction).
  virtual void finish() {}
  bool done() const { return done_; }

 private:
  std::size_t columns_;
  std::int64_t batch_size_;
  bool done_ = false;
};

}  // namespace cdc::detail
