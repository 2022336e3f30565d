#include "core/config_tree.h"

#include <cdc/error.h>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <vector>

namespace cdc::detail {

namespace {

[[noreturn]] void too_deep(const std::string& origin, int line) {
  throw config_error(line > 0 ? fmt::format("{}:{}", origin, line) : origin,
                     fmt::format("nesting deeper than {} levels (maps and lists inside each other)", kMaxConfigDepth));
}

// The first line (1-based) on which a YAML document's collections nest deeper than `limit`, 0 when
// they never do. A measure taken before yaml-cpp parses the text, not a parse: block collections
// count by their indentation (a sequence written at its key's own column once more), flow
// collections by their brackets, and every "- " and "? " of a compact entry ("- - x") as a level;
// quoted scalars, comments and block scalars (| and >) are skipped. Where it misreads a document
// it mostly counts levels that are not there; yaml-cpp's own guard (2000 levels) stays behind it.
int yaml_too_deep_line(std::string_view text, int limit) {
  constexpr std::size_t npos = std::string_view::npos;
  struct Level {
    std::size_t column;
    bool seq;
  };
  std::vector<Level> block;
  int flow = 0;
  char quote = 0;     // inside a quoted scalar that goes on past the end of a line
  bool plain = false;  // inside a plain scalar of a flow collection (a quote there is a character)
  long scalar_parent = -1;     // a block scalar is open: the column of the entry that holds it
  std::size_t scalar_indent = 0;  // its content's indentation, 0 until its first line
  int line_no = 0;
  auto deep = [&] { return static_cast<int>(block.size()) + flow > limit; };
  auto open = [&](std::size_t column, bool seq) {
    if (!block.empty() && block.back().column == column && block.back().seq != seq && block.back().seq) block.pop_back();
    if (!block.empty() && block.back().column == column && block.back().seq == seq) return;  // a sibling entry
    block.push_back({column, seq});
  };
  // Quoted scalars and flow collections from `pos` to the end of the line.
  auto inline_scan = [&](std::string_view line, std::size_t pos) {
    for (; pos < line.size(); ++pos) {
      const char c = line[pos];
      if (quote) {
        if (quote == '"' && c == '\\') ++pos;
        else if (quote == '\'' && c == '\'' && pos + 1 < line.size() && line[pos + 1] == '\'') ++pos;
        else if (c == quote) quote = 0;
        if (!quote && flow == 0) return;  // a quoted scalar of the block context ended: nothing nests after it
        continue;
      }
      const bool space_before = pos == 0 || line[pos - 1] == ' ' || line[pos - 1] == '\t';
      if (c == '#' && space_before) return;
      if (c == '[' || c == '{') {
        ++flow;
        plain = false;
        if (deep()) return;
      } else if (c == ']' || c == '}') {
        if (flow > 0) --flow;
        plain = false;
        if (flow == 0) return;  // back in the block context: nothing nests after it on this line
      } else if (c == ',') {
        plain = false;
      } else if (c == ':') {
        const char next = pos + 1 < line.size() ? line[pos + 1] : ' ';
        if (next == ' ' || next == '\t' || next == ',' || next == ']' || next == '}' || next == '[' || next == '{') plain = false;
      } else if ((c == '"' || c == '\'') && !plain) {
        quote = c;
      } else if (c != ' ' && c != '\t') {
        plain = true;
      }
    }
  };
  // Where "key:" ends on a block line whose entry starts at `pos` (the colon), npos for no key.
  auto key_colon = [](std::string_view line, std::size_t pos) -> std::size_t {
    if (pos >= line.size() || line[pos] == '[' || line[pos] == '{') return npos;
    if (line[pos] == '"' || line[pos] == '\'') {
      const char q = line[pos];
      std::size_t i = pos + 1;
      for (; i < line.size(); ++i) {
        if (q == '"' && line[i] == '\\') ++i;
        else if (q == '\'' && line[i] == '\'' && i + 1 < line.size() && line[i + 1] == '\'') ++i;
        else if (line[i] == q) break;
      }
      if (i >= line.size()) return npos;
      i = line.find_first_not_of(" \t", i + 1);
      return i != npos && line[i] == ':' && (i + 1 == line.size() || line[i + 1] == ' ' || line[i + 1] == '\t') ? i : npos;
    }
    for (std::size_t i = pos; i < line.size(); ++i) {
      if (line[i] == '#' && i > pos && (line[i - 1] == ' ' || line[i - 1] == '\t')) return npos;
      if (line[i] == ':' && (i + 1 == line.size() || line[i + 1] == ' ' || line[i + 1] == '\t')) return i;
    }
    return npos;
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t indent = line.find_first_not_of(' ');
    if (scalar_parent >= 0) {
      if (indent == npos) continue;
      if (scalar_indent == 0 && indent > static_cast<std::size_t>(scalar_parent)) scalar_indent = indent;
      if (scalar_indent != 0 && indent >= scalar_indent) continue;
      scalar_parent = -1;
    }
    if (quote || flow > 0) {
      inline_scan(line, 0);
      if (deep()) return line_no;
      continue;
    }
    if (indent == npos || line[indent] == '#') continue;
    std::size_t pos = indent;
    std::size_t owner = indent;  // the column of the entry a value on this line belongs to
    if (indent == 0 && (line.substr(0, 3) == "---" || line.substr(0, 3) == "...") &&
        (line.size() == 3 || line[3] == ' ' || line[3] == '\t')) {
      block.clear();  // a new document
      pos = 3;
    } else {
      while (!block.empty() && block.back().column > indent) block.pop_back();
      for (;;) {  // the entries this line opens: "- ", "? " (compact ones nest: "- - x") and "key:"
        pos = std::min(line.find_first_not_of(" \t", pos), line.size());
        if (pos == line.size() || line[pos] == '#') break;
        const char c = line[pos];
        if ((c == '-' || c == '?') && (pos + 1 == line.size() || line[pos + 1] == ' ' || line[pos + 1] == '\t')) {
          open(pos, c == '-');
          if (deep()) return line_no;
          owner = pos++;
          continue;
        }
        if (std::size_t colon = key_colon(line, pos); colon != npos) {
          open(pos, false);
          if (deep()) return line_no;
          owner = pos;
          pos = colon + 1;
        }
        break;
      }
    }
    // The value on this line, after anchors and tags.
    for (;;) {
      pos = std::min(line.find_first_not_of(" \t", pos), line.size());
      if (pos < line.size() && (line[pos] == '&' || line[pos] == '!')) pos = std::min(line.find_first_of(" \t", pos), line.size());
      else break;
    }
    if (pos == line.size()) continue;
    const char c = line[pos];
    if (c == '|' || c == '>') {
      scalar_parent = static_cast<long>(owner);
      scalar_indent = 0;
    } else if (c == '"' || c == '\'' || c == '[' || c == '{') {
      plain = false;
      if (c == '"' || c == '\'') {
        quote = c;
        ++pos;
      }
      inline_scan(line, pos);
      if (deep()) return line_no;
    }
  }
  return 0;
}

// Depth-first like the documents it converts; `depth` counts collections. yaml-cpp resolves an
// alias to the node of its anchor, so an anchor inside its own collection ("&a [*a]") is a cycle
// and an alias of an alias of ... a document much larger than its text: both stop at the depth
// and size bounds, with an error naming the line.
struct YamlBudget {
  const std::string& origin;
  std::size_t nodes_left;
};

ConfigNode from_yaml(const YAML::Node& n, int depth, YamlBudget& budget) {
  ConfigNode out;
  out.line = n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
  if (budget.nodes_left == 0)
    throw config_error(fmt::format("{}:{}", budget.origin, out.line), "the document expands to too many values (aliases of aliases?)");
  --budget.nodes_left;
  if ((n.IsSequence() || n.IsMap()) && depth >= kMaxConfigDepth) too_deep(budget.origin, out.line);
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
      for (const auto& item : n) out.items.push_back(from_yaml(item, depth + 1, budget));
      break;
    case YAML::NodeType::Map:
      out.type = ConfigNode::Type::Map;
      for (const auto& kv : n) {
        if (!kv.first.IsScalar())
          throw config_error(fmt::format("line {}", kv.first.Mark().line + 1), "map keys must be plain names");
        out.fields.emplace_back(kv.first.Scalar(), from_yaml(kv.second, depth + 1, budget));
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
  if (int line = yaml_too_deep_line(text, kMaxConfigDepth)) too_deep(origin, line);
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw config_error(fmt::format("{}:{}:{}", origin, e.mark.line + 1, e.mark.column + 1),
                       fmt::format("invalid YAML: {}", e.msg));
  }
  // Aliases may repeat a part of the document, but not blow it up: at most 16 values per byte of
  // text, and never fewer than 100000.
  YamlBudget budget{origin, std::max<std::size_t>(100000, text.size() * 16)};
  return from_yaml(doc, 0, budget);
}

ConfigNode parse_json_tree(const std::string& text, const std::string& origin) {
  boost::json::error_code ec;
  boost::json::parse_options opts;
  opts.allow_comments = true;
  opts.allow_trailing_commas = true;
  opts.max_depth = kMaxConfigDepth;
  boost::json::parser p({}, opts);
  const std::size_t used = p.write(text.data(), text.size(), ec);
  boost::json::value v;
  if (!ec) {
    try {
      v = p.release();  // throws for an incomplete document
    } catch (const boost::system::system_error& e) {
      ec = e.code();
    }
  }
  if (ec) {
    const int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(std::min(used, text.size())), '\n'));
    if (ec == boost::json::error::too_deep) too_deep(origin, line);
    throw config_error(fmt::format("{}:{}", origin, line), fmt::format("invalid JSON: {}", ec.message()));
  }
  return from_json(v);
}

}  // namespace cdc::detail
