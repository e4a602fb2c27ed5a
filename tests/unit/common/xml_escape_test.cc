#include "tvd/xml_escape.h"

#include <gtest/gtest.h>

namespace tvd {
namespace {

TEST(EscapeXmlTest, EscapesTheFiveMarkupCharacters) {
  EXPECT_EQ(EscapeXml("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
}

TEST(EscapeXmlTest, KeepsOrdinaryTextTabsAndLineFeeds) {
  EXPECT_EQ(EscapeXml(""), "");
  EXPECT_EQ(EscapeXml("tvd blue\t1\n2 · ü"), "tvd blue\t1\n2 · ü");
}

// A name with control characters cannot break the document.
TEST(EscapeXmlTest, ReplacesControlCharactersXmlForbids) {
  EXPECT_EQ(EscapeXml(std::string("a\x01"
                                  "b\rc\x1f"
                                  "d\0e",
                                  9)),
            "a?b?c?d?e");
}

// An attribute value cannot be closed from inside, whatever its quotes.
TEST(EscapeXmlTest, AttributeInjectionStaysInsideTheValue) {
  const std::string v = EscapeXml("x\"/><script>'");
  EXPECT_EQ(v, "x&quot;/&gt;&lt;script&gt;&#39;");
  EXPECT_EQ(v.find_first_of("\"'<>"), std::string::npos);
}

// The canonical form is hashed: its mapping is fixed.
TEST(EscapeXmlCanonicalTest, EscapesOnlyAmpersandAnglesAndDoubleQuote) {
  EXPECT_EQ(EscapeXmlCanonical("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e'f");
  EXPECT_EQ(EscapeXmlCanonical(std::string("\t\r\x01", 3)),
            std::string("\t\r\x01", 3));
}

}  // namespace
}  // namespace tvd
