// Registers the Redis Streams destination for URLs "redis://[:PASSWORD@]HOST:PORT/DB[?stream_prefix=NAME&maxlen=N]".
#include <cdc/registry.h>

#include "redis/redis_destination.h"

void cdc_register_redis(cdc::ConnectorRegistry& registry) {
  registry.register_destination("redis", [](const cdc::ConnectorUrl& url) { return cdc::redis::make_destination(url); });
}
