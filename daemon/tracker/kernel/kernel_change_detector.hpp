// wmd::kernel::KernelChangeDetector: change detection with kernel dirty tracking, i.e.
// KernelTracker's round protocol as a tracker::ChangeDetector:
//   kernel round:  the candidates are the pages the writers' kernels reported (rechecked by the
//                  engine);
//   audit round:   a kernel round that also hash-compares every page, asks the kernel again
//                  (what a registered writer wrote while the audit hashed is the kernel's),
//                  and counts the changed pages the kernel path had not reported;
//   hash round:    the hash detector's candidates (no kernel tracking, a writer not kernel-
//                  tracked, or writers changed since the previous round).
// What the round was (kind, audit findings, writer events to log) is last_round().
//
// Thread-safety: as ChangeDetector (the engine's owner thread only). The audit hashes through
// the hash detector, on two threads for large segments.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "daemon/tracker/change_detector.hpp"
#include "daemon/tracker/hash_change_detector.hpp"
#include "daemon/tracker/kernel/kernel_tracker.hpp"

namespace wmd::kernel {

enum class RoundKind { kernel, audit, hash };
std::string_view to_string(RoundKind kind);

// What the last find_candidates() did, beyond its candidates.
struct KernelRoundReport {
  RoundKind kind = RoundKind::hash;
  std::uint64_t audit_findings = 0;  // audit rounds: changed pages the kernel had not reported
  std::vector<WriterEvent> events;   // log each with describe(event), once
  std::string_view hash_reason;      // hash rounds: why
};

class KernelChangeDetector final : public tracker::ChangeDetector {
 public:
  // `writers` returns the segment's registry now (Segment::writers()).
  // REQUIRES: kernel and hash outlive this; kernel was configured with the engine's page size.
  KernelChangeDetector(KernelTracker& kernel, const tracker::HashChangeDetector& hash,
                       std::function<std::vector<WriterRecord>()> writers);

  tracker::CandidatePages find_candidates(const Engine& engine,
                                          std::chrono::steady_clock::time_point now) override;

  // find_candidates() after its first step: the candidates of a round that kernel.collect()
  // returned a moment ago (tests use it to put a writer's writes between the steps).
  // REQUIRES: `round` is the latest kernel.collect() result, not used yet.
  tracker::CandidatePages candidates_of(const Engine& engine, CollectRound round);

  const KernelRoundReport& last_round() const noexcept { return report_; }

 private:
  KernelTracker& kernel_;
  const tracker::HashChangeDetector& hash_;
  std::function<std::vector<WriterRecord>()> writers_;
  KernelRoundReport report_;
};

}  // namespace wmd::kernel
