// MariaDB DDL statements from the binlog (see ddl_parse.h).
#include "mysql/ddl_parse.h"

#include "mysql/binlog_decoder.h"
#include "mysql/mysql_types.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <strings.h>

namespace cdc::mysql::ddl {

namespace {

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || (c & 0x80); }
bool digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool iequal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && strncasecmp(a.c_str(), b.c_str(), a.size()) == 0;
}

// A quoted literal or identifier starting at sql[i] (the quote); appends its content to `out`
// and returns the index after the closing quote. Doubled quotes stand for one; in string
// literals with backslash escapes, \x is an escape (https://mariadb.com/kb/en/string-literals/).
std::size_t read_quoted(std::string_view sql, std::size_t i, bool escapes, std::string& out) {
  const char q = sql[i++];
  while (i < sql.size()) {
    char c = sql[i];
    if (c == q) {
      if (i + 1 < sql.size() && sql[i + 1] == q) {
        out += q;
        i += 2;
        continue;
      }
      return i + 1;
    }
    if (escapes && c == '\\' && i + 1 < sql.size()) {
      char e = sql[i + 1];
      switch (e) {
        case '0': out += '\0'; break;
        case 'b': out += '\b'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'Z': out += '\x1a'; break;
        case '%': out += "\\%"; break;  // kept as written: they only mean something in LIKE patterns
        case '_': out += "\\_"; break;
        default: out += e; break;
      }
      i += 2;
      continue;
    }
    out += c;
    ++i;
  }
  return i;
}

}  // namespace

bool Token::is(const char* word) const { return kind == Kind::Word && strcasecmp(text.c_str(), word) == 0; }

TokenizeOptions options_for_sql_mode(std::uint64_t sql_mode) {
  TokenizeOptions o;
  o.ansi_quotes = (sql_mode & (1ULL << 2)) != 0;
  o.backslash_escapes = (sql_mode & (1ULL << 20)) == 0;
  return o;
}

std::vector<Token> tokenize(std::string_view sql, const TokenizeOptions& options) {
  std::vector<Token> out;
  std::size_t i = 0;
  std::vector<std::size_t> open_comments;  // executable comments whose "*/" is still to come
  auto prev_is_name = [&] {
    return !out.empty() && (out.back().name() || out.back().punct(')') || out.back().kind == Token::Kind::String);
  };
  while (i < sql.size()) {
    char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '*' && i + 1 < sql.size() && sql[i + 1] == '/' && !open_comments.empty()) {
      open_comments.pop_back();  // the end of an executable comment
      i += 2;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      std::size_t j = i + 2;
      if (j < sql.size() && sql[j] == 'M' && j + 1 < sql.size() && sql[j + 1] == '!') ++j;
      if (j < sql.size() && sql[j] == '!') {
        // /*!50100 text */ or /*M!100100 text */: the text is part of the statement.
        ++j;
        while (j < sql.size() && digit(sql[j])) ++j;
        open_comments.push_back(i);
        i = j;
        continue;
      }
      auto end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else if (c == '#' || (c == '-' && i + 2 < sql.size() && sql[i + 1] == '-' &&
                            std::isspace(static_cast<unsigned char>(sql[i + 2])))) {
      while (i < sql.size() && sql[i] != '\n') ++i;
    } else if (c == '`' || (c == '"' && options.ansi_quotes)) {
      Token t;
      t.kind = Token::Kind::Ident;
      i = read_quoted(sql, i, false, t.text);
      out.push_back(std::move(t));
    } else if (c == '\'' || c == '"') {
      std::string value;
      i = read_quoted(sql, i, options.backslash_escapes, value);
      // 'a' 'b' is 'ab'.
      if (!out.empty() && out.back().kind == Token::Kind::String && out.back().prefix.empty()) {
        out.back().text += value;
      } else {
        Token t;
        t.kind = Token::Kind::String;
        t.text = std::move(value);
        out.push_back(std::move(t));
      }
    } else if (digit(c) || (c == '.' && i + 1 < sql.size() && digit(sql[i + 1]) && !prev_is_name())) {
      // A number, unless it turns out to be an identifier that starts with digits (1abc).
      std::size_t j = i;
      while (j < sql.size() && digit(sql[j])) ++j;
      bool only_digits = true;
      if (j < sql.size() && sql[j] == '.' && (j + 1 >= sql.size() || !ident_char(sql[j + 1]) || digit(sql[j + 1]))) {
        only_digits = false;
        ++j;
        while (j < sql.size() && digit(sql[j])) ++j;
      }
      if (j < sql.size() && (sql[j] == 'e' || sql[j] == 'E')) {
        std::size_t k = j + 1;
        if (k < sql.size() && (sql[k] == '+' || sql[k] == '-')) ++k;
        if (k < sql.size() && digit(sql[k])) {
          only_digits = false;
          j = k;
          while (j < sql.size() && digit(sql[j])) ++j;
        }
      }
      Token t;
      if (only_digits && j < sql.size() && ident_char(sql[j])) {
        t.kind = Token::Kind::Word;
        while (j < sql.size() && ident_char(sql[j])) ++j;
      } else {
        t.kind = Token::Kind::Number;
      }
      t.text = std::string(sql.substr(i, j - i));
      out.push_back(std::move(t));
      i = j;
    } else if (ident_char(c)) {
      std::size_t j = i;
      while (j < sql.size() && ident_char(sql[j])) ++j;
      std::string word(sql.substr(i, j - i));
      // An introducer glued to a string literal: _utf8mb4'x', N'x', X'41', B'01'.
      if (j < sql.size() && sql[j] == '\'' &&
          (word[0] == '_' || word == "N" || word == "n" || word == "X" || word == "x" || word == "B" || word == "b")) {
        Token t;
        t.kind = Token::Kind::String;
        t.prefix = word;
        i = read_quoted(sql, j, options.backslash_escapes && word != "X" && word != "x" && word != "B" && word != "b", t.text);
        out.push_back(std::move(t));
        continue;
      }
      Token t;
      t.kind = Token::Kind::Word;
      t.text = std::move(word);
      out.push_back(std::move(t));
      i = j;
    } else {
      Token t;
      t.kind = Token::Kind::Punct;
      t.text = std::string(1, c);
      out.push_back(std::move(t));
      ++i;
    }
  }
  return out;
}

