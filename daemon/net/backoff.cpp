#include "daemon/net/backoff.hpp"

#include <algorithm>

namespace wmd::net {

std::chrono::milliseconds Backoff::next_delay() {
  const auto base = next_;
  next_ = std::min(cap_, next_ * 2);
  const auto jitter_range = static_cast<std::uint64_t>(base.count() / 2);
  const auto jitter =
      jitter_range == 0 ? 0 : std::uniform_int_distribution<std::uint64_t>(0, jitter_range)(rng_);
  return std::min(cap_, base + std::chrono::milliseconds(jitter));
}

}  // namespace wmd::net
