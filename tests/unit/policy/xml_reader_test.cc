// The hostile-input corpus for the XML loader: every case must produce a
// clear "FILE:LINE: message" error, never a crash or a hang. The large
// inputs are generated here rather than committed.
#include "tvd/policy/xml_reader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace tvd::policy {
namespace {

std::string ParseError(std::string_view text) {
  auto doc = ParseXml(text, "x.xml");
  if (doc.ok()) return "OK";
  EXPECT_EQ(doc.status().code(), ErrorCode::kInvalidArgument);
  return doc.status().message();
}

TEST(XmlReaderTest, AcceptsPlainDocuments) {
  EXPECT_EQ(ParseError("<a/>"), "OK");
  EXPECT_EQ(ParseError("<?xml version='1.0' encoding='UTF-8'?><!-- c --><a/>"),
            "OK");
  EXPECT_EQ(ParseError("\xef\xbb\xbf<a/>"), "OK");  // UTF-8 byte-order mark
  EXPECT_EQ(ParseError("<a b='&lt;&gt;&amp;&quot;&apos;&#65;&#x42;'/>"), "OK");
  EXPECT_EQ(ParseError("<a b='>'><c/><![CDATA[<d><e>]]></a>"), "OK");
  EXPECT_EQ(ParseError("<a>\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x92</a>"), "OK");
}

TEST(XmlReaderTest, EmptyDocument) {
  EXPECT_EQ(ParseError(""), "x.xml:1: empty document");
  EXPECT_EQ(ParseError(" \n\t\r\n"), "x.xml:1: empty document");
}

TEST(XmlReaderTest, NotWellFormed) {
  EXPECT_EQ(ParseError("<a>\n<b>\n</a>"),
            "x.xml:2: not well-formed XML: mismatched or missing end tag");
  EXPECT_EQ(ParseError("<a>"),
            "x.xml:1: not well-formed XML: mismatched or missing end tag");
  EXPECT_EQ(ParseError("text only"),
            "x.xml:1: not well-formed XML: malformed text");
  EXPECT_EQ(ParseError("<a/>\n<b/>"),
            "x.xml:2: not well-formed XML: more than one root element");
  EXPECT_EQ(ParseError("<a><!-- x</a>"),
            "x.xml:1: not well-formed XML: malformed comment");
  EXPECT_EQ(ParseError("<a b='1' b='2'/>"),
            "x.xml:1: not well-formed XML: malformed or duplicate attribute");
  EXPECT_EQ(ParseError("<a b=1/>"),
            "x.xml:1: not well-formed XML: malformed or duplicate attribute");
  EXPECT_EQ(ParseError("<?xml version='1.0'?>"),
            "x.xml:1: not well-formed XML: no root element");
  EXPECT_EQ(ParseError("<a><![CDATA[x</a>"),
            "x.xml:1: not well-formed XML: malformed CDATA section");
}

TEST(XmlReaderTest, BinaryGarbage) {
  EXPECT_EQ(ParseError(std::string("\xff\xfe\x00\x01", 4)),
            "x.xml:1: not valid UTF-8 (byte 0xff at offset 0)");
  EXPECT_EQ(ParseError(std::string("\x00\x01\x02", 3)),
            "x.xml:1: character U+0000 is not allowed in XML");
  // Deterministic pseudo-random blobs: each must be refused with a located
  // error (their exact text depends on the bytes).
  std::mt19937 rng(12345);
  for (int i = 0; i < 200; ++i) {
    std::string blob(1 + rng() % 512, '\0');
    for (char& c : blob) c = static_cast<char>(rng());
    auto doc = ParseXml(blob, "x.xml");
    ASSERT_FALSE(doc.ok());
    EXPECT_EQ(doc.status().message().rfind("x.xml:", 0), 0u)
        << doc.status().message();
  }
}

TEST(XmlReaderTest, NotUtf8) {
  EXPECT_EQ(ParseError("<a>\n\xc3\x28</a>"),
            "x.xml:2: not valid UTF-8 (byte 0xc3 at offset 4)");
  // Overlong "/".
  EXPECT_EQ(ParseError("<a>\xc0\xaf</a>"),
            "x.xml:1: not valid UTF-8 (byte 0xc0 at offset 3)");
  // UTF-16 surrogate encoded in UTF-8.
  EXPECT_EQ(ParseError("<a>\xed\xa0\x80</a>"),
            "x.xml:1: not valid UTF-8 (byte 0xed at offset 3)");
  // Above U+10FFFF.
  EXPECT_EQ(ParseError("<a>\xf4\x90\x80\x80</a>"),
            "x.xml:1: not valid UTF-8 (byte 0xf4 at offset 3)");
  // Truncated sequence at the end.
  EXPECT_EQ(ParseError("<a/>\xe2\x82"),
            "x.xml:1: not valid UTF-8 (byte 0xe2 at offset 4)");
  // Latin-1 text.
  EXPECT_EQ(ParseError("<a>caf\xe9</a>"),
            "x.xml:1: not valid UTF-8 (byte 0xe9 at offset 6)");
  EXPECT_EQ(ParseError("<a>\x1b[31m</a>"),
            "x.xml:1: character U+001B is not allowed in XML");
  EXPECT_EQ(ParseError("<a>\xef\xbf\xbe</a>"),
            "x.xml:1: character U+FFFE is not allowed in XML");
}

TEST(XmlReaderTest, RefusesDoctypeAndEntities) {
  const std::string laughs =
      "<?xml version=\"1.0\"?>\n"
      "<!DOCTYPE lolz [\n"
      " <!ENTITY lol \"lol\">\n"
      " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
      " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
      "]>\n"
      "<lolz>&lol2;</lolz>\n";
  EXPECT_EQ(ParseError(laughs),
            "x.xml:2: DOCTYPE and other <! declarations are not allowed (no "
            "DTDs or entity definitions)");
  EXPECT_EQ(ParseError("<!DOCTYPE a [<!ENTITY x SYSTEM "
                       "\"file:///etc/passwd\">]>\n<a>&x;</a>"),
            "x.xml:1: DOCTYPE and other <! declarations are not allowed (no "
            "DTDs or entity definitions)");
  EXPECT_EQ(ParseError("<a/>\n<!DOCTYPE a>"),
            "x.xml:2: DOCTYPE and other <! declarations are not allowed (no "
            "DTDs or entity definitions)");
  // Undeclared entities are refused too, in text and in attributes.
  EXPECT_EQ(ParseError("<a>\n&lol;</a>"),
            "x.xml:2: entity reference '&lol;' is not allowed (only &lt; &gt; "
            "&amp; &quot; &apos; and character references)");
  EXPECT_EQ(ParseError("<a b='&x;'/>"),
            "x.xml:1: entity reference '&x;' is not allowed (only &lt; &gt; "
            "&amp; &quot; &apos; and character references)");
  EXPECT_EQ(ParseError("<a>fish & chips</a>"),
            "x.xml:1: '&' must be written as &amp;");
  EXPECT_EQ(ParseError("<a>&#0;</a>"),
            "x.xml:1: character reference '&#0;' is not a legal XML character");
  EXPECT_EQ(ParseError("<a>&#x110000;</a>"),
            "x.xml:1: character reference '&#x110000;' is not a legal XML "
            "character");
  EXPECT_EQ(ParseError("<a b='&#xD800;'/>"),
            "x.xml:1: character reference '&#xD800;' is not a legal XML "
            "character");
  EXPECT_EQ(ParseError("<a>&#xzz;</a>"),
            "x.xml:1: character reference '&#xzz;' is not a legal XML "
            "character");
}

std::string Nested(int depth, bool newlines) {
  std::string s;
  s.reserve(static_cast<std::size_t>(depth) * 9);
  for (int i = 0; i < depth; ++i) s += newlines ? "<a>\n" : "<a>";
  for (int i = 0; i < depth; ++i) s += "</a>";
  return s;
}

TEST(XmlReaderTest, DepthCap) {
  EXPECT_EQ(ParseError(Nested(32, false)), "OK");
  EXPECT_EQ(ParseError(Nested(33, true)),
            "x.xml:33: elements nested deeper than 32 levels");
  // Self-closing elements, comments and CDATA do not nest.
  EXPECT_EQ(ParseError("<a>" + std::string(10000, ' ') + "<b/><!-- <c><c> -->" +
                       "<![CDATA[<d><d>]]></a>"),
            "OK");
}

TEST(XmlReaderTest, HundredThousandDeepNesting) {
  EXPECT_EQ(ParseError(Nested(100000, true)),
            "x.xml:33: elements nested deeper than 32 levels");
  // Unclosed, as an attacker would send it.
  std::string open;
  for (int i = 0; i < 100000; ++i) open += "<a>";
  EXPECT_EQ(ParseError(open), "x.xml:1: elements nested deeper than 32 levels");
}

std::string WithAttributes(int n) {
  std::string s = "<a";
  for (int i = 0; i < n; ++i) s += " a" + std::to_string(i) + "='>'";
  return s + "/>";
}

TEST(XmlReaderTest, AttributeCap) {
  EXPECT_EQ(ParseError(WithAttributes(64)), "OK");
  EXPECT_EQ(ParseError("<r>\n" + WithAttributes(65) + "</r>"),
            "x.xml:2: element has more than 64 attributes");
  // Half a million attributes would take tinyxml2 minutes (its duplicate
  // check is quadratic); the cap refuses them at once.
  EXPECT_EQ(ParseError(WithAttributes(250000)),
            "x.xml:1: element has more than 64 attributes");
}

TEST(XmlReaderTest, SizeCap) {
  const std::string big = "<a b='" + std::string(50 * 1024 * 1024, 'x') + "'/>";
  EXPECT_EQ(ParseError(big),
            "x.xml:1: input is 52428809 bytes, over the limit of 4194304 "
            "bytes");
  // Just under the cap is parsed.
  const std::string under =
      "<a b='" + std::string(4 * 1024 * 1024 - 9, 'x') + "'/>";
  ASSERT_EQ(under.size(), 4u * 1024 * 1024);
  EXPECT_EQ(ParseError(under), "OK");
}

TEST(XmlReaderTest, FileSizeCapRefusesBeforeReading) {
  const std::string path =
      ::testing::TempDir() + "/big-" + std::to_string(::getpid()) + ".xml";
  {
    std::ofstream f(path, std::ios::binary);
    f << "<a b='";
    f.seekp(50 * 1024 * 1024);
    f << "'/>";
  }
  auto text = ReadPolicyFile(path);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(
      text.status().message(),
      path + ":1: file is 52428803 bytes, over the limit of 4194304 bytes");
  std::filesystem::remove(path);
}

TEST(XmlReaderTest, MissingFileAndDirectory) {
  auto missing = ReadPolicyFile("/nonexistent/tvd-policy.xml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kIo);
  EXPECT_EQ(missing.status().message(),
            "/nonexistent/tvd-policy.xml: No such file or directory");
  auto dir = ReadPolicyFile("/");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().message(), "/: not a regular file");
  auto dev = ReadPolicyFile("/dev/zero");
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().message(), "/dev/zero: not a regular file");
}

TEST(XmlReaderTest, FifoIsRefusedWithoutWaitingForAWriter) {
  const std::string path =
      ::testing::TempDir() + "/fifo-" + std::to_string(::getpid()) + ".xml";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto fifo = ReadPolicyFile(path);
  ASSERT_FALSE(fifo.ok());
  EXPECT_EQ(fifo.status().message(), path + ": not a regular file");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace tvd::policy
