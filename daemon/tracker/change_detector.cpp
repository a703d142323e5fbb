#include "daemon/tracker/change_detector.hpp"

namespace wmd::tracker {

std::vector<Patch> scan_round(Engine& engine, ChangeDetector& detector,
                              std::chrono::steady_clock::time_point now, ScanStats* stats) {
  const CandidatePages candidates = detector.find_candidates(engine, now);
  ScanStats round;
  auto patches = engine.absorb_pages(candidates.pages, &round, candidates.check);
  round.pages_checked = candidates.pages_checked;
  if (stats != nullptr) *stats = round;
  return patches;
}

}  // namespace wmd::tracker
