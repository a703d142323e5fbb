#include "daemon/engine/page_copy.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wmd::engine_detail {

void copy_to_both(std::uint8_t* first, std::uint8_t* second, const std::uint8_t* src,
                  std::size_t length) {
#if defined(__SSE2__)
  const bool aligned =
      ((reinterpret_cast<std::uintptr_t>(first) | reinterpret_cast<std::uintptr_t>(second)) &
       15u) == 0;
  if (aligned && length % 64 == 0) {
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
    return;
  }
#endif
  std::memcpy(first, src, length);
  std::memcpy(second, src, length);
}

void copy_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

}  // namespace wmd::engine_detail
