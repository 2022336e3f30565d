// cdc::ChangeEvent: one row change read from a source's log (or a snapshot row).
// Rows are in the order of the source table's TableSchema columns. Plain value; not synchronised.
#pragma once

#include <cdc/export.h>
#include <cdc/position.h>
#include <cdc/schema.h>
#include <cdc/schema_change.h>
#include <cdc/value.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cdc {

enum class ChangeOp : std::uint8_t { Insert, Update, Delete, Truncate };

CDC_API std::string_view to_string(ChangeOp op);

struct CDC_API ChangeEvent {
  ChangeOp op = ChangeOp::Insert;
  TableId table;
  Row before;  // Update (old image or at least the key) and Delete (at least the key); may be empty
  Row after;   // Insert and Update
  // Columns of `after` the source did not send: PostgreSQL's unchanged TOAST values, and columns
  // the row image lacks because it was logged before the column existed (or before capture
  // covered it): those must not be written (their value in `after` is NULL and means nothing).
  // Empty means every column was sent.
  std::vector<bool> unchanged;
  Position position;            // position of this event; resuming after it never re-delivers it
  std::string transaction_id;   // source transaction, empty when unknown
  std::int64_t commit_time_us = 0;  // source commit time, microseconds since the epoch; 0 = unknown
  bool snapshot = false;        // a row read by the snapshot, delivered as an insert
  bool end_of_transaction = true;  // last event of its source transaction: a safe checkpoint
  // Set: this event reports that the table's columns changed (rows are empty, `op` means
  // nothing). The session evolves the destination; writers never receive such events. A stream
  // returns from poll() right after one, and rows after it are read with the tables the next
  // open_stream() is given.
  std::shared_ptr<const SchemaChange> schema_change;
};

}  // namespace cdc
