// libFuzzer target: config loading (lib/core/config.cpp over lib/core/config_tree.cpp), YAML and
// JSON, single-pipeline configs and pipelines files, down to the checks of every key.
//
// Input: an options byte (bit 0: JSON, else YAML; bit 1: a pipelines file, else one config),
// then the document text. Seeds: tests/fuzz/corpus/config/, the configs of examples/, docs/ and
// the tests (tests/fuzz/README.md).
#include <cdc/config.h>
#include <cdc/error.h>
#include <cdc/pipelines.h>

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t options = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    if (options & 2) {
      if (options & 1) (void)cdc::parse_pipelines_json(text, "fuzz.json");
      else (void)cdc::parse_pipelines_yaml(text, "fuzz.yaml");
    } else {
      if (options & 1) (void)cdc::parse_config_json(text, "fuzz.json");
      else (void)cdc::parse_config_yaml(text, "fuzz.yaml");
    }
  } catch (const cdc::Error&) {
    // Bad input is a config error naming where: what the loader promises.
  }
  return 0;
}
