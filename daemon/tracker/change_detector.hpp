// wmd::tracker::ChangeDetector: finds the pages that may have changed since the last round, for
// the engine to absorb into patches. Two implementations: HashChangeDetector (hash every page
// against its stored hash; always available) and kernel::KernelChangeDetector (the pages the
// registered writers' kernels report, with periodic audits and hash rounds when that set is
// incomplete). scan_round() is the one place a round's candidates become patches.
//
// Thread-safety: a detector has one owner, the engine's owner thread; find_candidates() may
// read the engine from helper threads while it runs (the engine allows concurrent
// find_changed_pages() only while its owner makes no other call).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "engine/engine.hpp"

namespace wmd::tracker {

// One round's candidates.
struct CandidatePages {
  std::vector<std::uint64_t> pages;  // ascending, unique
  // known_changed: each was just found to differ from its stored hash; recheck: reported by
  // someone else (the kernel), so the engine hashes it before diffing.
  PageCheck check = PageCheck::known_changed;
  std::uint64_t pages_checked = 0;  // pages hashed or reported this round
};

class ChangeDetector {
 public:
  virtual ~ChangeDetector() = default;
  // REQUIRES: the engine's owner thread, which makes no other engine call meanwhile.
  virtual CandidatePages find_candidates(const Engine& engine,
                                         std::chrono::steady_clock::time_point now) = 0;
};

// One change round: the detector's candidates absorbed into one change round of the engine.
// Returns its patches (also given to engine.on_diff); *stats (when given) is the round's, with
// pages_checked from the detector.
std::vector<Patch> scan_round(Engine& engine, ChangeDetector& detector,
                              std::chrono::steady_clock::time_point now,
                              ScanStats* stats = nullptr);

}  // namespace wmd::tracker
