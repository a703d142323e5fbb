// ByteWriter and ByteReader: little-endian fixed-width integers and LEB128 varints over a byte
// buffer, the building blocks of the wmd codec (see proto/PROTOCOL.md, "Primitive types").
//
// ByteReader never reads past its span. Its first failure is sticky: every later read fails
// too and returns zero, so a decoder may read several fields and check ok() once.
// Varints must be minimal (no redundant 0x80 continuation bytes), so that every value has
// exactly one encoding.
//
// Thread-safety: value types; one thread at a time per object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "engine/errors.hpp"

namespace wmd::proto {

inline constexpr std::size_t kMaxVarintBytes = 10;

// Number of bytes the LEB128 encoding of `value` takes (1..10).
constexpr std::size_t varint_size(std::uint64_t value) noexcept {
  std::size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

// Appends to a vector it does not own.
// REQUIRES: `out` outlives the writer.
class ByteWriter {
 public:
  explicit ByteWriter(std::vector<std::uint8_t>& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { fixed(v, 2); }
  void u32(std::uint32_t v) { fixed(v, 4); }
  void u64(std::uint64_t v) { fixed(v, 8); }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void bytes(std::span<const std::uint8_t> data) {
    out_.insert(out_.end(), data.begin(), data.end());
  }
  void bytes(const std::string& s) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    out_.insert(out_.end(), p, p + s.size());
  }

 private:
  void fixed(std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }

  std::vector<std::uint8_t>& out_;
};

// Reads from a span it does not own.
// REQUIRES: the bytes outlive the reader and every span it returns.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> data) : data_(data) {}

  bool ok() const noexcept { return error_ == errc::ok; }
  errc error() const noexcept { return error_; }
  std::size_t remaining() const noexcept { return data_.size() - pos_; }
  std::size_t position() const noexcept { return pos_; }
  // The bytes read since position() was `mark`. REQUIRES: mark <= position().
  std::span<const std::uint8_t> consumed_since(std::size_t mark) const noexcept {
    return data_.subspan(mark, pos_ - mark);
  }

  // Records `e` unless an earlier error is already recorded.
  void fail(errc e) noexcept {
    if (error_ == errc::ok) error_ = e;
  }

  std::uint8_t u8() noexcept { return static_cast<std::uint8_t>(fixed(1)); }
  std::uint16_t u16() noexcept { return static_cast<std::uint16_t>(fixed(2)); }
  std::uint32_t u32() noexcept { return static_cast<std::uint32_t>(fixed(4)); }
  std::uint64_t u64() noexcept { return fixed(8); }

  // Truncated when the input ends inside the varint; malformed when it is not minimal or does
  // not fit 64 bits.
  std::uint64_t varint() noexcept {
    if (!ok()) return 0;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < kMaxVarintBytes; ++i) {
      if (pos_ == data_.size()) {
        fail(errc::truncated);
        return 0;
      }
      const std::uint8_t b = data_[pos_++];
      const std::uint64_t payload = b & 0x7f;
      // The tenth byte carries bit 63 only.
      if (i == kMaxVarintBytes - 1 && payload > 1) break;
      value |= payload << (7 * i);
      if ((b & 0x80) == 0) {
        if (b == 0 && i > 0) break;  // redundant trailing zero group: not minimal
        return value;
      }
    }
    fail(errc::malformed);
    return 0;
  }

  // The next `n` bytes, or an empty span and truncated.
  std::span<const std::uint8_t> bytes(std::size_t n) noexcept {
    if (!ok()) return {};
    if (n > remaining()) {
      fail(errc::truncated);
      return {};
    }
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  // Truncated unless at least `count` items of at least `min_item_bytes` each can still follow.
  // Call before reserving memory for `count` items.
  bool can_hold(std::uint64_t count, std::size_t min_item_bytes) noexcept {
    if (!ok()) return false;
    if (count > remaining() / min_item_bytes) {
      fail(errc::truncated);
      return false;
    }
    return true;
  }

 private:
  std::uint64_t fixed(std::size_t width) noexcept {
    if (!ok()) return 0;
    if (width > remaining()) {
      fail(errc::truncated);
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v |= std::uint64_t{data_[pos_ + i]} << (8 * i);
    pos_ += width;
    return v;
  }

  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
  errc error_ = errc::ok;
};

}  // namespace wmd::proto
