// pgoutput message decoder; layouts from
// https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
// All integers are big-endian; strings are NUL-terminated.
#include "postgres/pgoutput_decoder.h"

#include <cdc/error.h>

#include <fmt/format.h>

namespace cdc::pg {

namespace {

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}

  std::uint8_t u8() {
    need(1);
    return static_cast<std::uint8_t>(b_[p_++]);
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(be(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(be(4)); }
  std::uint64_t u64() { return be(8); }
  std::string str() {
    auto end = b_.find('\0', p_);
    if (end == std::string_view::npos) truncated("string");
    std::string s(b_.substr(p_, end - p_));
    p_ = end + 1;
    return s;
  }
  std::string_view view(std::size_t n) {
    need(n);
    std::string_view s = b_.substr(p_, n);
    p_ += n;
    return s;
  }
  std::string bytes(std::size_t n) {
    need(n);
    std::string s(b_.substr(p_, n));
    p_ += n;
    return s;
  }
  TupleData tuple() {
    std::uint16_t n = u16();
    TupleData t(n);
    for (std::uint16_t i = 0; i < n; ++i) {
      char k = static_cast<char>(u8());
      switch (k) {
        case 'n': t[i].kind = TupleKind::Null; break;
        case 'u': t[i].kind = TupleKind::Unchanged; break;
        case 't':
        case 'b': {
          t[i].kind = k == 't' ? TupleKind::Text : TupleKind::Binary;
          std::uint32_t len = u32();
          t[i].data = view(len);
          break;
        }
        default: throw Error(ErrorKind::Protocol, fmt::format("pgoutput: unknown tuple column kind 0x{:02x}", k));
      }
    }
    return t;
  }
  [[noreturn]] void truncated(const char* what) const {
    throw Error(ErrorKind::Protocol, fmt::format("pgoutput: message truncated while reading {} at byte {}", what, p_));
  }

 private:
  void need(std::size_t n) const {
    if (b_.size() - p_ < n) truncated("a field");
  }
  std::uint64_t be(std::size_t n) {
    need(n);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<std::uint8_t>(b_[p_ + i]);
    p_ += n;
    return v;
  }
  std::string_view b_;
  std::size_t p_ = 0;
};

}  // namespace

PgOutputMessage PgOutputDecoder::decode(std::string_view bytes) {
  if (bytes.empty()) throw Error(ErrorKind::Protocol, "pgoutput: empty message");
  Reader r(bytes.substr(1));
  auto xid = [&]() -> std::uint32_t { return in_stream_ ? r.u32() : 0; };
  switch (bytes[0]) {
    case 'B': {
      BeginMsg m;
      m.final_lsn = r.u64();
      m.commit_time = static_cast<std::int64_t>(r.u64());
      m.xid = r.u32();
      return m;
    }
    case 'C': {
      CommitMsg m;
      m.flags = r.u8();
      m.commit_lsn = r.u64();
      m.end_lsn = r.u64();
      m.commit_time = static_cast<std::int64_t>(r.u64());
      return m;
    }
    case 'O': {
      OriginMsg m;
      m.commit_lsn = r.u64();
      m.name = r.str();
      return m;
    }
    case 'R': {
      RelationMsg m;
      m.xid = xid();
      m.relid = r.u32();
      m.nspname = r.str();
      m.relname = r.str();
      m.replica_identity = static_cast<char>(r.u8());
      std::uint16_t n = r.u16();
      for (std::uint16_t i = 0; i < n; ++i) {
        RelationColumn c;
        c.key = (r.u8() & 1) != 0;
        c.name = r.str();
        c.type_oid = r.u32();
        c.typmod = static_cast<std::int32_t>(r.u32());
        m.columns.push_back(std::move(c));
      }
      return m;
    }
    case 'Y': {
      TypeMsg m;
      m.xid = xid();
      m.oid = r.u32();
      m.nspname = r.str();
      m.name = r.str();
      return m;
    }
    case 'I': {
      InsertMsg m;
      m.xid = xid();
      m.relid = r.u32();
      if (r.u8() != 'N') throw Error(ErrorKind::Protocol, "pgoutput: Insert without a new tuple");
      m.tuple = r.tuple();
      return m;
    }
    case 'U': {
      UpdateMsg m;
      m.xid = xid();
      m.relid = r.u32();
      char k = static_cast<char>(r.u8());
      if (k == 'K' || k == 'O') {
        m.old_kind = k;
        m.old_tuple = r.tuple();
        k = static_cast<char>(r.u8());
      }
      if (k != 'N') throw Error(ErrorKind::Protocol, "pgoutput: Update without a new tuple");
      m.tuple = r.tuple();
      return m;
    }
    case 'D': {
      DeleteMsg m;
      m.xid = xid();
      m.relid = r.u32();
      char k = static_cast<char>(r.u8());
      if (k != 'K' && k != 'O') throw Error(ErrorKind::Protocol, "pgoutput: Delete without an old tuple");
      m.old_kind = k;
      m.old_tuple = r.tuple();
      return m;
    }
    case 'T': {
      TruncateMsg m;
      m.xid = xid();
      std::uint32_t n = r.u32();
      std::uint8_t opts = r.u8();
      m.cascade = (opts & 1) != 0;
      m.restart_identity = (opts & 2) != 0;
      for (std::uint32_t i = 0; i < n; ++i) m.relids.push_back(r.u32());
      return m;
    }
    case 'M': {
      LogicalMsg m;
      m.xid = xid();
      m.transactional = (r.u8() & 1) != 0;
      m.lsn = r.u64();
      m.prefix = r.str();
      std::uint32_t len = r.u32();
      m.content = r.bytes(len);
      return m;
    }
    case 'S': {
      StreamStartMsg m;
      m.xid = r.u32();
      m.first_segment = r.u8() == 1;
      in_stream_ = true;
      return m;
    }
    case 'E': {
      in_stream_ = false;
      return StreamStopMsg{};
    }
    case 'c': {
      StreamCommitMsg m;
      m.xid = r.u32();
      m.flags = r.u8();
      m.commit_lsn = r.u64();
      m.end_lsn = r.u64();
      m.commit_time = static_cast<std::int64_t>(r.u64());
      return m;
    }
    case 'A': {
      StreamAbortMsg m;
      m.xid = r.u32();
      m.subxid = r.u32();
      return m;
    }
    default:
      throw Error(ErrorKind::Protocol,
                  fmt::format("pgoutput: unknown message type 0x{:02x}", static_cast<unsigned char>(bytes[0])));
  }
}

}  // namespace cdc::pg
