// SQL expressions across dialects (see sql_expr.h). Text is split into tokens by the source's
// quoting rules; within one dialect only renamed column names are replaced in place, so the rest
// stays byte for byte. Across dialects a Pratt parser builds a small tree with the source's
// operator precedence (PostgreSQL, MariaDB and SQLite disagree on `||`, NOT, BETWEEN and the
// comparison levels), and a printer writes it for the target with every operation in
// parentheses, so no precedence rule of the target can regroup it.
#include "core/sql_expr.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <stdexcept>

namespace cdc::detail {

namespace {

constexpr std::string_view kPg = "postgresql";
constexpr std::string_view kMy = "mysql";
constexpr std::string_view kLite = "sqlite";

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string dialect_name(std::string_view d) {
  if (d == kPg) return "PostgreSQL";
  if (d == kMy) return "MariaDB";
  if (d == kLite) return "SQLite";
  return std::string(d);
}

// Why an expression does not translate; caught at the API boundary.
struct Untranslatable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& why) { throw Untranslatable(why); }

// ---- tokens ------------------------------------------------------------------------------------

struct Token {
  enum class Kind { Ident, Quoted, String, Number, Op, Punct, Other, End } kind = Kind::End;
  std::string text;   // as written
  std::string value;  // identifiers: the name; strings: the contents, unescaped
  std::size_t begin = 0, end = 0;
  bool escaped_string = false;  // PostgreSQL E'...'
};

bool ident_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool ident_char(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

std::vector<Token> tokenize(std::string_view s, std::string_view dialect) {
  std::vector<Token> out;
  std::size_t i = 0;
  auto push = [&](Token::Kind k, std::size_t b, std::size_t e, std::string value = {}) {
    Token t;
    t.kind = k;
    t.text = std::string(s.substr(b, e - b));
    t.value = std::move(value);
    t.begin = b;
    t.end = e;
    out.push_back(std::move(t));
  };
  // A quoted run from s[i] (the quote) to its closing quote; doubled quotes stand for one, and
  // backslashes escape where `backslash` says. Returns the unescaped contents and moves `i` past.
  auto quoted = [&](char q, bool backslash) {
    std::string v;
    std::size_t j = i + 1;
    for (;;) {
      if (j >= s.size()) fail("unterminated quoted text");
      char c = s[j];
      if (backslash && c == '\\' && j + 1 < s.size()) {
        char n = s[j + 1];
        switch (n) {
          case 'n': v += '\n'; break;
          case 't': v += '\t'; break;
          case 'r': v += '\r'; break;
          case '0': v += '\0'; break;
          case 'b': v += '\b'; break;
          case 'Z': v += '\x1a'; break;
          case '%':
          case '_': v += '\\'; v += n; break;  // MariaDB keeps these for LIKE
          default: v += n; break;
        }
        j += 2;
        continue;
      }
      if (c == q) {
        if (j + 1 < s.size() && s[j + 1] == q) {
          v += q;
          j += 2;
          continue;
        }
        i = j + 1;
        return v;
      }
      v += c;
      ++j;
    }
  };
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      auto close = s.find("*/", i + 2);
      i = close == std::string_view::npos ? s.size() : close + 2;
      continue;
    }
    const std::size_t b = i;
    if (c == '\'') {
      std::string v = quoted('\'', dialect == kMy);
      push(Token::Kind::String, b, i, std::move(v));
      continue;
    }
    if ((c == 'E' || c == 'e') && dialect == kPg && i + 1 < s.size() && s[i + 1] == '\'') {
      ++i;
      std::string v = quoted('\'', true);
      push(Token::Kind::String, b, i, std::move(v));
      out.back().escaped_string = true;
      continue;
    }
    if ((c == 'X' || c == 'x' || c == 'B' || c == 'b' || c == 'N' || c == 'n') && i + 1 < s.size() && s[i + 1] == '\'') {
      ++i;
      quoted('\'', false);
      push(Token::Kind::Other, b, i);  // hex, bit and national literals: not translated
      continue;
    }
    if (c == '"') {
      std::string v = quoted('"', dialect == kMy);
      // MariaDB (without ANSI_QUOTES) reads "..." as a string; the others as an identifier.
      push(dialect == kMy ? Token::Kind::String : Token::Kind::Quoted, b, i, std::move(v));
      continue;
    }
    if (c == '`' && dialect != kPg) {
      std::string v = quoted('`', false);
      push(Token::Kind::Quoted, b, i, std::move(v));
      continue;
    }
    if (c == '[' && dialect == kLite) {
      auto close = s.find(']', i + 1);
      if (close == std::string_view::npos) fail("unterminated [identifier]");
      i = close + 1;
      push(Token::Kind::Quoted, b, i, std::string(s.substr(b + 1, close - b - 1)));
      continue;
    }
    if (std::isdigit(c) || (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      if (c == '0' && i + 1 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        while (i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i]))) ++i;
        push(Token::Kind::Other, b, i);
        continue;
      }
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      }
      if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        std::size_t j = i + 1;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) {
          i = j;
          while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        }
      }
      push(Token::Kind::Number, b, i);
      continue;
    }
    if (ident_start(c)) {
      while (i < s.size() && ident_char(static_cast<unsigned char>(s[i]))) ++i;
      push(Token::Kind::Ident, b, i, std::string(s.substr(b, i - b)));
      continue;
    }
    if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || c == '.' || c == ';') {
      ++i;
      push(Token::Kind::Punct, b, i);
      continue;
    }
    static const char* const kOps[] = {"<=>", "->>", "!~*", "::", "||", "&&", "<=", ">=", "<>", "!=", "==", "<<", ">>",
                                       "->", "~~", "~*", "!~", "+",  "-",  "*",  "/",  "%",  "=",  "<",  ">",  "!",
                                       "~",  "^",  "&",  "|",  "#",  "@",  "?",  ":"};
    bool matched = false;
    for (const char* op : kOps) {
      std::string_view o(op);
      if (s.substr(i, o.size()) == o) {
        i += o.size();
        push(Token::Kind::Op, b, i);
        matched = true;
        break;
      }
    }
    if (!matched) {
      ++i;
      push(Token::Kind::Other, b, i);
    }
  }
  Token end;
  end.begin = end.end = s.size();
  out.push_back(end);
  return out;
}

bool is_kw(const Token& t, std::string_view kw) {
  return t.kind == Token::Kind::Ident && t.value.size() == kw.size() && lower(t.value) == lower(kw);
}

// Words that are never a column or a function of an expression cdc translates.
const std::set<std::string>& reserved() {
  static const std::set<std::string> words = {
      "and",    "or",       "not",    "is",      "in",      "between", "like",  "ilike",  "case",    "when",   "then",
      "else",   "end",      "null",   "true",    "false",   "any",     "all",   "some",   "array",   "cast",   "distinct",
      "from",   "escape",   "asc",    "desc",    "nulls",   "collate", "exists", "select", "xor",    "div",    "regexp",
      "rlike",  "glob",     "as",     "similar", "isnull",  "notnull", "interval", "current_timestamp", "current_date",
      "current_time", "localtimestamp", "localtime"};
  return words;
}

// ---- the tree ---------------------------------------------------------------------------------

