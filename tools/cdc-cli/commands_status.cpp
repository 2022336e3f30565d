// cdc-cli status -c CONFIG: per-table state as recorded in the session's checkpoint store
// (cdc::checkpoint_status), works while `replicate` runs or after, with the last runs and errors of
// the run history; then, unless --no-source, what
// the source reports about its change log (SourceConnector::stream_diagnostics, e.g. the WAL a
// PostgreSQL slot retains), with its warnings on stderr.
#include "cli.h"
#include "remote.h"
#include "text_table.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace cdc_cli {

namespace {

struct StatusArgs {
  std::string config_path;
  std::string url;    // --url: live status from a running cdc
  std::string token;
  OutputFormat format = OutputFormat::Table;
  bool no_source = false;
  std::vector<std::string> pipelines;  // --pipeline
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

// The status document (docs/status.md), as GET /api/v1/status serves it, from the checkpoint store;
// the source's facts about its change log go under each pipeline's "source_log".
void print_json(const std::vector<cdc::PipelineStatus>& pipelines, const std::vector<SourceFacts>* sources) {
  boost::json::value doc = boost::json::parse(cdc::status_document(pipelines, false));
  for (std::size_t i = 0; sources && i < sources->size(); ++i) {
    boost::json::object src;
    for (const auto& [k, v] : (*sources)[i].facts) src[k] = v;
    if (!(*sources)[i].error.empty()) src["error"] = (*sources)[i].error;
    doc.at("pipelines").as_array().at(i).as_object()["source_log"] = std::move(src);
  }
  print_line(boost::json::serialize(doc));
}

// The last runs and errors the destination's run history holds (_cdc_runs, _cdc_errors).
void print_history(const cdc::SessionStatus& s) {
  if (!s.runs.empty()) {
    print_line("last runs:");
    TextTable runs({"run", "kind", "started (UTC)", "ended (UTC)", "outcome", "rows", "changes", "error"});
    for (std::size_t c : {0u, 5u, 6u}) runs.align_right(c);
    for (const auto& r : s.runs)
      runs.add_row({std::to_string(r.run), r.kind, r.started_at.substr(0, 19), r.ended_at.empty() ? "-" : r.ended_at.substr(0, 19),
                    r.outcome, group_digits(r.rows), group_digits(r.changes), truncate_display(r.error, 60)});
    std::string out = runs.render();
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  if (!s.recent_errors.empty()) {
    print_line("last errors:");
    TextTable errors({"at (UTC)", "run", "table", "kind", "message"});
    errors.align_right(1);
    for (const auto& e : s.recent_errors)
      errors.add_row({e.at.substr(0, 19), std::to_string(e.run), e.table.empty() ? "-" : e.table, e.kind, truncate_display(e.message, 80)});
    std::string out = errors.render();
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
}

void print_table(const cdc::SessionStatus& s) {
  print_line("session: " + s.name);
  print_line("stream position: " + (s.stream_position.empty() ? std::string("-") : s.stream_position));
  if (s.tables.empty()) {
    print_line("no table checkpoints yet");
    print_history(s);
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
  print_history(s);
}

// JSON as YAML (block style; strings double-quoted, which YAML reads as JSON does).
void emit_yaml(const boost::json::value& v, int indent, std::string& out) {
  std::string pad(static_cast<std::size_t>(indent), ' ');
  auto scalar = [](const boost::json::value& x) { return boost::json::serialize(x); };
  if (v.is_object()) {
    if (v.as_object().empty()) {
      out += " {}\n";
      return;
    }
    out += "\n";
    for (const auto& kv : v.as_object()) {
      out += pad + std::string(kv.key()) + ":";
      if (kv.value().is_structured()) emit_yaml(kv.value(), indent + 2, out);
      else out += " " + scalar(kv.value()) + "\n";
    }
  } else if (v.is_array()) {
    if (v.as_array().empty()) {
      out += " []\n";
      return;
    }
    out += "\n";
    for (const auto& item : v.as_array()) {
      out += pad + "-";
      if (item.is_object() && !item.as_object().empty()) {
        // The first key on the dash's line, the others under it.
        std::string inner;
        emit_yaml(item, indent + 2, inner);
        out += " " + inner.substr(1 + static_cast<std::size_t>(indent) + 2);
      } else if (item.is_structured()) {
        emit_yaml(item, indent + 2, out);
      } else {
        out += " " + scalar(item) + "\n";
      }
    }
  } else {
    out += " " + scalar(v) + "\n";
  }
}

std::string num_or_dash(const boost::json::value& v, bool grouped = true) {
  if (v.is_int64()) return grouped ? group_digits(v.as_int64()) : std::to_string(v.as_int64());
  if (v.is_uint64()) return group_digits(static_cast<std::int64_t>(v.as_uint64()));
  if (v.is_double()) return format_rate(v.as_double());
  return "-";
}

// cdc-cli status --url: the live status document of a running cdc.
int run_remote_status(const StatusArgs& args) {
  auto reply = remote_request(args.url, "GET", "/api/v1/status", args.token);
  if (reply.status != 200) {
    print_error(fmt::format("status: {} ({})", remote_error(reply), reply.status));
    return reply.status == 401 ? kExitConfig : kExitFailure;
  }
  auto doc = boost::json::parse(reply.body);
  if (!args.pipelines.empty()) {  // --pipeline: only those
    auto& list = doc.at("pipelines").as_array();
    for (const auto& want : args.pipelines)
      if (std::none_of(list.begin(), list.end(), [&](const boost::json::value& p) { return p.at("name") == want.c_str(); }))
        throw cdc::config_error("--pipeline", fmt::format("the process at {} runs no pipeline named \"{}\"", args.url, want));
    boost::json::array kept;
    for (auto& p : list)
      if (std::find(args.pipelines.begin(), args.pipelines.end(), std::string(p.at("name").as_string())) != args.pipelines.end())
        kept.push_back(p);
    list = std::move(kept);
  }
  int code = kExitOk;
  for (const auto& p : doc.at("pipelines").as_array())
    for (const auto& t : p.at("tables").as_array())
      if (t.at("phase") == "failed") code = kExitFailure;
  if (args.format == OutputFormat::Json) {
    print_line(args.pipelines.empty() ? reply.body : boost::json::serialize(doc));
    return code;
  }
  if (args.format == OutputFormat::Yaml) {
    std::string out;
    emit_yaml(doc, 0, out);
    std::fwrite(out.data() + 1, 1, out.size() - 1, stdout);
    return code;
  }
  for (const auto& p : doc.at("pipelines").as_array()) {
    std::string head = fmt::format("pipeline {}: {}", std::string(p.at("name").as_string()), std::string(p.at("state").as_string()));
    if (p.at("lag_seconds").is_number()) head += ", lag " + format_duration(p.at("lag_seconds").to_number<double>());
    if (p.at("error").is_string()) head += ", error: " + std::string(p.at("error").as_string());
    print_line(head);
    TextTable table({"table", "phase", "rows", "changes", "rows/s", "lag", "errors", "last error"});
    for (std::size_t c : {2u, 3u, 4u, 5u, 6u}) table.align_right(c);
    for (const auto& t : p.at("tables").as_array()) {
      std::string phase(t.at("phase").as_string());
      if (t.at("paused").as_bool()) phase += " (paused)";
      else if (t.at("held").as_bool() && t.at("hold_reason").is_string()) phase += " (" + std::string(t.at("hold_reason").as_string()) + ")";
      std::int64_t errors = t.at("quarantined").to_number<std::int64_t>();
      for (const auto& kv : t.at("errors").as_object()) errors += kv.value().to_number<std::int64_t>();
      std::string lag = t.at("lag_seconds").is_number() ? format_duration(t.at("lag_seconds").to_number<double>()) : "-";
      table.add_row({std::string(t.at("table").as_string()), phase, num_or_dash(t.at("rows").at("copied")),
                     num_or_dash(t.at("changes").at("applied")), num_or_dash(t.at("rows_per_second")), lag, group_digits(errors),
                     t.at("last_error").is_string() ? truncate_display(std::string(t.at("last_error").as_string()), 60) : ""});
    }
    std::string out = table.render();
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return code;
}

int run_status(const StatusArgs& args) {
  if (!args.url.empty()) return run_remote_status(args);
  if (args.config_path.empty()) throw cdc::Error(cdc::ErrorKind::Config, "status needs -c CONFIG (checkpoint store) or --url (a running cdc)");
  cdc::PipelinesConfig file;
  std::vector<cdc::Config> configs = load_pipelines(args.config_path, args.pipelines, &file);
  std::vector<cdc::PipelineStatus> statuses;
  std::vector<SourceFacts> sources;
  for (const auto& config : configs) {
    cdc::SessionStatus status = cdc::checkpoint_status(config);
    statuses.push_back({config.name.empty() ? status.name : config.name, std::move(status)});
    sources.push_back(args.no_source ? SourceFacts{} : source_facts(config));
  }
  if (args.format == OutputFormat::Yaml) {
    std::string out;
    emit_yaml(boost::json::parse(cdc::status_document(statuses, false)), 0, out);
    std::fwrite(out.data() + 1, 1, out.size() - 1, stdout);
  } else if (args.format == OutputFormat::Json) {
    print_json(statuses, args.no_source ? nullptr : &sources);
  } else {
    for (std::size_t i = 0; i < statuses.size(); ++i) {
      if (file.listed) print_line((i > 0 ? "\npipeline " : "pipeline ") + statuses[i].name + ":");
      print_table(statuses[i].status);
      if (!args.no_source && !sources[i].facts.empty()) {
        print_line("source:");
        for (const auto& [k, v] : sources[i].facts) print_line("  " + k + ": " + v);
      }
    }
  }
  int code = kExitOk;
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    const std::string who = file.listed ? " (pipeline " + statuses[i].name + ")" : "";
    if (!sources[i].error.empty())
      std::fprintf(stderr, "warning: could not ask the source%s: %s\n", who.c_str(), sources[i].error.c_str());
    for (const auto& [k, v] : sources[i].facts)
      if (k == "warning") std::fprintf(stderr, "warning%s: %s\n", who.c_str(), v.c_str());
    for (const auto& t : statuses[i].status.tables)
      if (t.phase == cdc::TablePhase::Failed) code = kExitFailure;
  }
  return code;
}

}  // namespace

void add_status_command(CLI::App& app, CommandFn& selected) {
  auto args = std::make_shared<StatusArgs>();
  auto* sub = app.add_subcommand("status", "Show per-table replication state from the checkpoint store, or live from a running cdc (--url)");
  sub->add_option("-c,--config", args->config_path, "Config file (YAML or JSON)")->check(CLI::ExistingFile);
  add_remote_options(*sub, args->url, args->token);
  sub->add_option_function<std::string>(
         "--format",
         [args](const std::string& v) {
           args->format = v == "json" ? OutputFormat::Json : v == "yaml" ? OutputFormat::Yaml : OutputFormat::Table;
         },
         "Output format: table (default), json (the status document, docs/status.md) or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}));
  add_pipeline_option(*sub, args->pipelines);
  sub->add_flag("--no-source", args->no_source, "Do not ask the source about its change log (retained WAL, ...)");
  sub->footer("Reads the checkpoints, then asks the source about its change log (a PostgreSQL slot's retained\n"
              "WAL, with a warning above 1 GB); works while `replicate` runs or after it stopped.\n"
              "With --url instead of -c, shows the live status of a running cdc (replicate --http), rates and lag included.\n"
              "Exit code: 0, or 1 when a table is recorded as failed.\n"
              "Example: cdc-cli status -c cdc.yaml --format json; cdc-cli status --url http://127.0.0.1:8080");
  sub->callback([args, &selected] { selected = [args] { return run_status(*args); }; });
}

}  // namespace cdc_cli
