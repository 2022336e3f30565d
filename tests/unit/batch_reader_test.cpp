// BatchRowReader: batches end at the batch size, at the end of the rows, or once their values hold
// kBatchBytes (so that wide rows do not multiply a copy worker's memory), never before one row.
#include "core/batch_reader.h"

#include <catch2/catch.hpp>

namespace {

// `rows` rows of an id and a text of `width` bytes.
class Reader final : public cdc::detail::BatchRowReader {
 public:
  Reader(int rows, std::size_t width, std::int64_t batch_size) : BatchRowReader(2, batch_size), rows_(rows), width_(width) {}
  int finished = 0;

 protected:
  bool read_row(cdc::Row& row) override {
    if (next_ == rows_) return false;
    row[0] = cdc::Value::int64(next_++);
    row[1].assign_text(cdc::ValueKind::String, std::string(width_, 'x'));
    return true;
  }
  void finish() override { ++finished; }

 private:
  int rows_, next_ = 0;
  std::size_t width_;
};

std::vector<std::size_t> batch_sizes(Reader& r) {
  std::vector<std::size_t> sizes;
  std::vector<cdc::Row> batch;
  while (r.next(batch)) sizes.push_back(batch.size());
  return sizes;
}

}  // namespace

TEST_CASE("batch reader: batches end at the batch size, at the end, or at the byte budget", "[unit][reader]") {
  constexpr std::size_t kBudget = cdc::detail::BatchRowReader::kBatchBytes;
  SECTION("narrow rows: the batch size decides") {
    Reader r(25, 10, 10);
    CHECK(batch_sizes(r) == std::vector<std::size_t>{10, 10, 5});
    CHECK(r.finished == 1);
  }
  SECTION("wide rows: the byte budget decides") {
    Reader r(10, kBudget / 4, 10000);  // four rows reach the budget
    CHECK(batch_sizes(r) == std::vector<std::size_t>{4, 4, 2});
  }
  SECTION("a row larger than the budget is a batch of its own") {
    Reader r(3, kBudget * 2, 10000);
    CHECK(batch_sizes(r) == std::vector<std::size_t>{1, 1, 1});
    CHECK(r.finished == 1);
  }
}
