#include "tvd/policy/xml_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>

#include "tvd/policy/policy_error.h"

namespace tvd::policy {

// Our pre-scan is the guarantee; tinyxml2's own cap is the second line. If a
// future tinyxml2 drops or raises it far, recursion in its parser and
// destructor would again depend on our pre-scan alone, so make that visible.
static_assert(TINYXML2_MAX_ELEMENT_DEPTH <= 1000,
              "tinyxml2 element depth limit changed; review xml_reader.cc");

namespace {

std::string HexByte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", c);
  return buf;
}

bool IsXmlChar(std::uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

// Decodes one UTF-8 sequence at text[i]. Returns its length, or 0 if the
// bytes there are not a well-formed (shortest-form, non-surrogate) sequence.
std::size_t DecodeUtf8(std::string_view text, std::size_t i,
                       std::uint32_t* cp) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  std::size_t len;
  std::uint32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    min = 0x80;
    *cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    min = 0x800;
    *cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    min = 0x10000;
    *cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (b & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

Status CheckEncoding(std::string_view text, std::string_view source) {
  int line = 1;
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint32_t cp = 0;
    const std::size_t len = DecodeUtf8(text, i, &cp);
    if (len == 0) {
      return PolicyError(source, line,
                         "not valid UTF-8 (byte " +
                             HexByte(static_cast<unsigned char>(text[i])) +
                             " at offset " + std::to_string(i) + ")");
    }
    // U+FEFF at the very start is a byte-order mark, which tinyxml2 skips.
    if (!IsXmlChar(cp) && !(i == 0 && cp == 0xFEFF)) {
      return PolicyError(
          source, line, "character U+" + [cp] {
            char buf[16];
            std::snprintf(buf, sizeof buf, "%04X", cp);
            return std::string(buf);
          }() + " is not allowed in XML");
    }
    if (cp == '\n') ++line;
    i += len;
  }
  return Status::Ok();
}

// Iterative scan of the markup for what tinyxml2 would accept but we refuse.
class MarkupScanner {
 public:
  MarkupScanner(std::string_view text, std::string_view source,
                const XmlLimits& limits)
      : text_(text), source_(source), limits_(limits) {}

  Status Run() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '<') {
        TVD_RETURN_IF_ERROR(Markup());
      } else if (c == '&') {
        TVD_RETURN_IF_ERROR(Reference());
      } else {
        Advance(1);
      }
    }
    return Status::Ok();
  }

 private:
  bool StartsWith(std::string_view s) const {
    return text_.substr(pos_, s.size()) == s;
  }

  void Advance(std::size_t n) {
    for (std::size_t k = 0; k < n && pos_ < text_.size(); ++k, ++pos_) {
      if (text_[pos_] == '\n') ++line_;
    }
  }

  // Skips past `end`; a missing end is left to tinyxml2 to report as
  // malformed, which it does with a line number.
  Status SkipPast(std::string_view end) {
    const std::size_t found = text_.find(end, pos_);
    if (found == std::string_view::npos) {
      Advance(text_.size() - pos_);
    } else {
      Advance(found + end.size() - pos_);
    }
    return Status::Ok();
  }

  Status Markup() {
    if (StartsWith("<!--")) return SkipPast("-->");
    if (StartsWith("<![CDATA[")) return SkipPast("]]>");
    if (StartsWith("<?")) return SkipPast("?>");
    if (StartsWith("<!")) {
      return PolicyError(source_, line_,
                         "DOCTYPE and other <! declarations are not allowed "
                         "(no DTDs or entity definitions)");
    }
    const bool closing = StartsWith("</");
    const int tag_line = line_;
    Advance(1);
    char quote = 0;
    char last = 0;
    int attributes = 0;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (quote == 0 && c == '=' && ++attributes > limits_.max_attributes) {
        return PolicyError(source_, tag_line,
                           "element has more than " +
                               std::to_string(limits_.max_attributes) +
                               " attributes");
      }
      if (quote != 0) {
        if (c == quote) quote = 0;
        if (c == '&') {
          TVD_RETURN_IF_ERROR(Reference());
          last = ';';
          continue;
        }
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>') {
        break;
      } else if (c == '<') {
        return Status::Ok();  // malformed; tinyxml2 reports it
      }
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') last = c;
      Advance(1);
    }
    if (pos_ >= text_.size()) return Status::Ok();  // unterminated: tinyxml2
    Advance(1);                                     // '>'
    if (closing) {
      if (depth_ > 0) --depth_;
    } else if (last != '/') {
      if (++depth_ > limits_.max_depth) {
        return PolicyError(source_, tag_line,
                           "elements nested deeper than " +
                               std::to_string(limits_.max_depth) + " levels");
      }
    }
    return Status::Ok();
  }

  Status Reference() {
    const std::size_t start = pos_;
    const std::size_t semi = text_.find(';', start);
    constexpr std::size_t kMaxRef = 12;
    std::string_view ref;
    if (semi != std::string_view::npos && semi - start <= kMaxRef) {
      ref = text_.substr(start + 1, semi - start - 1);
    }
    if (ref == "lt" || ref == "gt" || ref == "amp" || ref == "quot" ||
        ref == "apos") {
      Advance(semi + 1 - pos_);
      return Status::Ok();
    }
    if (ref.size() >= 2 && ref[0] == '#') {
      const bool hex = ref[1] == 'x';
      std::string_view digits = ref.substr(hex ? 2 : 1);
      std::uint32_t cp = 0;
      bool ok = !digits.empty() && digits.size() <= 8;
      for (char d : digits) {
        int v;
        if (d >= '0' && d <= '9') {
          v = d - '0';
        } else if (hex && d >= 'a' && d <= 'f') {
          v = d - 'a' + 10;
        } else if (hex && d >= 'A' && d <= 'F') {
          v = d - 'A' + 10;
        } else {
          ok = false;
          break;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(v);
        if (cp > 0x10FFFF) {
          ok = false;
          break;
        }
      }
      if (ok && IsXmlChar(cp)) {
        Advance(semi + 1 - pos_);
        return Status::Ok();
      }
      return PolicyError(source_, line_,
                         "character reference '&" + std::string(ref) +
                             ";' is not a legal XML character");
    }
    std::string shown(ref.empty() ? text_.substr(start, 1) : ref);
    return PolicyError(
        source_, line_,
        ref.empty() ? std::string("'&' must be written as &amp;")
                    : "entity reference '&" + shown +
                          ";' is not allowed (only &lt; &gt; &amp; &quot; "
                          "&apos; and character references)");
  }

  std::string_view text_;
  std::string_view source_;
  const XmlLimits& limits_;
  std::size_t pos_ = 0;
  int line_ = 1;
  int depth_ = 0;
};

