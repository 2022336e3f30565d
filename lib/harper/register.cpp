// Registers the Harper destination for URLs "harper://USER:PASS@HOST:PORT/DATABASE[?decimal_handling=...]".
#include <cdc/registry.h>

#include "harper/harper_destination.h"

void cdc_register_harper(cdc::ConnectorRegistry& registry) {
  registry.register_destination("harper", [](const cdc::ConnectorUrl& url) { return cdc::harper::make_destination(url); });
}