namespace {

// A cursor over a statement's tokens (or a part of them).
struct Cursor {
  const std::vector<Token>& tok;
  std::size_t i = 0;
  std::size_t end;

  explicit Cursor(const std::vector<Token>& t, std::size_t from = 0, std::size_t to = std::string::npos)
      : tok(t), i(from), end(std::min(to, t.size())) {}

  bool done() const { return i >= end; }
  const Token& at(std::size_t k = 0) const {
    static const Token none;
    return i + k < end ? tok[i + k] : none;
  }
  bool is(const char* w, std::size_t k = 0) const { return at(k).is(w); }
  bool take(const char* w) {
    if (!is(w)) return false;
    ++i;
    return true;
  }
  bool take_punct(char c) {
    if (!at().punct(c)) return false;
    ++i;
    return true;
  }
  // IF EXISTS / IF NOT EXISTS.
  bool take_if(bool with_not) {
    if (!is("IF")) return false;
    if (with_not ? (is("NOT", 1) && is("EXISTS", 2)) : is("EXISTS", 1)) {
      i += with_not ? 3 : 2;
      return true;
    }
    return false;
  }
  // From an opening parenthesis at i to just after its match.
  void skip_parens() {
    if (!at().punct('(')) return;
    int depth = 0;
    for (; i < end; ++i) {
      if (tok[i].punct('(')) ++depth;
      if (tok[i].punct(')') && --depth == 0) {
        ++i;
        return;
      }
    }
  }
  // A name (identifier or word); empty when there is none.
  std::string name() {
    if (!at().name()) return {};
    return tok[i++].text;
  }
  // [db.]name
  std::optional<TableName> table() {
    if (!at().name()) return std::nullopt;
    TableName t;
    t.name = tok[i++].text;
    if (at().punct('.') && at(1).name()) {
      t.db = t.name;
      t.name = tok[i + 1].text;
      i += 2;
    }
    return t;
  }
  void skip_wait() {
    if (take("NOWAIT")) return;
    if (is("WAIT") && at(1).kind == Token::Kind::Number) i += 2;
  }
};

// Splits [from, to) at commas outside parentheses.
std::vector<std::pair<std::size_t, std::size_t>> split_commas(const std::vector<Token>& tok, std::size_t from, std::size_t to) {
  std::vector<std::pair<std::size_t, std::size_t>> parts;
  int depth = 0;
  std::size_t start = from;
  for (std::size_t i = from; i < to; ++i) {
    if (tok[i].punct('(')) ++depth;
    if (tok[i].punct(')')) --depth;
    if (depth == 0 && tok[i].punct(',')) {
      parts.emplace_back(start, i);
      start = i + 1;
    }
  }
  if (start < to) parts.emplace_back(start, to);
  return parts;
}

// A DEFAULT value at the cursor.
void read_default(Cursor& c, ColumnDef& def) {
  def.default_kind = ColumnDef::Default::Other;
  if (c.at().punct('(')) {
    c.skip_parens();
    return;
  }
  const Token& t = c.at();
  if (t.kind == Token::Kind::String) {
    def.default_kind = ColumnDef::Default::Literal;
    def.default_value.kind = Literal::Kind::String;
    def.default_value.text = t.text;
    def.default_value.prefix = t.prefix;
    ++c.i;
    return;
  }
  std::string sign;
  if ((t.punct('-') || t.punct('+')) && c.at(1).kind == Token::Kind::Number) {
    sign = t.text == "-" ? "-" : "";
    ++c.i;
  }
  if (c.at().kind == Token::Kind::Number) {
    def.default_kind = ColumnDef::Default::Literal;
    def.default_value.kind = Literal::Kind::Number;
    def.default_value.text = sign + c.at().text;
    ++c.i;
    return;
  }
  if (c.is("NULL")) {
    def.default_kind = ColumnDef::Default::Literal;
    def.default_value.kind = Literal::Kind::Null;
    ++c.i;
    return;
  }
  if (c.is("TRUE") || c.is("FALSE")) {
    def.default_kind = ColumnDef::Default::Literal;
    def.default_value.kind = Literal::Kind::Bool;
    def.default_value.text = c.is("TRUE") ? "1" : "0";
    ++c.i;
    return;
  }
  // CURRENT_TIMESTAMP[(n)], NOW(), NEXT VALUE FOR s, a function call ...
  if (c.at().name()) ++c.i;
  c.skip_parens();
}

// A column definition from the type on; stops at the end of the clause.
ColumnDef read_definition(Cursor& c, AlterClause* clause) {
  ColumnDef d;
  std::string type = lower(c.name());
  if (type == "national") type = lower(c.name());
  if (type == "double" && c.take("PRECISION")) type = "double";
  if ((type == "char" || type == "character") && c.take("VARYING")) type = "varchar";
  if (type == "character" || type == "nchar") type = "char";
  if (type == "nvarchar" || type == "varchar2") type = "varchar";
  if (type == "long") {
    if (c.take("VARBINARY")) type = "mediumblob";
    else {
      c.take("VARCHAR");
      type = "mediumtext";
    }
  }
  static const std::pair<const char*, const char*> kSynonyms[] = {
      {"integer", "int"},   {"int4", "int"},        {"int1", "tinyint"},   {"int2", "smallint"}, {"int3", "mediumint"},
      {"middleint", "mediumint"}, {"int8", "bigint"}, {"dec", "decimal"}, {"numeric", "decimal"}, {"fixed", "decimal"},
      {"real", "double"},   {"float8", "double"},   {"float4", "float"},   {"bool", "tinyint"},  {"boolean", "tinyint"},
  };
  for (const auto& [from, to] : kSynonyms)
    if (type == from) type = to;
  d.type = type;
  if (type == "serial") d.auto_increment = true;
  if (c.at().punct('(')) {
    std::size_t open = c.i;
    c.skip_parens();
    d.type_args.assign(c.tok.begin() + static_cast<std::ptrdiff_t>(open + 1), c.tok.begin() + static_cast<std::ptrdiff_t>(c.i - 1));
  }
  while (!c.done()) {
    if (c.take("UNSIGNED")) {
      d.is_unsigned = true;
    } else if (c.take("NOT")) {
      if (c.take("NULL")) d.not_null = true;
    } else if (c.take("NULL")) {
      d.not_null = false;
    } else if (c.is("SERIAL") && c.is("DEFAULT", 1) && c.is("VALUE", 2)) {
      d.auto_increment = true;
      c.i += 3;
    } else if (c.take("DEFAULT")) {
      read_default(c, d);
    } else if (c.take("AUTO_INCREMENT")) {
      d.auto_increment = true;
    } else if (c.is("AS") || c.is("GENERATED")) {
      d.generated = true;
      c.i = c.end;
    } else if (c.take("PRIMARY")) {
      c.take("KEY");
      d.primary_key = true;
    } else if (c.take("COMMENT")) {
      if (c.at().kind == Token::Kind::String) ++c.i;
    } else if (c.take("ON")) {
      // ON UPDATE CURRENT_TIMESTAMP[(n)]
      c.take("UPDATE");
      if (c.at().name()) ++c.i;
      c.skip_parens();
    } else if (c.take("CHECK")) {
      c.skip_parens();
    } else if (c.take("REFERENCES")) {
      c.i = c.end;
    } else if ((c.is("CHARACTER") && c.is("SET", 1)) || c.is("CHARSET")) {
      c.i += c.is("CHARSET") ? 1 : 2;
      c.take_punct('=');
      d.charset = lower(c.name());
    } else if (c.take("COLLATE")) {
      c.take_punct('=');
      d.collation = lower(c.name());
    } else if (c.take("REF_SYSTEM_ID")) {
      c.take_punct('=');
      if (c.at().kind == Token::Kind::Number) d.srid = static_cast<int>(std::strtol(c.tok[c.i++].text.c_str(), nullptr, 10));
    } else if (clause && c.take("FIRST")) {
      clause->first = true;
    } else if (clause && c.take("AFTER")) {
      clause->after = c.name();
    } else if (c.at().punct('(')) {
      c.skip_parens();
    } else {
      ++c.i;  // ZEROFILL, BINARY, UNIQUE, KEY, INVISIBLE, COLUMN_FORMAT x, COMPRESSED, ...
    }
  }
  if (d.primary_key && !d.not_null) d.not_null = true;
  return d;
}

bool is_key_word(const Cursor& c) {
  for (const char* w : {"INDEX", "KEY", "FULLTEXT", "SPATIAL", "UNIQUE", "FOREIGN", "CHECK", "CONSTRAINT"})
    if (c.is(w)) return true;
  return false;
}

// One element of ADD (...) or ADD ...: a column or a key.
void read_add(Cursor& c, std::vector<AlterClause>& out) {
  AlterClause a;
  if (c.is("PRIMARY") || (c.is("CONSTRAINT") && (c.is("PRIMARY", 1) || c.is("PRIMARY", 2)))) {
    a.kind = ClauseKind::PrimaryKey;
  } else if (is_key_word(c)) {
    a.kind = ClauseKind::Key;
  } else if (c.is("PARTITION") || c.is("PERIOD")) {
    a.kind = ClauseKind::Option;
  } else if (c.is("SYSTEM")) {
    a.kind = ClauseKind::Unknown;  // ADD SYSTEM VERSIONING adds row_start/row_end
  } else {
    a.kind = ClauseKind::AddColumn;
    a.if_exists = c.take_if(true);
    a.column = c.name();
    if (a.column.empty()) a.kind = ClauseKind::Unknown;
    else a.def = read_definition(c, &a);
  }
  out.push_back(std::move(a));
}

AlterClause read_clause(Cursor& c, std::vector<AlterClause>& out) {
  AlterClause a;
  if (c.take("ADD")) {
    bool column = c.take("COLUMN");
    bool if_not_exists = c.take_if(true);
    if (c.at().punct('(')) {
      std::size_t open = c.i;
      c.skip_parens();
      for (auto [from, to] : split_commas(c.tok, open + 1, c.i - 1)) {
        Cursor part(c.tok, from, to);
        std::size_t before = out.size();
        read_add(part, out);
        if (if_not_exists && out.size() > before) out.back().if_exists = true;
      }
      a.kind = ClauseKind::Option;  // nothing more: the elements are in `out`
      return a;
    }
    std::size_t before = out.size();
    if (column) {
      a.kind = ClauseKind::AddColumn;
      a.if_exists = if_not_exists;
      a.column = c.name();
      if (a.column.empty()) a.kind = ClauseKind::Unknown;
      else a.def = read_definition(c, &a);
      return a;
    }
    read_add(c, out);
    a = std::move(out.back());
    out.resize(before);
    if (if_not_exists) a.if_exists = true;
    return a;
  }
  if (c.take("DROP")) {
    if (c.is("PRIMARY")) a.kind = ClauseKind::PrimaryKey;
    else if (c.is("INDEX") || c.is("KEY") || c.is("FOREIGN") || c.is("CHECK")) a.kind = ClauseKind::Key;
    else if (c.take("CONSTRAINT")) {
      c.take_if(false);
      a.kind = c.is("PRIMARY") ? ClauseKind::PrimaryKey : ClauseKind::Key;
    } else if (c.is("PARTITION") || c.is("PERIOD")) a.kind = ClauseKind::Option;
    else if (c.is("SYSTEM")) a.kind = ClauseKind::Unknown;
    else {
      c.take("COLUMN");
      a.kind = ClauseKind::DropColumn;
      a.if_exists = c.take_if(false);
      a.column = c.name();
      if (a.column.empty()) a.kind = ClauseKind::Unknown;
    }
    return a;
  }
  if (c.take("CHANGE")) {
    c.take("COLUMN");
    a.kind = ClauseKind::ChangeColumn;
    a.if_exists = c.take_if(false);
    a.column = c.name();
    a.new_name = c.name();
    if (a.column.empty() || a.new_name.empty()) a.kind = ClauseKind::Unknown;
    else a.def = read_definition(c, &a);
    return a;
  }
  if (c.take("MODIFY")) {
    c.take("COLUMN");
    a.kind = ClauseKind::ModifyColumn;
    a.if_exists = c.take_if(false);
    a.column = c.name();
    if (a.column.empty()) a.kind = ClauseKind::Unknown;
    else a.def = read_definition(c, &a);
    return a;
  }
  if (c.take("RENAME")) {
    if (c.take("COLUMN")) {
      a.kind = ClauseKind::RenameColumn;
      a.if_exists = c.take_if(false);
      a.column = c.name();
      if (!c.take("TO")) a.kind = ClauseKind::Unknown;
      a.new_name = c.name();
      if (a.column.empty() || a.new_name.empty()) a.kind = ClauseKind::Unknown;
      return a;
    }
    if (c.is("INDEX") || c.is("KEY")) {
      a.kind = ClauseKind::Key;
      return a;
    }
    if (!c.take("TO") && !c.take("AS")) c.take_punct('=');
    auto t = c.table();
    a.kind = t ? ClauseKind::RenameTable : ClauseKind::Unknown;
    if (t) a.rename_to = *t;
    return a;
  }
  if (c.take("ALTER")) {
    if (c.is("INDEX") || c.is("KEY")) {
      a.kind = ClauseKind::Key;
      return a;
    }
    c.take("COLUMN");
    a.if_exists = c.take_if(false);
    a.column = c.name();
    a.kind = ClauseKind::ColumnDefault;
    return a;
  }
  if (c.is("CONVERT") && c.is("TO", 1)) {
    a.kind = ClauseKind::ConvertCharset;
    return a;
  }
  static const char* kOptions[] = {
      "ENGINE", "AUTO_INCREMENT", "COMMENT", "ROW_FORMAT", "ALGORITHM", "LOCK", "FORCE", "ORDER", "ENABLE", "DISABLE",
      "DISCARD", "IMPORT", "KEY_BLOCK_SIZE", "STATS_AUTO_RECALC", "STATS_PERSISTENT", "STATS_SAMPLE_PAGES", "PACK_KEYS",
      "CHECKSUM", "TABLE_CHECKSUM", "DELAY_KEY_WRITE", "MAX_ROWS", "MIN_ROWS", "AVG_ROW_LENGTH", "PAGE_CHECKSUM",
      "PAGE_COMPRESSED", "PAGE_COMPRESSION_LEVEL", "TRANSACTIONAL", "UNION", "INSERT_METHOD", "DATA", "INDEX",
      "ENCRYPTED", "ENCRYPTION_KEY_ID", "SEQUENCE", "PARTITION", "REMOVE", "COALESCE", "REORGANIZE", "EXCHANGE",
      "ANALYZE", "CHECK", "OPTIMIZE", "REBUILD", "REPAIR", "TRUNCATE", "TABLESPACE", "DEFAULT", "CHARACTER",
      "CHARSET", "COLLATE", "CONNECTION", "PASSWORD", "STORAGE", "IETF_QUOTES", "WITH", "WITHOUT", "CONVERT"};
  for (const char* w : kOptions)
    if (c.is(w)) {
      a.kind = ClauseKind::Option;
      return a;
    }
  a.kind = ClauseKind::Unknown;
  return a;
}

}  // namespace