struct Node {
  enum class K { Column, String, Number, Bool, Null, Const, Unary, Binary, Func, Cast, In, AnyAll, Array, Between, Like, Is, Case, Paren };
  K k = K::Null;
  std::string text;      // column name, literal, constant, operator, function (lower case), cast type
  bool quoted = false;   // Column: written quoted
  bool neg = false;      // NOT IN / NOT BETWEEN / NOT LIKE / IS NOT
  bool has_else = false; // Case
  bool simple_case = false;
  std::vector<Node> kids;
};

Node leaf(Node::K k, std::string text) {
  Node n;
  n.k = k;
  n.text = std::move(text);
  return n;
}

// A cast's target type, by what its values are.
enum class TypeCat { Text, Int, Numeric, Float, Bool, Date, Timestamp, Time, Json, Uuid, Other };

struct CastType {
  TypeCat cat = TypeCat::Other;
  std::string name;      // as written, normalised to lower case and single spaces
  std::string modifier;  // "(10,2)" or empty
  bool array = false;
};

TypeCat category(const std::string& name) {
  static const std::map<std::string, TypeCat> cats = {
      {"text", TypeCat::Text}, {"character varying", TypeCat::Text}, {"varchar", TypeCat::Text},
      {"character", TypeCat::Text}, {"char", TypeCat::Text}, {"bpchar", TypeCat::Text}, {"name", TypeCat::Text},
      {"nchar", TypeCat::Text}, {"integer", TypeCat::Int}, {"int", TypeCat::Int}, {"int4", TypeCat::Int},
      {"bigint", TypeCat::Int}, {"int8", TypeCat::Int}, {"smallint", TypeCat::Int}, {"int2", TypeCat::Int},
      {"signed", TypeCat::Int}, {"signed integer", TypeCat::Int}, {"numeric", TypeCat::Numeric}, {"decimal", TypeCat::Numeric},
      {"real", TypeCat::Float}, {"float4", TypeCat::Float}, {"double precision", TypeCat::Float}, {"float8", TypeCat::Float},
      {"double", TypeCat::Float}, {"float", TypeCat::Float}, {"boolean", TypeCat::Bool}, {"bool", TypeCat::Bool},
      {"date", TypeCat::Date}, {"timestamp", TypeCat::Timestamp}, {"timestamp without time zone", TypeCat::Timestamp},
      {"timestamp with time zone", TypeCat::Timestamp}, {"timestamptz", TypeCat::Timestamp}, {"datetime", TypeCat::Timestamp},
      {"time", TypeCat::Time}, {"time without time zone", TypeCat::Time}, {"json", TypeCat::Json}, {"jsonb", TypeCat::Json},
      {"uuid", TypeCat::Uuid}};
  auto it = cats.find(name);
  return it == cats.end() ? TypeCat::Other : it->second;
}

// Binding powers of the source dialect (higher binds tighter).
struct Precedence {
  int or_ = 1, and_ = 2, not_ = 3, is = 4, compare = 5, in_like = 6, between = 6, concat = 7, additive = 8, multiplicative = 9,
      bitwise = 7, unary = 11, cast = 12;
};

