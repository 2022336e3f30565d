// libFuzzer target: the pgoutput message decoder (lib/postgres/pgoutput_decoder.h), protocol v1
// and v2 (streamed transactions: Stream Start/Stop/Commit/Abort and the xid data messages carry
// inside a block), one decoder for a whole input as in a stream. Column values of INSERT, UPDATE
// and DELETE tuples then go through value_from_text() with the column types the last RELATION
// message gave, as the stream converts them (lib/postgres/pg_stream.cpp).
//
// Input (fuzz_input.h): options (unused, kept for the shared framing), then messages as records,
// each one XLogData payload. Seeds: tests/fuzz/corpus/pgoutput/, messages a real PostgreSQL sent
// (tests/fuzz/README.md).
#include "fuzz_input.h"
#include "pg_fuzz_types.h"
#include "postgres/pgoutput_decoder.h"

#include <cdc/error.h>

#include <map>
#include <type_traits>
#include <variant>
#include <vector>

using namespace cdc::pg;

namespace {

using Relations = std::map<std::uint32_t, std::vector<cdc::Column>>;

void convert(const Relations& rels, std::uint32_t relid, const TupleData& tuple) {
  auto it = rels.find(relid);
  if (it == rels.end()) return;
  const auto& cols = it->second;
  for (std::size_t i = 0; i < tuple.size() && i < cols.size(); ++i) {
    if (tuple[i].kind != TupleKind::Text && tuple[i].kind != TupleKind::Binary) continue;
    try {
      (void)value_from_text(cols[i], tuple[i].data).to_display();
    } catch (const cdc::Error&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cdc::fuzz::Records in(data, size);
  (void)in.options();
  PgOutputDecoder decoder;
  Relations rels;
  std::string_view record;
  while (in.next(record)) {
    try {
      PgOutputMessage m = decoder.decode(record);
      std::visit(
          [&](const auto& msg) {
            using T = std::decay_t<decltype(msg)>;
            if constexpr (std::is_same_v<T, RelationMsg>) {
              auto& cols = rels[msg.relid];
              cols.clear();
              for (const auto& rc : msg.columns) {
                const cdc::fuzz::PgFuzzType* t = cdc::fuzz::pg_fuzz_type_of_oid(rc.type_oid);
                cols.push_back(cdc::fuzz::pg_fuzz_column(t ? *t : cdc::fuzz::kPgFuzzTypes[8]));
              }
            } else if constexpr (std::is_same_v<T, InsertMsg>) {
              convert(rels, msg.relid, msg.tuple);
            } else if constexpr (std::is_same_v<T, UpdateMsg>) {
              convert(rels, msg.relid, msg.old_tuple);
              convert(rels, msg.relid, msg.tuple);
            } else if constexpr (std::is_same_v<T, DeleteMsg>) {
              convert(rels, msg.relid, msg.old_tuple);
            }
          },
          m);
    } catch (const cdc::Error&) {
      // Truncated or unknown messages are refused with an error.
    }
  }
  return 0;
}
