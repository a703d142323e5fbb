// Replicator: catch-up. Each peer's CatchupSession decides what to send; this file runs the
// engine calls it needs (through CatchupSource), the per-peer digest round limiter, and the
// hand-over of its messages to the network thread.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "daemon/main/replicator.hpp"
#include "daemon/main/wall_clock.hpp"

namespace wmd::daemon {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Catch-up steps (ReplicatorConfig::catchup_batch_bytes each) queued ahead per peer.
constexpr int kCatchupStepsInFlight = 4;

std::size_t digest_count(const std::vector<proto::Message>& messages) {
  std::size_t count = 0;
  for (const auto& message : messages) {
    if (const auto* digests = std::get_if<proto::Digests>(&message)) {
      count += digests->digests.size();
    }
  }
  return count;
}

}  // namespace

proto::CatchupSession Replicator::make_catchup_session() {
  proto::CatchupSource source;
  source.size_bytes = [this] { return engine_.size_bytes(); };
  source.zero_page_digest = [this] { return engine_.zero_page_digest(); };
  source.nonzero_digests = [this] { return engine_.nonzero_digests(); };
  // The replicated state, not absorbing the page's pending local changes first: those go to
  // every peer as the next scan's patch (once: the page is exported by then), and a round
  // saves a hash of every page it exports.
  source.export_pages = [this](std::span<const std::uint64_t> pages) {
    return proto::ExportBatch{engine_.replicated_stamped_states(pages), {}, {}};
  };
  return proto::CatchupSession(
      proto::CatchupConfig{config_.max_frame_bytes, config_.catchup_batch_bytes,
                           kCatchupStepsInFlight},
      std::move(source));
}

void Replicator::send_digests(net::SessionId id, bool reply_requested) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  send_catchup(id, it->second.catchup.request_digests(reply_requested));
}

void Replicator::owe_pages(net::SessionId id, const std::vector<std::uint64_t>& pages) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  PeerState& peer = it->second;
  spdlog::debug("catch-up to peer {}: {} pages owed after dropped patches", peer.peer_id,
                pages.size());
  const std::uint64_t round = peer.catchup.round();
  auto sends = peer.catchup.owe_pages(pages);
  if (peer.catchup.round() != round) {
    peer.round_started = Clock::now();
    peer.round_owed_only = true;
  }
  send_catchup(id, std::move(sends));
}

void Replicator::handle_digests(net::SessionId id, PeerState& peer, proto::Digests digests) {
  auto set = peer.catchup.receive_digests(std::move(digests));
  if (!set) return;
  // Growth at once, whether or not the round waits: it costs a comparison unless the segment
  // grows, and the peer's writes beyond our size (patches, page states) need the room now.
  if (!grow_for_peer(id, set->size_bytes, "digests")) return;
  // A round costs O(pages) of the engine thread, a request 14 bytes: the limiter lets each
  // peer have one round per gap, the newest set waiting for it.
  auto now_set = digest_rounds_.offer(id, std::move(*set), Clock::now());
  counters_.digest_rounds_deferred = digest_rounds_.deferred_total();
  counters_.digest_rounds_coalesced = digest_rounds_.coalesced_total();
  if (now_set) {
    run_digest_round(id, std::move(*now_set));
  } else {
    spdlog::trace("catch-up: digests from peer {} wait for their round", peer.peer_id);
  }
  schedule_digest_rounds();
}

void Replicator::run_digest_round(net::SessionId id, proto::DigestSet set) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  PeerState& peer = it->second;
  const auto started = Clock::now();
  peer.round_started = started;
  peer.round_owed_only = false;
  auto sends = peer.catchup.start_round(set);
  ++counters_.catchups_started;
  // Patches queued to the peer before this round on pages it will send: the states carry them
  // (each page crosses once). Posted behind every patch broadcast so far. Not when a page's
  // state might be too large for a frame (a small --max-frame): such a page is left out of
  // the round, and its patches are then the only way its changes travel.
  if (!peer.catchup.round_plan().empty() &&
      proto::every_page_state_fits(engine_.page_size(), config_.max_frame_bytes)) {
    post_to_net(
        [this, id, plan = peer.catchup.round_plan()] { mesh_->drop_patches_within(id, plan); });
  }
  // Patches absorbed before this round were held from the peer since its handshake (see
  // Mesh::broadcast): this round's plan, made from the peer's digests, has their pages. From
  // here on, a patch goes to the peer unless the round will still send its page.
  post_to_net([this, id] { mesh_->release_patches(id); });
  if (peer.catchup.round_page_count() > 0) {
    spdlog::info("catch-up to peer {}: sending {} pages", peer.peer_id,
                 peer.catchup.round_page_count());
  }
  send_catchup(id, std::move(sends));
  const auto ended = Clock::now();
  digest_rounds_.round_ran(id, ended, ended - started);
}

