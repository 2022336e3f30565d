#include "text_table.h"

#include <algorithm>

namespace cdc_cli {

std::size_t display_width(const std::string& text) {
  std::size_t n = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string truncate_display(const std::string& text, std::size_t width) {
  if (display_width(text) <= width) return text;
  if (width <= 3) return std::string(width, '.');
  std::size_t keep = width - 3, count = 0, i = 0;
  for (; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) {
      if (count == keep) break;
      ++count;
    }
  }
  return text.substr(0, i) + "...";
}

TextTable::TextTable(std::vector<std::string> header) : header_(std::move(header)), right_(header_.size(), false) {}

void TextTable::align_right(std::size_t column) {
  if (column < right_.size()) right_[column] = true;
}

void TextTable::add_row(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

void TextTable::add_rule() { rows_.emplace_back(); }

std::string TextTable::render() const {
  std::vector<std::size_t> width(header_.size(), 0);
  for (std::size_t c = 0; c < header_.size(); ++c) width[c] = display_width(header_[c]);
  for (const auto& row : rows_)
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));

  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      std::size_t pad = width[c] - display_width(cells[c]);
      bool last = c + 1 == cells.size();
      if (right_[c]) out.append(pad, ' ');
      out += cells[c];
      if (!right_[c] && !last) out.append(pad, ' ');
      if (!last) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
    return out;
  };
  std::size_t total = 0;
  for (auto w : width) total += w + 2;
  std::string rule(total > 2 ? total - 2 : 0, '-');
  rule += '\n';

  std::string out = line(header_);
  out += rule;
  for (const auto& row : rows_) out += row.empty() ? rule : line(row);
  return out;
}

}  // namespace cdc_cli