std::string_view DescribeTinyXmlError(tinyxml2::XMLError e) {
  using tinyxml2::XMLError;
  switch (e) {
    case tinyxml2::XML_ERROR_PARSING_ELEMENT:
      return "malformed element";
    case tinyxml2::XML_ERROR_PARSING_ATTRIBUTE:
      return "malformed or duplicate attribute";
    case tinyxml2::XML_ERROR_PARSING_TEXT:
      return "malformed text";
    case tinyxml2::XML_ERROR_PARSING_CDATA:
      return "malformed CDATA section";
    case tinyxml2::XML_ERROR_PARSING_COMMENT:
      return "malformed comment";
    case tinyxml2::XML_ERROR_PARSING_DECLARATION:
      return "malformed XML declaration";
    case tinyxml2::XML_ERROR_PARSING_UNKNOWN:
      return "malformed markup";
    case tinyxml2::XML_ERROR_EMPTY_DOCUMENT:
      return "no root element";
    case tinyxml2::XML_ERROR_MISMATCHED_ELEMENT:
      return "mismatched or missing end tag";
    case tinyxml2::XML_ERROR_PARSING:
      return "parse error";
    case tinyxml2::XML_ELEMENT_DEPTH_EXCEEDED:
      return "elements nested too deeply";
    default:
      return "parse error";
  }
}

}  // namespace

StatusOr<std::unique_ptr<tinyxml2::XMLDocument>> ParseXml(
    std::string_view text, std::string_view source, const XmlLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return PolicyError(source, 1,
                       "input is " + std::to_string(text.size()) +
                           " bytes, over the limit of " +
                           std::to_string(limits.max_bytes) + " bytes");
  }
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return PolicyError(source, 1, "empty document");
  }
  TVD_RETURN_IF_ERROR(CheckEncoding(text, source));
  TVD_RETURN_IF_ERROR(MarkupScanner(text, source, limits).Run());

  auto doc = std::make_unique<tinyxml2::XMLDocument>(
      /*processEntities=*/true, tinyxml2::PRESERVE_WHITESPACE);
  doc->Parse(text.data(), text.size());
  if (doc->Error()) {
    return PolicyError(source,
                       doc->ErrorLineNum() > 0 ? doc->ErrorLineNum() : 1,
                       "not well-formed XML: " +
                           std::string(DescribeTinyXmlError(doc->ErrorID())));
  }
  int roots = 0;
  for (const tinyxml2::XMLNode* n = doc->FirstChild(); n != nullptr;
       n = n->NextSibling()) {
    if (n->ToElement() != nullptr) {
      if (++roots > 1) {
        return PolicyError(source, n->GetLineNum(),
                           "not well-formed XML: more than one root element");
      }
    } else if (const auto* t = n->ToText(); t != nullptr) {
      std::string_view v = t->Value() ? t->Value() : "";
      if (v.find_first_not_of(" \t\r\n") != std::string_view::npos) {
        return PolicyError(
            source, n->GetLineNum(),
            "not well-formed XML: text outside the root element");
      }
    } else if (n->ToUnknown() != nullptr) {
      return PolicyError(source, n->GetLineNum(),
                         "DOCTYPE and other <! declarations are not allowed "
                         "(no DTDs or entity definitions)");
    }
  }
  if (roots == 0) {
    return PolicyError(source, 1, "not well-formed XML: no root element");
  }
  return doc;
}

StatusOr<std::string> ReadPolicyFile(const std::string& path,
                                     const XmlLimits& limits) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; anything that is
  // not a regular file is refused right after.
  const int fd =
      ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return ErrnoError(path, errno);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoError(path, errno);
  if (!S_ISREG(st.st_mode)) {
    return IoError(path + ": not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > limits.max_bytes) {
    return PolicyError(path, 1,
                       "file is " + std::to_string(st.st_size) +
                           " bytes, over the limit of " +
                           std::to_string(limits.max_bytes) + " bytes");
  }
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(path, errno);
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    // The file may grow between fstat and read.
    if (data.size() > limits.max_bytes) {
      return PolicyError(path, 1,
                         "file is over the limit of " +
                             std::to_string(limits.max_bytes) + " bytes");
    }
  }
  return data;
}

StatusOr<std::unique_ptr<tinyxml2::XMLDocument>> LoadXmlFile(
    const std::string& path, const XmlLimits& limits) {
  TVD_ASSIGN_OR_RETURN(std::string text, ReadPolicyFile(path, limits));
  return ParseXml(text, path, limits);
}

}  // namespace tvd::policy