Precedence precedence_of(std::string_view d) {
  Precedence p;
  if (d == kMy) {
    // OR/||, AND/&&, NOT, BETWEEN, comparison/IS/LIKE/IN, |, &, << >>, + -, * / %, unary.
    p.or_ = 1, p.and_ = 2, p.not_ = 3, p.between = 4, p.is = 5, p.compare = 5, p.in_like = 5, p.bitwise = 6, p.additive = 8,
    p.multiplicative = 9, p.unary = 11, p.concat = 1, p.cast = 12;
  } else if (d == kLite) {
    // OR, AND, NOT, = == != <> IS IN LIKE BETWEEN, < <= > >=, & | << >>, + -, * / %, ||, unary.
    p.or_ = 1, p.and_ = 2, p.not_ = 3, p.is = 4, p.in_like = 4, p.between = 4, p.compare = 5, p.bitwise = 6, p.additive = 7,
    p.multiplicative = 8, p.concat = 9, p.unary = 10, p.cast = 12;
  }
  // PostgreSQL: OR, AND, NOT, IS, comparison, BETWEEN/IN/LIKE, other operators (||), + -, * / %, unary, ::
  return p;
}

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, std::string_view dialect)
      : t_(tokens), dialect_(dialect), p_(precedence_of(dialect)) {}

  Node expression(int min_bp = 0) {
    Node lhs = prefix();
    for (;;) {
      const Token& t = peek();
      int bp = 0;
      // Postfix and infix forms, each with its binding power; stop when it binds less than min_bp.
      if (t.kind == Token::Kind::Op && t.text == "::") {
        if (p_.cast <= min_bp) break;
        next();
        lhs = cast_of(std::move(lhs));
        continue;
      }
      if (is_kw(t, "is")) {
        if (p_.is <= min_bp) break;
        next();
        Node n;
        n.k = Node::K::Is;
        if (is_kw(peek(), "not")) {
          next();
          n.neg = true;
        }
        const Token& w = peek();
        if (is_kw(w, "null") || is_kw(w, "true") || is_kw(w, "false")) {
          n.text = upper(w.value);
          next();
          n.kids.push_back(std::move(lhs));
        } else if (is_kw(w, "distinct")) {
          next();
          expect_kw("from");
          n.text = "DISTINCT";
          n.kids.push_back(std::move(lhs));
          n.kids.push_back(expression(p_.is));
        } else if (dialect_ == kLite) {  // SQLite: a IS b, a IS NOT b
          n.text = "DISTINCT";
          n.neg = !n.neg;
          n.kids.push_back(std::move(lhs));
          n.kids.push_back(expression(p_.is));
        } else {
          fail("IS " + w.text + " is not translated");
        }
        lhs = std::move(n);
        continue;
      }
      if ((is_kw(t, "isnull") || is_kw(t, "notnull")) && dialect_ != kMy) {
        if (p_.is <= min_bp) break;
        Node n;
        n.k = Node::K::Is;
        n.text = "NULL";
        n.neg = is_kw(t, "notnull");
        next();
        n.kids.push_back(std::move(lhs));
        lhs = std::move(n);
        continue;
      }
      bool negated = false;
      std::size_t save = pos_;
      if (is_kw(t, "not")) {
        const Token& n2 = t_[pos_ + 1];
        if (is_kw(n2, "in") || is_kw(n2, "like") || is_kw(n2, "between") || is_kw(n2, "ilike")) {
          negated = true;
          next();
        } else {
          break;
        }
      }
      const Token& w = peek();
      if (is_kw(w, "in")) {
        if (p_.in_like <= min_bp) {
          pos_ = save;
          break;
        }
        next();
        Node n;
        n.k = Node::K::In;
        n.neg = negated;
        n.kids.push_back(std::move(lhs));
        expect_punct("(");
        if (is_kw(peek(), "select")) fail("a subquery is not translated");
        for (;;) {
          n.kids.push_back(expression());
          if (peek().kind == Token::Kind::Punct && peek().text == ",") {
            next();
            continue;
          }
          break;
        }
        expect_punct(")");
        lhs = std::move(n);
        continue;
      }
      if (is_kw(w, "between")) {
        if (p_.between <= min_bp) {
          pos_ = save;
          break;
        }
        next();
        Node n;
        n.k = Node::K::Between;
        n.neg = negated;
        n.kids.push_back(std::move(lhs));
        if (is_kw(peek(), "symmetric")) fail("BETWEEN SYMMETRIC is not translated");
        n.kids.push_back(expression(std::max(p_.between, p_.and_)));
        expect_kw("and");
        n.kids.push_back(expression(p_.between));
        lhs = std::move(n);
        continue;
      }
      if (is_kw(w, "like") || is_kw(w, "ilike")) {
        if (is_kw(w, "ilike")) fail("ILIKE is not translated");
        if (p_.in_like <= min_bp) {
          pos_ = save;
          break;
        }
        next();
        Node n;
        n.k = Node::K::Like;
        n.neg = negated;
        n.kids.push_back(std::move(lhs));
        n.kids.push_back(expression(p_.in_like));
        if (is_kw(peek(), "escape")) {
          next();
          n.kids.push_back(expression(p_.in_like));
        }
        lhs = std::move(n);
        continue;
      }
      if (negated) {
        pos_ = save;
        break;
      }
      std::string op;
      if (is_kw(w, "and")) op = "AND", bp = p_.and_;
      else if (is_kw(w, "or")) op = "OR", bp = p_.or_;
      else if (w.kind == Token::Kind::Op) {
        op = w.text;
        if (op == "=" || op == "<>" || op == "!=" || op == "<" || op == ">" || op == "<=" || op == ">=" || op == "==" || op == "<=>")
          bp = p_.compare;
        else if (op == "+" || op == "-") bp = p_.additive;
        else if (op == "*" || op == "/" || op == "%") bp = p_.multiplicative;
        else if (op == "||") bp = dialect_ == kMy ? p_.or_ : p_.concat;
        else if (op == "&&" && dialect_ == kMy) bp = p_.and_;
        else if (op == "&" || op == "|" || op == "<<" || op == ">>") bp = p_.bitwise;
        else fail("operator " + op + " is not translated");
      } else {
        break;
      }
      if (bp <= min_bp) break;
      next();
      Node n;
      n.k = Node::K::Binary;
      n.text = op;
      n.kids.push_back(std::move(lhs));
      // = ANY (...) / <> ALL (...): the right side is the array form, parsed as its own prefix.
      n.kids.push_back(expression(bp));
      lhs = std::move(n);
    }
    return lhs;
  }

  // The whole input as one expression.
  Node whole() {
    Node n = expression();
    if (peek().kind == Token::Kind::Ident && reserved().count(lower(peek().value))) fail(upper(peek().value) + " is not translated");
    if (peek().kind != Token::Kind::End) fail("unexpected " + peek().text);
    return n;
  }

  const Token& peek() const { return t_[pos_]; }
  const Token& next() { return t_[pos_ < t_.size() - 1 ? pos_++ : pos_]; }
  void expect_punct(std::string_view p) {
    if (peek().kind != Token::Kind::Punct || peek().text != p) fail(fmt::format("expected {} near {}", p, peek().text.empty() ? "the end" : peek().text));
    next();
  }
  void expect_kw(std::string_view kw) {
    if (!is_kw(peek(), kw)) fail(fmt::format("expected {} near {}", upper(kw), peek().text.empty() ? "the end" : peek().text));
    next();
  }

 private:
  Node prefix() {
    const Token& t = next();
    switch (t.kind) {
      case Token::Kind::String:
        if (t.escaped_string) fail("an E'' string is not translated");
        return leaf(Node::K::String, t.value);
      case Token::Kind::Number: return leaf(Node::K::Number, t.text);
      case Token::Kind::Quoted: {
        Node n = leaf(Node::K::Column, t.value);
        n.quoted = true;
        qualified_check();
        return n;
      }
      case Token::Kind::Punct:
        if (t.text == "(") {
          if (is_kw(peek(), "select")) fail("a subquery is not translated");
          Node n;
          n.k = Node::K::Paren;
          n.kids.push_back(expression());
          expect_punct(")");
          return n;
        }
        fail("unexpected " + t.text);
      case Token::Kind::Op:
        if (t.text == "-" || t.text == "+") {
          Node n;
          n.k = Node::K::Unary;
          n.text = t.text;
          n.kids.push_back(expression(p_.unary));
          return n;
        }
        if (t.text == "!" && dialect_ == kMy) {
          Node n;
          n.k = Node::K::Unary;
          n.text = "NOT";
          n.kids.push_back(expression(p_.unary));
          return n;
        }
        fail("operator " + t.text + " is not translated");
      case Token::Kind::Ident: return word(t);
      case Token::Kind::End: fail("the expression ends too early");
      case Token::Kind::Other: fail("\"" + t.text + "\" is not translated");
    }
    fail("unexpected " + t.text);
  }

  void qualified_check() {
    if (peek().kind == Token::Kind::Punct && peek().text == ".") fail("a qualified name is not translated");
  }

  Node word(const Token& t) {
    const std::string w = lower(t.value);
    // A character set introducer (MariaDB): _utf8mb4'text'.
    if (dialect_ == kMy && w.size() > 1 && w[0] == '_' && peek().kind == Token::Kind::String && peek().begin == t.end)
      return prefix();
    if (w == "null") return leaf(Node::K::Null, "NULL");
    if (w == "true" || w == "false") return leaf(Node::K::Bool, upper(w));
    if (w == "not") {
      Node n;
      n.k = Node::K::Unary;
      n.text = "NOT";
      n.kids.push_back(expression(p_.not_));
      return n;
    }
    if (w == "case") return case_of();
    if (w == "cast" && peek().kind == Token::Kind::Punct && peek().text == "(") {
      next();
      Node inner = expression();
      expect_kw("as");
      Node n = cast_of(std::move(inner), true);
      expect_punct(")");
      return n;
    }
    if ((w == "any" || w == "all" || w == "some") && peek().kind == Token::Kind::Punct && peek().text == "(") {
      next();
      Node n;
      n.k = Node::K::AnyAll;
      n.text = w == "all" ? "ALL" : "ANY";
      Node arr = expression();
      expect_punct(")");
      // Casts around the array ((ARRAY['a'::text])::text[]) say nothing the IN list needs.
      while (arr.k == Node::K::Cast || arr.k == Node::K::Paren) {
        Node inner = std::move(arr.kids[0]);
        arr = std::move(inner);
      }
      if (arr.k != Node::K::Array) fail("ANY/ALL over something other than an ARRAY[...] list is not translated");
      n.kids = std::move(arr.kids);
      return n;
    }
    if (w == "array" && peek().kind == Token::Kind::Punct && peek().text == "[") {
      next();
      Node n;
      n.k = Node::K::Array;
      for (;;) {
        n.kids.push_back(expression());
        if (peek().kind == Token::Kind::Punct && peek().text == ",") {
          next();
          continue;
        }
        break;
      }
      expect_punct("]");
      return n;
    }
    if (w == "current_timestamp" || w == "current_date" || w == "current_time" || w == "localtimestamp" || w == "localtime") {
      Node n = leaf(Node::K::Const, w);
      if (peek().kind == Token::Kind::Punct && peek().text == "(") {  // CURRENT_TIMESTAMP(6)
        next();
        if (peek().kind == Token::Kind::Number) n.kids.push_back(leaf(Node::K::Number, next().text));
        expect_punct(")");
      }
      return n;
    }
    if (peek().kind == Token::Kind::Punct && peek().text == "(" && !reserved().count(w)) {
      next();
      Node n;
      n.k = Node::K::Func;
      n.text = w;
      if (peek().kind == Token::Kind::Punct && peek().text == ")") {
        next();
        return n;
      }
      if (is_kw(peek(), "distinct") || (peek().kind == Token::Kind::Op && peek().text == "*"))
        fail(w + "(" + peek().text + " ...) is not translated");
      for (;;) {
        n.kids.push_back(expression());
        if (peek().kind == Token::Kind::Punct && peek().text == ",") {
          next();
          continue;
        }
        break;
      }
      expect_punct(")");
      return n;
    }
    if (reserved().count(w)) fail(upper(w) + " is not translated here");
    Node n = leaf(Node::K::Column, t.value);
    qualified_check();
    return n;
  }

  Node case_of() {
    Node n;
    n.k = Node::K::Case;
    if (!is_kw(peek(), "when")) {
      n.simple_case = true;
      n.kids.push_back(expression());
    }
    while (is_kw(peek(), "when")) {
      next();
      n.kids.push_back(expression());
      expect_kw("then");
      n.kids.push_back(expression());
    }
    if (is_kw(peek(), "else")) {
      next();
      n.kids.push_back(expression());
      n.has_else = true;
    }
    expect_kw("end");
    return n;
  }

  // `value::type` (PostgreSQL) or the type of CAST(value AS type) (`in_cast`: stop at ")").
  Node cast_of(Node value, bool in_cast = false) {
    CastType ct;
    std::string name;
    while (peek().kind == Token::Kind::Ident || peek().kind == Token::Kind::Quoted) {
      // A multi-word type ("character varying", "double precision", "timestamp without time zone").
      if (!name.empty() && !in_cast) {
        static const std::set<std::string> follow = {"varying", "precision", "without", "with", "time", "zone"};
        if (!follow.count(lower(peek().value))) break;
      }
      name += (name.empty() ? "" : " ") + lower(peek().value);
      next();
    }
    if (name.empty()) fail("a cast without a type is not translated");
    if (peek().kind == Token::Kind::Punct && peek().text == "(") {
      std::string mod = "(";
      next();
      while (peek().kind == Token::Kind::Number || (peek().kind == Token::Kind::Punct && peek().text == ",")) mod += next().text;
      expect_punct(")");
      ct.modifier = mod + ")";
    }
    while (peek().kind == Token::Kind::Punct && peek().text == "[") {
      next();
      expect_punct("]");
      ct.array = true;
    }
    ct.name = name;
    ct.cat = ct.array ? TypeCat::Other : category(name);
    Node n;
    n.k = Node::K::Cast;
    n.text = name + ct.modifier + (ct.array ? "[]" : "");
    n.kids.push_back(std::move(value));
    return n;
  }

  const std::vector<Token>& t_;
  std::string dialect_;
  Precedence p_;
  std::size_t pos_ = 0;
};

