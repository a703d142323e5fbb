#include <doctest/doctest.h>

#include <vector>

#include "engine/page_diff.hpp"

namespace wmd::engine_detail {
namespace {

std::vector<std::pair<std::uint32_t, std::uint32_t>> diff(const std::vector<std::uint8_t>& a,
                                                          const std::vector<std::uint8_t>& b,
                                                          std::uint32_t gap) {
  std::vector<PageRange> out;
  diff_page(a.data(), b.data(), static_cast<std::uint32_t>(a.size()), gap, out);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> result;
  for (auto& r : out) result.emplace_back(r.start, r.end);
  return result;
}

using Ranges = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

TEST_CASE("an unchanged page has no diff runs") {
  std::vector<std::uint8_t> a(4096, 7);
  CHECK(diff(a, a, 0).empty());
}

TEST_CASE("diff runs are exact without gap merging, including at the page edges") {
  std::vector<std::uint8_t> shadow(4096, 0);
  auto current = shadow;
  current[0] = 1;
  current[100] = 1;
  current[101] = 1;
  current[102] = 1;
  current[104] = 1;
  current[4095] = 1;
  CHECK(diff(current, shadow, 0) == Ranges{{0, 1}, {100, 103}, {104, 105}, {4095, 4096}});
}

TEST_CASE("gaps up to max_merge_gap_bytes merge neighbouring runs, larger ones do not") {
  std::vector<std::uint8_t> shadow(4096, 0);
  auto current = shadow;
  current[10] = 1;
  current[13] = 1;  // gap of 2
  current[30] = 1;  // gap of 16
  CHECK(diff(current, shadow, 2) == Ranges{{10, 14}, {30, 31}});
  CHECK(diff(current, shadow, 16) == Ranges{{10, 31}});
  CHECK(diff(current, shadow, 1) == Ranges{{10, 11}, {13, 14}, {30, 31}});
}

TEST_CASE("long changed stretches are found word-wise with exact ends") {
  std::vector<std::uint8_t> shadow(4096, 0);
  auto current = shadow;
  for (std::uint32_t i = 37; i < 3001; ++i) current[i] = static_cast<std::uint8_t>(i | 1);
  CHECK(diff(current, shadow, 0) == Ranges{{37, 3001}});
  for (std::uint32_t i = 0; i < 4096; ++i) current[i] = 9;
  CHECK(diff(current, shadow, 0) == Ranges{{0, 4096}});
}

TEST_CASE("diff agrees with a byte-by-byte reference on random pages") {
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 200; ++round) {
    std::vector<std::uint8_t> shadow(4096), current;
    for (auto& b : shadow) b = static_cast<std::uint8_t>(next() % 3);
    current = shadow;
    const int writes = static_cast<int>(next() % 40);
    for (int w = 0; w < writes; ++w) {
      const auto at = next() % 4096;
      const auto len = 1 + next() % 64;
      for (std::uint64_t i = at; i < std::min<std::uint64_t>(4096, at + len); ++i) {
        current[i] = static_cast<std::uint8_t>(next());
      }
    }
    const std::uint32_t gap = static_cast<std::uint32_t>(next() % 12);
    Ranges expected;
    for (std::uint32_t i = 0; i < 4096;) {
      if (current[i] == shadow[i]) {
        ++i;
        continue;
      }
      std::uint32_t end = i;
      while (end < 4096 && current[end] != shadow[end]) ++end;
      if (!expected.empty() && i - expected.back().second <= gap) {
        expected.back().second = end;
      } else {
        expected.emplace_back(i, end);
      }
      i = end;
    }
    CAPTURE(round);
    CHECK(diff(current, shadow, gap) == expected);
  }
}

}  // namespace
}  // namespace wmd::engine_detail
