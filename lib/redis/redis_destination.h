// Redis Streams destination (hiredis): each table's change events (core/event/change_event_json.h)
// are entries of the stream `<prefix>:<schema or database>.<table>` with the fields `key` (the JSON
// key; empty for a truncate) and `value` (the change event). A transaction's XADDs and its
// checkpoint (hash `<prefix>:_cdc_checkpoints`, field ["session","key"]) go in one MULTI/EXEC, so a
// replay after a crash neither loses nor repeats an entry.
// URL parameters: stream_prefix (default: the config's name, else the source database's name),
// maxlen (XADD MAXLEN ~ N; default: unbounded), schemas, decimal_handling.
#pragma once

#include <cdc/destination.h>
#include <cdc/registry.h>

#include <memory>

namespace cdc::redis {

std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url);

}  // namespace cdc::redis
