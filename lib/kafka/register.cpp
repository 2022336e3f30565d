// Registers the Kafka destination for URLs "kafka://HOST:PORT[,HOST:PORT...][?topic_prefix=NAME&...]".
#include <cdc/registry.h>

#include "kafka/kafka_destination.h"

void cdc_register_kafka(cdc::ConnectorRegistry& registry) {
  registry.register_destination("kafka", [](const cdc::ConnectorUrl& url) { return cdc::kafka::make_destination(url); });
}
