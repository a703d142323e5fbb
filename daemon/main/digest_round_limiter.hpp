// DigestRoundLimiter: decides when a peer's complete digest set may start a catch-up round.
// A round costs the engine thread O(pages of the segment) (our digests, the plan, often our
// digests again in reply), while the request that starts one can be a 14-byte frame: without a
// limit, one peer sending such frames keeps the engine thread busy and every scan and every
// other peer's patch waits. So each peer gets at most one round per gap, the gap being a
// multiple of what its last round cost (at least a small floor), which keeps any one peer's
// requests to a few percent of the engine's time. A set arriving within the gap waits; a newer
// set replaces a waiting one (digests are snapshots: the newest is the one that matters), with
// the reply requests of both. The first round of a session runs at once, so one round per
// connect is never delayed; a further round (an overflow resync, the resync after another peer
// left) waits out the gap at most. The limit is per session: a peer that reconnects starts
// afresh, but each connect costs it a handshake and costs us a digest set anyway
// (--max-connections bounds how many run at once).
//
// Pure and deterministic: time is passed in, no timers; the caller arms one for next_due().
// Thread-safety: none; one owner (the replicator's engine thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "proto/catchup.hpp"

namespace wmd::daemon {

struct DigestRoundLimits {
  // Least time between the end of one round and the start of the next, per peer.
  std::chrono::steady_clock::duration min_gap = std::chrono::milliseconds(20);
  // The gap is at least this multiple of what the last round cost: at most 1/(1+factor) of
  // the engine's time goes to one peer's rounds.
  std::uint32_t cost_factor = 20;
  // A bound on the gap, so one unlucky measurement (the machine paused mid-round) cannot hold
  // a peer's next round back for long.
  std::chrono::steady_clock::duration max_gap = std::chrono::seconds(5);
};

class DigestRoundLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  using SessionId = std::uint64_t;  // net::SessionId, without the Mesh's Asio headers

  explicit DigestRoundLimiter(DigestRoundLimits limits = {}) : limits_(limits) {}

  // A complete digest set from `session`. Returns it when its round may run now (the caller
  // runs it, then calls round_ran); otherwise keeps it as the session's waiting set, replacing
  // an older waiting one, and returns nothing.
  std::optional<proto::DigestSet> offer(SessionId session, proto::DigestSet set,
                                        Clock::time_point now);

  // A round for `session` ran, ending at `end` and costing `cost` of the engine's time.
  // Its next round may start at end + gap(cost).
  void round_ran(SessionId session, Clock::time_point end, Clock::duration cost);

  // The earliest time a waiting set becomes due, if any set waits.
  std::optional<Clock::time_point> next_due() const;

  // Removes and returns the waiting sets that are due at `now`, by session.
  std::vector<std::pair<SessionId, proto::DigestSet>> take_due(Clock::time_point now);

  // The session ended: forgets it and drops its waiting set.
  void close(SessionId session);

  // The gap after a round costing `cost`.
  Clock::duration gap_after(Clock::duration cost) const;

  // Totals since construction: sets that had to wait, and waiting sets replaced by a newer one
  // (their round never ran).
  std::uint64_t deferred_total() const noexcept { return deferred_total_; }
  std::uint64_t coalesced_total() const noexcept { return coalesced_total_; }
  bool waiting(SessionId session) const;

 private:
  struct PeerRounds {
    // No round before this time. A round that just started and has not reported its cost yet
    // holds the next one back by min_gap.
    Clock::time_point next_allowed{};
    std::optional<proto::DigestSet> waiting;
  };

  const DigestRoundLimits limits_;
  std::map<SessionId, PeerRounds> peers_;
  std::uint64_t deferred_total_ = 0;
  std::uint64_t coalesced_total_ = 0;
};

}  // namespace wmd::daemon
