// Replicator: wires the engine to the mesh. It owns the engine thread (its own io_context):
// timed and requested scans, applying what peers send, the catch-up rounds, growth, status and
// stats. Every engine call returns the local patches it produced, which the replicator hands
// to the network thread as messages (encoded there, by the Mesh); the Mesh's callbacks post
// back here. The segment is reached through SegmentHooks, so tests can run a replicator over
// heap memory.
//
// Files: replicator.cpp (threads, peers, inbound messages), replicator_scan.cpp (change
// rounds), replicator_catchup.cpp (digest rounds and the CatchupSession of each peer),
// replicator_status.cpp (status block, metrics counters, stats lines).
//
// Thread-safety: the public methods are safe from any thread unless noted; everything else
// runs on the engine thread, which alone touches the Engine after start().
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "daemon/main/byte_rate_budget.hpp"
#include "daemon/main/digest_round_limiter.hpp"
#include "daemon/main/metrics.hpp"
#include "daemon/net/mesh.hpp"
#include "daemon/segment/segment.hpp"
#include "daemon/tracker/hash_change_detector.hpp"
#include "daemon/tracker/kernel/kernel_change_detector.hpp"
#include "daemon/tracker/kernel/kernel_tracker.hpp"
#include "engine/engine.hpp"
#include "proto/catchup_session.hpp"

namespace wmd::daemon {

struct ReplicatorConfig {
  std::chrono::milliseconds scan_interval{100};  // 0: only on request_flush()
  std::uint32_t max_frame_bytes = proto::kDefaultMaxFrameBytes;
  // Page states prepared per catch-up step; a few steps are kept queued per peer.
  std::uint64_t catchup_batch_bytes = 2ull << 20;
  std::chrono::seconds stats_interval{10};  // 0: no stats line
  std::chrono::milliseconds status_interval{1000};
  std::uint64_t parallel_scan_threshold_bytes = 64ull << 20;
  // Kernel dirty tracking (wmd::kernel::decide_tracking said so): scans hash only the pages the
  // registered writers' kernels report, with a full audit every audit_interval. Needs
  // SegmentHooks::writers.
  bool kernel_tracking = false;
  std::chrono::milliseconds audit_interval{10'000};
  // Catch-up bytes per second to one peer after its session's first round (0: unlimited).
  std::uint64_t catchup_rate_bytes = 0;
};

// The segment's side. Empty functions are skipped.
struct SegmentHooks {
  std::function<std::uint64_t()> control_size_bytes;         // engine thread
  std::function<void()> notify_remote_applied;               // engine thread
  std::function<void(const SegmentStatus&)> publish_status;  // engine thread
  // network thread; changes_pending: local changes the flush's scan could not stamp
  std::function<void(std::uint32_t ticket, bool changes_pending)> flush_completed;
  std::function<std::vector<WriterRecord>()> writers;  // engine thread: the registry
};

class Replicator {
 public:
  // REQUIRES: engine and net_io outlive the replicator; the caller makes no other engine call
  // between start() and stop().
  Replicator(Engine& engine, boost::asio::io_context& net_io, ReplicatorConfig config,
             SegmentHooks hooks);
  ~Replicator();  // stops the engine thread
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Callbacks for the Mesh: they post to the engine thread.
  net::MeshCallbacks mesh_callbacks();
  // The initial Hello contents (size, lamport, clock). REQUIRES: before start().
  proto::Hello initial_hello() const;
  // REQUIRES: before start(); mesh lives on the network thread until stop().
  void attach(net::Mesh& mesh) { mesh_ = &mesh; }

  void start();
  // A client rang the flush doorbell: scan now; flush_completed(ticket) once the patches are
  // queued to every peer.
  void request_flush(std::uint32_t ticket);
  // A last scan, whose patches are queued before `done` runs on the network thread.
  void final_scan(std::function<void()> done);
  // Stops and joins the engine thread. Idempotent.
  void stop();

  // The totals as of the last status update (about once a second); safe from any thread.
  DaemonCounters counters() const { return board_.read(); }

