// cdc-cli verify SRC DST: row counts and checksums per table on both sides; exit 0 when all equal.
#include "cli.h"
#include "text_table.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <optional>

namespace cdc_cli {

namespace {

struct VerifyArgs {
  std::string source;
  std::string destination;
  std::string config_path;
  TableSelection selection;
  OutputFormat format = OutputFormat::Table;
  int max_differences = 5;
  int parallel = 2;
  std::vector<std::string> pipelines;  // --pipeline
};

std::string short_checksum(const std::string& c) { return c.empty() ? "-" : c.substr(0, 16); }

void print_report_json(const cdc::VerifyReport& report, const std::string& pipeline) {
  boost::json::array arr;
  for (const auto& t : report.tables) {
    boost::json::object o;
    o["source"] = t.source;
    o["target"] = t.target;
    o["source_rows"] = t.source_rows;
    o["target_rows"] = t.target_rows;
    o["source_checksum"] = t.source_checksum;
    o["target_checksum"] = t.target_checksum;
    o["equal"] = t.equal;
    boost::json::array keys;
    for (const auto& k : t.differing_keys) keys.emplace_back(k);
    o["differing_keys"] = std::move(keys);
    o["error"] = t.error;
    arr.push_back(std::move(o));
  }
  boost::json::object root;
  if (!pipeline.empty()) root["pipeline"] = pipeline;
  root["all_equal"] = report.all_equal();
  root["tables"] = std::move(arr);
  print_line(boost::json::serialize(root));
}

void print_report_table(const cdc::VerifyReport& report) {
  TextTable table({"table", "target", "source rows", "target rows", "source checksum", "target checksum", "result"});
  table.align_right(2);
  table.align_right(3);
  int differing = 0;
  for (const auto& t : report.tables) {
    if (!t.equal) ++differing;
    table.add_row({t.source, t.target, group_digits(t.source_rows), group_digits(t.target_rows),
                   short_checksum(t.source_checksum), short_checksum(t.target_checksum),
                   t.equal ? "OK" : (t.error.empty() ? "DIFF" : "ERROR")});
  }
  std::string out = table.render();
  for (const auto& t : report.tables) {
    if (!t.error.empty()) out += fmt::format("{}: {}\n", t.source, t.error);
    for (const auto& key : t.differing_keys) out += fmt::format("{}: {}\n", t.source, key);
  }
  if (report.tables.empty()) out += "no tables selected\n";
  else if (differing == 0) out += fmt::format("all {} tables equal\n", report.tables.size());
  else out += fmt::format("{} of {} tables differ\n", differing, report.tables.size());
  std::fwrite(out.data(), 1, out.size(), stdout);
}

// Verifies one pair: the URLs given, or one pipeline of the config (`config`).
bool verify_one(const VerifyArgs& args, const cdc::Config* config, const std::string& pipeline) {
  cdc::VerifyOptions options;
  std::string source = args.source, destination = args.destination;
  if (config) {
    options.config = config;
    options.include = config->include;
    options.exclude = config->exclude;
    if (source.empty()) source = config->source;
    if (destination.empty()) destination = config->destination;
  }
  if (source.empty() || destination.empty())
    throw cdc::config_error("verify", "give SOURCE and DESTINATION URLs, or -c CONFIG");
  if (!args.selection.include.empty()) options.include = args.selection.include;
  if (!args.selection.exclude.empty()) options.exclude = args.selection.exclude;
  options.views = args.selection.views;
  options.max_differences = args.max_differences;
  options.parallel = args.parallel;

  cdc::VerifyReport report = cdc::verify(source, destination, options);
  if (args.format == OutputFormat::Json) {
    print_report_json(report, pipeline);
  } else {
    if (!pipeline.empty()) print_line("pipeline " + pipeline + ":");
    print_report_table(report);
  }
  return report.all_equal();
}

int run_verify(const VerifyArgs& args) {
  if (args.config_path.empty()) {
    if (!args.pipelines.empty()) throw cdc::config_error("--pipeline", "selects pipelines of a config file: give -c CONFIG");
    return verify_one(args, nullptr, "") ? kExitOk : kExitFailure;
  }
  cdc::PipelinesConfig file;
  std::vector<cdc::Config> chosen = load_pipelines(args.config_path, args.pipelines, &file);
  if (chosen.size() > 1 && (!args.source.empty() || !args.destination.empty()))
    throw cdc::config_error("verify", "SOURCE and DESTINATION name one pair: select one pipeline with --pipeline");
  // One JSON document per pipeline (a line each), or one table per pipeline under its name.
  bool all_equal = true;
  for (const auto& config : chosen)
    if (!verify_one(args, &config, file.listed ? cdc::pipeline_name(config) : std::string())) all_equal = false;
  return all_equal ? kExitOk : kExitFailure;
}

}  // namespace

void add_verify_command(CLI::App& app, CommandFn& selected) {
  auto args = std::make_shared<VerifyArgs>();
  auto* sub = app.add_subcommand("verify", "Compare source and destination tables by row count and checksum");
  sub->add_option("source", args->source, "Source connector URL (default with -c: the config's source)");
  sub->add_option("destination", args->destination,
                  "Destination connector URL (default with -c: the config's destination); a database: event "
                  "destinations (jsonl, kafka, redis) and Harper cannot be read back as tables and cannot be compared");
  sub->add_option("-c,--config", args->config_path,
                  "Replication config: its renames, targets, column lists and excludes say how tables map")
      ->check(CLI::ExistingFile);
  add_pipeline_option(*sub, args->pipelines);
  add_selection_options(*sub, args->selection);
  add_format_option(*sub, args->format);
  sub->add_option("--max-differences", args->max_differences, "Differing keys reported per table (default 5)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--parallel", args->parallel, "Tables verified at once (default 2)")->check(CLI::Range(1, 64));
  sub->footer("With a config that lists pipelines:, each pipeline (or each --pipeline) is verified in turn, under its name\n"
              "(--format json: one document per line, with a \"pipeline\" key).\n"
              "Exit code: 0 when every table is equal, 1 otherwise.\n"
              "Examples:\n  cdc-cli verify sqlite:///data/shop.db sqlite:///tmp/copy.db\n"
              "  cdc-cli verify -c cdc.yaml --format json");
  sub->callback([args, &selected] { selected = [args] { return run_verify(*args); }; });
}

}  // namespace cdc_cli