Statement parse(std::string_view sql, const TokenizeOptions& options) {
  Statement st;
  std::vector<Token> tok = tokenize(sql, options);
  Cursor c(tok);
  if (c.take("CREATE")) {
    if (c.is("OR") && c.is("REPLACE", 1)) {
      st.or_replace = true;
      c.i += 2;
    }
    if (c.take("TEMPORARY")) st.temporary = true;
    if (!c.take("TABLE")) return st;
    st.if_not_exists = c.take_if(true);
    auto t = c.table();
    if (!t) return st;
    st.kind = Statement::Kind::CreateTable;
    st.tables.push_back(*t);
    return st;
  }
  if (c.take("DROP")) {
    if (c.take("TEMPORARY")) st.temporary = true;
    if (!c.take("TABLE") && !c.take("TABLES")) return st;
    c.take_if(false);
    while (auto t = c.table()) {
      st.tables.push_back(*t);
      if (!c.take_punct(',')) break;
    }
    if (!st.tables.empty()) st.kind = Statement::Kind::DropTable;
    return st;
  }
  if (c.take("RENAME")) {
    if (!c.take("TABLE") && !c.take("TABLES")) return st;
    c.take_if(false);
    for (;;) {
      auto from = c.table();
      c.skip_wait();
      if (!from || !c.take("TO")) break;
      auto to = c.table();
      if (!to) break;
      st.renames.emplace_back(*from, *to);
      if (!c.take_punct(',')) break;
    }
    if (!st.renames.empty()) st.kind = Statement::Kind::RenameTable;
    return st;
  }
  if (c.take("ALTER")) {
    while (c.take("ONLINE") || c.take("OFFLINE") || c.take("IGNORE")) {
    }
    if (!c.take("TABLE")) return st;
    c.take_if(false);
    auto t = c.table();
    if (!t) return st;
    c.skip_wait();
    st.kind = Statement::Kind::AlterTable;
    st.tables.push_back(*t);
    for (auto [from, to] : split_commas(tok, c.i, tok.size())) {
      Cursor part(tok, from, to);
      AlterClause a = read_clause(part, st.clauses);
      if (a.kind == ClauseKind::RenameTable) st.renames.emplace_back(*t, a.rename_to);
      if (!(a.kind == ClauseKind::Option && part.tok[from].is("ADD"))) st.clauses.push_back(std::move(a));
    }
    return st;
  }
  return st;
}

