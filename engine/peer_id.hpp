// PeerId: the peer id inside a Timestamp, held inline (no heap).
//
// Why not std::string: a catch-up carries a timestamp per version run, ~64 runs per page of
// fresh random data, so an initial sync of 1 GiB copies, compares and destroys millions of
// them on both sides. std::string allocated for every id past its small buffer (15 bytes; the
// default id, hostname:port, is usually longer), and the allocations (often freed on another
// thread than the one that made them) were a fifth of both daemons' CPU in such a sync.
//
// Contract: holds any text of up to kMaxPeerIdBytes bytes exactly. Longer text is cut to
// kMaxPeerIdBytes + 1 bytes, which keeps it invalid for is_valid_peer_id() (and so refused
// wherever an id is checked), without ever writing past the buffer. Compares as bytes, like
// std::string. Thread-safety: a value type.
#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace wmd {

// A peer id is 1..kMaxPeerIdBytes printable ASCII characters (0x21..0x7e).
inline constexpr std::size_t kMaxPeerIdBytes = 64;

class PeerId {
 public:
  static constexpr std::size_t kCapacity = kMaxPeerIdBytes + 1;

  PeerId() = default;
  PeerId(std::string_view text) { assign(text); }  // NOLINT: implicit, like std::string
  PeerId(const std::string& text) : PeerId(std::string_view(text)) {}  // NOLINT
  PeerId(const char* text) : PeerId(std::string_view(text)) {}         // NOLINT
  PeerId& operator=(std::string_view text) {
    assign(text);
    return *this;
  }
  PeerId& operator=(const std::string& text) { return *this = std::string_view(text); }
  PeerId& operator=(const char* text) { return *this = std::string_view(text); }

  std::string_view view() const noexcept { return {data_, size_}; }
  operator std::string_view() const noexcept { return view(); }  // NOLINT: implicit
  std::string str() const { return std::string(view()); }
  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  int compare(const PeerId& other) const noexcept { return view().compare(other.view()); }

  friend bool operator==(const PeerId& a, const PeerId& b) noexcept {
    return a.size_ == b.size_ && std::memcmp(a.data_, b.data_, a.size_) == 0;
  }
  friend bool operator==(const PeerId& a, std::string_view b) noexcept { return a.view() == b; }
  friend std::strong_ordering operator<=>(const PeerId& a, const PeerId& b) noexcept {
    return order(a.view().compare(b.view()));
  }
  friend std::strong_ordering operator<=>(const PeerId& a, std::string_view b) noexcept {
    return order(a.view().compare(b));
  }

 private:
  // string_view's own <=> is missing from some standard libraries (the wasm build's libc++).
  static std::strong_ordering order(int c) noexcept {
    return c < 0 ? std::strong_ordering::less
                 : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
  }
  void assign(std::string_view text) noexcept {
    size_ = static_cast<std::uint8_t>(std::min(text.size(), kCapacity));
    std::memcpy(data_, text.data(), size_);
  }

  char data_[kCapacity] = {};
  std::uint8_t size_ = 0;
};

}  // namespace wmd
