// pgoutput decoder on hand-built messages, laid out as in
// https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
#include "postgres/pgoutput_decoder.h"

#include <cdc/error.h>

#include <catch2/catch.hpp>

#include <string>

using namespace cdc::pg;

namespace {

struct Buf {
  std::string b;
  Buf& c(char v) {
    b += v;
    return *this;
  }
  Buf& u8(std::uint8_t v) { return c(static_cast<char>(v)); }
  Buf& u16(std::uint16_t v) { return u8(v >> 8).u8(v & 0xff); }
  Buf& u32(std::uint32_t v) { return u16(v >> 16).u16(v & 0xffff); }
  Buf& u64(std::uint64_t v) { return u32(static_cast<std::uint32_t>(v >> 32)).u32(static_cast<std::uint32_t>(v)); }
  Buf& str(const std::string& s) {
    b += s;
    b += '\0';
    return *this;
  }
  Buf& text(const std::string& s) {
    c('t').u32(static_cast<std::uint32_t>(s.size()));
    b += s;
    return *this;
  }
};

}  // namespace

TEST_CASE("pgoutput: Begin, Commit and Origin", "[pg-unit]") {
  PgOutputDecoder d;
  auto begin = d.decode(Buf().c('B').u64(0x16B3748).u64(7000000).u32(742).b);
  auto& b = std::get<BeginMsg>(begin);
  CHECK(b.final_lsn == 0x16B3748);
  CHECK(b.commit_time == 7000000);
  CHECK(b.xid == 742);

  auto commit = d.decode(Buf().c('C').u8(0).u64(0x16B3748).u64(0x16B3778).u64(7000001).b);
  auto& c = std::get<CommitMsg>(commit);
  CHECK(c.commit_lsn == 0x16B3748);
  CHECK(c.end_lsn == 0x16B3778);
  CHECK(c.commit_time == 7000001);

  auto origin = d.decode(Buf().c('O').u64(42).str("node_a").b);
  CHECK(std::get<OriginMsg>(origin).name == "node_a");
}

TEST_CASE("pgoutput: Relation and Type", "[pg-unit]") {
  PgOutputDecoder d;
  auto rel = d.decode(Buf()
                          .c('R')
                          .u32(16385)
                          .str("public")
                          .str("orders")
                          .c('f')
                          .u16(2)
                          .u8(1)
                          .str("id")
                          .u32(23)
                          .u32(0xffffffff)
                          .u8(0)
                          .str("note")
                          .u32(25)
                          .u32(0xffffffff)
                          .b);
  auto& r = std::get<RelationMsg>(rel);
  CHECK(r.relid == 16385);
  CHECK(r.nspname == "public");
  CHECK(r.relname == "orders");
  CHECK(r.replica_identity == 'f');
  REQUIRE(r.columns.size() == 2);
  CHECK(r.columns[0].key);
  CHECK(r.columns[0].name == "id");
  CHECK(r.columns[0].type_oid == 23);
  CHECK(r.columns[0].typmod == -1);
  CHECK_FALSE(r.columns[1].key);

  auto type = d.decode(Buf().c('Y').u32(90000).str("public").str("mood").b);
  CHECK(std::get<TypeMsg>(type).name == "mood");
}

