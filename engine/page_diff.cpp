#include "engine/page_diff.hpp"

#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wmd::engine_detail {
namespace {

inline std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Index of the first byte in [from, length) where a and b differ, or length.
std::uint32_t first_difference(const std::uint8_t* a, const std::uint8_t* b, std::uint32_t from,
                               std::uint32_t length) {
  std::uint32_t i = from;
#if defined(__SSE2__)
  // Equal stretches are the common case: 64 bytes per step, then 16 to find the byte.
  while (i + 64 <= length) {
    __m128i all = _mm_set1_epi8(-1);
    for (std::uint32_t k = 0; k < 64; k += 16) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + k));
      const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + k));
      all = _mm_and_si128(all, _mm_cmpeq_epi8(x, y));
    }
    if (_mm_movemask_epi8(all) != 0xffff) break;
    i += 64;
  }
  // Bit k of the mask is set where byte k is equal.
  while (i + 16 <= length) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    const auto equal = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)));
    if (equal != 0xffffu) return i + static_cast<std::uint32_t>(std::countr_zero(~equal));
    i += 16;
  }
#endif
  // Equal stretches are the common case: compare 32 bytes per step.
  while (i + 32 <= length) {
    const std::uint64_t x =
        (load64(a + i) ^ load64(b + i)) | (load64(a + i + 8) ^ load64(b + i + 8)) |
        (load64(a + i + 16) ^ load64(b + i + 16)) | (load64(a + i + 24) ^ load64(b + i + 24));
    if (x != 0) break;
    i += 32;
  }
  while (i + 8 <= length) {
    const std::uint64_t x = load64(a + i) ^ load64(b + i);
    if (x != 0) {
      if constexpr (std::endian::native == std::endian::little) {
        return i + static_cast<std::uint32_t>(std::countr_zero(x) / 8);
      } else {
        return i + static_cast<std::uint32_t>(std::countl_zero(x) / 8);
      }
    }
    i += 8;
  }
  while (i < length && a[i] == b[i]) ++i;
  return i;
}

// Index of the first byte in [from, length) where a and b are equal, or length.
std::uint32_t first_equal(const std::uint8_t* a, const std::uint8_t* b, std::uint32_t from,
                          std::uint32_t length) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  std::uint32_t i = from;
#if defined(__SSE2__)
  while (i + 16 <= length) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    const auto equal = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)));
    if (equal != 0) return i + static_cast<std::uint32_t>(std::countr_zero(equal));
    i += 16;
  }
#endif
  if constexpr (std::endian::native == std::endian::little) {
    while (i + 8 <= length) {
      const std::uint64_t x = load64(a + i) ^ load64(b + i);
      // The lowest flagged byte of this classic test is exact (borrows only go upwards).
      const std::uint64_t zero_bytes = (x - kOnes) & ~x & kHighs;
      if (zero_bytes != 0) return i + static_cast<std::uint32_t>(std::countr_zero(zero_bytes) / 8);
      i += 8;
    }
  }
  while (i < length && a[i] != b[i]) ++i;
  return i;
}

}  // namespace

void diff_page(const std::uint8_t* current, const std::uint8_t* shadow, std::uint32_t length,
               std::uint32_t max_gap_bytes, std::vector<PageRange>& out) {
  std::uint32_t pos = first_difference(current, shadow, 0, length);
  while (pos < length) {
    const std::uint32_t start = pos;
    std::uint32_t end = first_equal(current, shadow, pos, length);
    while (end < length) {
      const std::uint32_t next = first_difference(current, shadow, end, length);
      if (next == length || next - end > max_gap_bytes) {
        pos = next;
        break;
      }
      end = first_equal(current, shadow, next, length);
    }
    if (end == length) pos = length;
    out.push_back(PageRange{start, end, 0});
  }
}

}  // namespace wmd::engine_detail
