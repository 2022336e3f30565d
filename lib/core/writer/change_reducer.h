// Change reduction: one table's batch of change events (source order) becomes the final state of
// each key, so a writer applies a batch with a few set-wise statements (deletes, then upserts
// grouped by the columns they write) instead of one statement per event, and every SQL writer
// follows the same rules:
//  - An update changes its row's key iff it has a before image, and some key column's before
//    value is non-NULL and differs from the after value. A NULL before value means "not sent"
//    (PostgreSQL with REPLICA IDENTITY DEFAULT sends the old key only when it changed): that
//    column is unchanged. A key change deletes the old key and upserts the new one.
//  - Columns an event marks `unchanged` (PostgreSQL's unsent TOAST values) are taken from an
//    earlier image of the same key in the batch when it had them, and otherwise left as the
//    target has them. A key change with such columns that the batch cannot fill moves the old
//    row in place (KeyMove) so they survive; it closes the segment before it.
//  - Columns the target computes itself (TableLayout::computed) are never among those written.
//  - A delete and a re-insert of one key reduce to the re-insert (a full row).
//  - A TRUNCATE closes the segment before it; segments are applied in order.
//  - Soft deletes leave the row in place, so a delete of a key written earlier in the segment
//    becomes that row written with the flag set; any other delete stays a delete, which the
//    writer turns into "set the flag".
// Tables without a key are not reduced (their events are applied in order by the writer).
// Plain functions of their input; no I/O.
#pragma once

#include "core/writer/table_layout.h"

#include <cdc/change_event.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cdc::detail {

// True when `update` changes its row's key under the rule above.
bool changes_key(const TableLayout& layout, const ChangeEvent& update);

// One key's final state in a segment. Rows are full width (a row that left out a trailing
// soft-delete flag gets a NULL there, which TableLayout::value() writes as "live").
// upserts: the image to write; deletes: the image removed. It is the event's own image where that
// serves as it is (no copy: a row may hold values of many MB), else one the reducer made
// (padded, merged with an earlier image, flagged).
struct ReducedRow {
  const Row& row() const { return image ? *image : own; }
  const Row* image = nullptr;          // in the events reduced, or nullptr: `own`
  Row own;
  const ChangeEvent* event = nullptr;  // the last event that set this state (for messages)
};

// Upserts that write the same columns.
struct UpsertGroup {
  std::vector<bool> written;  // one per column: written, or left as the target has it
  std::vector<ReducedRow> rows;
  bool all_written() const;
};

// A key change whose new image lacks values the source did not send: the row with the old key is
// updated in place, the columns not in `written` keep what the target has.
struct KeyMove {
  Row before;  // the old image; its key columns locate the row (not-sent key values filled in)
  Row after;   // the new image
  std::vector<bool> written;
  const ChangeEvent* event = nullptr;
};

// What a writer applies, in order: the segment's start (a TRUNCATE or a KeyMove, nothing for the
// first), then its deletes, then its upsert groups. Within a segment every key has one state,
// so deletes and upserts touch different keys and their order between keys does not matter.
// Rows are in the order their key was first touched; groups in the order of their first row.
struct ReducedSegment {
  enum class Start : std::uint8_t { Batch, Truncate, Move };
  Start start = Start::Batch;
  KeyMove move;  // Start::Move
  std::vector<ReducedRow> deletes;
  std::vector<UpsertGroup> upserts;
};

// rows_text() (error_context.h) over reduced rows: "3 upserts (keys id=1; id=2; id=3)".
std::string rows_text(std::string_view what, const TableSchema& schema, const std::vector<ReducedRow>& rows);

// Reduces `changes` (events of the table `layout` describes, in source order). Rows are
// width-checked (check_width). A delete without a before image is an Error(Destination); errors
// name the event ("applying delete of key id=5 to table public.t"). `changes` must outlive the
// result (ReducedRow::event and ::image point into it). Throws Error(Internal) for a table without a key.
std::vector<ReducedSegment> reduce_changes(const TableLayout& layout, const TableSchema& schema,
                                           const std::vector<ChangeEvent>& changes);
// (A temporary would be gone before the result is read.)
std::vector<ReducedSegment> reduce_changes(const TableLayout& layout, const TableSchema& schema,
                                           std::vector<ChangeEvent>&& changes) = delete;

// What a writer does with each part of a reduced batch. apply_reduced() calls them segment by
// segment in the order they must be applied: the truncate or key move that starts a segment
// (under the error context "applying truncate/update of key ..."), then its deletes (not called
// when there are none), then each group of upserts. `deletes` and `upserts` name what fails
// themselves (set-wise or row by row, as the writer applies them).
struct SegmentSink {
  std::function<void()> truncate;
  std::function<void(const KeyMove&)> move;
  std::function<void(const std::vector<ReducedRow>&)> deletes;
  std::function<void(const UpsertGroup&)> upserts;
};
void apply_reduced(const TableLayout& layout, const TableSchema& schema, const std::vector<ChangeEvent>& changes,
                   const SegmentSink& sink);

}  // namespace cdc::detail
