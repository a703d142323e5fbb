#include "daemon/tracker/kernel/kernel_tracker.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include "daemon/tracker/kernel/process_identity.hpp"

namespace wmd::kernel {
namespace {

std::string_view kind_text(WriterEventKind kind) {
  switch (kind) {
    case WriterEventKind::kernel_tracked:
      return "kernel dirty tracking";
    case WriterEventKind::hash_fallback:
      return "hash scan";
    case WriterEventKind::gone:
      return "gone";
  }
  return "?";
}

}  // namespace

std::string describe(const WriterEvent& event) {
  std::string line = "writer pid " + std::to_string(event.pid) + " (slot " +
                     std::to_string(event.slot) + "): " + std::string(kind_text(event.kind));
  if (!event.reason.empty()) line += ": " + event.reason;
  return line;
}

KernelTracker::KernelTracker(KernelTrackerConfig config) : config_(config) {}

std::string_view KernelTracker::mode_name() const noexcept {
  return last_round_complete_ ? "kernel" : "hash";
}

CollectRound KernelTracker::collect(std::span<const WriterRecord> writers,
                                    std::chrono::steady_clock::time_point now) {
  CollectRound round;
  if (!config_.kernel_enabled) {
    round.hash_reason = "kernel tracking disabled";
    ++stats_.hash_rounds;
    last_round_complete_ = false;
    last_full_scan_ = now;
    return round;
  }

  round_time_ = now;
  bool transition = false;
  reconcile(writers, round, transition);

  if (!scan_writers(round, round.candidate_pages)) transition = true;
  stats_.pages_reported += round.candidate_pages.size();

  if (tracked_.empty()) {
    round.hash_reason = "no registered writer";
  } else if (stats_.writers_kernel != tracked_.size()) {
    round.hash_reason = "a registered writer is not kernel-tracked";
  } else if (transition) {
    round.hash_reason = "registered writers changed";
  } else {
    round.candidates_complete = true;
  }

  if (round.candidates_complete) {
    ++stats_.kernel_rounds;
    if (!last_full_scan_ || now - *last_full_scan_ >= config_.audit_interval) {
      round.audit_due = true;
      last_full_scan_ = now;
    }
  } else {
    ++stats_.hash_rounds;
    last_full_scan_ = now;  // a hash round is as good as an audit
  }
  last_round_complete_ = round.candidates_complete;
  return round;
}

void KernelTracker::reconcile(std::span<const WriterRecord> writers, CollectRound& round,
                              bool& transition) {
  for (Tracked& tracked : tracked_) tracked.seen = false;

  for (const WriterRecord& record : writers) {
    if (record.pid <= 0) continue;
    auto it = std::find_if(tracked_.begin(), tracked_.end(),
                           [&](const Tracked& t) { return t.record.slot == record.slot; });
    if (it != tracked_.end() && it->record.pid == record.pid &&
        it->record.start_time_ticks == record.start_time_ticks) {
      it->seen = true;
      const bool moved = it->record.address != record.address;
      const bool resized = it->record.length_bytes != record.length_bytes;
      const bool reflagged = it->record.kernel_tracking != record.kernel_tracking;
      if (moved || resized || reflagged) {
        // Growth re-registration or a new mapping: writes around the change may have escaped
        // the kernel, so this round hashes everything; the scanner (bound to the process) stays.
        transition = true;
        const bool was_kernel = it->scanner.has_value();
        it->record = record;
        it->faults_at_walk.reset();  // a new range: walk it
        if (!was_kernel || reflagged) start_tracking(*it, round);
      }
      continue;
    }
    transition = true;
    if (it != tracked_.end()) {
      round.events.push_back(WriterEvent{WriterEventKind::gone,
                                         it->record.slot,
                                         it->record.pid,
                                         {},
                                         "slot taken by pid " + std::to_string(record.pid)});
      tracked_.erase(it);
    }
    Tracked tracked;
    tracked.record = record;
    tracked.seen = true;
    start_tracking(tracked, round);
    tracked_.push_back(std::move(tracked));
  }

  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (it->seen) {
      ++it;
      continue;
    }
    transition = true;
    round.events.push_back(WriterEvent{
        WriterEventKind::gone, it->record.slot, it->record.pid, {}, "left the registry"});
    it = tracked_.erase(it);
  }
}

void KernelTracker::start_tracking(Tracked& tracked, CollectRound& round) {
  tracked.scanner.reset();
  tracked.faults.reset();
  tracked.faults_at_walk.reset();
  const WriterRecord& record = tracked.record;
  if (!record.kernel_tracking) {
    fall_back(tracked, kernel_errc::not_registered,
              "registered without userfaultfd write-protection", round);
    return;
  }
  if (record.length_bytes == 0) {
    fall_back(tracked, kernel_errc::not_registered, "registered an empty range", round);
    return;
  }
  Result<PagemapScanner> scanner = PagemapScanner::open(record.pid);
  if (!scanner) {
    fall_back(tracked, static_cast<kernel_errc>(scanner.error().code().value()),
              scanner.error().detail(), round);
    return;
  }
  // Checked after the open: the descriptor is bound to whichever process had the pid then, so
  // a matching start time now proves it is the registered one.
  if (!same_live_process(record.pid, record.start_time_ticks)) {
    fall_back(tracked, kernel_errc::writer_gone, "process exited or pid reused", round);
    return;
  }
  tracked.scanner = std::move(scanner.value());
  tracked.process = ProcessWatch::open(record.pid, record.start_time_ticks);
  tracked.faults = ProcessFaults::open(record.pid, record.start_time_ticks);
  round.events.push_back(WriterEvent{WriterEventKind::kernel_tracked,
                                     record.slot,
                                     record.pid,
                                     {},
                                     std::to_string(record.length_bytes) + " bytes via /proc/" +
                                         std::to_string(record.pid) + "/pagemap"});
}

