// The fixed limits the proto fuzz target decodes with, shared with its seed generator so that
// the seeds are valid frames. A tiny page size lets the fuzzer reach page-state decoding.
// Thread-safety: constants only.
#pragma once

#include "proto/codec.hpp"

namespace wmd::proto::fuzz {

inline constexpr std::uint32_t kFuzzPageBytes = 32;
inline constexpr std::uint64_t kFuzzMaxSizeBytes = std::uint64_t{1} << 20;

inline Limits fuzz_limits() {
  Limits limits;
  limits.max_frame_bytes = kMinMaxFrameBytes;
  limits.page_size_bytes = kFuzzPageBytes;
  limits.max_size_bytes = kFuzzMaxSizeBytes;
  return limits;
}

}  // namespace wmd::proto::fuzz
