#include "engine/page_copy.hpp"

#include <cstring>

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>
#if defined(__x86_64__)
#include <xxh_x86dispatch.h>  // same hash values as hash_bytes() (see page_digest.cpp)
#endif

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wmd::engine_detail {

namespace {

#if defined(__SSE2__)
// Bytes hashed and stored per step of copy_to_both_hashed: one XXH3 block (16 stripes of 64
// bytes with the default secret), small enough to stay in L1 between the hash and the copy,
// large enough that the streaming hash's per-call cost stays small. Measured on the bench
// machine: 1 KiB beat 512 B and 2 KiB.
constexpr std::size_t kFusedChunkBytes = 1024;

bool streamable(const std::uint8_t* first, const std::uint8_t* second, std::size_t length) {
  return ((reinterpret_cast<std::uintptr_t>(first) | reinterpret_cast<std::uintptr_t>(second)) &
          15u) == 0 &&
         length % 64 == 0;
}

// REQUIRES: streamable(first, second, length).
void stream_to_both(std::uint8_t* first, std::uint8_t* second, const std::uint8_t* src,
                    std::size_t length) {
  for (std::size_t i = 0; i < length; i += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(first + i), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(first + i + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(first + i + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(first + i + 48), d);
    _mm_stream_si128(reinterpret_cast<__m128i*>(second + i), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(second + i + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(second + i + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(second + i + 48), d);
  }
}
#endif

}  // namespace

void copy_to_both(std::uint8_t* first, std::uint8_t* second, const std::uint8_t* src,
                  std::size_t length) {
#if defined(__SSE2__)
  if (streamable(first, second, length)) {
    stream_to_both(first, second, src, length);
    return;
  }
#endif
  std::memcpy(first, src, length);
  std::memcpy(second, src, length);
}

std::uint64_t copy_to_both_hashed(std::uint8_t* first, std::uint8_t* second,
                                  const std::uint8_t* src, std::size_t length) {
#if defined(__SSE2__)
  if (streamable(first, second, length) && length > kFusedChunkBytes) {
    // The streaming XXH3 gives the one-shot value for any split of the input.
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    for (std::size_t i = 0; i < length; i += kFusedChunkBytes) {
      const std::size_t n = length - i < kFusedChunkBytes ? length - i : kFusedChunkBytes;
      XXH3_64bits_update(&state, src + i, n);
      stream_to_both(first + i, second + i, src + i, n);
    }
    return XXH3_64bits_digest(&state);
  }
#endif
  const std::uint64_t hash = XXH3_64bits(src, length);
  copy_to_both(first, second, src, length);
  return hash;
}

void copy_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

}  // namespace wmd::engine_detail
