// libFuzzer target: the binlog event decoder (lib/mysql/binlog_decoder.h), every event type, with
// the decoder's state (format description, table maps) carried from event to event as in a stream.
//
// Input (fuzz_input.h): options, then events as records. Options bit 0: the decoder starts with
// checksums on (the server's @@binlog_checksum); bit 1: leave each event as it is, else the
// harness first writes the record's size into the header's event_size and, when checksums are on,
// the right CRC32 into its last 4 bytes, so that mutations reach the body decoders instead of
// stopping at the size and checksum checks; bit 2: a table filter that refuses tables whose name
// starts with 'x' (their rows events are checked but not decoded).
// Seeds: tests/fuzz/corpus/binlog/, events of a real MariaDB's binlog (tests/fuzz/README.md).
#include "fuzz_input.h"
#include "mysql/binlog_decoder.h"

#include <cdc/error.h>

#include <string>

using namespace cdc::mysql::binlog;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cdc::fuzz::Records in(data, size);
  const std::uint8_t options = in.options();
  Decoder decoder((options & 1) != 0);
  if (options & 4) decoder.set_table_filter([](const std::string&, const std::string& table) { return table.empty() || table[0] != 'x'; });
  std::string_view record;
  std::string event;
  while (in.next(record)) {
    event.assign(record);
    if (!(options & 2) && event.size() >= 19) {
      const std::uint32_t n = std::uint32_t(event.size());
      for (int i = 0; i < 4; ++i) event[9 + i] = char(n >> (8 * i));
      const bool fde = std::uint8_t(event[4]) == std::uint8_t(EventType::FormatDescription);
      const bool crc = fde ? event.size() >= 5 && event[event.size() - 5] == 1 : decoder.checksums();
      if (crc && event.size() >= 23) {
        const std::uint32_t c = crc32(reinterpret_cast<const std::uint8_t*>(event.data()), event.size() - 4);
        for (int i = 0; i < 4; ++i) event[event.size() - 4 + i] = char(c >> (8 * i));
      }
    }
    try {
      Event e = decoder.decode(event);
      // Touch what a stream reads of the result.
      (void)e.gtid();
      (void)to_string(e.header.type);
      for (const auto& row : e.rows.rows)
        for (const auto& v : row) (void)v.to_display();
    } catch (const cdc::Error&) {
      // Malformed bytes are refused with an error: what the decoder promises.
    }
  }
  return 0;
}
