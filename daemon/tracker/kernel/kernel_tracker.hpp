// wmd::kernel::KernelTracker: per segment, turns the registered writers' kernel dirty bits into
// the set of wmd pages to hash-check, and decides each round whether that set is complete
// ("kernel round": hash only the candidates) or the daemon must hash every page ("hash round").
//
// For each writer in the segment's registry it keeps a PagemapScanner on /proc/PID/pagemap. A
// writer that did not register with userfaultfd, whose pagemap cannot be opened or scanned, or
// that fails in any way falls back to hash mode (one event, then silence until it
// re-registers). A round is a kernel round only when at least one writer is registered, every
// registered writer is kernel-tracked and healthy, and nothing changed since the previous round
// (no writer came, went, moved, grew or fell back: writes made during such a transition are
// invisible to the kernel path, so that round hashes everything). A periodic audit (a full hash
// scan during kernel rounds) catches writers that never registered; the pages it finds that the
// kernel path did not report are counted as audit findings.
//
// Round protocol for the daemon (order matters):
//   1. round = collect(segment.writers(), now)       // re-protects the pages it reports
//   2. if round.candidates_complete && !round.audit_due: engine.absorb_pages(candidates)
//      else changed = find_changed_pages(all) (the hash detector's);
//           if round.audit_due: if (collect_again(round)) record_audit(changed, candidates);
//           absorb changed + candidates
// Writes that land after step 1 are reported by the next round, so nothing is lost between the
// kernel's report and the hash check. An audit asks the kernel again after hashing (before
// absorbing): a registered writer's page written while the audit hashed is then the kernel's
// report, not a finding.
//
// Thread-safety: not thread-safe; one owner (the daemon's scan thread). Pure apart from the
// /proc files it reads and the ioctls it makes: no logging, no clocks (time is passed in).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/segment/segment.hpp"
#include "daemon/tracker/kernel/pagemap_scanner.hpp"
#include "daemon/tracker/kernel/process_faults.hpp"
#include "daemon/tracker/kernel/process_identity.hpp"

