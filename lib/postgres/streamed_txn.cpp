// StreamedTxn: see streamed_txn.h. Record layout (native byte order; the file never leaves the
// process): u32 length, then op, table schema and name, before row, after row, unchanged mask.
#include "postgres/streamed_txn.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include <unistd.h>

namespace cdc::pg {

namespace {

void put_u32(std::string& b, std::uint32_t v) { b.append(reinterpret_cast<const char*>(&v), sizeof v); }
void put_u64(std::string& b, std::uint64_t v) { b.append(reinterpret_cast<const char*>(&v), sizeof v); }
void put_str(std::string& b, const std::string& s) {
  put_u32(b, static_cast<std::uint32_t>(s.size()));
  b += s;
}

void put_value(std::string& b, const Value& v) {
  b += static_cast<char>(v.kind());
  switch (v.kind()) {
    case ValueKind::Null: return;
    case ValueKind::Bool: b += v.as_bool() ? '\1' : '\0'; return;
    case ValueKind::Int: put_u64(b, static_cast<std::uint64_t>(v.as_int())); return;
    case ValueKind::UInt: put_u64(b, v.as_uint()); return;
    case ValueKind::Double: {
      double d = v.as_double();
      std::uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      put_u64(b, bits);
      return;
    }
    default: put_str(b, v.text());
  }
}

void put_row(std::string& b, const Row& r) {
  put_u32(b, static_cast<std::uint32_t>(r.size()));
  for (const auto& v : r) put_value(b, v);
}

class Cursor {
 public:
  explicit Cursor(const std::string& b) : b_(b) {}
  std::uint32_t u32() {
    std::uint32_t v;
    take(&v, sizeof v);
    return v;
  }
  std::uint64_t u64() {
    std::uint64_t v;
    take(&v, sizeof v);
    return v;
  }
  char byte() {
    char c;
    take(&c, 1);
    return c;
  }
  std::string str() {
    std::uint32_t n = u32();
    if (b_.size() - p_ < n) bad();
    std::string s = b_.substr(p_, n);
    p_ += n;
    return s;
  }
  Value value() {
    auto kind = static_cast<ValueKind>(byte());
    switch (kind) {
      case ValueKind::Null: return Value();
      case ValueKind::Bool: return Value::boolean(byte() != 0);
      case ValueKind::Int: return Value::int64(static_cast<std::int64_t>(u64()));
      case ValueKind::UInt: return Value::uint64(u64());
      case ValueKind::Double: {
        std::uint64_t bits = u64();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return Value::float64(d);
      }
      default: return Value::of_text(kind, str());
    }
  }
  Row row() {
    Row r(u32());
    for (auto& v : r) v = value();
    return r;
  }

 private:
  void take(void* out, std::size_t n) {
    if (b_.size() - p_ < n) bad();
    std::memcpy(out, b_.data() + p_, n);
    p_ += n;
  }
  [[noreturn]] static void bad() { throw Error(ErrorKind::Internal, "streamed transaction spill file is corrupt"); }
  const std::string& b_;
  std::size_t p_ = 0;
};

[[noreturn]] void io_error(const char* what) {
  throw Error(ErrorKind::Source, fmt::format("streamed transaction spill file: {} failed: {}", what, std::strerror(errno)));
}

}  // namespace

StreamedTxn::StreamedTxn() {
  file_ = std::tmpfile();
  if (!file_) io_error("tmpfile");
}

StreamedTxn::~StreamedTxn() {
  if (file_) std::fclose(file_);
}

StreamedTxn::StreamedTxn(StreamedTxn&& o) noexcept
    : file_(o.file_), count_(o.count_), subs_(std::move(o.subs_)), buf_(std::move(o.buf_)) {
  o.file_ = nullptr;
}

StreamedTxn& StreamedTxn::operator=(StreamedTxn&& o) noexcept {
  if (this != &o) {
    if (file_) std::fclose(file_);
    file_ = o.file_;
    count_ = o.count_;
    subs_ = std::move(o.subs_);
    buf_ = std::move(o.buf_);
    o.file_ = nullptr;
  }
  return *this;
}

void StreamedTxn::append(std::uint32_t xid, const ChangeEvent& e) {
  bool known = false;
  for (const auto& s : subs_) known = known || s.xid == xid;
  if (!known) {
    if (std::fflush(file_) != 0) io_error("flush");
    subs_.push_back(Sub{xid, std::ftell(file_), count_});
  }
  buf_.clear();
  buf_ += static_cast<char>(e.op);
  put_str(buf_, e.table.schema);
  put_str(buf_, e.table.name);
  put_row(buf_, e.before);
  put_row(buf_, e.after);
  put_u32(buf_, static_cast<std::uint32_t>(e.unchanged.size()));
  for (bool u : e.unchanged) buf_ += u ? '\1' : '\0';
  std::uint32_t len = static_cast<std::uint32_t>(buf_.size());
  if (std::fwrite(&len, sizeof len, 1, file_) != 1 || std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size())
    io_error("write");
  ++count_;
}

void StreamedTxn::abort_subtransaction(std::uint32_t subxid) {
  for (std::size_t i = 0; i < subs_.size(); ++i) {
    if (subs_[i].xid != subxid) continue;
    if (std::fflush(file_) != 0) io_error("flush");
    if (::ftruncate(fileno(file_), subs_[i].offset) != 0) io_error("truncate");
    if (std::fseek(file_, subs_[i].offset, SEEK_SET) != 0) io_error("seek");
    count_ = subs_[i].count;
    subs_.resize(i);
    return;
  }
  // A subtransaction without changes: nothing to drop.
}

void StreamedTxn::rewind() {
  if (std::fflush(file_) != 0) io_error("flush");
  if (std::fseek(file_, 0, SEEK_SET) != 0) io_error("seek");
}

bool StreamedTxn::next(ChangeEvent& e) {
  std::uint32_t len = 0;
  if (std::fread(&len, sizeof len, 1, file_) != 1) return false;
  buf_.resize(len);
  if (std::fread(buf_.data(), 1, len, file_) != len) io_error("read");
  Cursor c(buf_);
  e = ChangeEvent{};
  e.op = static_cast<ChangeOp>(c.byte());
  e.table.schema = c.str();
  e.table.name = c.str();
  e.before = c.row();
  e.after = c.row();
  std::uint32_t n = c.u32();
  e.unchanged.resize(n);
  for (std::uint32_t i = 0; i < n; ++i) e.unchanged[i] = c.byte() != 0;
  return true;
}

}  // namespace cdc::pg
