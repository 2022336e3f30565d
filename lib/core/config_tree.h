// A small document tree both config formats are read into, so that one walker checks keys and
// types for YAML and JSON alike, with the same error messages and key paths.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cdc::detail {

struct ConfigNode {
  enum class Type { Null, Bool, Int, Double, String, Seq, Map };
  Type type = Type::Null;
  // Scalars: the text as written. `plain` marks an unquoted YAML scalar, whose type is inferred
  // from the text (JSON scalars and quoted YAML scalars keep their declared type).
  std::string text;
  bool plain = false;
  std::vector<ConfigNode> items;                            // Seq
  std::vector<std::pair<std::string, ConfigNode>> fields;  // Map, in document order
  int line = 0;                                            // 1-based source line, 0 = unknown
};

// Deepest nesting of maps and lists a config document may have (real ones nest about 5 levels).
// Parsers and walkers recurse once per level; yaml-cpp, which is not built with cdc's flags, is
// handed no deeper document. Deeper is a config error naming the line.
inline constexpr int kMaxConfigDepth = 64;

ConfigNode parse_yaml_tree(const std::string& text, const std::string& origin);
ConfigNode parse_json_tree(const std::string& text, const std::string& origin);

}  // namespace cdc::detail
