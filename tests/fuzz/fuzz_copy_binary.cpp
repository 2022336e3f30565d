// libFuzzer target: the COPY binary stream parser and the per-type binary codecs
// (lib/postgres/copy_binary.h), as a snapshot chunk reads them (lib/postgres/pg_source.cpp).
//
// Input: a column count byte (1 + n % 8 columns), one byte per column choosing its type from
// pg_fuzz_types.h (index modulo the table), then a COPY binary stream (header, tuples, trailer).
// Each field goes through read_binary_value() for types with a codec and value_from_text() for the
// others (selected as their text output), and every parsed value is encoded back where the type has
// an encoder, as a destination writes it. Seeds: tests/fuzz/corpus/copy_binary/, streams a real
// PostgreSQL sent for `COPY (SELECT ...) TO STDOUT (FORMAT binary)` (tests/fuzz/README.md).
#include "pg_fuzz_types.h"
#include "postgres/copy_binary.h"

#include <cdc/error.h>

#include <string_view>
#include <vector>

using namespace cdc::pg;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t ncols = 1 + data[0] % 8;
  if (size < 1 + ncols) return 0;
  std::vector<cdc::Column> cols;
  std::vector<BinaryType> types;
  for (std::size_t i = 0; i < ncols; ++i) {
    cols.push_back(cdc::fuzz::pg_fuzz_column(cdc::fuzz::kPgFuzzTypes[data[1 + i] % cdc::fuzz::kPgFuzzTypeCount]));
    types.push_back(source_binary_type(cols.back()));
  }
  std::string_view in(reinterpret_cast<const char*>(data + 1 + ncols), size - 1 - ncols);
  std::vector<BinaryField> fields;
  cdc::Value v;
  ByteBuffer out;
  try {
    if (!parse_copy_binary_header(in)) return 0;
    for (;;) {
      TupleStatus st = parse_copy_binary_tuple(in, fields);
      if (st != TupleStatus::Row) break;
      for (std::size_t i = 0; i < fields.size() && i < ncols; ++i) {
        if (fields[i].len < 0) continue;
        try {
          if (types[i] == BinaryType::None)
            v = value_from_text(cols[i], std::string_view(fields[i].data, std::size_t(fields[i].len)));
          else
            read_binary_value(types[i], cols[i], fields[i].data, std::size_t(fields[i].len), v);
          (void)v.to_display();
          out.clear();
          if (types[i] != BinaryType::None) (void)append_binary_field(types[i], v, out);
        } catch (const cdc::Error&) {
          // A malformed value is refused with an error naming it.
        }
      }
    }
  } catch (const cdc::Error&) {
    // A malformed stream is refused with an error.
  }
  return 0;
}
