// COPY text format row parsing (https://www.postgresql.org/docs/15/sql-copy.html, "Text Format"):
// fields separated by tabs, \N for NULL, backslash escapes. Pure function.
#include "postgres/pg_connectors.h"

#include <cctype>

namespace cdc::pg {

void parse_copy_text_row(std::string_view line, std::vector<std::string>& fields, std::vector<bool>& nulls) {
  std::size_t n = 0;
  std::size_t i = 0;
  auto field = [&]() -> std::string& {
    if (fields.size() <= n) fields.emplace_back();
    if (nulls.size() <= n) nulls.push_back(false);
    fields[n].clear();
    nulls[n] = false;
    return fields[n];
  };
  std::string* cur = &field();
  while (i < line.size()) {
    char c = line[i];
    if (c == '\t') {
      ++n;
      cur = &field();
      ++i;
      continue;
    }
    if (c != '\\') {
      // Fast path: copy the run of plain bytes.
      std::size_t j = i;
      while (j < line.size() && line[j] != '\t' && line[j] != '\\') ++j;
      cur->append(line.data() + i, j - i);
      i = j;
      continue;
    }
    if (i + 1 >= line.size()) {
      ++i;
      continue;
    }
    char e = line[i + 1];
    i += 2;
    switch (e) {
      case 'N':
        if (cur->empty()) nulls[n] = true;
        break;
      case 'n': *cur += '\n'; break;
      case 't': *cur += '\t'; break;
      case 'r': *cur += '\r'; break;
      case 'b': *cur += '\b'; break;
      case 'f': *cur += '\f'; break;
      case 'v': *cur += '\v'; break;
      case 'x': {
        int v = 0, k = 0;
        while (k < 2 && i < line.size() && std::isxdigit(static_cast<unsigned char>(line[i]))) {
          char h = line[i++];
          v = v * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
          ++k;
        }
        *cur += static_cast<char>(v);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0', k = 1;
          while (k < 3 && i < line.size() && line[i] >= '0' && line[i] <= '7') {
            v = v * 8 + (line[i++] - '0');
            ++k;
          }
          *cur += static_cast<char>(v);
        } else {
          *cur += e;
        }
    }
  }
  fields.resize(n + 1);
  nulls.resize(n + 1);
}

}  // namespace cdc::pg
