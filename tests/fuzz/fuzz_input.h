// The framing the fuzz targets share: an input is an options byte and then records, each a
// 2-byte little-endian length and that many bytes (a binlog event, a pgoutput message). A record
// whose length runs past the end takes what is left, so every input means something.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cdc::fuzz {

class Records {
 public:
  Records(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}

  // The options byte (0 for an empty input).
  std::uint8_t options() {
    if (n_ == 0) return 0;
    std::uint8_t o = *p_++;
    --n_;
    return o;
  }

  bool next(std::string_view& record) {
    if (n_ < 2) return false;
    std::size_t len = std::size_t(p_[0]) | std::size_t(p_[1]) << 8;
    p_ += 2;
    n_ -= 2;
    if (len > n_) len = n_;
    record = std::string_view(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    n_ -= len;
    return true;
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

}  // namespace cdc::fuzz
