#include "element_reader.h"

#include <cstdio>

#include "tvd/policy/policy_error.h"
#include "tvd/text.h"

namespace tvd::policy::internal {

namespace {
bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}
}  // namespace

std::string Quote(std::string_view value) {
  constexpr std::size_t kMax = 40;
  std::string out = "'";
  std::size_t n = 0;
  for (char c : value) {
    if (n++ == kMax) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

Status ElementReader::Error(std::string_view message) const {
  return PolicyError(file_, line(),
                     "<" + std::string(name()) + ">: " + std::string(message));
}

Status ElementReader::AttrError(std::string_view attr,
                                std::string_view message) const {
  int at = line();
  for (const tinyxml2::XMLAttribute* a = element_.FirstAttribute();
       a != nullptr; a = a->Next()) {
    if (attr == a->Name()) at = a->GetLineNum();
  }
  return PolicyError(file_, at,
                     "<" + std::string(name()) + ">: " + std::string(message));
}

Status ElementReader::AllowOnly(
    std::initializer_list<std::string_view> allowed) const {
  for (const tinyxml2::XMLAttribute* a = element_.FirstAttribute();
       a != nullptr; a = a->Next()) {
    bool known = false;
    for (std::string_view ok : allowed) known = known || ok == a->Name();
    if (!known) {
      return PolicyError(file_, a->GetLineNum(),
                         "<" + std::string(name()) + ">: unknown attribute " +
                             Quote(a->Name()));
    }
  }
  return Status::Ok();
}

StatusOr<std::string> ElementReader::Required(std::string_view attr) const {
  std::optional<std::string> v = Optional(attr);
  if (!v) {
    return Error("missing required attribute '" + std::string(attr) + "'");
  }
  return *v;
}

std::optional<std::string> ElementReader::Optional(
    std::string_view attr) const {
  for (const tinyxml2::XMLAttribute* a = element_.FirstAttribute();
       a != nullptr; a = a->Next()) {
    if (attr == a->Name()) return std::string(a->Value());
  }
  return std::nullopt;
}

Status ElementReader::ForEachChild(
    const std::function<Status(const tinyxml2::XMLElement&)>& visit) const {
  for (const tinyxml2::XMLNode* n = element_.FirstChild(); n != nullptr;
       n = n->NextSibling()) {
    if (const auto* e = n->ToElement(); e != nullptr) {
      TVD_RETURN_IF_ERROR(visit(*e));
    } else if (const auto* t = n->ToText(); t != nullptr) {
      const char* v = t->Value();
      if (v != nullptr && !IsBlank(v)) {
        return PolicyError(file_, t->GetLineNum(),
                           "<" + std::string(name()) + ">: unexpected text " +
                               Quote(TrimWhitespace(v)));
      }
    }
  }
  return Status::Ok();
}

Status ElementReader::UnknownChild(const tinyxml2::XMLElement& child) const {
  return PolicyError(
      file_, child.GetLineNum(),
      "<" + std::string(name()) + ">: unknown element <" + child.Name() + ">");
}

Status ElementReader::DuplicateChild(const tinyxml2::XMLElement& child,
                                     int first_line) const {
  return PolicyError(file_, child.GetLineNum(),
                     "<" + std::string(name()) + ">: duplicate element <" +
                         child.Name() + "> (first at line " +
                         std::to_string(first_line) + ")");
}

Status ElementReader::MissingChild(std::string_view child_name) const {
  return Error("missing required element <" + std::string(child_name) + ">");
}

Status ElementReader::Empty() const {
  return ForEachChild([this](const tinyxml2::XMLElement& child) {
    return UnknownChild(child);
  });
}

StatusOr<std::string> ElementReader::Text() const {
  std::string text;
  for (const tinyxml2::XMLNode* n = element_.FirstChild(); n != nullptr;
       n = n->NextSibling()) {
    if (const auto* e = n->ToElement(); e != nullptr) return UnknownChild(*e);
    if (const auto* t = n->ToText(); t != nullptr && t->Value() != nullptr) {
      text += t->Value();
    }
  }
  const std::size_t b = text.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return std::string();
  const std::size_t e = text.find_last_not_of(" \t\r\n");
  return text.substr(b, e - b + 1);
}

}  // namespace tvd::policy::internal
