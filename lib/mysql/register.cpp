// Registers the MariaDB/MySQL connector for URLs "mysql://user:pass@host:port/db" and its alias
// "mariadb://".
#include <cdc/registry.h>

#include "mysql/mysql_connectors.h"

void cdc_register_mysql(cdc::ConnectorRegistry& registry) {
  for (const char* scheme : {"mysql", "mariadb"}) {
    registry.register_source(scheme, [](const cdc::ConnectorUrl& url) { return cdc::mysql::make_source(url); });
    registry.register_destination(scheme, [](const cdc::ConnectorUrl& url) { return cdc::mysql::make_destination(url); });
    registry.register_checkpoint_store(scheme,
                                       [](const cdc::ConnectorUrl& url) { return cdc::mysql::make_checkpoint_store(url); });
  }
}
