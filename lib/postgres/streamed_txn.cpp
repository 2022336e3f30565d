// StreamedTxn: see streamed_txn.h. Record layout (native byte order; the file never leaves the
// process): u32 length, then op, table schema and name, before row, after row, unchanged mask.
// Records are written and read field by field: a value goes between its Value and the file.
#include "postgres/streamed_txn.h"

#include <cdc/error.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <unistd.h>

namespace cdc::pg {

namespace {

[[noreturn]] void io_error(const char* what) {
  throw Error(ErrorKind::Source, fmt::format("streamed transaction spill file: {} failed: {}", what, std::strerror(errno)));
}

// A record's fields, written to the file as they are (stdio buffers the small ones; a long text
// goes from its Value to the file, never through a buffer of the whole record: a row may hold
// values of many MB), or, without a file, only counted.
class RecordOut {
 public:
  explicit RecordOut(std::FILE* f) : f_(f) {}
  void bytes(const void* p, std::size_t n) {
    size_ += n;
    if (f_ && n && std::fwrite(p, 1, n, f_) != n) io_error("write");
  }
  void byte(char c) { bytes(&c, 1); }
  void u32(std::uint32_t v) { bytes(&v, sizeof v); }
  void u64(std::uint64_t v) { bytes(&v, sizeof v); }
  void str(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  void value(const Value& v) {
    byte(static_cast<char>(v.kind()));
    switch (v.kind()) {
      case ValueKind::Null: return;
      case ValueKind::Bool: byte(v.as_bool() ? '\1' : '\0'); return;
      case ValueKind::Int: u64(static_cast<std::uint64_t>(v.as_int())); return;
      case ValueKind::UInt: u64(v.as_uint()); return;
      case ValueKind::Double: {
        double d = v.as_double();
        std::uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        u64(bits);
        return;
      }
      default: str(v.text());
    }
  }
  void row(const Row& r) {
    u32(static_cast<std::uint32_t>(r.size()));
    for (const auto& v : r) value(v);
  }
  void event(const ChangeEvent& e) {
    byte(static_cast<char>(e.op));
    str(e.table.schema);
    str(e.table.name);
    row(e.before);
    row(e.after);
    u32(static_cast<std::uint32_t>(e.unchanged.size()));
    for (bool u : e.unchanged) byte(u ? '\1' : '\0');
  }
  std::size_t size() const { return size_; }

 private:
  std::FILE* f_;
  std::size_t size_ = 0;
};

// A record read back field by field from the file (a text straight into its Value), checked
// against the record's length.
class RecordIn {
 public:
  RecordIn(std::FILE* f, std::size_t length) : f_(f), left_(length) {}
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
    if (left_ < n) bad();
    std::string s(n, '\0');
    take(s.data(), n);
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
  // A number of entries that follow, each of a byte at least.
  std::uint32_t count() {
    std::uint32_t n = u32();
    if (left_ < n) bad();
    return n;
  }
  Row row() {
    Row r(count());
    for (auto& v : r) v = value();
    return r;
  }
  void end() const {
    if (left_ != 0) bad();
  }

 private:
  void take(void* out, std::size_t n) {
    if (left_ < n) bad();
    if (n && std::fread(out, 1, n, f_) != n) io_error("read");
    left_ -= n;
  }
  [[noreturn]] static void bad() { throw Error(ErrorKind::Internal, "streamed transaction spill file is corrupt"); }
  std::FILE* f_;
  std::size_t left_;
};

}  // namespace

StreamedTxn::StreamedTxn() {
  file_ = std::tmpfile();
  if (!file_) io_error("tmpfile");
}

StreamedTxn::~StreamedTxn() {
  if (file_) std::fclose(file_);
}

StreamedTxn::StreamedTxn(StreamedTxn&& o) noexcept
    : file_(o.file_), count_(o.count_), subs_(std::move(o.subs_)) {
  o.file_ = nullptr;
}

StreamedTxn& StreamedTxn::operator=(StreamedTxn&& o) noexcept {
  if (this != &o) {
    if (file_) std::fclose(file_);
    file_ = o.file_;
    count_ = o.count_;
    subs_ = std::move(o.subs_);
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
  RecordOut size(nullptr);  // the length first, then the fields as they are
  size.event(e);
  if (size.size() > UINT32_MAX)
    throw Error(ErrorKind::Source, fmt::format("a change of {} bytes in a streamed transaction (at most 4 GB)", size.size()));
  RecordOut out(file_);
  out.u32(static_cast<std::uint32_t>(size.size()));
  out.event(e);
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
  RecordIn c(file_, len);
  e = ChangeEvent{};
  e.op = static_cast<ChangeOp>(c.byte());
  e.table.schema = c.str();
  e.table.name = c.str();
  e.before = c.row();
  e.after = c.row();
  std::uint32_t n = c.count();
  e.unchanged.resize(n);
  for (std::uint32_t i = 0; i < n; ++i) e.unchanged[i] = c.byte() != 0;
  c.end();
  return true;
}

}  // namespace cdc::pg
