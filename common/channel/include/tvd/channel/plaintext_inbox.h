// The bytes a TLS session decrypted that no frame has taken yet. They may
// hold key material (a JoinGrant's TVD key, a rekey's new key), so every
// byte the inbox lets go of is wiped first: the bytes a frame consumed,
// the old buffer when it grows, and all of it on Clear() and destruction.
// A plain vector would leave those copies in freed memory.
//
// Pure: no I/O. Not thread-safe (a Connection is used by one thread at a
// time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tvd::channel {

class PlaintextInbox {
 public:
  PlaintextInbox() = default;
  ~PlaintextInbox();
  PlaintextInbox(PlaintextInbox&& other) noexcept;
  PlaintextInbox& operator=(PlaintextInbox&& other) noexcept;
  PlaintextInbox(const PlaintextInbox&) = delete;
  PlaintextInbox& operator=(const PlaintextInbox&) = delete;

  // Adds `bytes` after those held.
  void Append(std::span<const std::uint8_t> bytes);
  // The bytes held, oldest first; valid until the next non-const call.
  std::span<const std::uint8_t> view() const {
    return {buffer_.data() + head_, buffer_.size() - head_};
  }
  bool empty() const { return head_ == buffer_.size(); }
  std::size_t size() const { return buffer_.size() - head_; }
  // Wipes and drops the first `n` bytes (at most size()).
  void Consume(std::size_t n);
  // Wipes and releases everything.
  void Clear();

 private:
  // Moves the held bytes to the front of the buffer, wiping what they
  // leave behind.
  void Compact();

  std::vector<std::uint8_t> buffer_;  // [head_, size()) is held
  std::size_t head_ = 0;
};

}  // namespace tvd::channel
