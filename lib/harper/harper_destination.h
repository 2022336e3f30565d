// Harper destination (the operations API, harper_client.h): every source table becomes a table of
// the URL's database whose primary key is the source's primary key, and changes are applied as
// batched upserts and deletes, so the Harper table mirrors the source table.
//   - A single-column key whose JSON form is a number or a string is Harper's primary key itself.
//     Any other key (several columns, a boolean, float, JSON, array or geometry column) and a
//     table without a key (its whole row) is kept in the attribute `_cdc_key`: the JSON array text
//     of the key's values in key order, e.g. `["p3",7]`, which is then Harper's primary key.
//   - Values are the change events' per-column JSON forms (core/event/change_event_json.h).
//   - Checkpoints are records of `_cdc_checkpoints` (id `["session","key"]`, attribute `value`),
//     written after the transaction's data: Harper has no transaction across tables, so a crash in
//     between replays the batch, harmlessly (upserts and deletes by key are idempotent).
//   - A record Harper refuses (a key over its size limit, ...) is kept in `_cdc_quarantine` with the
//     reason, the key and the record (id: the table and a hash of the key), never dropped.
// URL: harper://USER:PASSWORD@HOST:PORT/DATABASE (the operations API port, default 9925), parameters
// decimal_handling=string|double and, for HTTPS, ssl-mode, ssl-ca, ssl-cert, ssl-key (harper_client.h).
#pragma once

#include <cdc/destination.h>
#include <cdc/registry.h>

#include <memory>

namespace cdc::harper {

std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url);

}  // namespace cdc::harper
