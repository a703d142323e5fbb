#include "daemon/tracker/hash_change_detector.hpp"

#include <future>

namespace wmd::tracker {

CandidatePages HashChangeDetector::find_candidates(const Engine& engine,
                                                   std::chrono::steady_clock::time_point) {
  return CandidatePages{find_changed(engine), PageCheck::known_changed, engine.page_count()};
}

std::vector<std::uint64_t> HashChangeDetector::find_changed(const Engine& engine) const {
  const std::uint64_t pages = engine.page_count();
  if (engine.size_bytes() < parallel_threshold_bytes_ || pages < 2) {
    return engine.find_changed_pages(0, pages);
  }
  const std::uint64_t middle = pages / 2;
  auto second_half = std::async(std::launch::async, [&engine, middle, pages] {
    return engine.find_changed_pages(middle, pages);
  });
  std::vector<std::uint64_t> changed = engine.find_changed_pages(0, middle);
  const std::vector<std::uint64_t> rest = second_half.get();
  changed.insert(changed.end(), rest.begin(), rest.end());
  return changed;
}

}  // namespace wmd::tracker
