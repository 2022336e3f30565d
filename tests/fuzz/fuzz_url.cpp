// libFuzzer target: connector URL parsing (cdc::ConnectorUrl::parse, lib/core/registry.cpp) and
// its redacted form. Input: the URL text. Seeds: tests/fuzz/corpus/url/, the URLs of the scripts,
// docs and tests (tests/fuzz/README.md).
#include <cdc/error.h>
#include <cdc/registry.h>

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    cdc::ConnectorUrl u = cdc::ConnectorUrl::parse(text);
    (void)u.redacted();
  } catch (const cdc::Error& e) {
    (void)e.what();
  }
  return 0;
}
