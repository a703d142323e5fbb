#include "daemon/main/replicator.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <future>

#include "proto/codec.hpp"

namespace wmd::daemon {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Room left in a frame for the PageStates header and the peer table.
constexpr std::uint64_t kPageStatesSlackBytes = 4096;
// Catch-up steps (ReplicatorConfig::catchup_batch_bytes each) queued ahead per peer.
constexpr int kCatchupStepsInFlight = 4;
// What a message waiting for the engine thread costs beyond its wire bytes (the decoded
// message and the posted handler): the inbound backlog limit counts it, or a flood of tiny
// frames would queue millions of handlers under a limit meant for megabytes.
constexpr std::uint64_t kQueuedMessageOverheadBytes = sizeof(proto::Message) + 128;
// Least time between two timed scans that take kSlowScan or more, while a catch-up is moving
// pages (small segments scan in well under a millisecond and are never held back).
constexpr auto kCatchupScanInterval = std::chrono::milliseconds(1000);
constexpr auto kSlowScan = std::chrono::milliseconds(10);

std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

net::Frame encode_frame(const proto::Message& message) {
  return std::make_shared<const std::vector<std::uint8_t>>(proto::encode(message));
}

std::uint64_t ms_since(Clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
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
  engine_.on_diff([this](const Patch& patch) { broadcast(patch, proto::MessageType::patch); });
  engine_.on_growth([this](std::uint64_t size_bytes) {
    spdlog::info("segment grew to {} bytes", size_bytes);
    broadcast(proto::Growth{size_bytes}, proto::MessageType::growth);
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
  callbacks.on_overflow = [this](net::SessionId id) {
    asio::post(engine_io_, [this, id] {
      if (peers_.count(id) != 0) send_digests(id, /*reply_requested=*/true);
    });
  };
  callbacks.inbound_backlog_bytes = [this] { return inbound_backlog_bytes_.load(); };
  return callbacks;
}

void Replicator::start() {
  next_scan_ = Clock::now();
  last_stats_ = Clock::now();
  asio::post(engine_io_, [this] {
    schedule_scan();
    schedule_status();
  });
  thread_ = std::thread([this] { engine_io_.run(); });
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
    scan_now("flush");
    post_to_net([this, ticket] {
      if (hooks_.flush_completed) hooks_.flush_completed(ticket);
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

void Replicator::broadcast(proto::Message message, proto::MessageType type) {
  auto frame = encode_frame(message);
  post_to_net([this, frame = std::move(frame), type] { mesh_->broadcast(frame, type); });
}

// --- scanning ------------------------------------------------------------------------------

bool Replicator::catchup_active() const {
  for (const auto& [id, peer] : peers_) {
    if (!peer.done_sent || peer.pages_received > 0) return true;
  }
  return false;
}

void Replicator::schedule_scan() {
  if (config_.scan_interval.count() == 0) return;
  auto earliest = next_scan_ + config_.scan_interval;
  // A hash scan reads the whole segment: on a large one, keep it to about a quarter of a core,
  // and while a catch-up moves pages, leave the cores to the catch-up.
  earliest = std::max(earliest, last_scan_end_ + 3 * last_scan_duration_);
  if (last_scan_duration_ >= kSlowScan && catchup_active()) {
    earliest = std::max({earliest, last_scan_end_ + kCatchupScanInterval,
                         last_scan_end_ + 8 * last_scan_duration_});
  }
  next_scan_ = std::max(earliest, Clock::now());
  scan_timer_.expires_at(next_scan_);
  scan_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    scan_now("timer");
    schedule_scan();
  });
}

void Replicator::scan_now(const char* why, bool full_hash) {
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
  tracker::scan_round(engine_, detector, started, &stats);
  if (kernel_round) log_kernel_round(stats);
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
  publish_hello_if_changed();
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

// --- peers ---------------------------------------------------------------------------------

void Replicator::on_established(const net::SessionInfo& info, const proto::Hello& hello) {
  auto& peer = peers_[info.id];
  peer.peer_id = info.peer_id;
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
  peers_.erase(id);
  digest_rounds_.close(id);
}

bool Replicator::grow_for_peer(net::SessionId id, std::uint64_t size_bytes, const char* what) {
  if (size_bytes <= engine_.size_bytes()) return true;
  if (auto grown = engine_.resize(size_bytes); !grown.ok()) {
    fail_peer(id, grown.error(),
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
      fail_peer(id, applied.error(), "applying a patch");
      return;
    }
    ++counters_.patches_applied;
    counters_.bytes_applied += applied->bytes_written;
    peer.applied_anything = peer.applied_anything || applied->bytes_written > 0;
    if (applied->bytes_written > 0 || applied->grew) remote_changes_applied();
  } else if (auto* growth = std::get_if<proto::Growth>(&message)) {
    grow_for_peer(id, growth->size_bytes, "growth");
  } else if (auto* digests = std::get_if<proto::Digests>(&message)) {
    handle_digests(id, peer, std::move(*digests));
  } else if (auto* states = std::get_if<proto::PageStates>(&message)) {
    bool changed = false;
    for (const auto& state : states->pages) {
      auto merged = engine_.merge_page(state);
      if (!merged.ok()) {
        fail_peer(id, merged.error(), "merging page " + std::to_string(state.page_index));
        return;
      }
      ++peer.pages_received;
      peer.bytes_received += state.bytes.size();
      ++counters_.pages_merged;
      changed = changed || merged->bytes_taken > 0 || merged->grew;
    }
    peer.applied_anything = peer.applied_anything || changed;
    if (changed) remote_changes_applied();
  } else if (auto* done = std::get_if<proto::CatchupDone>(&message)) {
    if (peer.pages_received > 0 || done->pages_sent > 0) {
      spdlog::info("catch-up from peer {}: received {} pages ({} bytes)", peer.peer_id,
                   peer.pages_received, peer.bytes_received);
    } else {
      spdlog::debug("catch-up from peer {}: nothing to receive", peer.peer_id);
    }
    peer.pages_received = 0;
    peer.bytes_received = 0;
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

// --- catch-up ------------------------------------------------------------------------------

void Replicator::send_digests(net::SessionId id, bool reply_requested) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  PeerState& peer = it->second;
  // At most one set of our digests queued per peer: a peer asking for replies faster than
  // it reads them (tiny request, whole digest set in reply, control frames never dropped)
  // would otherwise grow its send queue without bound. A request made meanwhile is served
  // once the queued set is written, with fresher digests.
  if (peer.digests_unsent) {
    peer.digests_again = true;
    peer.digests_again_reply = peer.digests_again_reply || reply_requested;
    return;
  }
  peer.digests_unsent = true;
  const auto digests = engine_.nonzero_digests();
  const auto chunks =
      net::chunk_digests(engine_.size_bytes(), digests,
                         net::digests_per_frame(config_.max_frame_bytes), reply_requested);
  std::vector<net::Frame> frames;
  frames.reserve(chunks.size());
  for (const auto& chunk : chunks) frames.push_back(encode_frame(chunk));
  spdlog::debug("catch-up: sending {} digests in {} frames to session {}{}", digests.size(),
                frames.size(), id, reply_requested ? " (reply requested)" : "");
  auto on_sent = [this, id] { asio::post(engine_io_, [this, id] { digests_sent(id); }); };
  post_to_net([this, id, frames = std::move(frames), on_sent = std::move(on_sent)]() mutable {
    mesh_->send(id, std::move(frames), std::move(on_sent));
  });
}

void Replicator::digests_sent(net::SessionId id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  PeerState& peer = it->second;
  peer.digests_unsent = false;
  if (!peer.digests_again) return;
  const bool reply = peer.digests_again_reply;
  peer.digests_again = false;
  peer.digests_again_reply = false;
  send_digests(id, reply);
}

void Replicator::handle_digests(net::SessionId id, PeerState& peer, proto::Digests digests) {
  auto set = peer.incoming_digests.add(std::move(digests));
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

void Replicator::run_digest_round(net::SessionId id, net::DigestSet set) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  const auto started = Clock::now();
  auto pages =
      net::plan_pages_to_send(engine_.nonzero_digests(), set.digests, engine_.zero_page_digest());
  if (set.reply_requested) send_digests(id, /*reply_requested=*/false);
  start_catchup(id, it->second, std::move(pages));
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

void Replicator::start_catchup(net::SessionId id, PeerState& peer,
                               std::vector<std::uint64_t> pages) {
  ++peer.round;
  peer.pages = std::move(pages);
  peer.next_page = 0;
  peer.done_sent = false;
  peer.round_pages_sent = 0;
  peer.round_bytes_sent = 0;
  peer.round_started = Clock::now();
  ++counters_.catchups_started;
  if (!peer.pages.empty()) {
    spdlog::info("catch-up to peer {}: sending {} pages", peer.peer_id, peer.pages.size());
  }
  // Several steps in flight, so that the socket never waits for the next one to be exported.
  for (int i = 0; i < kCatchupStepsInFlight; ++i) send_catchup_step(id, peer.round);
}

void Replicator::send_catchup_step(net::SessionId id, std::uint64_t round) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  PeerState& peer = it->second;
  if (peer.round != round || peer.done_sent) return;
  // Steps in flight are counted across rounds: a peer asking for round after round (each
  // Digests frame starts one) must not get a new batch of steps queued per request.
  if (peer.steps_in_flight >= kCatchupStepsInFlight) return;
  // Exporting needs the engine; encoding does not, so it happens on the network thread, and
  // an initial sync keeps both threads busy.
  const std::uint64_t frame_budget = config_.max_frame_bytes - kPageStatesSlackBytes;
  std::vector<proto::Message> messages;
  proto::PageStates current;
  std::uint64_t current_bytes = 0;
  std::uint64_t step_bytes = 0;
  while (peer.next_page < peer.pages.size() && step_bytes < config_.catchup_batch_bytes) {
    const std::uint64_t page = peer.pages[peer.next_page++];
    auto state = engine_.export_page(page);
    if (!state.ok()) continue;  // out of range: nothing to send
    const std::uint64_t size = net::page_state_wire_bytes(*state);
    if (size > frame_budget) {
      ++errors_;
      last_error_ = "page " + std::to_string(page) + " does not fit a frame";
      spdlog::error(
          "catch-up to peer {}: page {} ({} version runs) does not fit --max-frame {}; "
          "not sent",
          peer.peer_id, page, state->versions.size(), config_.max_frame_bytes);
      continue;
    }
    if (!current.pages.empty() && current_bytes + size > frame_budget) {
      messages.emplace_back(std::move(current));
      current = {};
      current_bytes = 0;
    }
    current_bytes += size;
    step_bytes += size;
    peer.round_bytes_sent += state->bytes.size();
    ++peer.round_pages_sent;
    current.pages.push_back(std::move(*state));
  }
  if (!current.pages.empty()) messages.emplace_back(std::move(current));

  ++peer.steps_in_flight;
  std::function<void()> on_sent = [this, id] {
    asio::post(engine_io_, [this, id] { catchup_step_sent(id); });
  };
  if (peer.next_page >= peer.pages.size()) {
    peer.done_sent = true;
    ++counters_.catchups_completed;
    last_catchup_unix_ms_[peer.peer_id] = unix_ms();
    messages.emplace_back(proto::CatchupDone{peer.round_pages_sent});
    if (peer.round_pages_sent > 0) {
      spdlog::info("catch-up to peer {}: sent {} pages ({} bytes) in {} ms", peer.peer_id,
                   peer.round_pages_sent, peer.round_bytes_sent, ms_since(peer.round_started));
    }
  }
  post_to_net([this, id, messages = std::move(messages), on_sent = std::move(on_sent)]() mutable {
    std::vector<net::Frame> frames;
    frames.reserve(messages.size());
    for (const auto& message : messages) frames.push_back(encode_frame(message));
    mesh_->send(id, std::move(frames), std::move(on_sent));
  });
}

void Replicator::catchup_step_sent(net::SessionId id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  --it->second.steps_in_flight;
  send_catchup_step(id, it->second.round);
}

// --- status and stats ----------------------------------------------------------------------

void Replicator::schedule_status() {
  status_timer_.expires_after(config_.status_interval);
  status_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    post_to_net([this] {
      auto snapshot = mesh_->snapshot();
      asio::post(engine_io_, [this, snapshot = std::move(snapshot)]() mutable {
        on_status(std::move(snapshot));
      });
    });
    schedule_status();
  });
}

void Replicator::on_status(net::MeshSnapshot snapshot) {
  // The tracker this replicator runs; status block and metrics must say the same.
  const std::string tracking_mode = kernel_ ? std::string(kernel_->mode_name()) : "hash";
  if (hooks_.publish_status) {
    SegmentStatus status;
    status.lamport = engine_.lamport();
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
          "({} audit findings); writers: {} kernel-tracked, {} hash-scanned; {} fallbacks",
          kernel_->mode_name(), k.kernel_rounds - k_was.kernel_rounds,
          k.pages_reported - k_was.pages_reported, k.hash_rounds - k_was.hash_rounds,
          k.audits - k_was.audits, k.audit_findings - k_was.audit_findings, k.writers_kernel,
          k.writers_hash, k.fallbacks - k_was.fallbacks);
      kernel_at_last_stats_ = k;
    }
    counters_at_last_stats_ = counters_;
    mesh_at_last_stats_ = std::move(snapshot);
  }
}

}  // namespace wmd::daemon
