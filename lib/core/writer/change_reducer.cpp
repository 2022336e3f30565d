#include "core/writer/change_reducer.h"

#include "core/writer/error_context.h"

#include <cdc/error.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>

namespace cdc::detail {

bool changes_key(const TableLayout& layout, const ChangeEvent& update) {
  if (update.op != ChangeOp::Update || update.before.empty()) return false;
  for (int k : layout.key) {
    const auto i = static_cast<std::size_t>(k);
    if (i >= update.before.size() || i >= update.after.size()) continue;
    if (!update.before[i].is_null() && update.before[i] != update.after[i]) return true;
  }
  return false;
}

std::string rows_text(std::string_view what, const TableSchema& schema, const std::vector<ReducedRow>& rows) {
  std::vector<const Row*> images;
  images.reserve(rows.size());
  for (const auto& r : rows) images.push_back(&r.row());
  return rows_text(what, schema, images);
}

bool UpsertGroup::all_written() const { return std::find(written.begin(), written.end(), false) == written.end(); }

namespace {

// Bytes that are equal exactly when the values are (Value's operator==): a kind tag, then the
// payload; text is length-prefixed so two columns cannot run into each other.
void append_key_bytes(const Value& v, std::string& out) {
  out += static_cast<char>(v.kind());
  auto put64 = [&](std::uint64_t x) {
    char b[8];
    std::memcpy(b, &x, 8);
    out.append(b, 8);
  };
  switch (v.kind()) {
    case ValueKind::Null: return;
    case ValueKind::Bool: out += v.as_bool() ? '1' : '0'; return;
    case ValueKind::Int: put64(static_cast<std::uint64_t>(v.as_int())); return;
    case ValueKind::UInt: put64(v.as_uint()); return;
    case ValueKind::Double: {
      double d = v.as_double();
      if (std::isnan(d)) d = std::nan("");  // every NaN equals every other NaN
      std::uint64_t bits;
      std::memcpy(&bits, &d, 8);
      put64(bits);
      return;
    }
    default:
      put64(v.text().size());
      out += v.text();
      return;
  }
}

struct KeyState {
  bool deleted = false;
  ReducedRow last;            // the image, and the event that set it
  std::vector<bool> written;  // empty = every column
  bool known() const { return last.image || !last.own.empty(); }
  // The image, to change: a copy of the event's, made now.
  Row& own() {
    if (last.image) {
      last.own = *last.image;
      last.image = nullptr;
    }
    return last.own;
  }
};

class Reducer {
 public:
  Reducer(const TableLayout& layout, const TableSchema& schema) : t_(layout), schema_(schema) { out_.emplace_back(); }

  std::vector<ReducedSegment> run(const std::vector<ChangeEvent>& changes) {
    for (const ChangeEvent& e : changes) {
      const Row& image = e.op == ChangeOp::Delete || e.after.empty() ? e.before : e.after;
      applying(
          t_.name, [&] { return e.op == ChangeOp::Truncate ? std::string("truncate") : change_text(e.op, schema_, image); },
          [&] { step(e); });
    }
    flush();
    std::vector<ReducedSegment> out;
    for (auto& s : out_)
      if (s.start != ReducedSegment::Start::Batch || !s.deletes.empty() || !s.upserts.empty()) out.push_back(std::move(s));
    return out;
  }

 private:
  void step(const ChangeEvent& e) {
    switch (e.op) {
      case ChangeOp::Truncate:
        flush();
        out_.emplace_back().start = ReducedSegment::Start::Truncate;
        return;
      case ChangeOp::Delete: {
        if (e.before.empty()) throw Error(ErrorKind::Destination, "delete event without a before image", false, t_.where);
        check_width(t_, e.before);
        ReducedRow image = as_is(e.before, e);
        const std::size_t s = state(image.row());  // before the image moves
        set_deleted(s, std::move(image));
        return;
      }
      case ChangeOp::Insert:
      case ChangeOp::Update: upsert(e); return;
    }
  }

  void upsert(const ChangeEvent& e) {
    check_width(t_, e.after);
    if (e.op == ChangeOp::Update && !e.before.empty()) check_width(t_, e.before);
    std::vector<bool> written = written_of(e);
    if (!changes_key(t_, e)) {
      ReducedRow image = as_is(e.after, e);
      std::size_t s = state(image.row());
      KeyState& st = states_[s];
      // An earlier image of this key in the batch fills what this one did not send. After a
      // delete in the batch those values are unknown: what was sent is written.
      if (!written.empty() && !st.deleted && st.known()) {
        Row row = image.row();
        merge(row, written, st);
        image = ReducedRow{nullptr, std::move(row), &e};
      }
      set_row(s, std::move(image), std::move(written));
      return;
    }
    // The key changes: the old key is deleted and the new one written (copies: rare).
    Row row = padded(e.after);
    Row old = padded(e.before);
    for (int k : t_.key)  // a key value not sent is one that did not change
      if (old[static_cast<std::size_t>(k)].is_null()) old[static_cast<std::size_t>(k)] = row[static_cast<std::size_t>(k)];
    auto known = index_.find(key_bytes(old));
    const bool old_deleted = known != index_.end() && states_[known->second].deleted;
    if (!written.empty() && known != index_.end() && !old_deleted) merge(row, written, states_[known->second]);
    // Unsent values only the target has (the old row was not written in this segment): move
    // that row in place. An old key deleted earlier in the batch has no such values left;
    // the new row is written with what was sent.
    if (!written.empty() && !old_deleted) {
      flush();
      ReducedSegment& s = out_.emplace_back();
      s.start = ReducedSegment::Start::Move;
      s.move = KeyMove{std::move(old), std::move(row), full_mask(written), &e};
      return;
    }
    std::size_t o = state(old);
    set_deleted(o, ReducedRow{nullptr, std::move(old), &e});
    std::size_t n = state(row);
    set_row(n, ReducedRow{nullptr, std::move(row), &e}, std::move(written));
  }

