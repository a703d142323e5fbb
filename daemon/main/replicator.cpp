#include "daemon/main/replicator.hpp"

#include <spdlog/spdlog.h>

#include <pthread.h>

#include <boost/asio/post.hpp>
#include <future>

#include "daemon/main/wall_clock.hpp"
#include "engine/hlc.hpp"

namespace wmd::daemon {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// What a message waiting for the engine thread costs beyond its wire bytes (the decoded
// message and the posted handler): the inbound backlog limit counts it, or a flood of tiny
// frames would queue millions of handlers under a limit meant for megabytes.
constexpr std::uint64_t kQueuedMessageOverheadBytes = sizeof(proto::Message) + 128;

// Peer ids other than its own that one session may introduce to this replica. A legitimate
// catch-up names every id that owns bytes; a session over the cap is refused and reconnects,
// having stored what it sent before, so a mesh with more writers still converges, slower.
constexpr std::size_t kMaxNewIdsPerSession = 64;

// Errors that mean the peer broke one of the bounds on what a peer may claim (issue 11).
bool is_bound_refusal(std::error_code error) {
  return error == errc::not_a_member || error == errc::too_fragmented ||
         error == errc::pool_share_exceeded || error == errc::too_many_new_ids;
}

}  // namespace

Replicator::Replicator(Engine& engine, asio::io_context& net_io, ReplicatorConfig config,
                       SegmentHooks hooks)
    : engine_(engine),
      net_io_(net_io),
      config_(config),
      hooks_(std::move(hooks)),
      hash_detector_(config.parallel_scan_threshold_bytes),
      work_(engine_io_.get_executor()),
      scan_timer_(engine_io_),
      status_timer_(engine_io_),
      digest_timer_(engine_io_) {
  if (config_.kernel_tracking && hooks_.writers) {
    kernel_.emplace(kernel::KernelTrackerConfig{engine_.page_size(), config_.audit_interval, true});
    kernel_detector_.emplace(*kernel_, hash_detector_, hooks_.writers);
  }
  engine_.on_growth([this](std::uint64_t size_bytes) {
    spdlog::info("segment grew to {} bytes", size_bytes);
    broadcast(proto::Growth{size_bytes});
  });
  published_lamport_ = engine_.lamport();
  published_size_ = engine_.size_bytes();
}

Replicator::~Replicator() {
  stop();
}

proto::Hello Replicator::initial_hello() const {
  proto::Hello hello;
  hello.size_bytes = engine_.size_bytes();
  hello.lamport = engine_.lamport();
  hello.clock = engine_.vector_clock();
  return hello;
}

net::MeshCallbacks Replicator::mesh_callbacks() {
  net::MeshCallbacks callbacks;
  callbacks.on_established = [this](const net::SessionInfo& info, const proto::Hello& hello) {
    asio::post(engine_io_, [this, info, hello] { on_established(info, hello); });
  };
  callbacks.on_message = [this](net::SessionId id, proto::Message message,
                                std::uint64_t frame_bytes) {
    const std::uint64_t cost = frame_bytes + kQueuedMessageOverheadBytes;
    inbound_backlog_bytes_ += cost;
    asio::post(engine_io_, [this, id, message = std::move(message), cost]() mutable {
      on_message(id, std::move(message));
      inbound_backlog_bytes_ -= cost;
    });
  };
  callbacks.on_closed = [this](net::SessionId id) {
    asio::post(engine_io_, [this, id] { on_closed(id); });
  };
  callbacks.on_overflow = [this](net::SessionId id, net::DroppedBroadcasts dropped) {
    asio::post(engine_io_, [this, id, dropped = std::move(dropped)] {
      // A dropped Growth has no pages to resend: a whole round (digests both ways) finds
      // what the peer lacks. Dropped patches: their pages' states, each once.
      if (dropped.unpaged) {
        send_digests(id, /*reply_requested=*/true);
      } else {
        owe_pages(id, dropped.pages);
      }
    });
  };
  callbacks.inbound_backlog_bytes = [this] { return inbound_backlog_bytes_.load(); };
  return callbacks;
}

