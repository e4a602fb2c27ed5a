// Plain-text tables for people at a terminal (tvdctl, the overview's text
// rendering).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tvd {

using TableRow = std::vector<std::string>;

struct TableOptions {
  // Pads the last cell of each line like the others (to its column's width
  // plus two spaces): the layout `tvdctl status` has always printed.
  bool pad_last_cell = false;
};

// Writes `header` and then each of `rows` as one line each. Every column is
// as wide as its widest cell and columns are separated by two spaces; the
// last cell of a line is not padded (unless `options` says so), so no line
// ends in spaces. A row may have fewer or more cells than the header (a
// column that only some rows have is sized by those rows). Cells are written
// as given: the caller removes line breaks. Never fails.
void PrintTable(std::ostream& out, const TableRow& header,
                const std::vector<TableRow>& rows, TableOptions options = {});

}  // namespace tvd
