#include "tvd/xml_escape.h"

namespace tvd {

namespace {

enum class Mode { kMarkup, kCanonical };

std::string Escape(std::string_view text, Mode mode) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += mode == Mode::kMarkup ? "&#39;" : "'";
        break;
      default:
        if (mode == Mode::kMarkup && static_cast<unsigned char>(c) < 0x20 &&
            c != '\t' && c != '\n') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

std::string EscapeXml(std::string_view text) {
  return Escape(text, Mode::kMarkup);
}

std::string EscapeXmlCanonical(std::string_view text) {
  return Escape(text, Mode::kCanonical);
}

}  // namespace tvd
