#include "daemon/tracker/kernel/kernel_change_detector.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace wmd::kernel {

std::string_view to_string(RoundKind kind) {
  switch (kind) {
    case RoundKind::kernel:
      return "kernel";
    case RoundKind::audit:
      return "audit";
    case RoundKind::hash:
      return "hash";
  }
  return "?";
}

KernelChangeDetector::KernelChangeDetector(KernelTracker& kernel,
                                           const tracker::HashChangeDetector& hash,
                                           std::function<std::vector<WriterRecord>()> writers)
    : kernel_(kernel), hash_(hash), writers_(std::move(writers)) {}

tracker::CandidatePages KernelChangeDetector::find_candidates(
    const Engine& engine, std::chrono::steady_clock::time_point now) {
  // First the kernel (which re-protects what it reports), then the hashes: a write landing in
  // between is hashed now and reported again next round, never lost.
  return candidates_of(engine, kernel_.collect(writers_(), now));
}

tracker::CandidatePages KernelChangeDetector::candidates_of(const Engine& engine,
                                                            CollectRound round) {
  report_ = {};
  report_.events = std::exchange(round.events, {});
  if (!round.candidates_complete) {
    report_.kind = RoundKind::hash;
    report_.hash_reason = round.hash_reason;
    return tracker::CandidatePages{hash_.find_changed(engine), PageCheck::known_changed,
                                   engine.page_count()};
  }
  if (!round.audit_due) {
    report_.kind = RoundKind::kernel;
    const std::uint64_t reported = round.candidate_pages.size();
    return tracker::CandidatePages{std::move(round.candidate_pages), PageCheck::recheck, reported};
  }
  report_.kind = RoundKind::audit;
  const std::vector<std::uint64_t> changed = hash_.find_changed(engine);
  // A registered writer may have written a page after collect() asked the kernel and before the
  // hashing reached it: the kernel would report it next round, so it is no finding. Asking again
  // now (re-protecting) makes those pages this round's candidates; later writes are reported
  // next round and absorbed then.
  if (kernel_.collect_again(round)) {
    report_.audit_findings = kernel_.record_audit(changed, round.candidate_pages);
  }
  std::move(round.events.begin(), round.events.end(), std::back_inserter(report_.events));
  tracker::CandidatePages candidates;
  candidates.pages.reserve(changed.size() + round.candidate_pages.size());
  std::set_union(changed.begin(), changed.end(), round.candidate_pages.begin(),
                 round.candidate_pages.end(), std::back_inserter(candidates.pages));
  candidates.check = PageCheck::recheck;
  candidates.pages_checked = engine.page_count();
  return candidates;
}

}  // namespace wmd::kernel
