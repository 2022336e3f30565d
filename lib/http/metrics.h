// Prometheus text exposition (format 0.0.4) of the pipelines' status and of this process
// (docs/status.md lists the metrics). Pure formatting apart from reading /proc/self.
#pragma once

#include <cdc/status_document.h>

#include <string>
#include <vector>

namespace cdc::detail {

std::string prometheus_metrics(const std::vector<PipelineStatus>& pipelines);
// process_* metrics from /proc/self (empty where /proc is not there).
std::string process_metrics();
// A label value escaped as the exposition format wants it (\\, \", \n).
std::string escape_label(const std::string& value);

}  // namespace cdc::detail