// ---- printing -----------------------------------------------------------------------------------

class Printer {
 public:
  explicit Printer(const ExprScope& scope) : s_(scope) {}

  std::string print(const Node& n) {
    switch (n.k) {
      case Node::K::Column: return column(n);
      case Node::K::String: return quote_string(n.text, s_.to);
      case Node::K::Number: return n.text;
      case Node::K::Bool: return n.text;
      case Node::K::Null: return "NULL";
      case Node::K::Const: return constant(n);
      // Every operation prints in parentheses of its own: the source's grouping is kept by the tree.
      case Node::K::Paren: return print(n.kids[0]);
      case Node::K::Unary:
        if (n.text == "NOT") return "(NOT " + operand(n.kids[0]) + ")";
        return "(" + n.text + operand(n.kids[0]) + ")";
      case Node::K::Binary: return binary(n);
      case Node::K::Func: return function(n);
      case Node::K::Cast: return cast(n);
      case Node::K::In: {
        std::string items;
        for (std::size_t i = 1; i < n.kids.size(); ++i) items += (i > 1 ? ", " : "") + print(n.kids[i]);
        return fmt::format("({} {}IN ({}))", operand(n.kids[0]), n.neg ? "NOT " : "", items);
      }
      case Node::K::AnyAll:
      case Node::K::Array: fail("ANY/ALL and ARRAY are translated only as `= ANY (ARRAY[...])` and `<> ALL (ARRAY[...])`");
      case Node::K::Between:
        return fmt::format("({} {}BETWEEN {} AND {})", operand(n.kids[0]), n.neg ? "NOT " : "", operand(n.kids[1]),
                           operand(n.kids[2]));
      case Node::K::Like: return like(n);
      case Node::K::Is: return is(n);
      case Node::K::Case: {
        std::string out = "(CASE";
        std::size_t i = 0;
        if (n.simple_case) out += " " + operand(n.kids[i++]);
        const std::size_t pairs_end = n.kids.size() - (n.has_else ? 1 : 0);
        for (; i + 1 < pairs_end; i += 2)
          out += " WHEN " + print(n.kids[i]) + " THEN " + print(n.kids[i + 1]);
        if (n.has_else) out += " ELSE " + print(n.kids.back());
        return out + " END)";
      }
    }
    fail("unexpected expression");
  }

  const std::vector<std::string>& used() const { return used_; }

 private:
  // A child printed where an operator needs it: atoms as they are, the rest in parentheses
  // (which print() already adds to every operation).
  std::string operand(const Node& n) { return print(n); }

  std::string column(const Node& n) {
    std::optional<std::string> found = resolve_column(s_, n.text, n.quoted);
    if (!found) fail(fmt::format("\"{}\" is not a column of the table", n.text));
    auto it = s_.target_of.find(*found);
    if (it == s_.target_of.end()) fail(fmt::format("it uses column {}, which is not copied", *found));
    if (std::find(used_.begin(), used_.end(), it->second) == used_.end()) used_.push_back(it->second);
    return quote_identifier(it->second, s_.to);
  }

 public:
  // The source column a name in an expression refers to: PostgreSQL folds unquoted names to
  // lower case and compares exactly; MariaDB and SQLite compare column names case-insensitively.
  static std::optional<std::string> resolve_column(const ExprScope& s, const std::string& name, bool quoted) {
    if (s.from == kPg) {
      std::string want = quoted ? name : lower(name);
      for (const auto& c : s.source_columns)
        if (c == want) return c;
      return std::nullopt;
    }
    for (const auto& c : s.source_columns)
      if (lower(c) == lower(name)) return c;
    return std::nullopt;
  }

 private:
  std::string constant(const Node& n) {
    std::string fsp = n.kids.empty() ? "" : "(" + n.kids[0].text + ")";
    if (n.text == "current_timestamp" || n.text == "localtimestamp") {
      if (s_.to == kMy) return "current_timestamp" + (fsp.empty() ? std::string("()") : fsp);
      if (s_.to == kLite) return "CURRENT_TIMESTAMP";
      return (n.text == "localtimestamp" && s_.from == kPg ? "LOCALTIMESTAMP" : "CURRENT_TIMESTAMP") + fsp;
    }
    if (n.text == "current_date") return "CURRENT_DATE";
    if (n.text == "current_time" || n.text == "localtime") {
      if (s_.to == kLite) return "CURRENT_TIME";
      return "CURRENT_TIME" + fsp;
    }
    fail(upper(n.text) + " is not translated");
  }

