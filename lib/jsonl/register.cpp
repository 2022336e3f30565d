// Registers the JSON lines destination for URLs "jsonl:///abs/path/file.jsonl", "jsonl://rel.jsonl"
// and "jsonl://-" (standard output). Parameters: schemas, decimal_handling, rotate_bytes.
#include <cdc/registry.h>

#include "jsonl/jsonl_destination.h"

void cdc_register_jsonl(cdc::ConnectorRegistry& registry) {
  registry.register_destination("jsonl", [](const cdc::ConnectorUrl& url) { return cdc::jsonl::make_destination(url); });
}
