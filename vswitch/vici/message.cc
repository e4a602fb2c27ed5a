#include "tvd/vswitch/vici/message.h"

#include <openssl/crypto.h>

#include <utility>

namespace tvd::vici {

Message::~Message() {
  // Wipe every value: any of them may have been a secret.
  for (Entry& e : entries_) {
    if (e.value.capacity() > 0) OPENSSL_cleanse(e.value.data(), e.value.size());
  }
}

Message& Message::Add(std::string_view name, std::string_view value) {
  Entry e;
  e.name = std::string(name);
  e.kind = Kind::kValue;
  e.value = std::string(value);
  entries_.push_back(std::move(e));
  return *this;
}

Message& Message::AddSecret(std::string_view name,
                            std::span<const std::uint8_t> secret) {
  Entry e;
  e.name = std::string(name);
  e.kind = Kind::kValue;
  e.value.reserve(secret.size());
  e.value.assign(reinterpret_cast<const char*>(secret.data()), secret.size());
  entries_.push_back(std::move(e));
  return *this;
}

Message& Message::AddList(std::string_view name,
                          std::vector<std::string> items) {
  Entry e;
  e.name = std::string(name);
  e.kind = Kind::kList;
  e.items = std::move(items);
  entries_.push_back(std::move(e));
  return *this;
}

Message& Message::AddSection(std::string_view name) {
  return AddSection(name, Message());
}

Message& Message::AddSection(std::string_view name, Message section) {
  Entry e;
  e.name = std::string(name);
  e.kind = Kind::kSection;
  e.section = sections_.size();
  sections_.push_back(std::move(section));
  entries_.push_back(std::move(e));
  return sections_.back();
}

const Message::Entry* Message::Find(std::string_view name, Kind kind) const {
  for (const Entry& e : entries_) {
    if (e.kind == kind && e.name == name) return &e;
  }
  return nullptr;
}

std::optional<std::string> Message::Value(std::string_view name) const {
  const Entry* e = Find(name, Kind::kValue);
  if (e == nullptr) return std::nullopt;
  return e->value;
}

std::string Message::ValueOr(std::string_view name,
                             std::string_view fallback) const {
  const Entry* e = Find(name, Kind::kValue);
  return e == nullptr ? std::string(fallback) : e->value;
}

const std::vector<std::string>* Message::List(std::string_view name) const {
  const Entry* e = Find(name, Kind::kList);
  return e == nullptr ? nullptr : &e->items;
}

const Message* Message::Section(std::string_view name) const {
  const Entry* e = Find(name, Kind::kSection);
  return e == nullptr ? nullptr : &sections_[e->section];
}

bool operator==(const Message& a, const Message& b) {
  if (a.entries_.size() != b.entries_.size()) return false;
  for (std::size_t i = 0; i < a.entries_.size(); ++i) {
    const Message::Entry& x = a.entries_[i];
    const Message::Entry& y = b.entries_[i];
    if (x.name != y.name || x.kind != y.kind) return false;
    switch (x.kind) {
      case Message::Kind::kValue:
        if (x.value != y.value) return false;
        break;
      case Message::Kind::kList:
        if (x.items != y.items) return false;
        break;
      case Message::Kind::kSection:
        if (!(a.sections_[x.section] == b.sections_[y.section])) return false;
        break;
    }
  }
  return true;
}

namespace {
bool IsSecretName(std::string_view name) {
  return name == "data" || name == "secret";
}

// Values are blobs; show printable ones as text and others as a length.
std::string Printable(std::string_view v) {
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 ||
        static_cast<unsigned char>(c) > 0x7e) {
      return "<" + std::to_string(v.size()) + " bytes>";
    }
  }
  return std::string(v);
}
}  // namespace

void Message::DebugStringInto(std::string& out, int indent) const {
  const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
  for (const Entry& e : entries_) {
    switch (e.kind) {
      case Kind::kValue:
        out += pad + e.name + " = " +
               (IsSecretName(e.name) ? "<redacted>" : Printable(e.value)) +
               "\n";
        break;
      case Kind::kList: {
        out += pad + e.name + " = [";
        for (std::size_t i = 0; i < e.items.size(); ++i) {
          out += (i == 0 ? " " : ", ") + Printable(e.items[i]);
        }
        out += " ]\n";
        break;
      }
      case Kind::kSection:
        out += pad + e.name + " {\n";
        sections_[e.section].DebugStringInto(out, indent + 1);
        out += pad + "}\n";
        break;
    }
  }
}

std::string Message::DebugString() const {
  std::string out;
  DebugStringInto(out, 0);
  return out;
}

}  // namespace tvd::vici