  // Fills the columns `written` leaves out from `from` where it had them.
  void merge(Row& row, std::vector<bool>& written, const KeyState& from) const {
    for (std::size_t i = 0; i < t_.ncols; ++i)
      if (!written[i] && (from.written.empty() || from.written[i])) {
        row[i] = from.last.row()[i];
        written[i] = true;
      }
    if (std::find(written.begin(), written.end(), false) == written.end()) written.clear();
  }

  // The columns an event writes, or empty when it writes all. Key columns and the flag are always
  // written, whatever the event says.
  std::vector<bool> written_of(const ChangeEvent& e) const {
    if (std::find(e.unchanged.begin(), e.unchanged.end(), true) == e.unchanged.end()) return {};
    std::vector<bool> w(t_.ncols, true);
    bool any = false;
    for (std::size_t i = 0; i < t_.ncols && i < e.unchanged.size(); ++i)
      if (e.unchanged[i] && !t_.is_key(i) && !t_.is_flag(i)) {
        w[i] = false;
        any = true;
      }
    return any ? w : std::vector<bool>{};
  }

  // The columns a state writes: what it sent, never a column the target computes itself.
  std::vector<bool> full_mask(const std::vector<bool>& written) const {
    std::vector<bool> mask = written.empty() ? std::vector<bool>(t_.ncols, true) : written;
    for (std::size_t i = 0; i < t_.ncols && i < mask.size(); ++i)
      if (t_.is_computed(i)) mask[i] = false;
    return mask;
  }

  Row padded(const Row& r) const {
    Row out = r;
    out.resize(t_.ncols);
    return out;
  }

  // `r` (an image of event `e`) as a reduced row: itself when full width, else a padded copy.
  ReducedRow as_is(const Row& r, const ChangeEvent& e) const {
    if (r.size() == t_.ncols) return ReducedRow{&r, {}, &e};
    return ReducedRow{nullptr, padded(r), &e};
  }

  std::string key_bytes(const Row& r) const {
    std::string k;
    for (int i : t_.key) append_key_bytes(r[static_cast<std::size_t>(i)], k);
    return k;
  }

  // The index of the state of `row`'s key, made on first touch.
  std::size_t state(const Row& row) {
    auto [it, added] = index_.emplace(key_bytes(row), states_.size());
    if (added) states_.emplace_back();
    return it->second;
  }

  void set_deleted(std::size_t i, ReducedRow image) {
    KeyState& s = states_[i];
    if (t_.soft_delete >= 0 && !s.deleted && s.known()) {
      // A soft delete leaves the row in place: one written earlier in the segment is written
      // flagged, or the flag would land on a row the target never got.
      s.own()[static_cast<std::size_t>(t_.soft_delete)] = Value::boolean(true);
      s.last.event = image.event;
      return;
    }
    s.deleted = true;
    s.last = std::move(image);
    s.written.clear();
  }

  void set_row(std::size_t i, ReducedRow image, std::vector<bool> written) {
    KeyState& s = states_[i];
    s.deleted = false;
    s.last = std::move(image);
    s.written = std::move(written);
  }

  // Closes the current segment: its key states become its deletes and upsert groups.
  void flush() {
    ReducedSegment& seg = out_.back();
    std::map<std::vector<bool>, std::size_t> group_of;
    for (KeyState& s : states_) {
      if (s.deleted) {
        seg.deletes.push_back(std::move(s.last));
        continue;
      }
      std::vector<bool> mask = full_mask(s.written);
      auto [it, added] = group_of.emplace(mask, seg.upserts.size());
      if (added) seg.upserts.push_back(UpsertGroup{std::move(mask), {}});
      seg.upserts[it->second].rows.push_back(std::move(s.last));
    }
    states_.clear();
    index_.clear();
  }

  const TableLayout& t_;
  const TableSchema& schema_;
  std::vector<ReducedSegment> out_;
  std::vector<KeyState> states_;  // in order of first touch
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace

std::vector<ReducedSegment> reduce_changes(const TableLayout& layout, const TableSchema& schema,
                                           const std::vector<ChangeEvent>& changes) {
  if (!layout.keyed())
    throw Error(ErrorKind::Internal, "change reduction needs a table with a key", false, layout.where);
  return Reducer(layout, schema).run(changes);
}

void apply_reduced(const TableLayout& layout, const TableSchema& schema, const std::vector<ChangeEvent>& changes,
                   const SegmentSink& sink) {
  for (const auto& seg : reduce_changes(layout, schema, changes)) {
    if (seg.start == ReducedSegment::Start::Truncate) applying(layout.name, [] { return std::string("truncate"); }, sink.truncate);
    if (seg.start == ReducedSegment::Start::Move)
      applying(layout.name, [&] { return change_text(ChangeOp::Update, schema, seg.move.after); }, [&] { sink.move(seg.move); });
    if (!seg.deletes.empty()) sink.deletes(seg.deletes);
    for (const auto& g : seg.upserts) sink.upserts(g);
  }
}

}  // namespace cdc::detail
