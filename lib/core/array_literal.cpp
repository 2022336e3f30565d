// PostgreSQL array literal parsing and writing; see array_literal.h.
#include "core/array_literal.h"

#include <cdc/error.h>

#include <fmt/format.h>

namespace cdc::detail {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

class Parser {
 public:
  static constexpr int kMaxDims = 6;

  Parser(std::string_view text, char delimiter) : s_(text), delim_(delimiter) {}

  ArrayNode parse() {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == '[') {  // explicit bounds: [1:2][0:1]={...}
      std::size_t eq = s_.find('=', pos_);
      if (eq == std::string_view::npos) fail("dimension bounds without '='");
      pos_ = eq + 1;
      skip_space();
    }
    ArrayNode root = array();
    skip_space();
    if (pos_ != s_.size()) fail("text after the closing brace");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorKind::Conversion, fmt::format("malformed array literal \"{}\": {}", s_.substr(0, 80), why));
  }

  void skip_space() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }

  ArrayNode array(int dims = 1) {
    if (pos_ >= s_.size() || s_[pos_] != '{') fail("expected '{'");
    // PostgreSQL's own limit (MAXDIM); it also keeps this recursion shallow.
    if (dims > kMaxDims) fail(fmt::format("more than {} dimensions", kMaxDims));
    ++pos_;
    ArrayNode node;
    node.is_array = true;
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return node;
    }
    for (;;) {
      skip_space();
      if (pos_ >= s_.size()) fail("missing '}'");
      if (s_[pos_] == '{') node.items.push_back(array(dims + 1));
      else node.items.push_back(element());
      skip_space();
      if (pos_ >= s_.size()) fail("missing '}'");
      if (s_[pos_] == '}') {
        ++pos_;
        return node;
      }
      if (s_[pos_] != delim_) fail(fmt::format("expected '{}' or '}}' at offset {}", delim_, pos_));
      ++pos_;
    }
  }

  ArrayNode element() {
    ArrayNode e;
    if (s_[pos_] == '"') {
      ++pos_;
      for (;;) {
        if (pos_ >= s_.size()) fail("unterminated quoted element");
        char c = s_[pos_++];
        if (c == '"') break;
        if (c == '\\') {
          if (pos_ >= s_.size()) fail("backslash at the end");
          c = s_[pos_++];
        }
        e.text += c;
      }
      return e;
    }
    // Unquoted: up to the delimiter or '}', backslash escapes, surrounding white space dropped.
    std::size_t kept = 0;  // length up to the last escaped or non-space character
    bool escaped_any = false;
    while (pos_ < s_.size() && s_[pos_] != delim_ && s_[pos_] != '}') {
      char c = s_[pos_++];
      if (c == '{' || c == '"') fail(fmt::format("unexpected '{}' in an unquoted element", c));
      if (c == '\\') {
        if (pos_ >= s_.size()) fail("backslash at the end");
        e.text += s_[pos_++];
        kept = e.text.size();
        escaped_any = true;
        continue;
      }
      e.text += c;
      if (!is_space(c)) kept = e.text.size();
    }
    e.text.resize(kept);
    if (e.text.empty() && !escaped_any) fail("empty unquoted element");
    if (!escaped_any && e.text.size() == 4 && (e.text[0] | 0x20) == 'n' && (e.text[1] | 0x20) == 'u' &&
        (e.text[2] | 0x20) == 'l' && (e.text[3] | 0x20) == 'l') {
      e.is_null = true;
      e.text.clear();
    }
    return e;
  }

  std::string_view s_;
  char delim_;
  std::size_t pos_ = 0;
};

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  if (s.size() == 4 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'u' && (s[2] | 0x20) == 'l' && (s[3] | 0x20) == 'l') return true;
  for (char c : s)
    if (c == '{' || c == '}' || c == ',' || c == '"' || c == '\\' || is_space(c)) return true;
  return false;
}

}  // namespace

ArrayNode parse_array_literal(std::string_view text, char delimiter) { return Parser(text, delimiter).parse(); }

std::string text_array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    const std::string& s = items[i];
    if (!needs_quotes(s)) {
      out += s;
      continue;
    }
    out += '"';
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace cdc::detail