  std::string binary(const Node& n) {
    const std::string l = operand(n.kids[0]);
    std::string op = n.text;
    if (op == "||") {
      if (s_.from == kMy) op = "OR";  // MariaDB: || is OR (without PIPES_AS_CONCAT)
      else if (s_.to == kMy) {
        // PostgreSQL and SQLite ||: NULL when either side is; so is MariaDB's CONCAT.
        std::vector<const Node*> parts;
        flatten_concat(n, parts);
        std::string args;
        for (const Node* p : parts) args += (args.empty() ? "" : ", ") + print(*p);
        return "concat(" + args + ")";
      }
    }
    if (op == "&&") op = "AND";
    if (op == "==") op = "=";
    if (op == "!=") op = "<>";
    if (op == "/" && (s_.from == kMy) != (s_.to == kMy))
      fail("/ divides integers into a fraction in MariaDB and truncates in " + dialect_name(s_.from == kMy ? s_.to : s_.from));
    // A generated column or CHECK that fails for one row would stop the apply of that row.
    if ((op == "/" || op == "%") && s_.to == kPg)
      fail(op + " by zero is NULL in " + dialect_name(s_.from) + " and an error in PostgreSQL");
    if (op == "&" || op == "|" || op == "<<" || op == ">>")
      fail("bitwise " + op + " works on different integer widths in " + dialect_name(s_.from) + " and " + dialect_name(s_.to));
    if (op == "<=>") {
      if (s_.to == kMy) op = "<=>";
      else if (s_.to == kLite) op = "IS";
      else op = "IS NOT DISTINCT FROM";
    }
    if ((op == "=" || op == "<>") && n.kids[1].k == Node::K::AnyAll) {
      const Node& any = n.kids[1];
      const bool in = op == "=" && any.text == "ANY";
      const bool not_in = op == "<>" && any.text == "ALL";
      if (!in && !not_in) fail(fmt::format("{} {} (ARRAY[...]) is not translated", n.text, any.text));
      std::string items;
      for (const auto& k : any.kids) items += (items.empty() ? "" : ", ") + print(k);
      return fmt::format("({} {}IN ({}))", l, not_in ? "NOT " : "", items);
    }
    return "(" + l + " " + op + " " + operand(n.kids[1]) + ")";
  }

  static void flatten_concat(const Node& n, std::vector<const Node*>& out) {
    for (const auto& kid : n.kids) {
      const Node& k = unparen(kid);
      if (k.k == Node::K::Binary && k.text == "||") flatten_concat(k, out);
      else out.push_back(&kid);
    }
  }

  std::string like(const Node& n) {
    // A backslash in a pattern escapes in MariaDB and PostgreSQL, not in SQLite.
    const bool pattern_backslash = n.kids[1].k == Node::K::String && n.kids[1].text.find('\\') != std::string::npos;
    if (pattern_backslash && n.kids.size() < 3 && ((s_.from == kLite) != (s_.to == kLite)))
      fail("a LIKE pattern with a backslash escapes differently in SQLite");
    std::string out = fmt::format("({} {}LIKE {}", operand(n.kids[0]), n.neg ? "NOT " : "", operand(n.kids[1]));
    if (n.kids.size() > 2) out += " ESCAPE " + operand(n.kids[2]);
    return out + ")";
  }

  std::string is(const Node& n) {
    const std::string l = operand(n.kids[0]);
    if (n.text == "DISTINCT") {
      const std::string r = operand(n.kids[1]);
      // neg set: IS NOT DISTINCT FROM (equal, NULLs equal).
      if (s_.to == kMy) return n.neg ? fmt::format("({} <=> {})", l, r) : fmt::format("(NOT ({} <=> {}))", l, r);
      if (s_.to == kLite) return fmt::format("({} IS {}{})", l, n.neg ? "" : "NOT ", r);
      return fmt::format("({} IS {}DISTINCT FROM {})", l, n.neg ? "NOT " : "", r);
    }
    return fmt::format("({} IS {}{})", l, n.neg ? "NOT " : "", n.text);
  }

  std::string args_of(const Node& n, std::size_t from = 0) {
    std::string out;
    for (std::size_t i = from; i < n.kids.size(); ++i) out += (i > from ? ", " : "") + print(n.kids[i]);
    return out;
  }

  void arity(const Node& n, std::size_t lo, std::size_t hi) {
    if (n.kids.size() < lo || n.kids.size() > hi) fail(fmt::format("{}() with {} arguments is not translated", n.text, n.kids.size()));
  }

  std::string function(const Node& n) {
    const std::string& f = n.text;
    const std::string& to = s_.to;
    const std::string& from = s_.from;
    auto call = [&](const std::string& name) { return name + "(" + args_of(n) + ")"; };
    static const std::set<std::string> everywhere = {"lower", "upper", "abs", "round", "coalesce", "nullif", "trim", "ltrim",
                                                     "rtrim", "replace"};
    if (everywhere.count(f)) return call(f);
    if (f == "length") {
      arity(n, 1, 1);
      if (from == kMy) {  // bytes in MariaDB
        if (to == kPg) return call("octet_length");
        fail("length() counts bytes in MariaDB; SQLite's counts characters");
      }
      return call(to == kMy ? "char_length" : "length");
    }
    if (f == "char_length" || f == "character_length") {
      arity(n, 1, 1);
      return call(to == kLite ? "length" : "char_length");
    }
    if (f == "octet_length") {
      arity(n, 1, 1);
      if (to == kMy) return call("length");
      if (to == kPg) return call("octet_length");
      fail("octet_length() has no SQLite counterpart");
    }
    if (f == "substr" || f == "substring") {
      arity(n, 2, 3);
      return call("substr");
    }
    if (f == "ifnull" || f == "nvl") {
      arity(n, 2, 2);
      return call(to == kPg ? "coalesce" : "ifnull");
    }
    if (f == "concat") {
      if (from == kMy) {
        // MariaDB's CONCAT is NULL when any argument is, like ||.
        if (n.kids.empty()) fail("concat() without arguments is not translated");
        if (to == kMy) return call("concat");
        std::string out;
        for (const auto& k : n.kids) out += (out.empty() ? "" : " || ") + operand(k);
        return "(" + out + ")";
      }
      // PostgreSQL's concat() skips NULLs: so does MariaDB's CONCAT_WS with an empty separator.
      if (to == kMy) return "concat_ws(''" + std::string(n.kids.empty() ? "" : ", ") + args_of(n) + ")";
      if (to == kPg) return call("concat");
      fail("concat() skips NULLs in PostgreSQL; SQLite has no such function");
    }
    if (f == "if" || f == "iif") {
      arity(n, 3, 3);
      return fmt::format("(CASE WHEN {} THEN {} ELSE {} END)", print(n.kids[0]), print(n.kids[1]), print(n.kids[2]));
    }
    if (f == "now" || f == "current_timestamp" || f == "localtimestamp" || f == "localtime") {
      arity(n, 0, 1);
      Node c = leaf(Node::K::Const, f == "localtime" && from != kMy ? "localtime" : "current_timestamp");
      c.kids = n.kids;
      return constant(c);
    }
    if (f == "curdate" || f == "current_date") {
      arity(n, 0, 0);
      return "CURRENT_DATE";
    }
    if ((f == "datetime" || f == "date") && from == kLite && n.kids.size() == 1 && n.kids[0].k == Node::K::String &&
        lower(n.kids[0].text) == "now")
      return f == "datetime" ? constant(leaf(Node::K::Const, "current_timestamp")) : "CURRENT_DATE";
    if (f == "greatest" || f == "least") {
      if (to == kLite) {
        arity(n, 2, 64);
        return call(f == "greatest" ? "max" : "min");
      }
      return call(f);
    }
    if ((f == "max" || f == "min") && from == kLite) {
      if (n.kids.size() < 2) fail(f + "() of one argument is an aggregate");
      if (to == kLite) return call(f);
      return call(f == "max" ? "greatest" : "least");
    }
    if (f == "mod") {
      arity(n, 2, 2);
      return "(" + operand(n.kids[0]) + " % " + operand(n.kids[1]) + ")";
    }
    if (f == "left") {
      arity(n, 2, 2);
      if (to == kLite) return "substr(" + print(n.kids[0]) + ", 1, " + print(n.kids[1]) + ")";
      return call("left");
    }
    if ((f == "floor" || f == "ceil" || f == "ceiling" || f == "md5" || f == "right") && to != kLite && from != kLite) return call(f);
    fail(fmt::format("{}() has no known counterpart in {}", f, dialect_name(to)));
  }

