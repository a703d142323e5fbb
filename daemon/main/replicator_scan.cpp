// Replicator: change rounds (timed, flush and shutdown scans) and the Hello they refresh.
#include <spdlog/spdlog.h>

#include "daemon/main/replicator.hpp"
#include "daemon/main/scan_hold.hpp"

namespace wmd::daemon {

using Clock = std::chrono::steady_clock;

bool Replicator::bulk_catchup_active() const {
  const std::uint64_t page_size = engine_.page_size();
  for (const auto& [id, peer] : peers_) {
    if (peer.catchup.sending() && peer.catchup.round_page_count() * page_size >= kBulkRoundBytes) {
      return true;
    }
  }
  return bulk_catchup_receiving();
}

bool Replicator::bulk_catchup_receiving() const {
  for (const auto& [id, peer] : peers_) {
    if (peer.catchup.received_bytes() >= kBulkRoundBytes) return true;
  }
  return false;
}

Clock::time_point Replicator::scan_hold_end() const {
  return catchup_scan_hold_end(bulk_catchup_receiving(), bulk_catchup_active(),
                               last_scan_hashed_everything_, last_scan_end_, last_scan_duration_);
}

void Replicator::schedule_scan() {
  if (config_.scan_interval.count() == 0) return;
  auto earliest = next_scan_ + config_.scan_interval;
  // A hash scan reads the whole segment: on a large one, keep it to about a quarter of a core,
  // and while a catch-up moves pages, leave the cores to the catch-up.
  earliest = std::max({earliest, last_scan_end_ + 3 * last_scan_duration_, scan_hold_end()});
  next_scan_ = std::max(earliest, Clock::now());
  scan_timer_.expires_at(next_scan_);
  scan_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    // A catch-up that began filling this replica after the timer was set holds this scan back
    // too: the timer set by a fast scan early in a 1 GiB sync fired behind the first frames'
    // merges and hashed the ~300 MiB received by then (7 % of the receiver's samples).
    if (scan_hold_end() > Clock::now()) {
      schedule_scan();
      arm_status_timer_unless_scans_come();
      return;
    }
    scan_now("timer");
    publish_status_if_due();
    schedule_scan();
    arm_status_timer_unless_scans_come();
  });
}

std::uint64_t Replicator::scan_now(const char* why, bool full_hash) {
  if (hooks_.control_size_bytes) {
    const std::uint64_t wanted = hooks_.control_size_bytes();
    if (wanted > engine_.size_bytes()) {
      if (auto grown = engine_.resize(std::min(wanted, engine_.max_size_bytes())); !grown.ok()) {
        ++errors_;
        last_error_ = "local growth to " + std::to_string(wanted) + ": " + grown.error().message();
        spdlog::error("cannot follow the segment's growth to {} bytes: {}", wanted,
                      grown.error().message());
      }
    }
  }
  ScanStats stats;
  const auto started = Clock::now();
  const bool kernel_round = kernel_detector_ && !full_hash;
  tracker::ChangeDetector& detector =
      kernel_round ? static_cast<tracker::ChangeDetector&>(*kernel_detector_) : hash_detector_;
  broadcast_patches(tracker::scan_round(engine_, detector, started, &stats));
  if (kernel_round) log_kernel_round(stats);
  last_scan_hashed_everything_ =
      !kernel_round || kernel_detector_->last_round().kind != kernel::RoundKind::kernel;
  last_scan_end_ = Clock::now();
  last_scan_duration_ = last_scan_end_ - started;
  counters_.scan_time_us += static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(last_scan_duration_).count());
  counters_.pages_changed += stats.pages_changed;
  counters_.bytes_changed += stats.bytes_changed;
  ++counters_.scans;
  if (stats.pages_changed > 0) {
    spdlog::trace("scan ({}): {} pages changed, {} bytes", why, stats.pages_changed,
                  stats.bytes_changed);
  }
  if (stats.pages_deferred > 0 && pending_pages_ == 0) {
    ++errors_;
    last_error_ = std::to_string(stats.pages_deferred) +
                  " changed pages could not be stamped (version pool full, or the clock's "
                  "counter spent for this millisecond); they stay pending";
    spdlog::warn("scan ({}): {}", why, last_error_);
  }
  pending_pages_ = stats.pages_deferred;
  publish_hello_if_changed();
  return stats.pages_deferred;
}

void Replicator::log_kernel_round(const ScanStats& stats) {
  const auto& report = kernel_detector_->last_round();
  for (const auto& event : report.events) {
    if (event.kind == kernel::WriterEventKind::hash_fallback) {
      spdlog::warn("tracking: {}", kernel::describe(event));
    } else {
      spdlog::info("tracking: {}", kernel::describe(event));
    }
  }
  if (report.audit_findings > 0) {
    spdlog::warn(
        "tracking: audit found {} changed pages that kernel dirty tracking did not report (a "
        "writer that did not register with libwmd?); replicated now",
        report.audit_findings);
  }
  if (report.kind != kernel::RoundKind::hash && stats.pages_checked > 0) {
    spdlog::trace("tracking: {} round checked {} pages", kernel::to_string(report.kind),
                  stats.pages_checked);
  }
}

void Replicator::publish_hello_if_changed() {
  if (engine_.lamport() == published_lamport_ && engine_.size_bytes() == published_size_) return;
  published_lamport_ = engine_.lamport();
  published_size_ = engine_.size_bytes();
  proto::Hello hello;
  hello.size_bytes = published_size_;
  hello.lamport = published_lamport_;
  hello.clock = engine_.vector_clock();
  post_to_net([this, hello = std::move(hello)]() mutable { mesh_->set_hello(std::move(hello)); });
}

}  // namespace wmd::daemon