void Replicator::start() {
  next_scan_ = Clock::now();
  next_status_ = Clock::now();
  last_stats_ = Clock::now();
  asio::post(engine_io_, [this] {
    schedule_scan();
    arm_status_timer_unless_scans_come();
  });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "wmdd-engine");  // for top -H and perf --comm
    engine_io_.run();
  });
}

void Replicator::stop() {
  if (!thread_.joinable()) return;
  asio::post(engine_io_, [this] {
    boost::system::error_code ignored;
    scan_timer_.cancel(ignored);
    status_timer_.cancel(ignored);
    digest_timer_.cancel(ignored);
    work_.reset();
    engine_io_.stop();
  });
  thread_.join();
}

void Replicator::run_on_engine_thread(const std::function<void(Engine&)>& fn) {
  std::promise<void> done;
  asio::post(engine_io_, [&] {
    fn(engine_);
    done.set_value();
  });
  done.get_future().wait();
}

void Replicator::request_flush(std::uint32_t ticket) {
  asio::post(engine_io_, [this, ticket] {
    const bool pending = scan_now("flush") > 0;
    post_to_net([this, ticket, pending] {
      if (hooks_.flush_completed) hooks_.flush_completed(ticket, pending);
    });
  });
}

void Replicator::final_scan(std::function<void()> done) {
  asio::post(engine_io_, [this, done = std::move(done)]() mutable {
    scan_now("shutdown", /*full_hash=*/true);
    post_to_net(std::move(done));
  });
}

void Replicator::post_to_net(std::function<void()> fn) {
  asio::post(net_io_, std::move(fn));
}

void Replicator::broadcast(proto::Message message) {
  post_to_net([this, message = std::move(message)] { mesh_->broadcast(message); });
}

void Replicator::broadcast_patches(std::vector<Patch> patches, net::SessionId step_peer,
                                   std::span<const std::uint64_t> carried) {
  // A peer catching up gets the pages its round has yet to export in that export, which reads
  // the page when it goes: the patch's bytes there (or newer ones) travel once, in the page
  // state. A round replaced by a new one plans again from the peer's digests, which lack what
  // was held back, so nothing is lost.
  for (Patch& patch : patches) {
    std::vector<net::Mesh::MessageOverride> overrides;
    for (auto& [id, peer] : peers_) {
      Patch kept;
      const auto cut =
          peer.catchup.cut_live_patch(patch, engine_.page_size(), kept,
                                      id == step_peer ? carried : std::span<const std::uint64_t>{});
      if (cut == proto::PatchCut::part) overrides.push_back({id, proto::Message(std::move(kept))});
      if (cut == proto::PatchCut::none) overrides.push_back({id, std::nullopt});
    }
    post_to_net([this, message = proto::Message(std::move(patch)),
                 overrides = std::move(overrides)] { mesh_->broadcast(message, overrides); });
  }
}

// --- peers ---------------------------------------------------------------------------------

void Replicator::on_established(const net::SessionInfo& info, const proto::Hello& hello) {
  peers_.erase(info.id);
  auto [peer, added] = peers_.try_emplace(info.id, info.peer_id, make_catchup_session());
  (void)added;
  peer->second.catchup_budget = ByteRateBudget(config_.catchup_rate_bytes);
  if (Status s = engine_.check_remote_timestamp(hello.lamport); !s) {
    refuse_peer(info.id, s.error().code(), "hello clock " + skew_text(hello.lamport));
    return;
  }
  if (!grow_for_peer(info.id, hello.size_bytes, "hello")) return;
  send_digests(info.id, /*reply_requested=*/false);
}

void Replicator::on_closed(net::SessionId id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  const bool resync = it->second.applied_anything;
  const std::string peer_id = it->second.peer_id;
  peers_.erase(it);
  digest_rounds_.close(id);
  // We do not relay patches (in a full mesh every peer hears the origin itself), so when a
  // peer leaves, what it sent us may not have reached the others: a peer that crashed between
  // two sends, or a client connected to us alone. A catch-up round in both directions with
  // everyone else closes that gap.
  if (!resync || peers_.empty()) return;
  spdlog::debug("peer {} left after sending us changes: resyncing {} other peers", peer_id,
                peers_.size());
  for (const auto& [other, state] : peers_) send_digests(other, /*reply_requested=*/true);
}

