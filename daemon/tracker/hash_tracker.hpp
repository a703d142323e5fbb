// HashTracker: finds and absorbs changed pages by hashing every page (XXH3, inside the engine)
// against its stored hash. Always available; kernel dirty tracking (issue 5) will narrow the
// candidates for registered writers. Segments of at least parallel_threshold_bytes are hashed
// in two halves, the second on a helper thread, since reading memory is what a scan costs.
//
// Thread-safety: not thread-safe; called on the engine's owner thread, which it blocks while
// the helper hashes (the engine allows concurrent find_changed_pages() only then).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/engine.hpp"

namespace wmd::tracker {

class HashTracker {
 public:
  explicit HashTracker(std::uint64_t parallel_threshold_bytes = 64ull << 20)
      : parallel_threshold_bytes_(parallel_threshold_bytes) {}

  // One change round over the whole segment; the patches also went to engine.on_diff.
  std::vector<Patch> scan(Engine& engine, ScanStats* stats = nullptr) const;

 private:
  std::uint64_t parallel_threshold_bytes_;
};

}  // namespace wmd::tracker
