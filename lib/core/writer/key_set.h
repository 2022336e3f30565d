// Where a destination keeps a resync's key set (DestinationWriter::stage_keys): one table per
// (target table, set) in cdc's own namespace, named so that two targets or two sets never share
// one, and short enough for the destination.
#pragma once

#include <cdc/schema.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace cdc::detail {

// "<prefix><schema>_<table>_<set>_<hash>" (no schema part where the target has none), shortened
// by fit_identifier() to `max_length` bytes (0 = no limit). The hash is of the exact triple, so
// names that would read alike ("a_b"+"c" and "a"+"b_c") still differ.
std::string key_set_table_name(std::string_view prefix, const TableId& target, const std::string& set,
                               std::size_t max_length);

}  // namespace cdc::detail