void KernelTracker::fall_back(Tracked& tracked, kernel_errc error, std::string reason,
                              CollectRound& round) {
  tracked.scanner.reset();
  tracked.process.reset();
  tracked.faults.reset();
  tracked.faults_at_walk.reset();
  ++stats_.fallbacks;
  const std::error_code code = make_error_code(error);
  if (!reason.empty()) reason += "; ";
  reason += code.message();
  round.events.push_back(WriterEvent{WriterEventKind::hash_fallback, tracked.record.slot,
                                     tracked.record.pid, code, std::move(reason)});
}

bool KernelTracker::scan_writers(CollectRound& round, std::vector<std::uint64_t>& pages) {
  bool healthy = true;
  std::size_t kernel_writers = 0;
  std::size_t contributing_writers = 0;
  for (Tracked& tracked : tracked_) {
    if (!tracked.scanner) continue;
    const WriterRecord& record = tracked.record;
    // Read before the walk: a write the walk does not see faults after this read.
    const std::optional<std::uint64_t> faults =
        tracked.faults ? tracked.faults->read() : std::nullopt;
    if (quiet_since_walk(tracked, faults)) {
      ++stats_.walks_skipped;
    } else {
      Status status = tracked.scanner->scan_written(record.address,
                                                    record.address + record.length_bytes, ranges_);
      if (!status) {
        const auto error = static_cast<kernel_errc>(status.error().code().value());
        fall_back(tracked, error, status.error().detail(), round);
        healthy = false;
        continue;
      }
      ++stats_.walks;
      tracked.faults_at_walk = faults;
      tracked.walked_at = round_time_;
      writer_pages_.clear();
      append_wmd_pages(ranges_, record.address, config_.page_size_bytes, writer_pages_);
      if (!writer_pages_.empty()) ++contributing_writers;
      pages.insert(pages.end(), writer_pages_.begin(), writer_pages_.end());
    }
    // Checked after the scan: a writer alive now had every write up to the scan reported; one
    // that died may have written after our previous scan into memory we can no longer ask about.
    const bool alive = tracked.process ? tracked.process->running()
                                       : same_live_process(record.pid, record.start_time_ticks);
    if (!alive) {
      fall_back(tracked, kernel_errc::writer_gone, "process exited or pid reused", round);
      healthy = false;
      continue;
    }
    ++kernel_writers;
  }
  if (contributing_writers > 1) {
    std::sort(pages.begin(), pages.end());
    pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  }
  stats_.writers_kernel = static_cast<std::uint32_t>(kernel_writers);
  stats_.writers_hash = static_cast<std::uint32_t>(tracked_.size() - kernel_writers);
  return healthy;
}

bool KernelTracker::quiet_since_walk(const Tracked& tracked,
                                     std::optional<std::uint64_t> faults) const {
  // Every write to a page the last walk left write-protected is a fault of the writer, counted
  // after this read or before it: an unchanged count means no page was written since that walk.
  return faults && tracked.faults_at_walk && *faults == *tracked.faults_at_walk &&
         round_time_ - tracked.walked_at < config_.max_walk_gap;
}

bool KernelTracker::collect_again(CollectRound& round) {
  std::vector<std::uint64_t> late_pages;
  const bool healthy = scan_writers(round, late_pages);
  std::vector<std::uint64_t> merged;
  merged.reserve(round.candidate_pages.size() + late_pages.size());
  std::set_union(round.candidate_pages.begin(), round.candidate_pages.end(), late_pages.begin(),
                 late_pages.end(), std::back_inserter(merged));
  stats_.pages_reported += merged.size() - round.candidate_pages.size();
  round.candidate_pages = std::move(merged);
  if (!healthy) {
    // The next round finds the writer fallen back and hashes everything.
    round.candidates_complete = false;
    round.hash_reason = "a registered writer is not kernel-tracked";
    last_round_complete_ = false;
  }
  return healthy;
}

std::uint64_t KernelTracker::record_audit(std::span<const std::uint64_t> changed_pages,
                                          std::span<const std::uint64_t> candidate_pages) {
  ++stats_.audits;
  std::uint64_t findings = 0;
  std::size_t candidate = 0;
  for (const std::uint64_t page : changed_pages) {
    while (candidate < candidate_pages.size() && candidate_pages[candidate] < page) ++candidate;
    if (candidate == candidate_pages.size() || candidate_pages[candidate] != page) ++findings;
  }
  stats_.audit_findings += findings;
  return findings;
}

}  // namespace wmd::kernel