  static bool literal(const Node& n) {
    switch (n.k) {
      case Node::K::String:
      case Node::K::Number:
      case Node::K::Bool:
      case Node::K::Null: return true;
      case Node::K::Unary: return (n.text == "-" || n.text == "+") && n.kids[0].k == Node::K::Number;
      case Node::K::Paren: return literal(n.kids[0]);
      default: return false;
    }
  }

  static const Node& unparen(const Node& n) { return n.k == Node::K::Paren ? unparen(n.kids[0]) : n; }

  std::string cast(const Node& n) {
    // PostgreSQL's own catalog text casts literals everywhere ('a'::text, (0)::numeric): a literal
    // says what it is without the cast in the other dialects.
    const std::string type = n.text;
    std::string base = type.substr(0, type.find('('));
    const TypeCat cat = type.find("[]") != std::string::npos ? TypeCat::Other : category(base);
    const Node& v = unparen(n.kids[0]);
    if (s_.to == s_.from) return "CAST(" + print(n.kids[0]) + " AS " + type + ")";
    if (literal(n.kids[0]) && cat != TypeCat::Other) {
      if (cat == TypeCat::Bool && v.k == Node::K::String) {
        std::string b = lower(v.text);
        if (b == "t" || b == "true" || b == "1" || b == "y" || b == "yes" || b == "on") return "TRUE";
        if (b == "f" || b == "false" || b == "0" || b == "n" || b == "no" || b == "off") return "FALSE";
        fail("'" + v.text + "' as a boolean is not translated");
      }
      return print(n.kids[0]);
    }
    const std::string mod = type.find('(') == std::string::npos ? "" : type.substr(type.find('('));
    switch (cat) {
      case TypeCat::Text:
        // Comparisons of text need no cast outside PostgreSQL (which adds them for varchar).
        if (s_.to != kPg) return print(n.kids[0]);
        return "CAST(" + print(n.kids[0]) + " AS text)";
      case TypeCat::Int:
        return "CAST(" + print(n.kids[0]) + (s_.to == kMy ? " AS SIGNED)" : s_.to == kLite ? " AS INTEGER)" : " AS bigint)");
      case TypeCat::Numeric:
        if (s_.to == kLite) return "CAST(" + print(n.kids[0]) + " AS NUMERIC)";
        return "CAST(" + print(n.kids[0]) + (s_.to == kMy ? " AS DECIMAL" : " AS numeric") + (mod.empty() && s_.to == kMy ? "(65,30)" : mod) + ")";
      case TypeCat::Float:
        return "CAST(" + print(n.kids[0]) + (s_.to == kMy ? " AS DOUBLE)" : s_.to == kLite ? " AS REAL)" : " AS double precision)");
      case TypeCat::Date: return "CAST(" + print(n.kids[0]) + " AS DATE)";
      default: fail("a cast to " + type + " is not translated");
    }
  }

  const ExprScope& s_;
  std::vector<std::string> used_;
};

// Within one dialect: the text as written, each column name that the target renames replaced by
// the new name, quoted. Names followed by "(" (functions) or after "::" (types) are left alone.
ExprResult rename_in_place(std::string_view text, const ExprScope& s) {
  ExprResult r;
  auto tokens = tokenize(text, s.from);
  std::string out;
  std::size_t at = 0;
  bool plain = true;
  bool in_type = false;  // after "::": the words of a type name ("timestamp without time zone")
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.kind == Token::Kind::Op && t.text == "::") {
      in_type = true;
      plain = false;
      continue;
    }
    if (in_type) {
      static const std::set<std::string> follow = {"varying", "precision", "without", "with", "time", "zone"};
      const bool first = tokens[i - 1].kind == Token::Kind::Op && tokens[i - 1].text == "::";
      if ((t.kind == Token::Kind::Ident || t.kind == Token::Kind::Quoted) && (first || follow.count(lower(t.value)))) continue;
      in_type = false;
    }
    const bool name = t.kind == Token::Kind::Quoted || (t.kind == Token::Kind::Ident && !reserved().count(lower(t.value)));
    const bool call = tokens[i + 1].kind == Token::Kind::Punct && tokens[i + 1].text == "(";
    const bool qualified = (tokens[i + 1].kind == Token::Kind::Punct && tokens[i + 1].text == ".") ||
                           (i > 0 && tokens[i - 1].kind == Token::Kind::Punct && tokens[i - 1].text == ".");
    // A plain key list: names, ASC/DESC and commas only.
    if (!(name && !call) && !(t.kind == Token::Kind::Punct && t.text == ",") && !is_kw(t, "asc") && !is_kw(t, "desc"))
      plain = false;
    if (!name || call || qualified) continue;
    auto col = Printer::resolve_column(s, t.value, t.kind == Token::Kind::Quoted);
    if (!col) {
      // An unquoted word that is no column: an operator class, collation or keyword of the
      // dialect, kept as written.
      if (t.kind == Token::Kind::Quoted) fail(fmt::format("\"{}\" is not a column of the table", t.value));
      plain = false;
      continue;
    }
    auto it = s.target_of.find(*col);
    if (it == s.target_of.end()) fail(fmt::format("it uses column {}, which is not copied", *col));
    if (std::find(r.columns.begin(), r.columns.end(), it->second) == r.columns.end()) r.columns.push_back(it->second);
    if (it->second == *col) continue;
    out += std::string(text.substr(at, t.begin - at)) + quote_identifier(it->second, s.to);
    at = t.end;
  }
  out += std::string(text.substr(at));
  r.ok = true;
  r.text = std::move(out);
  r.plain_columns = plain;
  return r;
}

template <typename F>
ExprResult guarded(F&& f) {
  try {
    return f();
  } catch (const Untranslatable& e) {
    ExprResult r;
    r.why = e.what();
    return r;
  }
}

