#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "engine/page_copy.hpp"
#include "engine/page_digest.hpp"

namespace wmd::engine_detail {
namespace {

// A 64-byte-aligned buffer of `bytes`, filled with a marker so untouched bytes show.
struct Aligned {
  explicit Aligned(std::size_t bytes)
      : data(static_cast<std::uint8_t*>(std::aligned_alloc(64, bytes))) {
    std::memset(data, 0xee, bytes);
  }
  ~Aligned() { std::free(data); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  std::uint8_t* data;
};

TEST_CASE("the fused copy writes both copies and returns the one-shot hash, on every path") {
  const std::uint64_t seed = 20261124;
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  constexpr std::size_t kMax = 1u << 20;
  Aligned src(kMax + 64), first(kMax + 64), second(kMax + 64);
  for (std::size_t i = 0; i < kMax + 64; ++i) src.data[i] = static_cast<std::uint8_t>(rng());
  // Page sizes and XXH3's block edges (fused path: multiples of 64 from 256 bytes), a length
  // that is no multiple of 64, a short one, and misaligned destinations (portable path), each
  // from every source alignment modulo 64 in steps of 16.
  const std::size_t lengths[] = {256,  320,   1024, 1088, 2048, 4096,
                                 8192, 65536, kMax, 4104, 1000, 192};
  const std::size_t dest_offsets[] = {0, 8};
  for (std::size_t length : lengths) {
    for (std::size_t dest_offset : dest_offsets) {
      for (std::size_t src_offset = 0; src_offset < 64; src_offset += 16) {
        CAPTURE(length);
        CAPTURE(dest_offset);
        CAPTURE(src_offset);
        std::memset(first.data, 0xee, kMax + 64);
        std::memset(second.data, 0xee, kMax + 64);
        const std::uint8_t* from = src.data + src_offset;
        const std::uint64_t hash =
            copy_to_both_hashed(first.data + dest_offset, second.data + dest_offset, from, length);
        copy_fence();
        CHECK(hash == hash_bytes(from, length));
        CHECK(std::memcmp(first.data + dest_offset, from, length) == 0);
        CHECK(std::memcmp(second.data + dest_offset, from, length) == 0);
        // Nothing written around the range.
        for (std::size_t i = 0; i < dest_offset; ++i) REQUIRE(first.data[i] == 0xee);
        CHECK(first.data[dest_offset + length] == 0xee);
        CHECK(second.data[dest_offset + length] == 0xee);
      }
    }
  }
}

TEST_CASE("the plain two-copy path and the fused path leave identical bytes") {
  std::mt19937_64 rng(7);
  constexpr std::size_t kPage = 8192;
  Aligned src(kPage), a1(kPage), a2(kPage), b1(kPage), b2(kPage);
  for (std::size_t i = 0; i < kPage; ++i) src.data[i] = static_cast<std::uint8_t>(rng());
  copy_to_both(a1.data, a2.data, src.data, kPage);
  const std::uint64_t hash = copy_to_both_hashed(b1.data, b2.data, src.data, kPage);
  copy_fence();
  CHECK(hash == hash_bytes(a1.data, kPage));
  CHECK(std::memcmp(a1.data, b1.data, kPage) == 0);
  CHECK(std::memcmp(a2.data, b2.data, kPage) == 0);
}

}  // namespace
}  // namespace wmd::engine_detail
