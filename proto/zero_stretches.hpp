// The stretches of zero bytes of one page, found once, and what the wire form of its version
// runs asks of a range of it (PROTOCOL.md 3.5: any zero byte in a run? all zero?): the decoder
// asks it twice per page (expanding sparse runs, then checking the canonical form), and a
// `memchr` per question was most of both (random bytes: ~32 zero bytes, ~64 runs per page).
//
// Questions are answered in any order; in increasing order of range, as the wire form asks
// them, each costs a step of a cursor.
// Thread-safety: a value type; one owner.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace wmd::proto {

class ZeroStretches {
 public:
  // Finds the zero stretches of `bytes` (replacing the last page's).
  void find(std::span<const std::uint8_t> bytes);

  // Whether [start, end) holds a zero byte / only zero bytes. REQUIRES: start < end <= size.
  bool any_zero(std::uint32_t start, std::uint32_t end);
  bool all_zero(std::uint32_t start, std::uint32_t end);

  // Calls f(zero_start, zero_end) for each stretch of zero bytes within [start, end), cut to
  // it, in order.
  template <typename F>
  void for_each_within(std::uint32_t start, std::uint32_t end, F&& f) {
    for (std::size_t i = seek(start); i < stretches_.size() && stretches_[i].start < end; ++i) {
      f(stretches_[i].start < start ? start : stretches_[i].start,
        stretches_[i].end > end ? end : stretches_[i].end);
    }
  }

 private:
  struct Stretch {
    std::uint32_t start;
    std::uint32_t end;
  };
  // The first stretch that ends after `at` (stretches_.size(): none), moving the cursor there.
  std::size_t seek(std::uint32_t at);

  std::vector<Stretch> stretches_;  // maximal, in order
  std::size_t cursor_ = 0;
};

}  // namespace wmd::proto
