#include "proto/zero_stretches.hpp"

#include <cstring>

namespace wmd::proto {
namespace {

// The first non-zero byte of bytes at or after `at` (bytes.size(): none). A word at a time: a
// mostly zero page is one long stretch.
std::size_t first_nonzero(std::span<const std::uint8_t> bytes, std::size_t at) {
  while (at + 8 <= bytes.size()) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + at, sizeof word);
    if (word != 0) break;
    at += 8;
  }
  while (at < bytes.size() && bytes[at] == 0) ++at;
  return at;
}

}  // namespace

void ZeroStretches::find(std::span<const std::uint8_t> bytes) {
  stretches_.clear();
  cursor_ = 0;
  std::size_t at = 0;
  while (at < bytes.size()) {
    const auto* zero =
        static_cast<const std::uint8_t*>(std::memchr(bytes.data() + at, 0, bytes.size() - at));
    if (zero == nullptr) break;
    const auto start = static_cast<std::size_t>(zero - bytes.data());
    at = first_nonzero(bytes, start + 1);
    stretches_.push_back(
        Stretch{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(at)});
  }
}

std::size_t ZeroStretches::seek(std::uint32_t at) {
  while (cursor_ > 0 && stretches_[cursor_ - 1].end > at) --cursor_;
  while (cursor_ < stretches_.size() && stretches_[cursor_].end <= at) ++cursor_;
  return cursor_;
}

bool ZeroStretches::any_zero(std::uint32_t start, std::uint32_t end) {
  const std::size_t i = seek(start);
  return i < stretches_.size() && stretches_[i].start < end;
}

bool ZeroStretches::all_zero(std::uint32_t start, std::uint32_t end) {
  const std::size_t i = seek(start);
  return i < stretches_.size() && stretches_[i].start <= start && stretches_[i].end >= end;
}

}  // namespace wmd::proto