bool digits_date(std::string_view v, bool with_time) {
  // YYYY-MM-DD[ HH:MM:SS[.f]] with a year after 0000 (MariaDB's zero dates have no counterpart).
  auto digit = [&](std::size_t i) { return i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])); };
  if (v.size() < 10 || !digit(0) || !digit(1) || !digit(2) || !digit(3) || v[4] != '-' || !digit(5) || !digit(6) || v[7] != '-' ||
      !digit(8) || !digit(9))
    return false;
  if (v.substr(0, 4) == "0000" || v.substr(5, 2) == "00" || v.substr(8, 2) == "00") return false;
  if (v.size() == 10) return true;
  if (!with_time) return false;
  if (v.size() < 19 || (v[10] != ' ' && v[10] != 'T') || !digit(11) || !digit(12) || v[13] != ':' || !digit(14) || !digit(15) ||
      v[16] != ':' || !digit(17) || !digit(18))
    return false;
  for (std::size_t i = 19; i < v.size(); ++i)
    if (!(std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.' || v[i] == '+' || v[i] == '-' || v[i] == ':' || v[i] == 'Z'))
      return false;
  return true;
}

bool numeric_text(std::string_view v) {
  std::size_t i = 0;
  if (i < v.size() && (v[i] == '-' || v[i] == '+')) ++i;
  bool digits = false, dot = false;
  for (; i < v.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(v[i]))) digits = true;
    else if (v[i] == '.' && !dot) dot = true;
    else if ((v[i] == 'e' || v[i] == 'E') && digits) {
      ++i;
      if (i < v.size() && (v[i] == '-' || v[i] == '+')) ++i;
      if (i >= v.size()) return false;
      for (; i < v.size(); ++i)
        if (!std::isdigit(static_cast<unsigned char>(v[i]))) return false;
      return true;
    } else return false;
  }
  return digits;
}

}  // namespace

bool known_dialect(std::string_view d) { return d == kPg || d == kMy || d == kLite; }

std::string quote_identifier(std::string_view name, std::string_view dialect) {
  const char q = dialect == kMy ? '`' : '"';
  std::string out(1, q);
  for (char c : name) {
    if (c == q) out += q;
    out += c;
  }
  return out + q;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string join_quoted(const std::vector<std::string>& names, std::string_view dialect) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + quote_identifier(n, dialect);
  return out;
}

std::string action_sql(ForeignKeyAction action) {
  std::string out(to_string(action));
  for (auto& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

std::string quote_string(std::string_view text, std::string_view dialect) {
  if (text.find('\0') != std::string_view::npos) fail("text with a NUL byte is not translated");
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    if (c == '\\' && dialect == kMy) out += '\\';
    out += c;
  }
  return out + "'";
}

ExprResult translate_expression(std::string_view text, const ExprScope& scope) {
  return guarded([&] {
    if (scope.from == scope.to) return rename_in_place(text, scope);
    if (!known_dialect(scope.from) || !known_dialect(scope.to))
      fail(fmt::format("no translation from {} to {}", dialect_name(scope.from), dialect_name(scope.to)));
    auto tokens = tokenize(text, scope.from);
    Parser p(tokens, scope.from);
    Node n = p.whole();
    Printer out(scope);
    ExprResult r;
    r.text = out.print(n);
    r.columns = out.used();
    r.ok = true;
    return r;
  });
}

ExprResult translate_key_list(std::string_view text, const ExprScope& scope) {
  return guarded([&] {
    if (scope.from == scope.to) return rename_in_place(text, scope);
    if (!known_dialect(scope.from) || !known_dialect(scope.to))
      fail(fmt::format("no translation from {} to {}", dialect_name(scope.from), dialect_name(scope.to)));
    auto tokens = tokenize(text, scope.from);
    Parser p(tokens, scope.from);
    Printer out(scope);
    ExprResult r;
    r.plain_columns = true;
    for (;;) {
      Node n = p.expression();
      std::string part = out.print(n);
      if (n.k != Node::K::Column) r.plain_columns = false;
      if (is_kw(p.peek(), "collate")) fail("COLLATE in an index key is not translated");
      if (p.peek().kind == Token::Kind::Ident && !is_kw(p.peek(), "asc") && !is_kw(p.peek(), "desc") && !is_kw(p.peek(), "nulls"))
        fail("operator class " + p.peek().value + " is not translated");
      if (is_kw(p.peek(), "asc") || is_kw(p.peek(), "desc")) part += " " + upper(p.next().value);
      if (is_kw(p.peek(), "nulls")) {
        p.next();
        if (scope.to == kMy) fail("NULLS FIRST/LAST is not translated to MariaDB");
        if (!is_kw(p.peek(), "first") && !is_kw(p.peek(), "last")) fail("expected FIRST or LAST after NULLS");
        part += " NULLS " + upper(p.next().value);
        r.plain_columns = false;
      }
      r.text += (r.text.empty() ? "" : ", ") + part;
      if (p.peek().kind == Token::Kind::Punct && p.peek().text == ",") {
        p.next();
        continue;
      }
      break;
    }
    if (p.peek().kind != Token::Kind::End) fail("unexpected " + p.peek().text);
    r.columns = out.used();
    r.ok = true;
    return r;
  });
}

ExprResult translate_default(std::string_view text, const LogicalType& target, const ExprScope& scope) {
  return guarded([&] {
    ExprResult r;
    if (scope.from == scope.to) {
      r.ok = true;
      r.text = std::string(text);
      return r;
    }
    if (!known_dialect(scope.from) || !known_dialect(scope.to))
      fail(fmt::format("no translation from {} to {}", dialect_name(scope.from), dialect_name(scope.to)));
    auto tokens = tokenize(text, scope.from);
    Parser p(tokens, scope.from);
    Node n = p.whole();
    // Strip what says nothing about the value: parentheses and casts of literals.
    while (n.k == Node::K::Paren || (n.k == Node::K::Cast && n.kids[0].k != Node::K::Func && n.kids[0].k != Node::K::Column)) {
      Node inner = std::move(n.kids[0]);
      n = std::move(inner);
    }
    Printer out(scope);
    r.ok = true;
    const TypeId id = target.id;
    const bool now = n.k == Node::K::Const ||
                     (n.k == Node::K::Func && (n.text == "now" || n.text == "current_timestamp" || n.text == "localtimestamp" ||
                                               n.text == "curdate" || n.text == "current_date" ||
                                               ((n.text == "datetime" || n.text == "date") && scope.from == kLite)));
    if (n.k == Node::K::Null) return r;  // DEFAULT NULL is no default
    if (now) {
      if (id != TypeId::Timestamp && id != TypeId::TimestampTz && id != TypeId::Date)
        fail("the current time as the default of a " + target.to_string() + " column is not translated");
      std::string t = out.print(n);
      if (id == TypeId::Date) {
        if (t != "CURRENT_DATE") fail("the current time as the default of a date column is not translated");
        if (scope.to == kMy) t = "(curdate())";
      } else {
        const bool timestamp = t.rfind("CURRENT_TIMESTAMP", 0) == 0 || t.rfind("current_timestamp", 0) == 0;
        if (!timestamp)
          fail("the current date as the default of a timestamp column is not translated");
        // MariaDB wants the column's own fractional digits (DATETIME(6) DEFAULT current_timestamp(6)).
        if (scope.to == kMy) t = fmt::format("current_timestamp({})", target.fsp < 0 ? 6 : std::min(target.fsp, 6));
      }
      r.text = t;
      return r;
    }
    std::string value;
    bool is_string = false;
    if (n.k == Node::K::Unary && (n.text == "-" || n.text == "+") && n.kids[0].k == Node::K::Number) {
      value = (n.text == "-" ? "-" : "") + n.kids[0].text;
    } else if (n.k == Node::K::Number) {
      value = n.text;
    } else if (n.k == Node::K::String) {
      value = n.text;
      is_string = true;
    } else if (n.k == Node::K::Bool) {
      value = n.text == "TRUE" ? "1" : "0";
    } else {
      fail("an expression default is not translated");
    }
    switch (id) {
      case TypeId::Bool: {
        std::string b = lower(value);
        bool v;
        if (b == "1" || b == "t" || b == "true") v = true;
        else if (b == "0" || b == "f" || b == "false") v = false;
        else fail("'" + value + "' as a boolean default is not translated");
        r.text = scope.to == kPg ? (v ? "true" : "false") : (v ? "1" : "0");
        return r;
      }
      case TypeId::Int8:
      case TypeId::Int16:
      case TypeId::Int24:
      case TypeId::Int32:
      case TypeId::Int64:
      case TypeId::Float32:
      case TypeId::Float64:
      case TypeId::Decimal:
        if (!numeric_text(value)) fail("'" + value + "' is not a number");
        r.text = value;
        return r;
      case TypeId::String:
      case TypeId::Enum:
      case TypeId::Json:
      case TypeId::Uuid:
        r.text = quote_string(value, scope.to);
        return r;
      case TypeId::Date:
      case TypeId::Timestamp:
      case TypeId::TimestampTz:
        if (!is_string || !digits_date(value, id != TypeId::Date)) fail("'" + value + "' is not a date the other databases read");
        r.text = quote_string(value, scope.to);
        return r;
      case TypeId::Time:
        if (!is_string || value.size() < 8 || value[2] != ':' || value[5] != ':') fail("'" + value + "' is not a time of day");
        r.text = quote_string(value, scope.to);
        return r;
      default: fail("a default of a " + target.to_string() + " column is not translated");
    }
  });
}

// ---- SQLite's stored statements ---------------------------------------------------------------------

namespace {

// The text of tokens [b, e) of `sql`.
std::string slice(std::string_view sql, const std::vector<Token>& t, std::size_t b, std::size_t e) {
  if (b >= e) return {};
  return std::string(sql.substr(t[b].begin, t[e - 1].end - t[b].begin));
}

// The index of the ")" closing the "(" at `open`.
std::size_t closing(const std::vector<Token>& t, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < t.size(); ++i) {
    if (t[i].kind == Token::Kind::Punct && t[i].text == "(") ++depth;
    if (t[i].kind == Token::Kind::Punct && t[i].text == ")" && --depth == 0) return i;
  }
  fail("unbalanced parentheses");
}

}  // namespace

