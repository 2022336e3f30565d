// Binlog decode rate: decodes whole binlog files (as the server writes them) with
// cdc::mysql::binlog::Decoder on one thread and reports row events per second.
//   mariadb_binlog_decode FILE...
// Used by bench/mariadb_binlog.sh; not a test.
#include "mysql/binlog_decoder.h"

#include <cdc/error.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BINLOG_FILE...\n", argv[0]);
    return 2;
  }
  std::vector<std::string> files;
  std::size_t bytes = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    files.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    bytes += files.back().size();
  }
  std::size_t events = 0, row_events = 0, rows = 0;
  auto start = std::chrono::steady_clock::now();
  try {
    for (auto& f : files) {
      if (f.size() < 4 || std::memcmp(f.data(), "\xfe" "bin", 4) != 0) {
        std::fprintf(stderr, "not a binlog file\n");
        return 1;
      }
      cdc::mysql::binlog::Decoder dec(true);
      std::size_t off = 4;
      while (off + 19 <= f.size()) {
        auto p = reinterpret_cast<const std::uint8_t*>(f.data() + off);
        std::size_t size = std::size_t(p[9]) | std::size_t(p[10]) << 8 | std::size_t(p[11]) << 16 | std::size_t(p[12]) << 24;
        if (size < 19 || off + size > f.size()) break;
        auto ev = dec.decode(p, size);
        ++events;
        if (!ev.rows.rows.empty()) {
          bool update = ev.rows.kind == cdc::mysql::binlog::RowsEvent::Kind::Update;
          rows += ev.rows.rows.size();
          row_events += update ? ev.rows.rows.size() / 2 : ev.rows.rows.size();
        }
        off += size;
      }
    }
  } catch (const cdc::Error& e) {
    std::fprintf(stderr, "decode failed: %s\n", e.what());
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("events %zu row_events %zu row_images %zu bytes %zu seconds %.3f row_events_per_s %.0f MB_per_s %.1f\n", events,
              row_events, rows, bytes, secs, row_events / secs, bytes / secs / 1e6);
  return 0;
}