void Replicator::fail_peer(net::SessionId id, std::error_code error, const std::string& what) {
  auto it = peers_.find(id);
  const std::string peer_id = it == peers_.end() ? std::string("?") : it->second.peer_id;
  ++errors_;
  last_error_ = "peer " + peer_id + ": " + what + ": " + error.message();
  const auto code =
      error.category() == wmd_category() ? static_cast<errc>(error.value()) : errc::io_error;
  const std::string detail = what + ": " + error.message();
  post_to_net([this, id, code, detail] { mesh_->close_session(id, code, detail); });
  const bool resync = it != peers_.end() && it->second.applied_anything;
  peers_.erase(id);
  digest_rounds_.close(id);
  // As when a peer leaves (on_closed(), which will not find this one): what it sent us
  // before the refusal may not have reached the others.
  if (resync) {
    for (const auto& [other, state] : peers_) send_digests(other, /*reply_requested=*/true);
  }
}

void Replicator::refuse_peer(net::SessionId id, std::error_code error, const std::string& what) {
  auto it = peers_.find(id);
  const std::string peer_id = it == peers_.end() ? std::string("?") : it->second.peer_id;
  if (error == errc::clock_skew) {
    ++counters_.clock_skew_refusals;
  } else {
    ++counters_.bound_refusals;
  }
  if (refusal_logged_.insert(peer_id).second) {
    spdlog::warn("refusing peer {}: {}: {} (logged once per peer; counted in status and metrics)",
                 peer_id, what, error.message());
  } else {
    spdlog::debug("refusing peer {} again: {}: {}", peer_id, what, error.message());
  }
  fail_peer(id, error, what);
}

std::optional<std::string> Replicator::new_ids_over_cap(PeerState& peer,
                                                        const proto::PageStates& states) {
  // The frame's peer table (decoder-checked: exactly the ids its runs name), a few entries
  // where the runs are millions in a 1 GiB catch-up.
  for (const PeerId& owner_id : proto::peers_named_by(states)) {
    if (owner_id == std::string_view(peer.peer_id)) continue;
    const std::string owner = owner_id.str();
    if (engine_.knows_peer(owner)) continue;
    if (!peer.introduced_ids.insert(owner).second) continue;
    if (peer.introduced_ids.size() > kMaxNewIdsPerSession) {
      return "page states name id '" + owner + "', new id number " +
             std::to_string(peer.introduced_ids.size()) + " of this session (at most " +
             std::to_string(kMaxNewIdsPerSession) + ")";
    }
  }
  return std::nullopt;
}

std::string Replicator::skew_text(std::uint64_t hlc) const {
  const std::uint64_t now_ms = engine_.wall_clock_ms();
  return "timestamp " + std::to_string(hlc_wall_ms(hlc)) + " ms (+" +
         std::to_string(hlc_logical(hlc)) + ") is " + std::to_string(hlc_ahead_ms(hlc, now_ms)) +
         " ms ahead of this host's clock (" + std::to_string(now_ms) +
         " ms), more than --max-clock-offset allows";
}

bool Replicator::grow_for_peer(net::SessionId id, std::uint64_t size_bytes, const char* what) {
  if (size_bytes <= engine_.size_bytes()) return true;
  if (auto grown = engine_.resize(size_bytes); !grown.ok()) {
    fail_peer(id, grown.error().code(),
              std::string("growth to ") + std::to_string(size_bytes) + " bytes from " + what);
    return false;
  }
  remote_changes_applied();
  return true;
}

