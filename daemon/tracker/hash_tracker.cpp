#include "daemon/tracker/hash_tracker.hpp"

#include <future>

namespace wmd::tracker {

std::vector<Patch> HashTracker::scan(Engine& engine, ScanStats* stats) const {
  const std::uint64_t pages = engine.page_count();
  if (engine.size_bytes() < parallel_threshold_bytes_ || pages < 2) return engine.scan(stats);

  const std::uint64_t middle = pages / 2;
  const Engine& reader = engine;
  auto second_half = std::async(std::launch::async, [&reader, middle, pages] {
    return reader.find_changed_pages(middle, pages);
  });
  std::vector<std::uint64_t> changed = reader.find_changed_pages(0, middle);
  const std::vector<std::uint64_t> rest = second_half.get();
  changed.insert(changed.end(), rest.begin(), rest.end());

  ScanStats round;
  auto patches = engine.absorb_pages(changed, &round, PageCheck::known_changed);
  round.pages_checked = pages;
  if (stats != nullptr) *stats = round;
  return patches;
}

}  // namespace wmd::tracker