std::map<std::string, std::string> renames_of(const Statement& alter) {
  std::map<std::string, std::string> out;
  for (const auto& a : alter.clauses)
    if ((a.kind == ClauseKind::ChangeColumn || a.kind == ClauseKind::RenameColumn) && a.column != a.new_name)
      out[a.column] = a.new_name;
  return out;
}

namespace {

int find_column(const std::vector<Column>& cols, const std::string& name) {
  for (std::size_t i = 0; i < cols.size(); ++i)
    if (iequal(cols[i].name, name)) return static_cast<int>(i);
  return -1;
}

const Column* column_of(const TableSchema* t, const std::string& name) {
  if (!t) return nullptr;
  int i = find_column(t->columns, name);
  return i < 0 ? nullptr : &t->columns[static_cast<std::size_t>(i)];
}

// Moves cols[from] to FIRST / AFTER `after` when the clause says so.
void place(std::vector<Column>& cols, std::size_t from, const AlterClause& a) {
  if (!a.first && a.after.empty()) return;
  Column col = std::move(cols[from]);
  cols.erase(cols.begin() + static_cast<std::ptrdiff_t>(from));
  std::size_t to = 0;
  if (!a.first) {
    int k = find_column(cols, a.after);
    to = k < 0 ? cols.size() : static_cast<std::size_t>(k) + 1;
  }
  cols.insert(cols.begin() + static_cast<std::ptrdiff_t>(to), std::move(col));
}

}  // namespace