void Replicator::on_message(net::SessionId id, proto::Message message) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;  // the session ended; what it sent no longer matters
  PeerState& peer = it->second;
  if (auto* patch = std::get_if<Patch>(&message)) {
    if (patch->origin != peer.peer_id) {
      // Patches are never relayed: each origin sends its own. Refusing others' keeps a peer
      // from speaking for ids it made up (each would take a slot of every replica's peer
      // table once catch-up spreads its bytes).
      fail_peer(id, make_error_code(errc::malformed),
                "patch of origin '" + patch->origin + "' on the session of peer '" + peer.peer_id +
                    "' (patches are not relayed)");
      return;
    }
    auto applied = engine_.apply(*patch);
    if (!applied.ok()) {
      if (applied.error().code() == errc::clock_skew) {
        refuse_peer(id, applied.error().code(), "patch " + skew_text(patch->lamport));
      } else if (is_bound_refusal(applied.error().code())) {
        refuse_peer(id, applied.error().code(), "patch seq " + std::to_string(patch->seq));
      } else {
        fail_peer(id, applied.error().code(), "applying a patch");
      }
      return;
    }
    ++counters_.patches_applied;
    counters_.bytes_applied += applied->bytes_written;
    broadcast_patches(std::move(applied->local_patches));
    peer.applied_anything = peer.applied_anything || applied->bytes_written > 0;
    if (applied->bytes_written > 0 || applied->grew) remote_changes_applied();
  } else if (auto* growth = std::get_if<proto::Growth>(&message)) {
    grow_for_peer(id, growth->size_bytes, "growth");
  } else if (auto* digests = std::get_if<proto::Digests>(&message)) {
    handle_digests(id, peer, std::move(*digests));
  } else if (auto* states = std::get_if<proto::PageStates>(&message)) {
    if (auto over = new_ids_over_cap(peer, *states)) {
      refuse_peer(id, make_error_code(errc::too_many_new_ids), *over);
      return;  // before anything of the frame was merged
    }
    // One call for the frame: never-written pages are written in one batch.
    auto merged = states->stamped.pages.empty() ? engine_.merge_pages(states->pages)
                                                : engine_.merge_pages(states->stamped);
    if (!merged.ok()) {
      // The states before the failing one were merged: local clients and the other peers
      // must hear of them (fail_peer() resyncs the others when applied_anything is set).
      peer.applied_anything = true;
      remote_changes_applied();
      if (merged.error().code() == errc::clock_skew) {
        std::uint64_t newest = 0;
        for (const auto& state : states->pages) {
          for (const auto& run : state.versions) newest = std::max(newest, run.ts.lamport);
        }
        for (const auto& ts : states->stamped.stamps) newest = std::max(newest, ts.lamport);
        refuse_peer(id, merged.error().code(), "page states: " + skew_text(newest));
      } else if (is_bound_refusal(merged.error().code())) {
        refuse_peer(id, merged.error().code(), "page states");
      } else {
        fail_peer(id, merged.error().code(), "merging page states");
      }
      return;
    }
    broadcast_patches(std::move(merged->local_patches));
    for (const auto& state : states->pages) peer.catchup.page_state_received(state.bytes.size());
    for (const auto& state : states->stamped.pages) {
      peer.catchup.page_state_received(state.bytes.size());
    }
    counters_.pages_merged += proto::page_state_count(*states);
    const bool changed = merged->bytes_taken > 0 || merged->grew;
    peer.applied_anything = peer.applied_anything || changed;
    if (changed) remote_changes_applied();
  } else if (auto* done = std::get_if<proto::CatchupDone>(&message)) {
    const proto::ReceivedRound received = peer.catchup.catchup_done_received();
    if (received.pages > 0 || done->pages_sent > 0) {
      // Rounds of owed pages come one per overflow of the peer's send queue, back to back and
      // small: those are debug.
      constexpr std::uint64_t kInfoRoundBytes = 1u << 20;
      spdlog::log(received.bytes >= kInfoRoundBytes ? spdlog::level::info : spdlog::level::debug,
                  "catch-up from peer {}: received {} pages ({} bytes)", peer.peer_id,
                  received.pages, received.bytes);
    } else {
      spdlog::debug("catch-up from peer {}: nothing to receive", peer.peer_id);
    }
    last_catchup_unix_ms_[peer.peer_id] = unix_ms();
  }
  // Hello, Heartbeat and Error never reach here (the connection handles them).
}

void Replicator::remote_changes_applied() {
  last_sync_unix_ms_ = unix_ms();
  if (notify_posted_) return;
  notify_posted_ = true;
  // Runs after the messages already queued: one wake-up for a burst of patches.
  asio::post(engine_io_, [this] {
    notify_posted_ = false;
    if (hooks_.notify_remote_applied) hooks_.notify_remote_applied();
    publish_hello_if_changed();
  });
}

}  // namespace wmd::daemon
