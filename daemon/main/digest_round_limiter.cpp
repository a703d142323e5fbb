#include "daemon/main/digest_round_limiter.hpp"

#include <algorithm>

namespace wmd::daemon {

std::optional<proto::DigestSet> DigestRoundLimiter::offer(SessionId session, proto::DigestSet set,
                                                          Clock::time_point now) {
  PeerRounds& peer = peers_[session];
  if (peer.waiting) {
    // The newer snapshot wins; a reply asked for by the older one is still owed.
    set.reply_requested = set.reply_requested || peer.waiting->reply_requested;
    peer.waiting.reset();
    ++coalesced_total_;
  }
  if (now >= peer.next_allowed) {
    peer.next_allowed = now + limits_.min_gap;
    return set;
  }
  ++deferred_total_;
  peer.waiting = std::move(set);
  return std::nullopt;
}

void DigestRoundLimiter::round_ran(SessionId session, Clock::time_point end, Clock::duration cost) {
  auto it = peers_.find(session);
  if (it == peers_.end()) return;  // closed during its round
  it->second.next_allowed = end + gap_after(cost);
}

std::optional<DigestRoundLimiter::Clock::time_point> DigestRoundLimiter::next_due() const {
  std::optional<Clock::time_point> due;
  for (const auto& [session, peer] : peers_) {
    if (peer.waiting && (!due || peer.next_allowed < *due)) due = peer.next_allowed;
  }
  return due;
}

std::vector<std::pair<DigestRoundLimiter::SessionId, proto::DigestSet>>
DigestRoundLimiter::take_due(Clock::time_point now) {
  std::vector<std::pair<SessionId, proto::DigestSet>> due;
  for (auto& [session, peer] : peers_) {
    if (!peer.waiting || now < peer.next_allowed) continue;
    due.emplace_back(session, std::move(*peer.waiting));
    peer.waiting.reset();
    peer.next_allowed = now + limits_.min_gap;
  }
  return due;
}

void DigestRoundLimiter::close(SessionId session) {
  peers_.erase(session);
}

DigestRoundLimiter::Clock::duration DigestRoundLimiter::gap_after(Clock::duration cost) const {
  const Clock::duration scaled = std::max(cost, Clock::duration::zero()) * limits_.cost_factor;
  return std::clamp(scaled, limits_.min_gap, std::max(limits_.min_gap, limits_.max_gap));
}

bool DigestRoundLimiter::waiting(SessionId session) const {
  auto it = peers_.find(session);
  return it != peers_.end() && it->second.waiting.has_value();
}

}  // namespace wmd::daemon
