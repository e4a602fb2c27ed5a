#include "tvd/channel/plaintext_inbox.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace tvd::channel {
namespace {

void Wipe(std::vector<std::uint8_t>& v) {
  if (!v.empty()) OPENSSL_cleanse(v.data(), v.size());
}

}  // namespace

PlaintextInbox::~PlaintextInbox() { Wipe(buffer_); }

PlaintextInbox::PlaintextInbox(PlaintextInbox&& other) noexcept
    : buffer_(std::move(other.buffer_)), head_(other.head_) {
  // A moved vector hands its buffer over (nothing left to wipe there).
  other.buffer_.clear();
  other.head_ = 0;
}

PlaintextInbox& PlaintextInbox::operator=(PlaintextInbox&& other) noexcept {
  if (this != &other) {
    Clear();
    buffer_ = std::move(other.buffer_);
    head_ = other.head_;
    other.buffer_.clear();
    other.head_ = 0;
  }
  return *this;
}

void PlaintextInbox::Append(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return;
  if (buffer_.size() + bytes.size() > buffer_.capacity() && head_ > 0) {
    Compact();
  }
  if (buffer_.size() + bytes.size() > buffer_.capacity()) {
    // Grown by hand: the vector's own growth would free the old buffer
    // with the bytes still in it.
    std::vector<std::uint8_t> grown;
    grown.reserve(
        std::max(buffer_.size() + bytes.size(), 2 * buffer_.capacity()));
    grown.assign(buffer_.begin(), buffer_.end());
    Wipe(buffer_);
    buffer_.swap(grown);
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void PlaintextInbox::Consume(std::size_t n) {
  n = std::min(n, size());
  OPENSSL_cleanse(buffer_.data() + head_, n);
  head_ += n;
  if (head_ == buffer_.size()) {
    // Emptied: start again at the front (the buffer is kept for the next
    // frame; what it held is wiped).
    buffer_.clear();
    head_ = 0;
  }
}

void PlaintextInbox::Compact() {
  const std::size_t held = size();
  std::memmove(buffer_.data(), buffer_.data() + head_, held);
  // The tail the held bytes moved out of still has their old copies.
  OPENSSL_cleanse(buffer_.data() + held, buffer_.size() - held);
  buffer_.resize(held);
  head_ = 0;
}

void PlaintextInbox::Clear() {
  Wipe(buffer_);
  buffer_.clear();
  buffer_.shrink_to_fit();
  head_ = 0;
}

}  // namespace tvd::channel
