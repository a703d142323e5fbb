// HashChangeDetector: finds changed pages by hashing every page (XXH3, inside the engine)
// against its stored hash. Always available; kernel::KernelChangeDetector narrows the
// candidates for registered writers and falls back to this one. Segments of at least
// parallel_threshold_bytes are hashed in two halves, the second on a helper thread, since
// reading memory is what a scan costs.
//
// Thread-safety: as ChangeDetector; find_changed() blocks its caller while the helper hashes.
#pragma once

#include <cstdint>
#include <vector>

#include "daemon/tracker/change_detector.hpp"

namespace wmd::tracker {

class HashChangeDetector final : public ChangeDetector {
 public:
  explicit HashChangeDetector(std::uint64_t parallel_threshold_bytes = 64ull << 20)
      : parallel_threshold_bytes_(parallel_threshold_bytes) {}

  // Every page, checked: the changed ones as known_changed candidates.
  CandidatePages find_candidates(const Engine& engine,
                                 std::chrono::steady_clock::time_point now) override;

  // Every page whose bytes differ from its stored hash, ascending.
  std::vector<std::uint64_t> find_changed(const Engine& engine) const;

 private:
  std::uint64_t parallel_threshold_bytes_;
};

}  // namespace wmd::tracker