  // For tests: runs fn on the engine thread and waits for it.
  void run_on_engine_thread(const std::function<void(Engine&)>& fn);

 private:
  // What the engine thread knows of one established session.
  struct PeerState {
    PeerState(std::string id, proto::CatchupSession session)
        : peer_id(std::move(id)), catchup(std::move(session)) {}
    std::string peer_id;
    proto::CatchupSession catchup;
    std::chrono::steady_clock::time_point round_started;  // our latest round towards it
    bool round_owed_only = false;  // that round began with owed pages, not the peer's digests
    // Rounds after the session's first spend this budget (--catchup-rate): the next step of a
    // round waits for it, on catchup_retry.
    ByteRateBudget catchup_budget;
    std::uint64_t budget_round = 0;        // the round budget_bytes_spent counts
    std::uint64_t budget_bytes_spent = 0;  // of that round's bytes, already spent
    std::unique_ptr<boost::asio::steady_timer> catchup_retry;
    bool catchup_retry_armed = false;
    int steps_deferred = 0;  // written steps whose follow-up waits for the budget
    // We applied something this peer sent: when it leaves, the others may lack it.
    bool applied_anything = false;
    // Peer ids other than its own that this session's page states named while this replica
    // did not know them (capped: kMaxNewIdsPerSession).
    std::set<std::string> introduced_ids;
  };

  // Engine thread.
  // full_hash: hash every page whatever the kernel says (shutdown: writers that never
  // registered may have written since the last audit).
  // Returns how many changed pages stayed pending (could not be stamped).
  std::uint64_t scan_now(const char* why, bool full_hash = false);
  void log_kernel_round(const ScanStats& stats);  // the kernel detector's round just scanned
  void schedule_scan();
  // When the catch-up hold (see replicator_scan.cpp) lets the next timed scan run; min() if none.
  std::chrono::steady_clock::time_point scan_hold_end() const;
  // A round of kBulkRoundBytes or more is moving pages (either way) / filling this replica.
  bool bulk_catchup_active() const;
  bool bulk_catchup_receiving() const;
  void on_established(const net::SessionInfo& info, const proto::Hello& hello);
  void on_closed(net::SessionId id);
  void on_message(net::SessionId id, proto::Message message);
  void handle_digests(net::SessionId id, PeerState& peer, proto::Digests digests);
  // One catch-up round for a complete digest set the limiter let through.
  void run_digest_round(net::SessionId id, proto::DigestSet set);
  void schedule_digest_rounds();
  void send_digests(net::SessionId id, bool reply_requested);
  // The peer's patches on these pages were dropped (send queue overflow): send their states.
  void owe_pages(net::SessionId id, const std::vector<std::uint64_t>& pages);
  // Queues what the peer's CatchupSession returned (and the local patches its exports made).
  void send_catchup(net::SessionId id, std::vector<proto::CatchupSend> sends);
  // Spends what the peer's current round sent since the last call (rounds after the first).
  void spend_catchup_budget(PeerState& peer);
  // False when the peer's budget must be waited out before its next step (a retry is armed).
  bool catchup_budget_allows(net::SessionId id, PeerState& peer, proto::CatchupSend::Kind kind);
  void catchup_written(net::SessionId id, proto::CatchupSend::Kind kind);
  proto::CatchupSession make_catchup_session();
  void fail_peer(net::SessionId id, std::error_code error, const std::string& what);
  // Counts the ids new to this replica that a page states frame names (its decoded peer
  // table); once the session has introduced more than kMaxNewIdsPerSession, says why it is
  // refused.
  std::optional<std::string> new_ids_over_cap(PeerState& peer, const proto::PageStates& states);
  // fail_peer() for a peer that broke a bound (clock offset, membership, fragmentation, new
  // ids): counted, and logged at warn once per peer id (a peer that reconnects and does it
  // again is logged at debug).
  void refuse_peer(net::SessionId id, std::error_code error, const std::string& what);
  // What a clock_skew refusal says: how far ahead the peer's timestamp is.
  std::string skew_text(std::uint64_t hlc) const;
  bool grow_for_peer(net::SessionId id, std::uint64_t size_bytes, const char* what);
  void remote_changes_applied();
  void publish_hello_if_changed();
  // The status block, published counters and stats lines start from the timed scans, so that
  // no timer of their own wakes an idle engine thread; the status timer is armed only while no
  // scan comes by the time the next status is due (scans off, or held back by a catch-up).
  void publish_status_if_due();
  void arm_status_timer_unless_scans_come();
  void on_status(net::MeshSnapshot snapshot);
  void broadcast(proto::Message message);
  // Local patches to every peer, less what a catching-up peer's round will export (see
  // CatchupSession::cut_live_patch); `step_peer`'s step already carries `carried` pages.
  void broadcast_patches(std::vector<Patch> patches, net::SessionId step_peer = 0,
                         std::span<const std::uint64_t> carried = {});
  void post_to_net(std::function<void()> fn);

