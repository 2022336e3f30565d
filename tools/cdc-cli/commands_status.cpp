// cdc-cli status -c CONFIG: per-table state as recorded in the session's checkpoint store
// (cdc::checkpoint_status), works while `replicate` runs or after; then, unless --no-source, what
// the source reports about its change log (SourceConnector::stream_diagnostics, e.g. the WAL a
// PostgreSQL slot retains), with its warnings on stderr.
#include "cli.h"
#include "text_table.h"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace cdc_cli {

namespace {

struct StatusArgs {
  std::string config_path;
  OutputFormat format = OutputFormat::Table;
  bool no_source = false;
};

struct SourceFacts {
  std::vector<std::pair<std::string, std::string>> facts;
  std::string error;  // the source could not be asked
};

SourceFacts source_facts(const cdc::Config& config) {
  SourceFacts out;
  try {
    out.facts = cdc::ConnectorRegistry::instance().open_source(config.source)->stream_diagnostics();
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

void print_json(const cdc::SessionStatus& s, const SourceFacts* source) {
  boost::json::array tables;
  for (const auto& t : s.tables) {
    boost::json::object j;
    j["source"] = t.source;
    j["target"] = t.target;
    j["mode"] = std::string(cdc::to_string(t.mode));
    j["phase"] = std::string(cdc::to_string(t.phase));
    j["rows_done"] = t.rows_done;
    j["rows_estimated"] = t.rows_estimated;
    j["chunks_done"] = t.chunks_done;
    j["chunks_total"] = t.chunks_total;
    j["changes_applied"] = t.changes_applied;
    j["quarantined"] = t.quarantined;
    j["position"] = t.position;
    j["error"] = t.error;
    tables.push_back(std::move(j));
  }
  boost::json::object root;
  root["session"] = s.name;
  root["stream_position"] = s.stream_position;
  root["tables"] = std::move(tables);
  if (source) {
    boost::json::object src;
    for (const auto& [k, v] : source->facts) src[k] = v;
    if (!source->error.empty()) src["error"] = source->error;
    root["source"] = std::move(src);
  }
  print_line(boost::json::serialize(root));
}

void print_table(const cdc::SessionStatus& s) {
  print_line("session: " + s.name);
  print_line("stream position: " + (s.stream_position.empty() ? std::string("-") : s.stream_position));
  if (s.tables.empty()) {
    print_line("no table checkpoints yet");
    return;
  }
  TextTable table({"table", "target", "mode", "phase", "rows", "chunks", "changes", "quarantined", "position", "error"});
  for (std::size_t c : {4u, 5u, 6u, 7u}) table.align_right(c);
  for (const auto& t : s.tables) {
    std::string rows = group_digits(t.rows_done);
    if (t.phase == cdc::TablePhase::Snapshot && t.rows_estimated >= 0) rows += " / ~" + group_digits(t.rows_estimated);
    std::string chunks = t.chunks_total > 0 ? fmt::format("{}/{}", t.chunks_done, t.chunks_total) : "-";
    table.add_row({t.source, t.target.empty() ? "-" : t.target, std::string(cdc::to_string(t.mode)),
                   std::string(cdc::to_string(t.phase)), rows, chunks, group_digits(t.changes_applied),
                   group_digits(t.quarantined), t.position.empty() ? "-" : truncate_display(t.position, 40), truncate_display(t.error, 60)});
  }
  std::string out = table.render();
  std::fwrite(out.data(), 1, out.size(), stdout);
}

int run_status(const StatusArgs& args) {
  cdc::Config config = cdc::load_config_file(args.config_path);
  cdc::SessionStatus status = cdc::checkpoint_status(config);
  SourceFacts source;
  if (!args.no_source) source = source_facts(config);
  if (args.format == OutputFormat::Json) {
    print_json(status, args.no_source ? nullptr : &source);
  } else {
    print_table(status);
    if (!args.no_source && !source.facts.empty()) {
      print_line("source:");
      for (const auto& [k, v] : source.facts) print_line("  " + k + ": " + v);
    }
  }
  if (!source.error.empty()) std::fprintf(stderr, "warning: could not ask the source: %s\n", source.error.c_str());
  for (const auto& [k, v] : source.facts)
    if (k == "warning") std::fprintf(stderr, "warning: %s\n", v.c_str());
  for (const auto& t : status.tables)
    if (t.phase == cdc::TablePhase::Failed) return kExitFailure;
  return kExitOk;
}

}  // namespace

void add_status_command(CLI::App& app, CommandFn& selected) {
  auto args = std::make_shared<StatusArgs>();
  auto* sub = app.add_subcommand("status", "Show per-table replication state from the checkpoint store");
  sub->add_option("-c,--config", args->config_path, "Config file (YAML or JSON)")->required()->check(CLI::ExistingFile);
  add_format_option(*sub, args->format);
  sub->add_flag("--no-source", args->no_source, "Do not ask the source about its change log (retained WAL, ...)");
  sub->footer("Reads the checkpoints, then asks the source about its change log (a PostgreSQL slot's retained\n"
              "WAL, with a warning above 1 GB); works while `replicate` runs or after it stopped.\n"
              "Exit code: 0, or 1 when a table is recorded as failed.\n"
              "Example: cdc-cli status -c cdc.yaml --format json");
  sub->callback([args, &selected] { selected = [args] { return run_status(*args); }; });
}

}  // namespace cdc_cli
