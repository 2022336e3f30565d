// Schema evolution: comparing two descriptions of one table (see include/cdc/schema_change.h).
#include <cdc/schema_change.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace cdc {

std::string_view to_string(ColumnChangeKind kind) {
  switch (kind) {
    case ColumnChangeKind::Added: return "added";
    case ColumnChangeKind::Dropped: return "dropped";
    case ColumnChangeKind::Widened: return "widened";
    case ColumnChangeKind::Renamed: return "renamed";
    case ColumnChangeKind::Incompatible: return "incompatible";
  }
  return "?";
}

std::string_view to_string(SchemaChangeKind kind) {
  switch (kind) {
    case SchemaChangeKind::Altered: return "altered";
    case SchemaChangeKind::Created: return "created";
    case SchemaChangeKind::Dropped: return "dropped";
  }
  return "?";
}

namespace {

int int_bits(TypeId id) {
  switch (id) {
    case TypeId::Int8: return 8;
    case TypeId::Int16: return 16;
    case TypeId::Int24: return 24;
    case TypeId::Int32: return 32;
    case TypeId::Int64: return 64;
    default: return 0;
  }
}

// A bound where -1 means unbounded: does `to` hold at least what `from` holds?
bool bound_fits(int from, int to) { return to < 0 || (from >= 0 && to >= from); }

bool same_text(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

bool type_widens(const LogicalType& from, const LogicalType& to, std::string* why) {
  auto no = [&](const char* what) {
    if (why) *why = fmt::format("{} ({} to {})", what, from.to_string(), to.to_string());
    return false;
  };
  if (from == to) return true;
  int fb = int_bits(from.id), tb = int_bits(to.id);
  if (fb && tb) {
    if (from.is_unsigned && !to.is_unsigned) return tb > fb ? true : no("narrowing");
    if (!from.is_unsigned && to.is_unsigned) return no("type change");  // negative values do not fit
    return tb >= fb ? true : no("narrowing");
  }
  if (from.id != to.id) {
    if (from.id == TypeId::Float32 && to.id == TypeId::Float64) return true;
    if (from.id == TypeId::Float64 && to.id == TypeId::Float32) return no("narrowing");
    return no("type change");
  }
  switch (from.id) {
    case TypeId::Decimal: {
      if (to.precision < 0) return true;
      if (from.precision < 0) return no("narrowing");
      int fs = std::max(from.scale, 0), ts = std::max(to.scale, 0);
      return to.precision - ts >= from.precision - fs && ts >= fs ? true : no("narrowing");
    }
    case TypeId::String:
    case TypeId::Bytes:
      if (!from.fixed_length && to.fixed_length) return no("type change");  // padding would change values
      return bound_fits(from.length, to.length) ? true : no("narrowing");
    case TypeId::Bit: return bound_fits(from.length, to.length) ? true : no("narrowing");
    case TypeId::Time:
    case TypeId::Timestamp:
    case TypeId::TimestampTz:
      // -1 is the source's default precision: only two known precisions can narrow.
      return from.fsp < 0 || to.fsp < 0 || to.fsp >= from.fsp ? true : no("narrowing");
    case TypeId::Enum:
    case TypeId::Set:
      if (to.members.size() >= from.members.size() && std::equal(from.members.begin(), from.members.end(), to.members.begin()))
        return true;
      return no("narrowing");
    case TypeId::Array: return from.element == to.element ? true : no("type change");
    case TypeId::Geometry:  // POINT -> GEOMETRY widens; another shape or a newly fixed SRID does not
      if (to.srid >= 0 && to.srid != from.srid) return no("type change");
      return to.geometry % 1000 == 0 && to.geometry / 1000 == from.geometry / 1000 ? true
             : to.geometry == from.geometry                                       ? true
                                                                                  : no("narrowing");
    default: return true;
  }
}

std::vector<ColumnChange> diff_schemas(const TableSchema& before, const TableSchema& after,
                                       const std::map<std::string, std::string>& renamed) {
  std::vector<ColumnChange> out;
  std::set<std::string> renamed_from, renamed_to;
  auto type_change = [&](const Column& b, const Column& a) {
    if (b.type == a.type && same_text(b.source_type, a.source_type)) return;
    ColumnChange c;
    c.column = a.name;
    c.before = b;
    c.after = a;
    // Same logical type, other native spelling (mediumtext -> longtext): the native type follows.
    c.kind = type_widens(b.type, a.type, &c.reason) ? ColumnChangeKind::Widened : ColumnChangeKind::Incompatible;
    out.push_back(std::move(c));
  };
  for (const auto& [from, to] : renamed) {
    int b = before.index_of(from), a = after.index_of(to);
    if (b < 0 || a < 0 || from == to || after.index_of(from) >= 0) continue;
    ColumnChange c;
    c.kind = ColumnChangeKind::Renamed;
    c.column = to;
    c.old_name = from;
    c.before = before.columns[static_cast<std::size_t>(b)];
    c.after = after.columns[static_cast<std::size_t>(a)];
    out.push_back(c);
    renamed_from.insert(from);
    renamed_to.insert(to);
  }
  std::vector<ColumnChange> renames = out;
  for (const auto& r : renames) type_change(r.before, r.after);
  for (const auto& a : after.columns) {
    if (renamed_to.count(a.name)) continue;
    int b = before.index_of(a.name);
    if (b >= 0) type_change(before.columns[static_cast<std::size_t>(b)], a);
  }
  // Columns of `side` that `other` lacks and no rename explains: dropped, then added.
  auto only_in = [&](const TableSchema& side, const TableSchema& other, const std::set<std::string>& renamed_side,
                     ColumnChangeKind kind) {
    for (const auto& col : side.columns) {
      if (renamed_side.count(col.name) || other.index_of(col.name) >= 0) continue;
      ColumnChange c;
      c.kind = kind;
      c.column = col.name;
      (kind == ColumnChangeKind::Dropped ? c.before : c.after) = col;
      out.push_back(std::move(c));
    }
  };
  only_in(before, after, renamed_from, ColumnChangeKind::Dropped);
  only_in(after, before, renamed_to, ColumnChangeKind::Added);
  return out;
}

}  // namespace cdc
