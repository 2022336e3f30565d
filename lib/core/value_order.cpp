#include "core/value_order.h"

#include <cstdint>

namespace cdc::detail {

namespace {
bool numeric(ValueKind k) { return k == ValueKind::Int || k == ValueKind::UInt || k == ValueKind::Double || k == ValueKind::Bool; }

long double as_long_double(const Value& v) {
  switch (v.kind()) {
    case ValueKind::Int: return static_cast<long double>(v.as_int());
    case ValueKind::UInt: return static_cast<long double>(v.as_uint());
    case ValueKind::Bool: return v.as_bool() ? 1 : 0;
    default: return static_cast<long double>(v.as_double());
  }
}
}  // namespace

int compare_values(const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return a.is_null() == b.is_null() ? 0 : (a.is_null() ? -1 : 1);
  if (numeric(a.kind()) && numeric(b.kind())) {
    if (a.kind() == ValueKind::Int && b.kind() == ValueKind::Int) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int();
    if (a.kind() == ValueKind::UInt && b.kind() == ValueKind::UInt)
      return a.as_uint() < b.as_uint() ? -1 : a.as_uint() > b.as_uint();
    long double x = as_long_double(a), y = as_long_double(b);
    return x < y ? -1 : x > y;
  }
  if (a.has_text() && b.has_text()) return a.text().compare(b.text()) < 0 ? -1 : a.text() == b.text() ? 0 : 1;
  return numeric(a.kind()) ? -1 : 1;
}

}  // namespace cdc::detail
