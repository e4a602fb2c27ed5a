#include "tvd/text_table.h"

#include <algorithm>
#include <cstddef>

namespace tvd {

void PrintTable(std::ostream& out, const TableRow& header,
                const std::vector<TableRow>& rows, TableOptions options) {
  std::vector<std::size_t> width;
  auto measure = [&width](const TableRow& r) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (std::size_t i = 0; i < r.size(); ++i) {
      width[i] = std::max(width[i], r[i].size());
    }
  };
  measure(header);
  for (const TableRow& r : rows) measure(r);
  auto line = [&](const TableRow& r) {
    std::string text;
    for (std::size_t i = 0; i < r.size(); ++i) {
      text += r[i];
      if (i + 1 < r.size() || options.pad_last_cell) {
        text += std::string(width[i] + 2 - r[i].size(), ' ');
      }
    }
    out << text << "\n";
  };
  line(header);
  for (const TableRow& r : rows) line(r);
}

}  // namespace tvd
