// Ordering of values for watermarks: numbers numerically, text-like kinds by bytes (ISO dates and
// timestamps order correctly as text). Values of different families order by kind.
#pragma once

#include <cdc/value.h>

namespace cdc::detail {

int compare_values(const Value& a, const Value& b);

}  // namespace cdc::detail
