// cdc::Position: where a source's change log is, as a value.
// Opaque to the core: produced, compared and understood only by the source connector that made it
// (PostgreSQL LSN, binlog file:offset or GTID, SQLite capture sequence, watermark). It round-trips
// through text, which is how checkpoints store it. Plain value; not synchronised.
#pragma once

#include <cdc/export.h>

#include <string>
#include <utility>

namespace cdc {

class CDC_API Position {
 public:
  Position() = default;
  explicit Position(std::string text) : text_(std::move(text)) {}

  const std::string& str() const noexcept { return text_; }
  bool empty() const noexcept { return text_.empty(); }

  friend bool operator==(const Position& a, const Position& b) { return a.text_ == b.text_; }
  friend bool operator!=(const Position& a, const Position& b) { return a.text_ != b.text_; }

 private:
  std::string text_;
};

}  // namespace cdc