  Engine& engine_;
  boost::asio::io_context& net_io_;
  const ReplicatorConfig config_;
  const SegmentHooks hooks_;
  net::Mesh* mesh_ = nullptr;
  tracker::HashChangeDetector hash_detector_;
  std::optional<kernel::KernelTracker> kernel_;                  // set with config.kernel_tracking
  std::optional<kernel::KernelChangeDetector> kernel_detector_;  // over kernel_

  boost::asio::io_context engine_io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer scan_timer_;
  boost::asio::steady_timer status_timer_;
  // Fires when the limiter's earliest waiting digest set is due; armed for digest_timer_due_.
  boost::asio::steady_timer digest_timer_;
  std::optional<std::chrono::steady_clock::time_point> digest_timer_due_;
  std::chrono::steady_clock::time_point next_scan_;
  std::chrono::steady_clock::time_point next_status_;
  std::chrono::steady_clock::time_point last_scan_end_;
  std::chrono::steady_clock::duration last_scan_duration_{};
  bool last_scan_hashed_everything_ = true;  // a hash round or an audit, not a kernel round
  std::thread thread_;
  std::atomic<std::uint64_t> inbound_backlog_bytes_{0};

  // Engine thread only.
  std::map<net::SessionId, PeerState> peers_;
  DigestRoundLimiter digest_rounds_;
  bool notify_posted_ = false;
  std::uint64_t published_lamport_ = 0;
  std::uint64_t published_size_ = 0;
  std::uint64_t last_sync_unix_ms_ = 0;
  std::uint64_t errors_ = 0;
  std::uint64_t pending_pages_ = 0;  // left pending by the last scan
  std::string last_error_;
  std::chrono::steady_clock::time_point last_stats_;

  struct Counters {
    std::uint64_t scans = 0;
    std::uint64_t pages_changed = 0;
    std::uint64_t bytes_changed = 0;
    std::uint64_t patches_applied = 0;
    std::uint64_t bytes_applied = 0;
    std::uint64_t pages_merged = 0;
    std::uint64_t scan_time_us = 0;
    std::uint64_t catchups_started = 0;
    std::uint64_t catchups_completed = 0;
    std::uint64_t digest_rounds_deferred = 0;   // complete sets that waited for their gap
    std::uint64_t digest_rounds_coalesced = 0;  // waiting sets replaced by a newer one
    std::uint64_t clock_skew_refusals = 0;      // sessions closed for a timestamp too far ahead
    std::uint64_t bound_refusals = 0;  // sessions closed for membership, fragmentation, new ids
  };
  // Peer ids already logged at warn for a refusal (refuse_peer()).
  std::set<std::string> refusal_logged_;
  // Last completed catch-up round with each peer (either direction), by peer id.
  std::map<std::string, std::uint64_t> last_catchup_unix_ms_;
  CounterBoard board_;  // published copy of counters_ and the engine's figures
  Counters counters_;
  Counters counters_at_last_stats_;
  net::MeshSnapshot mesh_at_last_stats_;
  kernel::KernelTrackerStats kernel_at_last_stats_;
};

}  // namespace wmd::daemon
