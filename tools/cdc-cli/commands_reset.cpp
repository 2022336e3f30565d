// cdc-cli reset -c CONFIG [--tables t1,t2] [--yes]: forgets a session's checkpoints (all of them,
// or those of some tables) through cdc::reset_checkpoints, so that the next run copies those
// tables again. Asks first on a terminal; elsewhere --yes must say so.
#include "cli.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <iostream>
#include <string>

#include <unistd.h>

namespace cdc_cli {

namespace {

struct ResetArgs {
  std::string config_path;
  std::vector<std::string> tables;
  bool yes = false;
  std::vector<std::string> pipelines;  // --pipeline
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Reads the answer to a yes/no question from stdin (a terminal): true for "y" or "yes".
bool confirmed(const std::string& question) {
  std::fprintf(stderr, "%s [y/N] ", question.c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  for (auto& c : answer) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back()))) answer.pop_back();
  return answer == "y" || answer == "yes";
}

int reset_one(const ResetArgs& args, const cdc::Config& config) {
  const std::string session = cdc::session_name(config);
  const std::string what = args.tables.empty() ? "every table" : "tables " + join(args.tables);
  const std::string store = config.checkpoint.empty() ? cdc::redact_url(config.destination) : cdc::redact_url(config.checkpoint);
  if (!args.yes) {
    if (!::isatty(STDIN_FILENO)) {
      print_error("reset: stdin is not a terminal, so there is nobody to ask: add --yes to forget the checkpoints of session " +
                  session);
      return kExitConfig;
    }
    std::string question = fmt::format(
        "Forget the checkpoints of session {} ({}) kept in {}?\n"
        "The next run copies {} again from scratch; target tables stay as they are until then.",
        session, what, store, args.tables.empty() ? "every table" : "them");
    if (!confirmed(question)) {
      std::fprintf(stderr, "reset cancelled: nothing was changed\n");
      return kExitFailure;
    }
  } else {
    std::fprintf(stderr, "resetting session %s: %s\n", session.c_str(), what.c_str());
  }
  std::vector<std::string> forgotten = cdc::reset_checkpoints(config, args.tables);
  for (const auto& t : forgotten) print_line("forgot the checkpoints of table " + t);
  print_line(forgotten.empty() ? fmt::format("session {}: no checkpoints to forget", session)
                               : fmt::format("session {}: checkpoints of {} table{} forgotten; the next run copies {} again",
                                             session, forgotten.size(), forgotten.size() == 1 ? "" : "s",
                                             forgotten.size() == 1 ? "it" : "them"));
  return kExitOk;
}

int run_reset(const ResetArgs& args) {
  for (const auto& config : load_pipelines(args.config_path, args.pipelines)) {
    int code = reset_one(args, config);
    if (code != kExitOk) return code;
  }
  return kExitOk;
}

}  // namespace

void add_reset_command(CLI::App& app, CommandFn& selected) {
  auto args = std::make_shared<ResetArgs>();
  auto* sub = app.add_subcommand("reset", "Forget a session's checkpoints so that the next run copies its tables again");
  sub->add_option("-c,--config", args->config_path, "Config file (YAML or JSON)")->required()->check(CLI::ExistingFile);
  sub->add_option("--tables", args->tables,
                  "Only these source tables, by name as `status` shows them (comma-separated or repeated; default: all)")
      ->delimiter(',');
  add_pipeline_option(*sub, args->pipelines);
  sub->add_flag("-y,--yes", args->yes, "Do not ask for confirmation (required when stdin is not a terminal)");
  sub->footer(
      "Forgets what the checkpoint store holds for the session of CONFIG (its name, or the name derived from\n"
      "its URLs): snapshot progress, stream positions, watermarks. The next `replicate` starts those tables\n"
      "over with a fresh snapshot; until then the target tables are left as they are.\n"
      "With a config that lists pipelines:, each pipeline's session (or each --pipeline's) is reset in turn.\n"
      "Refused while a process runs the session (stop `replicate` first). Asks for confirmation on a\n"
      "terminal; without one, --yes is required. Prints each table whose checkpoints were forgotten.\n"
      "Exit code: 0 done, 1 refused, failed or not confirmed, 2 configuration error or --yes missing.\n"
      "Example: cdc-cli reset -c cdc.yaml --tables orders,order_items --yes");
  sub->callback([args, &selected] { selected = [args] { return run_reset(*args); }; });
}

}  // namespace cdc_cli
