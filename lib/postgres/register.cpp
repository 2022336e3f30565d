// Registers the PostgreSQL connector pieces for URLs "postgresql://user:pass@host:port/db?..."
// (and the "postgres://" spelling). Query parameters go to libpq (sslmode, sslrootcert,
// connect_timeout, ...), except cdc's own:
//   slot=NAME          logical replication slot (default cdc_<database>)
//   publication=NAME   use this existing publication as is (default: cdc creates and maintains
//                      "cdc_pub" for the replicated tables, and teardown drops it)
//   streaming=off      pgoutput protocol v1 instead of v2 with in-progress streaming (PG 14+)
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