Column column_of_definition(const std::string& name, const ColumnDef& def) {
  ColumnInfo ci;
  ci.name = name;
  ci.data_type = def.type == "json" ? "longtext" : def.type;
  ci.is_json = def.type == "json";
  std::string args;
  std::vector<std::int64_t> numbers;
  for (const auto& t : def.type_args) {
    if (t.kind == Token::Kind::String) {
      std::string q;
      for (char ch : t.text) q += ch == '\'' ? std::string("''") : std::string(1, ch);
      args += "'" + q + "'";
    } else {
      args += t.text;
      if (t.kind == Token::Kind::Number) numbers.push_back(std::strtoll(t.text.c_str(), nullptr, 10));
    }
  }
  ci.column_type = def.type + (def.type_args.empty() ? "" : "(" + args + ")") + (def.is_unsigned ? " unsigned" : "");
  const std::string& d = def.type;
  if (d == "char" || d == "varchar" || d == "binary" || d == "varbinary") ci.char_length = numbers.empty() ? 1 : numbers[0];
  if (d == "decimal") {
    ci.numeric_precision = numbers.empty() ? 10 : numbers[0];
    ci.numeric_scale = numbers.size() > 1 ? numbers[1] : 0;
  }
  if (d == "bit") ci.numeric_precision = numbers.empty() ? 1 : numbers[0];
  if (d == "datetime" || d == "timestamp" || d == "time") ci.datetime_precision = numbers.empty() ? 0 : numbers[0];
  ci.charset = def.charset;
  ci.collation = def.collation;
  ci.nullable = !def.not_null.value_or(false);
  ci.srid = def.srid;
  Column c;
  c.name = name;
  c.type = logical_type_of(ci);
  c.nullable = ci.nullable;
  c.source_type = native_type_of(ci);
  return c;
}

std::optional<TableSchema> apply_alter(const TableSchema& known, const TableSchema* now, const Statement& alter) {
  TableSchema out = known;
  std::vector<Column>& cols = out.columns;
  std::vector<std::string> pk = known.primary_key;
  bool pk_from_now = false;
  for (const auto& a : alter.clauses) {
    switch (a.kind) {
      case ClauseKind::Unknown: return std::nullopt;
      case ClauseKind::AddColumn: {
        if (find_column(cols, a.column) >= 0) break;  // IF NOT EXISTS (or a statement that failed)
        const Column* def = column_of(now, a.column);
        cols.push_back(def ? *def : column_of_definition(a.column, a.def));
        place(cols, cols.size() - 1, a);
        if (a.def.primary_key) pk_from_now = true;
        break;
      }
      case ClauseKind::DropColumn: {
        int k = find_column(cols, a.column);
        if (k < 0) break;
        cols.erase(cols.begin() + k);
        pk.erase(std::remove_if(pk.begin(), pk.end(), [&](const std::string& p) { return iequal(p, a.column); }), pk.end());
        break;
      }
      case ClauseKind::ChangeColumn:
      case ClauseKind::ModifyColumn:
      case ClauseKind::RenameColumn: {
        int k = find_column(cols, a.column);
        if (k < 0) break;
        const std::string& to = a.kind == ClauseKind::ModifyColumn ? a.column : a.new_name;
        const Column* def = a.kind == ClauseKind::RenameColumn ? nullptr : column_of(now, to);
        Column& col = cols[static_cast<std::size_t>(k)];
        std::string old = col.name;
        if (def) col = *def;                                             // as described now
        else if (a.kind != ClauseKind::RenameColumn) col = column_of_definition(to, a.def);  // gone since
        else col.name = to;                                              // a rename keeps the definition
        for (auto& p : pk)
          if (iequal(p, old)) p = col.name;
        place(cols, static_cast<std::size_t>(k), a);
        if (a.def.primary_key) pk_from_now = true;
        break;
      }
      case ClauseKind::ConvertCharset:
        for (auto& col : cols)
          if (const Column* def = column_of(now, col.name)) col = *def;
        break;
      case ClauseKind::PrimaryKey: pk_from_now = true; break;
      case ClauseKind::ColumnDefault:
      case ClauseKind::Key:
      case ClauseKind::RenameTable:
      case ClauseKind::Option: break;
    }
  }
  if (pk_from_now && now) {
    pk.clear();
    for (const auto& p : now->primary_key)
      if (find_column(cols, p) >= 0) pk.push_back(p);
  }
  out.primary_key = std::move(pk);
  return out;
}

