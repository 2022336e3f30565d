// Prometheus text exposition: https://prometheus.io/docs/instrumenting/exposition_formats/
// Each family is written whole (HELP, TYPE, samples) before the next, as the format requires.
#include "http/metrics.h"

#include <fmt/format.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

namespace cdc::detail {

std::string escape_label(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

class Writer {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(const std::string& name, const std::string& labels, double value) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += ' ';
    out_ += number(value);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string labels(const std::string& pipeline, const std::string& table = {}) {
  std::string s = fmt::format("pipeline=\"{}\"", escape_label(pipeline));
  if (!table.empty()) s += fmt::format(",table=\"{}\"", escape_label(table));
  return s;
}

constexpr TablePhase kPhases[] = {TablePhase::Pending,   TablePhase::Snapshot, TablePhase::Streaming, TablePhase::Incremental,
                                  TablePhase::Done,      TablePhase::Failed,   TablePhase::Stopped,   TablePhase::Resyncing,
                                  TablePhase::Removed,   TablePhase::Dropped};

}  // namespace

std::string prometheus_metrics(const std::vector<PipelineStatus>& pipelines) {
  Writer w;
  using Each = std::function<void(const std::string& pipeline, const TableStatus& t)>;
  auto tables = [&](const Each& f) {
    for (const auto& p : pipelines)
      for (const auto& t : p.status.tables) f(p.name, t);
  };

  w.family("cdc_rows_copied_total", "counter", "Rows written by snapshots and incremental polls (of the current copy).");
  tables([&](const std::string& p, const TableStatus& t) { w.sample("cdc_rows_copied_total", labels(p, t.source), static_cast<double>(t.rows_done)); });

  w.family("cdc_changes_applied_total", "counter", "Stream changes applied by this process, by operation.");
  tables([&](const std::string& p, const TableStatus& t) {
    const std::pair<const char*, std::int64_t> ops[] = {{"insert", t.inserts}, {"update", t.updates}, {"delete", t.deletes}, {"truncate", t.truncates}};
    for (const auto& [op, n] : ops)
      w.sample("cdc_changes_applied_total", labels(p, t.source) + fmt::format(",op=\"{}\"", op), static_cast<double>(n));
  });

  w.family("cdc_replication_lag_seconds", "gauge",
           "Seconds the target is behind the source (source commit time of the last applied change; time held for a paused table).");
  tables([&](const std::string& p, const TableStatus& t) {
    if (t.lag_ms >= 0) w.sample("cdc_replication_lag_seconds", labels(p, t.source), static_cast<double>(t.lag_ms) / 1000.0);
  });

  w.family("cdc_table_phase", "gauge", "1 for the phase a table is in, 0 for the others.");
  tables([&](const std::string& p, const TableStatus& t) {
    for (TablePhase ph : kPhases)
      w.sample("cdc_table_phase", labels(p, t.source) + fmt::format(",phase=\"{}\"", to_string(ph)), ph == t.phase ? 1 : 0);
  });

  w.family("cdc_table_paused", "gauge", "1 while a table is paused.");
  tables([&](const std::string& p, const TableStatus& t) { w.sample("cdc_table_paused", labels(p, t.source), t.paused ? 1 : 0); });

  w.family("cdc_quarantined_rows_total", "counter", "Rows kept in the quarantine table instead of copied.");
  tables([&](const std::string& p, const TableStatus& t) { w.sample("cdc_quarantined_rows_total", labels(p, t.source), static_cast<double>(t.quarantined)); });

  w.family("cdc_errors_total", "counter", "Errors of this process by kind (retried attempts, table failures, change stream errors).");
  for (const auto& p : pipelines) {
    for (const auto& [kind, n] : p.status.errors)
      w.sample("cdc_errors_total", labels(p.name) + fmt::format(",kind=\"{}\"", escape_label(kind)), static_cast<double>(n));
    for (const auto& t : p.status.tables)
      for (const auto& [kind, n] : t.errors)
        w.sample("cdc_errors_total", labels(p.name, t.source) + fmt::format(",kind=\"{}\"", escape_label(kind)), static_cast<double>(n));
  }

  w.family("cdc_batch_apply_seconds", "histogram", "Time to convert, write and commit one stream batch with its checkpoint.");
  for (const auto& p : pipelines) {
    const DurationHistogram& h = p.status.batch_apply;
    std::int64_t cumulative = 0;
    for (std::size_t i = 0; i < h.bounds.size(); ++i) {
      cumulative += i < h.counts.size() ? h.counts[i] : 0;
      w.sample("cdc_batch_apply_seconds_bucket", labels(p.name) + fmt::format(",le=\"{}\"", number(h.bounds[i])), static_cast<double>(cumulative));
    }
    w.sample("cdc_batch_apply_seconds_bucket", labels(p.name) + ",le=\"+Inf\"", static_cast<double>(h.count));
    w.sample("cdc_batch_apply_seconds_sum", labels(p.name), h.sum);
    w.sample("cdc_batch_apply_seconds_count", labels(p.name), static_cast<double>(h.count));
  }

  w.family("cdc_snapshot_rows_estimated", "gauge", "Rows the source estimates a table has (the snapshot's goal).");
  tables([&](const std::string& p, const TableStatus& t) {
    if (t.rows_estimated >= 0) w.sample("cdc_snapshot_rows_estimated", labels(p, t.source), static_cast<double>(t.rows_estimated));
  });

  w.family("cdc_source_log_retained_bytes", "gauge",
           "Source log a held table keeps the server from releasing (PostgreSQL WAL, MariaDB binlog), where the source can tell.");
  tables([&](const std::string& p, const TableStatus& t) {
    if (t.log_retained_bytes >= 0) w.sample("cdc_source_log_retained_bytes", labels(p, t.source), static_cast<double>(t.log_retained_bytes));
  });

  w.family("cdc_pipeline_running", "gauge", "1 while a pipeline is starting, copying or streaming.");
  for (const auto& p : pipelines) {
    SessionState s = p.status.state;
    bool up = s == SessionState::Starting || s == SessionState::Snapshot || s == SessionState::Streaming;
    w.sample("cdc_pipeline_running", labels(p.name), up ? 1 : 0);
  }
  return w.take() + process_metrics();
}

std::string process_metrics() {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (!stat || !std::getline(stat, line)) return {};
  // Fields after the command name (which may hold spaces and parentheses): state is field 3.
  auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream in(line.substr(close + 2));
  std::vector<std::string> f{"", ""};  // fields 1 and 2 (pid, comm) left out: f[n - 1] = field n
  std::string x;
  while (in >> x) f.push_back(x);
  auto field = [&](std::size_t n) -> double { return n - 1 < f.size() ? std::stod(f[n - 1]) : 0; };
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  double cpu = (field(14) + field(15)) / ticks;  // utime + stime
  double vsize = field(23);
  double rss = field(24) * page;
  double start_ticks = field(22);
  double boot = 0;
  {
    std::ifstream s("/proc/stat");
    std::string key;
    while (s >> key) {
      if (key == "btime") {
        s >> boot;
        break;
      }
      std::getline(s, key);
    }
  }
  int fds = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++fds;
    ::closedir(d);
    --fds;  // the directory stream itself
  }
  rlimit lim{};
  double max_fds = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 ? static_cast<double>(lim.rlim_cur) : -1;

  Writer w;
  w.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  w.sample("process_cpu_seconds_total", "", cpu);
  w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  w.sample("process_resident_memory_bytes", "", rss);
  w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  w.sample("process_virtual_memory_bytes", "", vsize);
  w.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  w.sample("process_start_time_seconds", "", boot + start_ticks / ticks);
  w.family("process_open_fds", "gauge", "Number of open file descriptors.");
  w.sample("process_open_fds", "", fds);
  if (max_fds >= 0) {
    w.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    w.sample("process_max_fds", "", max_fds);
  }
  return w.take();
}

}  // namespace cdc::detail
