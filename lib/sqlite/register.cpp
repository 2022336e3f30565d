#include <cdc/registry.h>
void cdc_register_sqlite(cdc::ConnectorRegistry&) {}
