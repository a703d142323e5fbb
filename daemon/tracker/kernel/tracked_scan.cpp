#include "daemon/tracker/kernel/tracked_scan.hpp"

#include <algorithm>
#include <future>
#include <iterator>
#include <utility>

namespace wmd::kernel {
namespace {

// Every page whose bytes differ from their stored hash, ascending.
std::vector<std::uint64_t> find_all_changed(const Engine& engine,
                                            std::uint64_t parallel_threshold_bytes) {
  const std::uint64_t pages = engine.page_count();
  if (engine.size_bytes() < parallel_threshold_bytes || pages < 2) {
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

}  // namespace

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

TrackedScanReport tracked_scan(Engine& engine, KernelTracker& kernel,
                               const tracker::HashTracker& hash,
                               std::span<const WriterRecord> writers,
                               std::chrono::steady_clock::time_point now,
                               std::uint64_t parallel_threshold_bytes) {
  // First the kernel (which re-protects what it reports), then the hashes: a write landing in
  // between is hashed now and reported again next round, never lost.
  return apply_round(engine, kernel, hash, kernel.collect(writers, now), parallel_threshold_bytes);
}

TrackedScanReport apply_round(Engine& engine, KernelTracker& kernel,
                              const tracker::HashTracker& hash, CollectRound round,
                              std::uint64_t parallel_threshold_bytes) {
  TrackedScanReport report;
  report.events = std::exchange(round.events, {});
  if (!round.candidates_complete) {
    report.kind = RoundKind::hash;
    report.hash_reason = round.hash_reason;
    hash.scan(engine, &report.stats);
    return report;
  }
  if (!round.audit_due) {
    report.kind = RoundKind::kernel;
    engine.absorb_pages(round.candidate_pages, &report.stats);
    report.stats.pages_checked = round.candidate_pages.size();
    return report;
  }
  report.kind = RoundKind::audit;
  const std::vector<std::uint64_t> changed = find_all_changed(engine, parallel_threshold_bytes);
  // A registered writer may have written a page after collect() asked the kernel and before the
  // hashing reached it: the kernel would report it next round, so it is no finding. Asking again
  // now (re-protecting) makes those pages this round's candidates; later writes are reported
  // next round and absorbed then.
  if (kernel.collect_again(round)) {
    report.audit_findings = kernel.record_audit(changed, round.candidate_pages);
  }
  std::move(round.events.begin(), round.events.end(), std::back_inserter(report.events));
  std::vector<std::uint64_t> pages;
  pages.reserve(changed.size() + round.candidate_pages.size());
  std::set_union(changed.begin(), changed.end(), round.candidate_pages.begin(),
                 round.candidate_pages.end(), std::back_inserter(pages));
  engine.absorb_pages(pages, &report.stats);
  report.stats.pages_checked = engine.page_count();
  return report;
}

}  // namespace wmd::kernel