namespace {

bool ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0x80) == 0; });
}

// Type families of the definition's type name, to tell the described column still is what the
// definition made (a later MODIFY may have changed it).
bool same_family(const std::string& type, const LogicalType& t) {
  auto any = [&](std::initializer_list<const char*> names) {
    return std::any_of(names.begin(), names.end(), [&](const char* n) { return type == n; });
  };
  switch (t.id) {
    case TypeId::Int8:
    case TypeId::Int16:
    case TypeId::Int24:
    case TypeId::Int32:
    case TypeId::Int64: return any({"tinyint", "smallint", "mediumint", "int", "bigint", "year"});
    case TypeId::Decimal: return type == "decimal";
    case TypeId::Float32: return type == "float";
    case TypeId::Float64: return type == "double" || type == "float";
    case TypeId::Bit: return type == "bit";
    case TypeId::String: return any({"char", "varchar", "tinytext", "text", "mediumtext", "longtext"});
    case TypeId::Bytes: return any({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"});
    case TypeId::Enum: return type == "enum";
    case TypeId::Set: return type == "set";
    case TypeId::Date: return type == "date";
    case TypeId::Time: return type == "time";
    case TypeId::Timestamp: return type == "datetime";  // TIMESTAMP: see added_column_value
    case TypeId::Json: return type == "json" || type == "longtext";
    default: return false;
  }
}

// "[-]digits[.digits]" -> sign, integer digits (no leading zeros), fraction digits; false otherwise.
bool split_decimal(const std::string& text, bool& negative, std::string& int_part, std::string& frac) {
  std::size_t i = 0;
  negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  std::size_t dot = text.find('.', i);
  int_part = text.substr(i, dot == std::string::npos ? std::string::npos : dot - i);
  frac = dot == std::string::npos ? std::string() : text.substr(dot + 1);
  if (int_part.empty() && frac.empty()) return false;
  if (!std::all_of(int_part.begin(), int_part.end(), digit) || !std::all_of(frac.begin(), frac.end(), digit)) return false;
  std::size_t nz = int_part.find_first_not_of('0');
  int_part = nz == std::string::npos ? std::string() : int_part.substr(nz);
  return true;
}

std::optional<Value> integer_value(const std::string& text, const LogicalType& t, const std::string& type) {
  bool negative;
  std::string digits, frac;
  if (!split_decimal(text, negative, digits, frac) || !frac.empty() || text.find('.') != std::string::npos) return std::nullopt;
  if (digits.size() > 20) return std::nullopt;
  if (digits.empty()) {
    negative = false;
    digits = "0";
  }
  if (type == "year") {
    // YEAR: 0 stays 0; other values must be four-digit years (two-digit ones are converted).
    long v = std::strtol(digits.c_str(), nullptr, 10);
    if (negative || !(v == 0 || (v >= 1901 && v <= 2155))) return std::nullopt;
    return Value::int64(v);
  }
  errno = 0;
  if (t.is_unsigned) {
    if (negative) return std::nullopt;
    std::uint64_t v = std::strtoull(digits.c_str(), nullptr, 10);
    if (errno) return std::nullopt;
    int bits = t.id == TypeId::Int8 ? 8 : t.id == TypeId::Int16 ? 16 : t.id == TypeId::Int24 ? 24 : t.id == TypeId::Int32 ? 32 : 64;
    if (bits < 64 && v >= (1ULL << bits)) return std::nullopt;
    return Value::uint64(v);
  }
  std::uint64_t mag = std::strtoull(digits.c_str(), nullptr, 10);
  if (errno) return std::nullopt;
  int bits = t.id == TypeId::Int8 ? 8 : t.id == TypeId::Int16 ? 16 : t.id == TypeId::Int24 ? 24 : t.id == TypeId::Int32 ? 32 : 64;
  std::uint64_t limit = 1ULL << (bits - 1);  // |min|
  if (negative ? mag > limit : mag >= limit) return std::nullopt;
  return Value::int64(negative ? static_cast<std::int64_t>(0 - mag) : static_cast<std::int64_t>(mag));
}

std::optional<Value> decimal_value(const std::string& text, const LogicalType& t) {
  bool negative;
  std::string digits, frac;
  if (!split_decimal(text, negative, digits, frac)) return std::nullopt;
  int scale = std::max(t.scale, 0);
  while (static_cast<int>(frac.size()) > scale && !frac.empty() && frac.back() == '0') frac.pop_back();
  if (static_cast<int>(frac.size()) > scale) return std::nullopt;  // would be rounded
  if (t.precision >= 0 && static_cast<int>(digits.size()) > t.precision - scale) return std::nullopt;
  frac.resize(static_cast<std::size_t>(scale), '0');
  bool zero = digits.empty() && frac.find_first_not_of('0') == std::string::npos;
  std::string out = (negative && !zero ? "-" : "") + (digits.empty() ? std::string("0") : digits);
  if (scale > 0) out += "." + frac;
  return Value::decimal(out);
}

// [+-]digits[.digits][(e|E)[+-]digits] (or .digits): the numbers strtod reads as MariaDB does.
bool plain_number(const std::string& s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t d0 = i;
  while (i < s.size() && digit(s[i])) ++i;
  std::size_t digits = i - d0;
  if (i < s.size() && s[i] == '.') {
    std::size_t f0 = ++i;
    while (i < s.size() && digit(s[i])) ++i;
    digits += i - f0;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t e0 = i;
    while (i < s.size() && digit(s[i])) ++i;
    if (i == e0) return false;
  }
  return i == s.size();
}

std::optional<Value> float_value(const std::string& text, const LogicalType& t) {
  if (!plain_number(text)) return std::nullopt;
  double d = std::strtod(text.c_str(), nullptr);
  if (t.id == TypeId::Float32) {
    float f = static_cast<float>(d);  // MariaDB stores the double of the literal as a float
    if (!std::isfinite(f)) return std::nullopt;
    return Value::float64(canonical_float(f));
  }
  if (!std::isfinite(d)) return std::nullopt;
  return Value::float64(d);
}

// "YYYY-MM-DD", "HH:MM:SS" and their fractions, as the server prints them at `fsp` digits.
bool fixed_digits(const std::string& s, std::size_t at, std::size_t n) {
  return at + n <= s.size() && std::all_of(s.begin() + static_cast<std::ptrdiff_t>(at),
                                           s.begin() + static_cast<std::ptrdiff_t>(at + n), digit);
}

std::optional<std::string> with_fraction(const std::string& text, std::size_t whole, int fsp) {
  if (text.size() == whole) return text + (fsp > 0 ? "." + std::string(static_cast<std::size_t>(fsp), '0') : "");
  if (text[whole] != '.' || !fixed_digits(text, whole + 1, text.size() - whole - 1) || text.size() == whole + 1)
    return std::nullopt;
  std::string frac = text.substr(whole + 1);
  while (static_cast<int>(frac.size()) > fsp && frac.back() == '0') frac.pop_back();
  if (static_cast<int>(frac.size()) > fsp) return std::nullopt;  // would be rounded
  frac.resize(static_cast<std::size_t>(std::max(fsp, 0)), '0');
  return text.substr(0, whole) + (fsp > 0 ? "." + frac : "");
}

// The literal's text in UTF-8, when its bytes are known to be UTF-8 (or ASCII).
std::optional<std::string> utf8_text(const Literal& lit, std::uint32_t client_collation) {
  if (ascii(lit.text) && (lit.prefix.empty() || lit.prefix[0] == '_' || lit.prefix == "N" || lit.prefix == "n")) {
    if (!lit.prefix.empty() && lit.prefix[0] == '_') {
      std::string cs = lower(lit.prefix.substr(1));
      if (cs != "utf8" && cs != "utf8mb3" && cs != "utf8mb4" && cs != "latin1" && cs != "ascii") return std::nullopt;
    }
    return lit.text;
  }
  std::string cs = lit.prefix.empty() ? std::string() : lower(lit.prefix);
  if (cs == "_utf8" || cs == "_utf8mb3" || cs == "_utf8mb4" || cs == "n") return lit.text;
  if (!cs.empty() || client_collation == 0) return std::nullopt;
  std::string out;
  if (!binlog::to_utf8(client_collation, lit.text, out)) return std::nullopt;
  return out;
}

// The character set a text column's source type names ("... CHARACTER SET utf8mb4 ..."), or "".
std::string charset_of(const Column& c) {
  std::string t = lower(c.source_type);
  auto at = t.find("character set ");
  if (at == std::string::npos) return {};
  std::size_t b = at + 14, e = t.find(' ', b);
  return t.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

std::size_t utf8_chars(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

std::optional<Value> added_column_value(const ColumnDef& def, const Column& column, std::uint32_t client_collation) {
  const LogicalType& t = column.type;
  if (def.generated || def.auto_increment || def.type == "timestamp" || !same_family(def.type, t)) return std::nullopt;
  if (def.default_kind == ColumnDef::Default::Other) return std::nullopt;
  if (def.default_kind == ColumnDef::Default::None) {
    if (!def.not_null.value_or(false)) return Value();  // nullable without a default: NULL
    // NOT NULL without a default: the type's implicit default (https://mariadb.com/kb/en/create-table/#default-column-option).
    switch (t.id) {
      case TypeId::Int8:
      case TypeId::Int16:
      case TypeId::Int24:
      case TypeId::Int32:
      case TypeId::Int64: return t.is_unsigned ? Value::uint64(0) : Value::int64(0);
      case TypeId::Decimal: return decimal_value("0", t);
      case TypeId::Float32:
      case TypeId::Float64: return Value::float64(0.0);
      case TypeId::Bit: return Value::uint64(0);
      case TypeId::String: return Value::string("");
      case TypeId::Bytes: return Value::bytes(t.fixed_length && t.length > 0 ? std::string(static_cast<std::size_t>(t.length), '\0') : "");
      case TypeId::Enum:
        if (t.members.empty()) return std::nullopt;
        return Value::string(t.members.front());
      case TypeId::Set: return Value::string("");
      case TypeId::Date: return Value::date("0000-00-00");
      case TypeId::Timestamp: return Value::timestamp(*with_fraction("0000-00-00 00:00:00", 19, t.fsp));
      case TypeId::Time: return Value::time(*with_fraction("00:00:00", 8, t.fsp));
      default: return std::nullopt;  // JSON (its CHECK rejects ''), UUID, ...
    }
  }
  const Literal& lit = def.default_value;
  if (lit.kind == Literal::Kind::Null) return Value();
  if (lit.kind == Literal::Kind::String && (lit.prefix == "X" || lit.prefix == "x" || lit.prefix == "B" || lit.prefix == "b"))
    return std::nullopt;  // hexadecimal and bit literals: numbers or bytes depending on context
  const bool numeric = lit.kind == Literal::Kind::Number || lit.kind == Literal::Kind::Bool;
  switch (t.id) {
    case TypeId::Int8:
    case TypeId::Int16:
    case TypeId::Int24:
    case TypeId::Int32:
    case TypeId::Int64:
      if (lit.kind == Literal::Kind::String && !ascii(lit.text)) return std::nullopt;
      return integer_value(lit.text, t, def.type);
    case TypeId::Decimal:
      if (lit.kind == Literal::Kind::String && !ascii(lit.text)) return std::nullopt;
      return decimal_value(lit.text, t);
    case TypeId::Float32:
    case TypeId::Float64: return float_value(lit.text, t);
    case TypeId::Bit: {
      if (!numeric) return std::nullopt;
      LogicalType u64;
      u64.id = TypeId::Int64;
      u64.is_unsigned = true;
      auto v = integer_value(lit.text, u64, "bigint");
      if (!v || (t.length > 0 && t.length < 64 && v->as_uint() >= (1ULL << t.length))) return std::nullopt;
      return v;
    }
    case TypeId::String: {
      if (numeric) return std::nullopt;
      auto text = utf8_text(lit, client_collation);
      if (!text) return std::nullopt;
      std::string cs = charset_of(column);
      if (!ascii(*text) && cs.rfind("utf8", 0) != 0) return std::nullopt;
      if (cs == "utf8mb3" || cs == "utf8") {
        for (char c : *text)
          if ((static_cast<unsigned char>(c) & 0xF8) == 0xF0) return std::nullopt;  // 4-byte characters do not fit
      }
      std::string s = *text;
      if (t.fixed_length)
        while (!s.empty() && s.back() == ' ') s.pop_back();  // CHAR: trailing spaces are not kept
      if (t.length >= 0 && utf8_chars(s) > static_cast<std::size_t>(t.length)) return std::nullopt;
      return Value::string(std::move(s));
    }
    case TypeId::Bytes: {
      if (numeric || !(lit.prefix.empty() || lower(lit.prefix) == "_binary")) return std::nullopt;
      if (!ascii(lit.text) && lit.prefix.empty()) return std::nullopt;  // bytes in the client's character set
      std::string s = lit.text;
      if (t.length >= 0 && s.size() > static_cast<std::size_t>(t.length)) return std::nullopt;
      if (t.fixed_length && t.length > 0) s.resize(static_cast<std::size_t>(t.length), '\0');
      return Value::bytes(std::move(s));
    }
    case TypeId::Enum: {
      if (numeric) return std::nullopt;
      auto text = utf8_text(lit, client_collation);
      if (!text) return std::nullopt;
      for (const auto& m : t.members)
        if (m == *text) return Value::string(m);
      return std::nullopt;  // other spellings depend on the collation
    }
    case TypeId::Set: {
      if (numeric) return std::nullopt;
      auto text = utf8_text(lit, client_collation);
      if (!text) return std::nullopt;
      std::vector<bool> in(t.members.size(), false);
      std::size_t p = 0;
      while (!text->empty()) {
        std::size_t q = text->find(',', p);
        std::string item = text->substr(p, q == std::string::npos ? std::string::npos : q - p);
        auto m = std::find(t.members.begin(), t.members.end(), item);
        if (m == t.members.end()) return std::nullopt;
        in[static_cast<std::size_t>(m - t.members.begin())] = true;
        if (q == std::string::npos) break;
        p = q + 1;
      }
      std::string out;
      for (std::size_t i = 0; i < in.size(); ++i)
        if (in[i]) out += (out.empty() ? "" : ",") + t.members[i];
      return Value::string(out);
    }
    case TypeId::Date:
      if (lit.kind != Literal::Kind::String || lit.text.size() != 10 || !fixed_digits(lit.text, 0, 4) || lit.text[4] != '-' ||
          !fixed_digits(lit.text, 5, 2) || lit.text[7] != '-' || !fixed_digits(lit.text, 8, 2))
        return std::nullopt;
      return Value::date(lit.text);
    case TypeId::Timestamp: {  // DATETIME
      const std::string& s = lit.text;
      if (lit.kind != Literal::Kind::String || s.size() < 19 || !fixed_digits(s, 0, 4) || s[4] != '-' || !fixed_digits(s, 5, 2) ||
          s[7] != '-' || !fixed_digits(s, 8, 2) || s[10] != ' ' || !fixed_digits(s, 11, 2) || s[13] != ':' ||
          !fixed_digits(s, 14, 2) || s[16] != ':' || !fixed_digits(s, 17, 2))
        return std::nullopt;
      auto v = with_fraction(s, 19, t.fsp);
      if (!v) return std::nullopt;
      return Value::timestamp(*v);
    }
    case TypeId::Time: {
      const std::string& s = lit.text;
      if (lit.kind != Literal::Kind::String || s.size() < 8 || !fixed_digits(s, 0, 2) || s[2] != ':' || !fixed_digits(s, 3, 2) ||
          s[5] != ':' || !fixed_digits(s, 6, 2))
        return std::nullopt;
      auto v = with_fraction(s, 8, t.fsp);
      if (!v) return std::nullopt;
      return Value::time(*v);
    }
    case TypeId::Json: {
      if (numeric) return std::nullopt;
      auto text = utf8_text(lit, client_collation);
      if (!text) return std::nullopt;
      return Value::json(*text);
    }
    default: return std::nullopt;
  }
}

std::set<std::string> values_kept(const std::vector<ColumnChange>& changes) {
  std::set<std::string> out;
  for (const auto& c : changes) {
    if (c.kind != ColumnChangeKind::Widened) continue;
    const LogicalType& from = c.before.type;
    const LogicalType& to = c.after.type;
    if (from.id == TypeId::Float32 && to.id != TypeId::Float32) continue;
    if (to.id == TypeId::Bytes && to.fixed_length && to.length != from.length) continue;
    if (charset_of(c.before) != charset_of(c.after)) continue;
    out.insert(c.column);
  }
  return out;
}

}  // namespace cdc::mysql::ddl
