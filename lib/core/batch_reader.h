// A RowReader that connectors fill one row at a time: next() owns the batch bookkeeping
// (reusing the caller's Row objects, stopping at the batch size, remembering the end) so a
// reader only says how to read one row and how to finish its read transaction.
//
// A batch also ends once its values hold kBatchBytes (at least one row): a writer keeps a batch
// two or three times over (the rows, their encoded form, the previous batch's while the server
// loads it), so rows of a few kilobytes at the default 10,000 rows per batch would otherwise cost
// tens of megabytes per copy worker.
#pragma once

#include <cdc/source.h>

#include <algorithm>
#include <cstdint>

namespace cdc::detail {

class BatchRowReader : public RowReader {
 public:
  static constexpr std::size_t kBatchBytes = 8u << 20;

  bool next(std::vector<Row>& batch) final {
    std::size_t count = 0, bytes = 0;
    while (!done_ && static_cast<std::int64_t>(count) < batch_size_ && bytes < kBatchBytes) {
      if (count == batch.size()) batch.emplace_back();
      Row& row = batch[count];
      row.resize(columns_);
      if (!read_row(row)) {
        done_ = true;
        finish();
        break;
      }
      bytes += columns_ * sizeof(Value);
      for (const Value& v : row)
        if (v.has_text()) bytes += v.text().size();
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
