#include "tvd/text_table.h"

#include <gtest/gtest.h>

#include <sstream>

namespace tvd {
namespace {

std::string Table(const TableRow& header, const std::vector<TableRow>& rows) {
  std::ostringstream out;
  PrintTable(out, header, rows);
  return out.str();
}

TEST(PrintTableTest, PadsEachColumnToItsWidestCellWithTwoSpaces) {
  EXPECT_EQ(Table({"TVD", "HOSTS", "EPOCH"},
                  {{"blue", "3", "12"}, {"a-long-name", "10", "1"}}),
            "TVD          HOSTS  EPOCH\n"
            "blue         3      12\n"
            "a-long-name  10     1\n");
}

TEST(PrintTableTest, HeaderOnlyWhenThereAreNoRows) {
  EXPECT_EQ(Table({"HOST", "STATE"}, {}), "HOST  STATE\n");
}

// Short rows end early; a row longer than the header is not cut and does not
// read past the column widths.
TEST(PrintTableTest, RowsMayHaveFewerOrMoreCellsThanTheHeader) {
  EXPECT_EQ(Table({"A", "B"}, {{"x"}, {"1", "22", "333"}, {"", "", "4"}}),
            "A  B\n"
            "x\n"
            "1  22  333\n"
            "       4\n");
}

TEST(PrintTableTest, PadLastCellPadsEveryCell) {
  std::ostringstream out;
  PrintTable(out, {"TVD", "PID"}, {{"blue", "4242"}, {"x"}},
             {.pad_last_cell = true});
  EXPECT_EQ(out.str(),
            "TVD   PID   \n"
            "blue  4242  \n"
            "x     \n");
}

}  // namespace
}  // namespace tvd
