// TextTable: a plain aligned table for terminal output (columns padded to the widest cell).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace cdc_cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);
  // Right-aligns a column (numbers).
  void align_right(std::size_t column);
  void add_row(std::vector<std::string> cells);
  // A horizontal rule before the next row (e.g. before a total line).
  void add_rule();
  std::string render() const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;  // an empty row is a rule
};

// Display width of UTF-8 text, counting code points (good enough for names and messages).
std::size_t display_width(const std::string& text);
// Cuts UTF-8 text to at most `width` code points, adding "..." when cut.
std::string truncate_display(const std::string& text, std::size_t width);

}  // namespace cdc_cli
