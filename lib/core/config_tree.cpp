#include "core/config_tree.h"

#include <cdc/error.h>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace cdc::detail {

namespace {

ConfigNode from_yaml(const YAML::Node& n) {
  ConfigNode out;
  out.line = n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: out.type = ConfigNode::Type::Null; break;
    case YAML::NodeType::Scalar:
      out.type = ConfigNode::Type::String;
      out.text = n.Scalar();
      out.plain = n.Tag() == "?";  // "!" = quoted, "?" = plain
      break;
    case YAML::NodeType::Sequence:
      out.type = ConfigNode::Type::Seq;
      for (const auto& item : n) out.items.push_back(from_yaml(item));
      break;
    case YAML::NodeType::Map:
      out.type = ConfigNode::Type::Map;
      for (const auto& kv : n) {
        if (!kv.first.IsScalar())
          throw config_error(fmt::format("line {}", kv.first.Mark().line + 1), "map keys must be plain names");
        out.fields.emplace_back(kv.first.Scalar(), from_yaml(kv.second));
      }
      break;
  }
  return out;
}

ConfigNode from_json(const boost::json::value& v) {
  ConfigNode out;
  switch (v.kind()) {
    case boost::json::kind::null: out.type = ConfigNode::Type::Null; break;
    case boost::json::kind::bool_:
      out.type = ConfigNode::Type::Bool;
      out.text = v.get_bool() ? "true" : "false";
      break;
    case boost::json::kind::int64:
      out.type = ConfigNode::Type::Int;
      out.text = std::to_string(v.get_int64());
      break;
    case boost::json::kind::uint64:
      out.type = ConfigNode::Type::Int;
      out.text = std::to_string(v.get_uint64());
      break;
    case boost::json::kind::double_:
      out.type = ConfigNode::Type::Double;
      out.text = fmt::format("{}", v.get_double());
      break;
    case boost::json::kind::string:
      out.type = ConfigNode::Type::String;
      out.text = std::string(v.get_string());
      break;
    case boost::json::kind::array:
      out.type = ConfigNode::Type::Seq;
      for (const auto& item : v.get_array()) out.items.push_back(from_json(item));
      break;
    case boost::json::kind::object:
      out.type = ConfigNode::Type::Map;
      for (const auto& kv : v.get_object()) out.fields.emplace_back(std::string(kv.key()), from_json(kv.value()));
      break;
  }
  return out;
}

}  // namespace

ConfigNode parse_yaml_tree(const std::string& text, const std::string& origin) {
  try {
    return from_yaml(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw config_error(fmt::format("{}:{}:{}", origin, e.mark.line + 1, e.mark.column + 1),
                       fmt::format("invalid YAML: {}", e.msg));
  }
}

ConfigNode parse_json_tree(const std::string& text, const std::string& origin) {
  boost::json::error_code ec;
  boost::json::parse_options opts;
  opts.allow_comments = true;
  opts.allow_trailing_commas = true;
  auto v = boost::json::parse(text, ec, {}, opts);
  if (ec) throw config_error(origin, fmt::format("invalid JSON: {}", ec.message()));
  return from_json(v);
}

}  // namespace cdc::detail