TEST_CASE("pgoutput: Insert, Update (with old key and unchanged TOAST), Delete", "[pg-unit]") {
  PgOutputDecoder d;
  const std::string ins_bytes = Buf().c('I').u32(7).c('N').u16(3).text("1").c('n').text("a\tb").b;  // tuple data point into it
  auto ins = d.decode(ins_bytes);
  auto& i = std::get<InsertMsg>(ins);
  CHECK(i.relid == 7);
  REQUIRE(i.tuple.size() == 3);
  CHECK(i.tuple[0].kind == TupleKind::Text);
  CHECK(i.tuple[0].data == "1");
  CHECK(i.tuple[1].kind == TupleKind::Null);
  CHECK(i.tuple[2].data == "a\tb");

  const std::string upd_bytes = Buf().c('U').u32(7).c('K').u16(3).text("1").c('n').c('n').c('N').u16(3).text("2").c('u').text("x").b;  // tuple data point into it
  auto upd = d.decode(upd_bytes);
  auto& u = std::get<UpdateMsg>(upd);
  CHECK(u.old_kind == 'K');
  CHECK(u.old_tuple[0].data == "1");
  CHECK(u.tuple[0].data == "2");
  CHECK(u.tuple[1].kind == TupleKind::Unchanged);

  const std::string plain_bytes = Buf().c('U').u32(7).c('N').u16(1).text("5").b;  // tuple data point into it
  auto plain = d.decode(plain_bytes);
  CHECK(std::get<UpdateMsg>(plain).old_kind == 0);

  const std::string del_bytes = Buf().c('D').u32(7).c('O').u16(1).text("9").b;  // tuple data point into it
  auto del = d.decode(del_bytes);
  auto& x = std::get<DeleteMsg>(del);
  CHECK(x.old_kind == 'O');
  CHECK(x.old_tuple[0].data == "9");
}

TEST_CASE("pgoutput: Truncate of several relations with CASCADE and RESTART IDENTITY", "[pg-unit]") {
  PgOutputDecoder d;
  auto t = d.decode(Buf().c('T').u32(2).u8(3).u32(10).u32(11).b);
  auto& m = std::get<TruncateMsg>(t);
  CHECK(m.cascade);
  CHECK(m.restart_identity);
  CHECK(m.relids == std::vector<std::uint32_t>{10, 11});
}

TEST_CASE("pgoutput: v2 stream blocks carry transaction ids", "[pg-unit]") {
  PgOutputDecoder d;
  auto s = d.decode(Buf().c('S').u32(900).u8(1).b);
  CHECK(std::get<StreamStartMsg>(s).xid == 900);
  CHECK(std::get<StreamStartMsg>(s).first_segment);
  CHECK(d.in_stream_block());
  const std::string ins_bytes = Buf().c('I').u32(900).u32(7).c('N').u16(1).text("1").b;  // tuple data point into it
  auto ins = d.decode(ins_bytes);
  CHECK(std::get<InsertMsg>(ins).xid == 900);
  CHECK(std::get<InsertMsg>(ins).relid == 7);
  d.decode(Buf().c('E').b);
  CHECK_FALSE(d.in_stream_block());
  auto ab = d.decode(Buf().c('A').u32(900).u32(901).b);
  CHECK(std::get<StreamAbortMsg>(ab).subxid == 901);
  auto sc = d.decode(Buf().c('c').u32(900).u8(0).u64(100).u64(120).u64(5).b);
  CHECK(std::get<StreamCommitMsg>(sc).end_lsn == 120);
}

TEST_CASE("pgoutput: truncated and unknown messages are protocol errors", "[pg-unit]") {
  PgOutputDecoder d;
  auto kind_of = [&](const std::string& bytes) {
    try {
      d.decode(bytes);
    } catch (const cdc::Error& e) {
      return e.kind();
    }
    return cdc::ErrorKind::Internal;
  };
  CHECK(kind_of("") == cdc::ErrorKind::Protocol);
  CHECK(kind_of(Buf().c('B').u32(1).b) == cdc::ErrorKind::Protocol);
  CHECK(kind_of(Buf().c('I').u32(7).c('N').u16(1).c('t').u32(10).c('x').b) == cdc::ErrorKind::Protocol);
  CHECK(kind_of(Buf().c('R').u32(1).str("public").b) == cdc::ErrorKind::Protocol);
  CHECK(kind_of("Z") == cdc::ErrorKind::Protocol);
  CHECK(kind_of(Buf().c('I').u32(7).c('N').u16(1).c('q').b) == cdc::ErrorKind::Protocol);
}
