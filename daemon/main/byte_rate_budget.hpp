// ByteRateBudget: a token bucket of bytes per second, for the catch-up bytes one peer may pull
// from us: a peer asking for round after round (an empty digest set with a reply requested
// costs it 14 bytes, us the whole segment) gets at most rate_bytes per second of them, with a
// burst of one second's worth. Spending may overdraw; the debt is waited out before the next
// spend. Pure: time is passed in.
// Thread-safety: none; one owner (the replicator's engine thread).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace wmd::daemon {

class ByteRateBudget {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ByteRateBudget(std::uint64_t rate_bytes = 0) : rate_bytes_(rate_bytes) {
    tokens_ = static_cast<double>(rate_bytes);
  }

  // How long to wait at `now` before spending again (zero: spend now). A rate of 0: never.
  Clock::duration wait_before(Clock::time_point now) {
    if (rate_bytes_ == 0) return Clock::duration::zero();
    refill(now);
    if (tokens_ >= 0) return Clock::duration::zero();
    const double seconds = -tokens_ / static_cast<double>(rate_bytes_);
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }

  void spend(std::uint64_t bytes, Clock::time_point now) {
    if (rate_bytes_ == 0) return;
    refill(now);
    tokens_ -= static_cast<double>(bytes);
  }

 private:
  void refill(Clock::time_point now) {
    if (last_ != Clock::time_point{} && now > last_) {
      const double elapsed = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(static_cast<double>(rate_bytes_),
                         tokens_ + elapsed * static_cast<double>(rate_bytes_));
    }
    last_ = std::max(last_, now);
  }

  std::uint64_t rate_bytes_;
  double tokens_ = 0;
  Clock::time_point last_{};
};

}  // namespace wmd::daemon
