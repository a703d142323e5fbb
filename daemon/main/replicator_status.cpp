// Replicator: the status block, the published counters (metrics) and the periodic stats lines.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "daemon/main/replicator.hpp"

namespace wmd::daemon {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

}  // namespace

void Replicator::publish_status_if_due() {
  const auto now = Clock::now();
  if (now < next_status_) return;
  // On the schedule's grid rather than from now: the scan timer fires a little after its
  // time, and a status due "from now" would fall just after the scan meant to publish it.
  next_status_ += config_.status_interval;
  if (next_status_ <= now) next_status_ = now + config_.status_interval;
  // The mesh's figures from the network thread, then the engine's own as they are when those
  // arrive, as before: a status never shows a scan's counters without the sends it made.
  post_to_net([this] {
    auto snapshot = mesh_->snapshot();
    asio::post(engine_io_, [this, snapshot = std::move(snapshot)]() mutable {
      on_status(std::move(snapshot));
    });
  });
}

void Replicator::arm_status_timer_unless_scans_come() {
  // A scan due no later than one scan interval after the status publishes it (a status that
  // late is fine; a wakeup of its own is what this saves).
  if (config_.scan_interval.count() > 0 && next_scan_ <= next_status_ + config_.scan_interval) {
    boost::system::error_code ignored;
    status_timer_.cancel(ignored);
    return;
  }
  status_timer_.expires_at(next_status_);
  status_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    publish_status_if_due();
    arm_status_timer_unless_scans_come();
  });
}

void Replicator::on_status(net::MeshSnapshot snapshot) {
  // The tracker this replicator runs; status block and metrics must say the same.
  const std::string tracking_mode = kernel_ ? std::string(kernel_->mode_name()) : "hash";
  if (hooks_.publish_status) {
    SegmentStatus status;
    status.lamport = engine_.lamport();
    status.pending_pages = static_cast<std::uint32_t>(std::min<std::uint64_t>(pending_pages_, ~0u));
    status.local_seq = engine_.local_seq();
    status.last_sync_unix_ms = last_sync_unix_ms_;
    status.errors = errors_;
    status.last_error = last_error_;
    status.tracking_mode = tracking_mode;
    for (const auto& peer : snapshot.peers) {
      SegmentPeerStatus p;
      p.peer_id = peer.peer_id;
      p.connected = true;
      p.rtt_us = peer.rtt_us;
      p.queue_bytes = peer.queue_bytes;
      p.patches_sent = peer.patches_sent;
      p.patches_received = peer.patches_received;
      if (auto it = last_catchup_unix_ms_.find(peer.peer_id); it != last_catchup_unix_ms_.end()) {
        p.last_catchup_unix_ms = it->second;
      }
      status.peers.push_back(std::move(p));
    }
    for (const auto& dialer : snapshot.disconnected) {
      SegmentPeerStatus p;
      p.peer_id = dialer.peer_id.empty() ? dialer.address : dialer.peer_id;
      if (auto it = last_catchup_unix_ms_.find(p.peer_id); it != last_catchup_unix_ms_.end()) {
        p.last_catchup_unix_ms = it->second;
      }
      status.peers.push_back(std::move(p));
    }
    status.counters = {
        counters_.scans,           counters_.pages_changed,    counters_.bytes_changed,
        counters_.patches_applied, counters_.catchups_started, snapshot.connection_errors};
    hooks_.publish_status(status);
  }
  DaemonCounters published;
  published.scans = counters_.scans;
  published.scan_time_us = counters_.scan_time_us;
  published.pages_changed = counters_.pages_changed;
  published.bytes_changed = counters_.bytes_changed;
  published.patches_applied = counters_.patches_applied;
  published.bytes_applied = counters_.bytes_applied;
  published.pages_merged = counters_.pages_merged;
  published.catchups_started = counters_.catchups_started;
  published.catchups_completed = counters_.catchups_completed;
  published.digest_rounds_deferred = counters_.digest_rounds_deferred;
  published.digest_rounds_coalesced = counters_.digest_rounds_coalesced;
  published.clock_skew_refusals = counters_.clock_skew_refusals;
  published.bound_refusals = counters_.bound_refusals;
  published.errors = errors_;
  published.size_bytes = engine_.size_bytes();
  published.max_size_bytes = engine_.max_size_bytes();
  published.lamport = engine_.lamport();
  published.local_seq = engine_.local_seq();
  published.tracking_mode = tracking_mode;
  if (kernel_) published.audit_findings = kernel_->stats().audit_findings;
  board_.publish(published);
  if (config_.stats_interval.count() > 0 && Clock::now() - last_stats_ >= config_.stats_interval) {
    last_stats_ = Clock::now();
    const auto& was = counters_at_last_stats_;
    const auto& net_was = mesh_at_last_stats_;
    spdlog::info(
        "stats: {} scans, {} pages changed ({} bytes); patches sent {} ({} wire bytes out), "
        "received {} ({} wire bytes in), {} bytes applied, {} pages merged; {} peers connected, "
        "{} bytes queued, size {} bytes; {} catch-up rounds started, {} digest sets deferred "
        "({} coalesced)",
        counters_.scans - was.scans, counters_.pages_changed - was.pages_changed,
        counters_.bytes_changed - was.bytes_changed, snapshot.patches_sent - net_was.patches_sent,
        snapshot.bytes_sent - net_was.bytes_sent,
        snapshot.patches_received - net_was.patches_received,
        snapshot.bytes_received - net_was.bytes_received,
        counters_.bytes_applied - was.bytes_applied, counters_.pages_merged - was.pages_merged,
        snapshot.peers.size(), snapshot.queue_bytes, engine_.size_bytes(),
        counters_.catchups_started - was.catchups_started,
        counters_.digest_rounds_deferred - was.digest_rounds_deferred,
        counters_.digest_rounds_coalesced - was.digest_rounds_coalesced);
    if (kernel_) {
      const auto& k = kernel_->stats();
      const auto& k_was = kernel_at_last_stats_;
      spdlog::info(
          "stats: tracking {}: {} kernel rounds ({} pages reported), {} hash rounds, {} audits "
          "({} audit findings); writers: {} kernel-tracked, {} hash-scanned; {} fallbacks; {} "
          "walks, {} skipped (no fault since the last)",
          kernel_->mode_name(), k.kernel_rounds - k_was.kernel_rounds,
          k.pages_reported - k_was.pages_reported, k.hash_rounds - k_was.hash_rounds,
          k.audits - k_was.audits, k.audit_findings - k_was.audit_findings, k.writers_kernel,
          k.writers_hash, k.fallbacks - k_was.fallbacks, k.walks - k_was.walks,
          k.walks_skipped - k_was.walks_skipped);
      kernel_at_last_stats_ = k;
    }
    counters_at_last_stats_ = counters_;
    mesh_at_last_stats_ = std::move(snapshot);
  }
}

}  // namespace wmd::daemon
