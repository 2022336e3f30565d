// Registers the PostgreSQL connector pieces for URLs "postgresql://user:pass@host:port/db?..."
// (and the "postgres://" spelling).
#include <cdc/registry.h>

#include "postgres/pg_connectors.h"

void cdc_register_postgres(cdc::ConnectorRegistry& registry) {
  for (const char* scheme : {"postgresql", "postgres"}) {
    registry.register_source(scheme, [](const cdc::ConnectorUrl& url) { return cdc::pg::make_source(url); });
    registry.register_destination(scheme, [](const cdc::ConnectorUrl& url) { return cdc::pg::make_destination(url); });
    registry.register_checkpoint_store(scheme,
                                       [](const cdc::ConnectorUrl& url) { return cdc::pg::make_checkpoint_store(url); });
  }
}
