// cdc-cli pause|resume|resync|stop TABLE --url http://HOST:PORT: one table of a running cdc,
// through its HTTP endpoint (POST /api/v1/.../tables/TABLE/ACTION, docs/status.md).
#include "cli.h"
#include "remote.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cstdlib>

namespace cdc_cli {

namespace {

struct ControlArgs {
  std::string table;
  std::string url;
  std::string pipeline;
  std::string token;
};

std::string path_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

int run_control(const std::string& action, const ControlArgs& args) {
  std::string path = args.pipeline.empty()
                         ? fmt::format("/api/v1/tables/{}/{}", path_escape(args.table), action)
                         : fmt::format("/api/v1/pipelines/{}/tables/{}/{}", path_escape(args.pipeline), path_escape(args.table), action);
  auto reply = remote_request(args.url, "POST", path, args.token);
  if (reply.status != 200) {
    print_error(fmt::format("{} {}: {} ({})", action, args.table, remote_error(reply), reply.status));
    return reply.status == 401 || reply.status == 404 ? kExitConfig : kExitFailure;
  }
  auto t = boost::json::parse(reply.body);
  std::string line = fmt::format("{}: {}", std::string(t.at("table").as_string()), std::string(t.at("phase").as_string()));
  if (t.at("paused").as_bool()) line += ", paused";
  if (t.at("held").as_bool() && t.at("hold_reason").is_string()) line += fmt::format(" (held: {})", std::string(t.at("hold_reason").as_string()));
  print_line(line);
  return kExitOk;
}

}  // namespace

void add_remote_options(CLI::App& sub, std::string& url, std::string& token) {
  sub.add_option("--url", url, "The HTTP endpoint of a running cdc (replicate --http / http.listen), e.g. http://127.0.0.1:8080");
  const char* env = std::getenv("CDC_HTTP_TOKEN");
  if (env) token = env;
  sub.add_option("--token", token, "Bearer token of the endpoint (http.token); default: $CDC_HTTP_TOKEN");
}

void add_control_commands(CLI::App& app, CommandFn& selected) {
  const std::pair<const char*, const char*> actions[] = {
      {"pause", "Pause one table of a running cdc (its changes wait; the others go on)"},
      {"resume", "Resume a paused, stopped or failed table of a running cdc"},
      {"resync", "Copy one table again while the others stream (its target stays readable)"},
      {"stop", "Stop one table of a running cdc (keeps its place; resume takes it up)"}};
  for (const auto& [action, help] : actions) {
    auto args = std::make_shared<ControlArgs>();
    auto* sub = app.add_subcommand(action, help);
    sub->add_option("table", args->table, "Source table as the status names it (orders or public.orders)")->required();
    add_remote_options(*sub, args->url, args->token);
    sub->get_option("--url")->required();
    sub->add_option("--pipeline", args->pipeline, "The pipeline of the table (needed when several have a table of that name)");
    sub->footer(fmt::format("Exit code: 0 done, 1 not possible now (409) or unreachable, 2 unknown table or refused token.\n"
                            "Example: cdc-cli {} orders --url http://127.0.0.1:8080",
                            action));
    std::string name = action;
    sub->callback([args, name, &selected] { selected = [args, name] { return run_control(name, *args); }; });
  }
}

}  // namespace cdc_cli
