// cdc-cli discover SRC [--to DST]: tables, row estimates and columns; with --to, the DDL the
// destination would run for each planned table.
#include "cli.h"
#include "text_table.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace cdc_cli {

namespace {

struct DiscoverArgs {
  std::string source;
  std::string destination;
  TableSelection selection;
  OutputFormat format = OutputFormat::Table;
};

bool in_key(const cdc::TableSchema& t, const std::string& column) {
  return std::find(t.primary_key.begin(), t.primary_key.end(), column) != t.primary_key.end();
}

boost::json::object table_json(const cdc::TableSchema& t) {
  boost::json::object o;
  o["schema"] = t.id.schema;
  o["name"] = t.id.name;
  o["id"] = t.id.to_string();
  o["kind"] = t.view ? "view" : "table";
  o["estimated_rows"] = t.estimated_rows;
  o["estimated_bytes"] = t.estimated_bytes;
  boost::json::array pk;
  for (const auto& k : t.primary_key) pk.emplace_back(k);
  o["primary_key"] = std::move(pk);
  boost::json::array cols;
  for (const auto& c : t.columns) {
    boost::json::object j;
    j["name"] = c.name;
    j["type"] = c.type.to_string();
    j["source_type"] = c.source_type;
    j["nullable"] = c.nullable;
    j["primary_key"] = in_key(t, c.name);
    if (c.default_expr) j["default"] = *c.default_expr;
    cols.push_back(std::move(j));
  }
  o["columns"] = std::move(cols);
  return o;
}

std::string table_text(const cdc::TableSchema& t) {
  std::string head = t.view ? fmt::format("{}  (view", t.id.to_string())
                            : fmt::format("{}  (~{} rows", t.id.to_string(), group_digits(t.estimated_rows));
  if (t.has_primary_key()) {
    head += ", key ";
    for (std::size_t i = 0; i < t.primary_key.size(); ++i) head += (i ? "," : "") + t.primary_key[i];
  } else {
    head += ", no primary key";
  }
  head += ")\n";
  TextTable cols({"column", "type", "source type", "null", "pk"});
  for (const auto& c : t.columns)
    cols.add_row({c.name, c.type.to_string(), c.source_type, c.nullable ? "yes" : "no", in_key(t, c.name) ? "yes" : ""});
  std::string body = cols.render();
  // Indent the column table under its heading.
  std::string out = head;
  std::size_t start = 0;
  while (start < body.size()) {
    auto nl = body.find('\n', start);
    out += "  " + body.substr(start, nl - start + 1);
    start = nl + 1;
  }
  return out;
}

int run_discover(const DiscoverArgs& args) {
  cdc::Config config;
  config.source = args.source;
  config.destination = args.destination;
  apply_selection(args.selection, config);

  auto& registry = cdc::ConnectorRegistry::instance();
  auto source = registry.open_source(args.source);

  std::vector<cdc::TableSchema> tables;
  std::vector<std::string> ddl;     // parallel to `tables` with --to
  std::vector<std::string> targets;
  std::vector<std::vector<std::string>> not_carried;  // what the destination would not get, per table
  if (!args.destination.empty()) {
    auto destination = registry.open_destination(args.destination);
    auto plans = cdc::plan_tables(config, *source, *cdc::make_type_mapper(config), destination->dialect(),
                                     destination->max_identifier_length());
    for (const auto& plan : plans) {
      tables.push_back(plan.source);
      targets.push_back(plan.target.schema.id.to_string());
      ddl.push_back(destination->render_ddl(plan.target));
      auto notes = plan.target.not_carried;
      notes.insert(notes.end(), plan.target.not_carried_foreign_keys.begin(), plan.target.not_carried_foreign_keys.end());
      not_carried.push_back(std::move(notes));
    }
  } else {
    tables = source->discover([&](const cdc::TableId& id) { return cdc::table_selected(config, id); });
    tables.erase(std::remove_if(tables.begin(), tables.end(),
                                [&](const cdc::TableSchema& t) { return !cdc::discovered_selected(config, t); }),
                 tables.end());
  }

  if (args.format == OutputFormat::Json) {
    boost::json::array arr;
    for (std::size_t i = 0; i < tables.size(); ++i) {
      auto o = table_json(tables[i]);
      if (!ddl.empty()) {
        o["target"] = targets[i];
        o["ddl"] = ddl[i];
        boost::json::array notes;
        for (const auto& n : not_carried[i]) notes.emplace_back(n);
        o["not_carried"] = std::move(notes);
      }
      arr.push_back(std::move(o));
    }
    boost::json::object root;
    root["source"] = cdc::redact_url(args.source);
    root["dialect"] = source->dialect();
    root["tables"] = std::move(arr);
    print_line(boost::json::serialize(root));
    return kExitOk;
  }

  if (tables.empty()) {
    print_line("no tables selected");
    return kExitOk;
  }
  for (std::size_t i = 0; i < tables.size(); ++i) {
    if (i > 0) print_line("");
    std::string text = table_text(tables[i]);
    if (!ddl.empty()) {
      text += fmt::format("  -> {}:\n{};\n", targets[i], ddl[i]);
      if (!not_carried[i].empty()) {
        text += "  not created at the destination:\n";
        for (const auto& n : not_carried[i]) text += "    " + n + "\n";
      }
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  return kExitOk;
}

}  // namespace

void add_discover_command(CLI::App& app, CommandFn& selected) {
  auto args = std::make_shared<DiscoverArgs>();
  auto* sub = app.add_subcommand("discover", "List tables, row estimates and columns of a source");
  sub->add_option("source", args->source, "Source connector URL")->required();
  sub->add_option("--to", args->destination,
                  "Destination URL: also print the DDL it would create per table, and the schema objects (indexes, "
                  "constraints, foreign keys, generated columns, defaults) it would not get, with the reason");
  add_selection_options(*sub, args->selection);
  add_format_option(*sub, args->format);
  sub->footer("Examples:\n  cdc-cli discover sqlite:///data/shop.db --exclude 'audit_*'\n"
              "  cdc-cli discover sqlite:///data/shop.db --to sqlite:///tmp/replica.db --format json");
  sub->callback([args, &selected] { selected = [args] { return run_discover(*args); }; });
}

}  // namespace cdc_cli
