// Time helpers of the replicator's files: wall-clock stamps for the status block, elapsed
// milliseconds for log lines. Thread-safety: reentrant.
#pragma once

#include <chrono>
#include <cstdint>

namespace wmd::daemon {

inline std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

inline std::uint64_t ms_since(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - start)
                                        .count());
}

}  // namespace wmd::daemon
