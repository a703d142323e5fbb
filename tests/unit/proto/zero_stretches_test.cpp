// ZeroStretches: a page's zero bytes found once, against the bytes themselves.
#include "proto/zero_stretches.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

namespace wmd::proto {
namespace {

bool brute_any_zero(const std::vector<std::uint8_t>& bytes, std::uint32_t start,
                    std::uint32_t end) {
  return std::any_of(bytes.begin() + start, bytes.begin() + end,
                     [](std::uint8_t b) { return b == 0; });
}

bool brute_all_zero(const std::vector<std::uint8_t>& bytes, std::uint32_t start,
                    std::uint32_t end) {
  return std::all_of(bytes.begin() + start, bytes.begin() + end,
                     [](std::uint8_t b) { return b == 0; });
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> within(ZeroStretches& zeros,
                                                            std::uint32_t start,
                                                            std::uint32_t end) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  zeros.for_each_within(start, end,
                        [&out](std::uint32_t s, std::uint32_t e) { out.emplace_back(s, e); });
  return out;
}

TEST_CASE("zero stretches are found whole, at the edges and across words") {
  std::vector<std::uint8_t> page(64, 7);
  for (std::uint32_t i : {0u, 1u, 9u, 20u, 21u, 22u, 23u, 24u, 25u, 26u, 27u, 28u, 29u, 63u})
    page[i] = 0;
  ZeroStretches zeros;
  zeros.find(page);
  using P = std::pair<std::uint32_t, std::uint32_t>;
  CHECK(within(zeros, 0, 64) == std::vector<P>{{0, 2}, {9, 10}, {20, 30}, {63, 64}});
  CHECK(within(zeros, 1, 25) == std::vector<P>{{1, 2}, {9, 10}, {20, 25}});  // cut to the range
  CHECK(within(zeros, 2, 9).empty());
  CHECK(zeros.all_zero(21, 30));
  CHECK_FALSE(zeros.all_zero(19, 30));
  CHECK_FALSE(zeros.any_zero(2, 9));
  CHECK(zeros.any_zero(2, 10));
  CHECK(zeros.any_zero(0, 1));  // asked after later ranges: the cursor goes back

  zeros.find(std::vector<std::uint8_t>(8192, 0));
  CHECK(within(zeros, 0, 8192) == std::vector<P>{{0, 8192}});
  zeros.find(std::vector<std::uint8_t>(8192, 1));
  CHECK(within(zeros, 0, 8192).empty());
  CHECK_FALSE(zeros.any_zero(0, 8192));
}

TEST_CASE("zero stretches answer as the bytes do, in any order of questions") {
  std::mt19937 rng(20261207);
  for (int round = 0; round < 200; ++round) {
    const std::uint32_t size = 1 + rng() % 300;
    std::vector<std::uint8_t> page(size);
    const std::uint32_t zero_odds = 1 + rng() % 4;  // from mostly zero to few zeros
    for (auto& b : page)
      b = rng() % (zero_odds * 2) == 0 ? 0 : static_cast<std::uint8_t>(1 + rng() % 255);
    ZeroStretches zeros;
    zeros.find(page);
    for (int q = 0; q < 50; ++q) {
      std::uint32_t start = rng() % size;
      std::uint32_t end = start + 1 + rng() % (size - start);
      CAPTURE(round);
      CAPTURE(start);
      CAPTURE(end);
      CHECK(zeros.any_zero(start, end) == brute_any_zero(page, start, end));
      CHECK(zeros.all_zero(start, end) == brute_all_zero(page, start, end));
      std::vector<std::uint8_t> rebuilt(page.begin() + start, page.begin() + end);
      std::fill(rebuilt.begin(), rebuilt.end(), 1);
      for (auto [s, e] : within(zeros, start, end)) {
        REQUIRE(s >= start);
        REQUIRE(e <= end);
        std::fill(rebuilt.begin() + (s - start), rebuilt.begin() + (e - start), 0);
      }
      for (std::uint32_t i = start; i < end; ++i)
        CHECK((rebuilt[i - start] == 0) == (page[i] == 0));
    }
  }
}

}  // namespace
}  // namespace wmd::proto
