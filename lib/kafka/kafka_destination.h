// Kafka destination (librdkafka): each table's change events (core/event/change_event_json.h) go to
// the topic `<prefix>.<schema or database>.<table>`, keyed by the row's key (librdkafka's key-hashed
// partitioner keeps one key's events in order); a truncate goes to every partition of its topic.
// The producer is idempotent. When the cluster supports transactions, a transaction's events and
// its checkpoint (compacted topic `<prefix>.cdc_checkpoints`) are written in one Kafka transaction
// (exactly once for read_committed consumers); otherwise the checkpoint is written once the
// events are acknowledged (at least once).
// URL parameters: topic_prefix, schemas, decimal_handling, tombstones (cdc's own); every other one
// is a librdkafka property (acks, compression.type, security.protocol, ...), checked by librdkafka.
#pragma once

#include <cdc/destination.h>
#include <cdc/registry.h>

#include <memory>

namespace cdc::kafka {

std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url);

}  // namespace cdc::kafka
