// Registers the SQLite connector pieces for URLs "sqlite:///abs/path.db" and "sqlite://rel.db".
#include <cdc/registry.h>

#include "sqlite/sqlite_connectors.h"

void cdc_register_sqlite(cdc::ConnectorRegistry& registry) {
  registry.register_source("sqlite", [](const cdc::ConnectorUrl& url) { return cdc::sqlite::make_source(url.path); });
  registry.register_destination("sqlite",
                                [](const cdc::ConnectorUrl& url) { return cdc::sqlite::make_destination(url.path); });
  registry.register_checkpoint_store(
      "sqlite", [](const cdc::ConnectorUrl& url) { return cdc::sqlite::make_checkpoint_store(url.path); });
}