void Replicator::schedule_digest_rounds() {
  const auto due = digest_rounds_.next_due();
  if (due == digest_timer_due_) return;  // armed for it already (or nothing waits, as before)
  digest_timer_due_ = due;
  if (!due) {
    boost::system::error_code ignored;
    digest_timer_.cancel(ignored);
    return;
  }
  digest_timer_.expires_at(*due);  // cancels the wait for an earlier time, if any
  digest_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    digest_timer_due_.reset();
    for (auto& [id, set] : digest_rounds_.take_due(Clock::now())) {
      run_digest_round(id, std::move(set));
    }
    schedule_digest_rounds();
  });
}

void Replicator::send_catchup(net::SessionId id, std::vector<proto::CatchupSend> sends) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  PeerState& peer = it->second;
  spend_catchup_budget(peer);
  for (proto::CatchupSend& send : sends) {
    broadcast_patches(std::move(send.local_patches), id, send.absorbing_pages);
    for (const auto& oversized : send.oversized_pages) {
      ++errors_;
      last_error_ = "page " + std::to_string(oversized.page) + " does not fit a frame";
      spdlog::error(
          "catch-up to peer {}: page {} ({} version runs) does not fit --max-frame {}; "
          "not sent",
          peer.peer_id, oversized.page, oversized.version_runs, config_.max_frame_bytes);
    }
    if (send.kind == proto::CatchupSend::Kind::digests) {
      spdlog::debug("catch-up: sending {} digests in {} frames to session {}",
                    digest_count(send.messages), send.messages.size(), id);
    }
    if (send.round_finished) {
      ++counters_.catchups_completed;
      last_catchup_unix_ms_[peer.peer_id] = unix_ms();
      // Owed rounds come one per overflow while a peer's queue keeps overflowing: debug.
      if (peer.catchup.round_pages_sent() > 0) {
        spdlog::log(peer.round_owed_only ? spdlog::level::debug : spdlog::level::info,
                    "catch-up to peer {}: sent {} pages ({} bytes) in {} ms", peer.peer_id,
                    peer.catchup.round_pages_sent(), peer.catchup.round_bytes_sent(),
                    ms_since(peer.round_started));
      }
    }
    std::function<void()> on_sent = [this, id, kind = send.kind] {
      asio::post(engine_io_, [this, id, kind] { catchup_written(id, kind); });
    };
    // Encoding happens on the network thread (Mesh::send): an initial sync keeps both threads
    // busy, exporting here and encoding there.
    post_to_net(
        [this, id, messages = std::move(send.messages), on_sent = std::move(on_sent)]() mutable {
          mesh_->send(id, messages, std::move(on_sent));
        });
  }
}

void Replicator::catchup_written(net::SessionId id, proto::CatchupSend::Kind kind) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  if (!catchup_budget_allows(id, it->second, kind)) return;
  send_catchup(id, it->second.catchup.written(kind));
}

void Replicator::spend_catchup_budget(PeerState& peer) {
  const std::uint64_t round = peer.catchup.round();
  if (round != peer.budget_round) {
    peer.budget_round = round;
    peer.budget_bytes_spent = 0;
  }
  const std::uint64_t sent = peer.catchup.round_bytes_sent();
  // A session's first round is a joining or returning peer's catch-up: full speed.
  if (round > 1 && sent > peer.budget_bytes_spent) {
    peer.catchup_budget.spend(sent - peer.budget_bytes_spent, Clock::now());
  }
  peer.budget_bytes_spent = std::max(peer.budget_bytes_spent, sent);
}

bool Replicator::catchup_budget_allows(net::SessionId id, PeerState& peer,
                                       proto::CatchupSend::Kind kind) {
  if (kind != proto::CatchupSend::Kind::step || peer.catchup.round() <= 1) return true;
  const auto wait = peer.catchup_budget.wait_before(Clock::now());
  if (wait <= Clock::duration::zero()) return true;
  // The written step is remembered: its follow-up runs once the budget allows.
  ++peer.steps_deferred;
  if (peer.catchup_retry_armed) return false;
  if (!peer.catchup_retry) peer.catchup_retry = std::make_unique<asio::steady_timer>(engine_io_);
  peer.catchup_retry_armed = true;
  peer.catchup_retry->expires_after(wait);
  peer.catchup_retry->async_wait([this, id, kind](boost::system::error_code ec) {
    if (ec) return;
    auto it = peers_.find(id);
    if (it == peers_.end()) return;
    it->second.catchup_retry_armed = false;
    const int deferred = std::exchange(it->second.steps_deferred, 0);
    for (int i = 0; i < deferred; ++i) catchup_written(id, kind);
  });
  return false;
}

}  // namespace wmd::daemon
