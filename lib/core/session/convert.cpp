// Row conversion (convert.h).
#include "core/session/convert.h"

#include "core/logging.h"
#include "core/text_util.h"

#include <cdc/error.h>

#include <fmt/format.h>

namespace cdc::detail {

bool convert_row(const TableState& t, Row& row, ConversionFailure* failure) {
  const auto& plan = t.plan;
  if (row.empty()) return true;
  if (!t.identity) {
    for (std::size_t i = 0; i < plan.converters.size() && i < row.size(); ++i) {
      if (!plan.converters[i]) continue;
      try {
        plan.converters[i]->convert_in_place(row[i]);
      } catch (const Error& e) {
        if (!failure)
          throw Error(ErrorKind::Conversion, e.message(), false,
                      fmt::format("table {} column {} ({})", t.id, plan.read.columns[i].name, row_key_text(plan.read, row)));
        *failure = {plan.read.columns[i].name, row[i].to_display(4096), e.message(), row_key_text(plan.read, row)};
        return false;
      }
    }
  }
  if (t.reorder) {
    Row out;
    out.reserve(plan.target_from_read.size());
    for (int src : plan.target_from_read)
      out.push_back(src >= 0 ? std::move(row[static_cast<std::size_t>(src)]) : Value::boolean(false));
    row = std::move(out);
  }
  return true;
}

QuarantinedRow quarantine_record(const TableState& t, const ConversionFailure& f, const std::string& position, std::int64_t now_us) {
  QuarantinedRow q;
  q.table = t.id;
  q.key = f.key;
  q.column = f.column;
  q.value = f.value;
  q.error = f.error;
  q.position = position;
  q.at_us = now_us;
  return q;
}

void convert_rows(const TableState& t, std::vector<Row>& rows, std::vector<QuarantinedRow>* quarantined, const std::string& position,
                  std::int64_t now_us) {
  if (t.identity && !t.reorder) return;
  ConversionFailure f;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!convert_row(t, rows[i], quarantined ? &f : nullptr)) {
      quarantined->push_back(quarantine_record(t, f, position, now_us));
      continue;
    }
    if (kept != i) rows[kept] = std::move(rows[i]);
    ++kept;
  }
  rows.resize(kept);
}

void convert_events(const TableState& t, std::vector<ChangeEvent>& events, std::vector<QuarantinedRow>* quarantined,
                    std::int64_t now_us) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    ChangeEvent& ev = events[i];
    ConversionFailure f;
    bool converted = convert_row(t, ev.before, quarantined ? &f : nullptr) && convert_row(t, ev.after, quarantined ? &f : nullptr);
    if (!converted) {  // the change is in quarantine, not applied
      quarantined->push_back(quarantine_record(t, f, ev.position.str(), now_us));
      continue;
    }
    if (!ev.unchanged.empty() && (t.reorder || ev.unchanged.size() != t.plan.target.schema.columns.size())) {
      std::vector<bool> mask;
      mask.reserve(t.plan.target_from_read.size());
      for (int src : t.plan.target_from_read)
        mask.push_back(src >= 0 && static_cast<std::size_t>(src) < ev.unchanged.size() && ev.unchanged[static_cast<std::size_t>(src)]);
      ev.unchanged = std::move(mask);
    }
    if (kept != i) events[kept] = std::move(ev);
    ++kept;
  }
  events.resize(kept);
}

void write_quarantine(DestinationWriter& writer, const std::string& session, const std::vector<QuarantinedRow>& rows) {
  if (rows.empty()) return;
  writer.quarantine(session, rows);
  for (const auto& q : rows) logf(LogLevel::Warn, "session", q.table, "quarantined row {}: column {}: {}", q.key, q.column, q.error);
}

}  // namespace cdc::detail