namespace wmd::kernel {

struct KernelTrackerConfig {
  std::uint32_t page_size_bytes = 8192;  // the segment's wmd page size
  std::chrono::milliseconds audit_interval{10'000};
  // false (--tracking hash, or the probe failed): every round is a hash round, the kernel is
  // never asked and no events are produced.
  bool kernel_enabled = true;
  // A writer whose fault count has not moved since its last walk is not walked again, except
  // when its last walk is this old (ProcessFaults: writes into it that no fault of its own
  // counts, e.g. process_vm_writev, are reported within this bound). Zero: walk every round.
  std::chrono::milliseconds max_walk_gap{1'000};
};

enum class WriterEventKind {
  kernel_tracked,  // the writer's pages now come from the kernel
  hash_fallback,   // the writer is covered by hash scans; reason says why
  gone,            // the writer exited, unregistered, or its pid was reused
};

// One line's worth for the daemon's log ("writer pid 42 (slot 3): hash scan: ...").
struct WriterEvent {
  WriterEventKind kind = WriterEventKind::kernel_tracked;
  std::uint32_t slot = 0;
  std::int32_t pid = 0;
  std::error_code error;  // kernel_errc for hash_fallback caused by a failure
  std::string reason;
};
std::string describe(const WriterEvent& event);

struct CollectRound {
  // true: candidate_pages holds every page a registered writer may have changed since the
  // previous round. false: hash-scan the whole segment (hash_reason says why).
  bool candidates_complete = false;
  // Hash everything now and pass the result to record_audit() (only in complete rounds).
  bool audit_due = false;
  std::vector<std::uint64_t> candidate_pages;  // wmd page indices, ascending, unique
  std::vector<WriterEvent> events;             // transitions, each reported once
  std::string_view hash_reason;                // static text; empty in complete rounds
};

struct KernelTrackerStats {
  std::uint64_t kernel_rounds = 0;  // rounds whose candidates were complete
  std::uint64_t hash_rounds = 0;
  std::uint64_t audits = 0;
  std::uint64_t audit_findings = 0;  // changed pages the kernel path had not reported
  std::uint64_t pages_reported = 0;  // wmd pages reported by the kernel path, all rounds
  std::uint64_t fallbacks = 0;       // writers that fell back to hash mode
  std::uint64_t walks = 0;           // PAGEMAP_SCAN walks of a writer's range
  std::uint64_t walks_skipped = 0;   // skipped: no fault in the writer since its last walk
  std::uint32_t writers_kernel = 0;  // now
  std::uint32_t writers_hash = 0;    // now
};

class KernelTracker {
 public:
  explicit KernelTracker(KernelTrackerConfig config);

  // One round: reconciles the tracked writers with `writers` (the segment's registry), scans
  // every kernel-tracked writer's pagemap (re-protecting what it reports; a writer with no page
  // fault since its last walk is not walked, see max_walk_gap), re-checks each writer's pid and
  // start time, and decides the round. `now` drives the audit timer.
  CollectRound collect(std::span<const WriterRecord> writers,
                       std::chrono::steady_clock::time_point now);

  // In a round with audit_due, after the full hash comparison and before absorbing: asks every
  // kernel-tracked writer again for the pages it wrote since collect() (re-protecting them) and
  // merges them into round.candidate_pages, so that a page a registered writer wrote while the
  // audit was hashing counts as reported, not as a finding. The caller absorbs the candidates
  // after this call. Returns false when a writer failed meanwhile (its event is appended to
  // round.events and the next round hashes everything): the audit cannot tell that writer's
  // pages from an unregistered writer's, so it must not call record_audit().
  // REQUIRES: round is this tracker's latest collect() result, with candidates_complete.
  bool collect_again(CollectRound& round);

  // After a round with audit_due: `changed_pages` is what the full hash comparison found
  // (ascending), `candidate_pages` that round's candidates. Returns the number of changed pages
  // the kernel path had not reported, also added to stats().audit_findings.
  std::uint64_t record_audit(std::span<const std::uint64_t> changed_pages,
                             std::span<const std::uint64_t> candidate_pages);

  const KernelTrackerStats& stats() const noexcept { return stats_; }
  // "kernel" after a complete round, "hash" otherwise (SegmentStatus::tracking_mode).
  std::string_view mode_name() const noexcept;
  const KernelTrackerConfig& config() const noexcept { return config_; }

 private:
  struct Tracked {
    WriterRecord record;
    std::optional<PagemapScanner> scanner;  // set while kernel-tracked and healthy
    std::optional<ProcessWatch> process;    // with the scanner, where pidfds work
    std::optional<ProcessFaults> faults;    // with the scanner, where /proc/PID/stat opens
    // The fault count read just before the last successful walk, and that walk's round time;
    // reset whenever the next round must walk (new range, fallback).
    std::optional<std::uint64_t> faults_at_walk;
    std::chrono::steady_clock::time_point walked_at;
    bool seen = false;  // in this round's registry
  };

  void reconcile(std::span<const WriterRecord> writers, CollectRound& round, bool& transition);
  void start_tracking(Tracked& tracked, CollectRound& round);
  void fall_back(Tracked& tracked, kernel_errc error, std::string reason, CollectRound& round);
  // Scans every kernel-tracked writer, appending its pages to `pages` (ascending, unique);
  // returns false when one fell back (events in round).
  bool scan_writers(CollectRound& round, std::vector<std::uint64_t>& pages);
  // True when tracked's fault count shows it wrote nothing since its last walk (recent enough).
  bool quiet_since_walk(const Tracked& tracked, std::optional<std::uint64_t> faults) const;

  const KernelTrackerConfig config_;
  std::vector<Tracked> tracked_;
  std::vector<AddressRange> ranges_;         // scratch, reused every round
  std::vector<std::uint64_t> writer_pages_;  // scratch, reused every round
  std::optional<std::chrono::steady_clock::time_point> last_full_scan_;
  std::chrono::steady_clock::time_point round_time_;  // the latest collect()'s `now`
  bool last_round_complete_ = false;
  KernelTrackerStats stats_;
};

}  // namespace wmd::kernel
