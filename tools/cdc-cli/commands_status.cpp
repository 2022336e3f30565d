// cdc-cli status -c CONFIG: per-table state read from the session's checkpoint store.
#include "checkpoint_helpers.h"
#include "cli.h"
#include "text_table.h"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace cdc_cli {

namespace {

struct StatusArgs {
  std::string config_path;
  OutputFormat format = OutputFormat::Table;
};

boost::json::object to_json(const SessionCheckpoint& s) {
  boost::json::object o;
  o["session"] = s.session;
  o["stream_position"] = s.stream_position;
  boost::json::array tables;
  for (const auto& t : s.tables) {
    boost::json::object j;
    j["source"] = t.source;
    j["target"] = t.target;
    j["phase"] = t.phase;
    j["rows"] = t.rows;
    j["chunks_done"] = t.chunks_done;
    j["chunks_total"] = t.chunks_total;
    j["snapshot_position"] = t.snapshot_position;
    j["watermark"] = t.watermark;
    j["error"] = t.error;
    if (!t.raw.empty()) j["raw"] = t.raw;
    tables.push_back(std::move(j));
  }
  o["tables"] = std::move(tables);
  boost::json::object other;
  for (const auto& [k, v] : s.other) other[k] = v;
  o["other"] = std::move(other);
  return o;
}

void print_table(const SessionCheckpoint& s, const std::string& where) {
  print_line(fmt::format("session {} (checkpoints in {})", s.session, where));
  print_line("stream position: " + (s.stream_position.empty() ? std::string("-") : s.stream_position));
  TextTable table({"table", "target", "phase", "rows", "chunks", "position / watermark", "error"});
  table.align_right(3);
  table.align_right(4);
  for (const auto& t : s.tables) {
    std::string chunks = t.chunks_total >= 0 ? fmt::format("{}/{}", t.chunks_done, t.chunks_total)
                                             : (t.chunks_done > 0 ? std::to_string(t.chunks_done) : "-");
    std::string pos = !t.watermark.empty() ? "watermark " + t.watermark
                      : !t.snapshot_position.empty() ? t.snapshot_position : "-";
    std::string phase = t.phase.empty() ? (t.raw.empty() ? "snapshot" : "?") : t.phase;
    table.add_row({t.source, t.target.empty() ? "-" : t.target, phase, t.rows >= 0 ? group_digits(t.rows) : "-",
                   chunks, truncate_display(pos, 40), truncate_display(t.error.empty() ? t.raw : t.error, 60)});
  }
  std::string out = table.render();
  std::fwrite(out.data(), 1, out.size(), stdout);
}

int run_status(const StatusArgs& args) {
  cdc::Config config = cdc::load_config_file(args.config_path);
  std::string where;
  auto store = open_checkpoint_store(config, where);
  std::vector<std::string> sessions;
  if (!config.name.empty()) sessions.push_back(config.name);
  else sessions = store->sessions();

  std::vector<SessionCheckpoint> described;
  for (const auto& name : sessions) {
    auto entries = store->load(name);
    if (!entries.empty()) described.push_back(describe_checkpoint(name, entries));
  }

  if (args.format == OutputFormat::Json) {
    boost::json::array arr;
    for (const auto& s : described) arr.push_back(to_json(s));
    boost::json::object root;
    root["checkpoint_store"] = where;
    root["sessions"] = std::move(arr);
    print_line(boost::json::serialize(root));
    return kExitOk;
  }
  if (described.empty()) {
    print_line(fmt::format("no checkpoints yet{} (store: {})",
                           config.name.empty() ? "" : " for session " + config.name, where));
    return kExitOk;
  }
  for (std::size_t i = 0; i < described.size(); ++i) {
    if (i > 0) print_line("");
    print_table(described[i], where);
  }
  return kExitOk;
}

}  // namespace

void add_status_command(CLI::App& app, CommandFn& selected) {
  auto args = std::make_shared<StatusArgs>();
  auto* sub = app.add_subcommand("status", "Show per-table replication state from the checkpoint store");
  sub->add_option("-c,--config", args->config_path, "Config file (YAML or JSON)")->required()->check(CLI::ExistingFile);
  add_format_option(*sub, args->format);
  sub->footer("Reads the checkpoints only; works while `replicate` runs or after it stopped.\n"
              "Example: cdc-cli status -c cdc.yaml --format json");
  sub->callback([args, &selected] { selected = [args] { return run_status(*args); }; });
}

}  // namespace cdc_cli
