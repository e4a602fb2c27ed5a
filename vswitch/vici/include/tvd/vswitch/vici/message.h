// The VICI message model: an ordered tree of sections, key/values and lists.
//
// A message is what travels inside CMD_REQUEST, CMD_RESPONSE and EVENT
// packets. Values are opaque byte strings (charon encodes numbers and
// booleans as text). Order is kept because charon's answers are streams of
// named sections whose order carries meaning to a human reading them, and so
// that encode(decode(x)) == x.
//
// Values may carry secrets (a PSK in load-shared): every value buffer is
// wiped when the message is destroyed, and AddSecret() reserves the exact
// size so that no reallocation leaves a copy behind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tvd::vici {

class Message {
 public:
  enum class Kind { kValue, kList, kSection };

  // One named element of a section. Exactly one of value / items / section
  // is meaningful, chosen by `kind`.
  struct Entry {
    std::string name;
    Kind kind = Kind::kValue;
    std::string value;               // kValue
    std::vector<std::string> items;  // kList
    std::size_t section = 0;         // kSection: index into sections_
  };

  Message() = default;
  ~Message();
  Message(const Message&) = default;
  Message& operator=(const Message&) = default;
  Message(Message&&) noexcept = default;
  Message& operator=(Message&&) noexcept = default;

  // Builders. They append; names are not checked for uniqueness here (the
  // encoder checks everything that the wire format or charon would reject).
  Message& Add(std::string_view name, std::string_view value);
  // Same as Add, for key material: the value's buffer is sized once.
  Message& AddSecret(std::string_view name,
                     std::span<const std::uint8_t> secret);
  Message& AddList(std::string_view name, std::vector<std::string> items);
  // Appends a sub-section and returns it for filling. The reference stays
  // valid until the next Add*Section on this message.
  Message& AddSection(std::string_view name);
  Message& AddSection(std::string_view name, Message section);

  // Accessors. Lookups return the first entry with that name.
  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  const Message& SectionAt(const Entry& entry) const {
    return sections_[entry.section];
  }
  std::optional<std::string> Value(std::string_view name) const;
  // Value of a key, or `fallback` when absent.
  std::string ValueOr(std::string_view name, std::string_view fallback) const;
  const std::vector<std::string>* List(std::string_view name) const;
  const Message* Section(std::string_view name) const;

  // A readable rendering for logs and test failures; values named like
  // secrets ("data", "secret") are replaced by "<redacted>".
  std::string DebugString() const;

  // Structural equality (names, kinds, values, order).
  friend bool operator==(const Message& a, const Message& b);

 private:
  const Entry* Find(std::string_view name, Kind kind) const;
  void DebugStringInto(std::string& out, int indent) const;

  std::vector<Entry> entries_;
  std::vector<Message> sections_;
};

}  // namespace tvd::vici
