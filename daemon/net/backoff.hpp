// Backoff: reconnect delays that double from an initial delay up to a cap, with jitter so that
// daemons restarted together do not dial in lock-step.
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace wmd::net {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, std::uint64_t seed)
      : initial_(initial), cap_(cap), next_(initial), rng_(seed) {}

  // The delay before the next attempt: the current step plus up to 50 % random jitter, never
  // above the cap. Advances the step.
  std::chrono::milliseconds next_delay();
  // After a successful connection: start again from the initial delay.
  void reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds next_;
  std::mt19937_64 rng_;
};

}  // namespace wmd::net