std::pair<std::string, std::size_t> parenthesized(std::string_view text, std::string_view dialect, std::size_t from) {
  try {
    auto t = tokenize(text, dialect);
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i].begin < from || t[i].kind != Token::Kind::Punct || t[i].text != "(") continue;
      const std::size_t c = closing(t, i);
      return {slice(text, t, i + 1, c), t[c].end};
    }
  } catch (const Untranslatable&) {
  }
  return {std::string(), std::string_view::npos};
}

std::vector<std::string> split_list(std::string_view text, std::string_view dialect) {
  std::vector<std::string> out;
  try {
    auto t = tokenize(text, dialect);
    int depth = 0;
    std::size_t b = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
      const bool end = t[i].kind == Token::Kind::End;
      if (t[i].kind == Token::Kind::Punct && (t[i].text == "(" || t[i].text == "[")) ++depth;
      if (t[i].kind == Token::Kind::Punct && (t[i].text == ")" || t[i].text == "]")) --depth;
      if (end || (depth == 0 && t[i].kind == Token::Kind::Punct && t[i].text == ",")) {
        out.push_back(slice(text, t, b, i));
        b = i + 1;
      }
    }
  } catch (const Untranslatable&) {
    out.assign(1, std::string(text));
  }
  return out;
}

SqliteTableSql parse_sqlite_create_table(std::string_view sql) {
  SqliteTableSql out;
  try {
    auto t = tokenize(sql, kLite);
    std::size_t open = 0;
    while (open < t.size() && !(t[open].kind == Token::Kind::Punct && t[open].text == "(")) ++open;
    if (open >= t.size()) return out;
    const std::size_t close = closing(t, open);
    // Elements: column definitions and table constraints, split at top-level commas.
    std::size_t b = open + 1;
    int depth = 0;
    for (std::size_t i = open + 1; i <= close; ++i) {
      if (t[i].kind == Token::Kind::Punct && t[i].text == "(") ++depth;
      if (t[i].kind == Token::Kind::Punct && t[i].text == ")") --depth;
      const bool end = i == close || (depth == 0 && t[i].kind == Token::Kind::Punct && t[i].text == ",");
      if (!end) continue;
      const std::size_t e = i;
      if (b < e) {
        const bool table_constraint = is_kw(t[b], "constraint") || is_kw(t[b], "primary") || is_kw(t[b], "unique") ||
                                      is_kw(t[b], "check") || is_kw(t[b], "foreign");
        std::string column = table_constraint ? std::string() : t[b].value;
        std::string name;
        for (std::size_t j = b; j < e; ++j) {
          if (is_kw(t[j], "constraint") && j + 1 < e) name = t[j + 1].value;
          if (is_kw(t[j], "autoincrement")) out.autoincrement = true;
          if (is_kw(t[j], "check") && j + 1 < e && t[j + 1].text == "(") {
            std::size_t c = closing(t, j + 1);
            out.checks.push_back(CheckDef{name, slice(sql, t, j + 2, c)});
            name.clear();
            j = c;
            continue;
          }
          // GENERATED ALWAYS AS (expr) or AS (expr), then VIRTUAL or STORED.
          if (!column.empty() && is_kw(t[j], "as") && j + 1 < e && t[j + 1].text == "(") {
            std::size_t c = closing(t, j + 1);
            SqliteTableSql::Generated g;
            g.expression = slice(sql, t, j + 2, c);
            g.stored = c + 1 < e && is_kw(t[c + 1], "stored");
            out.generated[column] = g;
            j = c;
            continue;
          }
          if (t[j].kind == Token::Kind::Punct && t[j].text == "(") j = closing(t, j);
        }
      }
      b = i + 1;
    }
  } catch (const Untranslatable&) {
    // A statement SQLite accepted but this reader does not follow: nothing read from it.
  }
  return out;
}

SqliteIndexSql parse_sqlite_create_index(std::string_view sql) {
  SqliteIndexSql out;
  try {
    auto t = tokenize(sql, kLite);
    std::size_t i = 0;
    while (i < t.size() && !is_kw(t[i], "on")) ++i;
    while (i < t.size() && !(t[i].kind == Token::Kind::Punct && t[i].text == "(")) ++i;
    if (i >= t.size()) return out;
    const std::size_t c = closing(t, i);
    out.keys = slice(sql, t, i + 1, c);
    for (std::size_t j = c + 1; j < t.size(); ++j)
      if (is_kw(t[j], "where")) {
        std::size_t e = t.size() - 1;  // the End token
        while (e > j + 1 && t[e - 1].kind == Token::Kind::Punct && t[e - 1].text == ";") --e;
        out.where = slice(sql, t, j + 1, e);
        break;
      }
  } catch (const Untranslatable&) {
  }
  return out;
}

}  // namespace cdc::detail
