// Row conversion on the way to the destination: source values through the table plan's
// converters and into target column order, and the quarantine records of rows that cannot be
// converted. Pure functions of a table's plan; thread-safe.
#pragma once

#include "core/session/table_state.h"

#include <cdc/destination.h>

#include <string>
#include <vector>

namespace cdc::detail {

struct ConversionFailure {
  std::string column, value, error, key;
};

// Converts one row in read order into target order and types. On a value that cannot be
// converted: fills `failure` and returns false when given one, throws Error(Conversion) naming
// table, column and key otherwise.
bool convert_row(const TableState& t, Row& row, ConversionFailure* failure);

// Converts a batch; rows that cannot be converted leave the batch for `quarantined` (or throw
// when it is null).
void convert_rows(const TableState& t, std::vector<Row>& rows, std::vector<QuarantinedRow>* quarantined,
                  const std::string& position, std::int64_t now_us);

QuarantinedRow quarantine_record(const TableState& t, const ConversionFailure& f, const std::string& position, std::int64_t now_us);

// Converts the before/after images of stream events in place (and their unchanged masks into
// target order). Events that cannot be converted leave `events` for `quarantined` (or throw
// when it is null).
void convert_events(const TableState& t, std::vector<ChangeEvent>& events, std::vector<QuarantinedRow>* quarantined,
                    std::int64_t now_us);

// Records quarantined rows in the writer's transaction (the destination declares a quarantine
// table whenever rows reach here: without one, conversions throw instead).
void write_quarantine(DestinationWriter& writer, const std::string& session, const std::vector<QuarantinedRow>& rows);

}  // namespace cdc::detail
