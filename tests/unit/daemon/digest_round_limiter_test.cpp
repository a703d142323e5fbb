#include "daemon/main/digest_round_limiter.hpp"

#include <doctest/doctest.h>

#include <chrono>

namespace wmd::daemon {
namespace {

using Clock = DigestRoundLimiter::Clock;
using std::chrono::milliseconds;

const Clock::time_point kStart = Clock::time_point{} + std::chrono::hours(1);

// A set told apart from others by its size, with one digest entry.
proto::DigestSet set_of(std::uint64_t size_bytes, bool reply_requested = false) {
  proto::DigestSet set;
  set.size_bytes = size_bytes;
  set.reply_requested = reply_requested;
  set.digests.push_back(PageDigest{0, size_bytes});
  return set;
}

TEST_CASE("the first round of a session runs at once") {
  DigestRoundLimiter limiter;
  auto ran = limiter.offer(1, set_of(4096, true), kStart);
  REQUIRE(ran);
  CHECK(ran->size_bytes == 4096);
  CHECK(ran->reply_requested);
  CHECK(!limiter.next_due());
  CHECK(limiter.deferred_total() == 0);
  CHECK(limiter.coalesced_total() == 0);
}

TEST_CASE("sessions are limited independently") {
  DigestRoundLimiter limiter;
  REQUIRE(limiter.offer(1, set_of(1), kStart));
  limiter.round_ran(1, kStart, milliseconds(1));
  CHECK(limiter.offer(2, set_of(2), kStart));
  CHECK(!limiter.offer(1, set_of(3), kStart));
}

TEST_CASE("a set within the gap waits and runs when its time comes, without a further set") {
  DigestRoundLimits limits;
  limits.min_gap = milliseconds(20);
  DigestRoundLimiter limiter(limits);
  REQUIRE(limiter.offer(7, set_of(1), kStart));
  limiter.round_ran(7, kStart + milliseconds(1), milliseconds(0));
  CHECK(!limiter.offer(7, set_of(2), kStart + milliseconds(5)));
  CHECK(limiter.waiting(7));
  REQUIRE(limiter.next_due());
  CHECK(*limiter.next_due() == kStart + milliseconds(21));
  CHECK(limiter.take_due(kStart + milliseconds(20)).empty());
  auto due = limiter.take_due(kStart + milliseconds(21));
  REQUIRE(due.size() == 1);
  CHECK(due[0].first == 7);
  CHECK(due[0].second.size_bytes == 2);
  CHECK(!limiter.waiting(7));
  CHECK(!limiter.next_due());
  CHECK(limiter.deferred_total() == 1);
  CHECK(limiter.coalesced_total() == 0);
}

TEST_CASE("a flood of sets runs at most one round per gap, each time the newest set") {
  DigestRoundLimits limits;
  limits.min_gap = milliseconds(20);
  limits.cost_factor = 20;
  DigestRoundLimiter limiter(limits);
  const auto cost = std::chrono::microseconds(100);  // gap: max(20 ms, 2 ms) = 20 ms
  int rounds = 0;
  std::uint64_t last_run = 0;
  auto run = [&](const proto::DigestSet& set, Clock::time_point now) {
    ++rounds;
    CHECK(set.size_bytes > last_run);  // never an older snapshot than one already run
    last_run = set.size_bytes;
    limiter.round_ran(1, now + cost, cost);
  };
  // One set every 10 us for one second (100'000 sets), the due sets taken as a timer would.
  std::uint64_t offered = 0;
  std::uint64_t newest_offered_before_run = 0;
  for (auto now = kStart; now < kStart + std::chrono::seconds(1);
       now += std::chrono::microseconds(10)) {
    if (auto due = limiter.next_due(); due && *due <= now) {
      for (auto& [session, set] : limiter.take_due(now)) {
        CHECK(set.size_bytes == newest_offered_before_run);
        run(set, now);
      }
    }
    ++offered;
    newest_offered_before_run = offered;
    if (auto set = limiter.offer(1, set_of(offered), now)) run(*set, now);
  }
  // 1 s / (20 ms + 0.1 ms) rounds at most, and one at once.
  CHECK(rounds <= 1 + 1000 / 20);
  CHECK(rounds >= 1000 / 21);
  CHECK(limiter.coalesced_total() + static_cast<std::uint64_t>(rounds) +
            (limiter.waiting(1) ? 1 : 0) ==
        offered);
}

TEST_CASE("a newer set replaces the waiting one and keeps its reply request") {
  DigestRoundLimiter limiter;
  REQUIRE(limiter.offer(1, set_of(1), kStart));
  limiter.round_ran(1, kStart, milliseconds(1));
  CHECK(!limiter.offer(1, set_of(2, /*reply_requested=*/true), kStart + milliseconds(1)));
  CHECK(!limiter.offer(1, set_of(3, /*reply_requested=*/false), kStart + milliseconds(2)));
  CHECK(limiter.coalesced_total() == 1);
  CHECK(limiter.deferred_total() == 2);
  auto due = limiter.take_due(kStart + std::chrono::seconds(1));
  REQUIRE(due.size() == 1);
  CHECK(due[0].second.size_bytes == 3);
  CHECK(due[0].second.digests.at(0).digest == 3);
  CHECK(due[0].second.reply_requested);
}

TEST_CASE("a set offered after the gap while an older one still waits runs at once, merged") {
  DigestRoundLimiter limiter;
  REQUIRE(limiter.offer(1, set_of(1), kStart));
  limiter.round_ran(1, kStart, milliseconds(0));
  CHECK(!limiter.offer(1, set_of(2, true), kStart + milliseconds(1)));
  // The timer has not fired yet, but the gap is over: the newest set runs, owing the reply.
  auto ran = limiter.offer(1, set_of(3), kStart + milliseconds(50));
  REQUIRE(ran);
  CHECK(ran->size_bytes == 3);
  CHECK(ran->reply_requested);
  CHECK(!limiter.waiting(1));
  CHECK(limiter.take_due(kStart + std::chrono::seconds(1)).empty());
}

TEST_CASE("closing a session drops its waiting set and its history") {
  DigestRoundLimiter limiter;
  REQUIRE(limiter.offer(1, set_of(1), kStart));
  limiter.round_ran(1, kStart, milliseconds(1));
  CHECK(!limiter.offer(1, set_of(2), kStart));
  limiter.close(1);
  CHECK(!limiter.waiting(1));
  CHECK(!limiter.next_due());
  CHECK(limiter.take_due(kStart + std::chrono::seconds(10)).empty());
  // A round reported for a closed session is ignored; a new session starts at once.
  limiter.round_ran(1, kStart, std::chrono::seconds(1));
  CHECK(limiter.offer(1, set_of(3), kStart));
}

TEST_CASE("the gap grows with the cost of the last round, between the floor and the bound") {
  DigestRoundLimits limits;
  limits.min_gap = milliseconds(20);
  limits.cost_factor = 20;
  limits.max_gap = std::chrono::seconds(5);
  DigestRoundLimiter limiter(limits);
  CHECK(limiter.gap_after(Clock::duration::zero()) == milliseconds(20));
  CHECK(limiter.gap_after(milliseconds(1)) == milliseconds(20));
  CHECK(limiter.gap_after(milliseconds(10)) == milliseconds(200));
  CHECK(limiter.gap_after(std::chrono::seconds(1)) == std::chrono::seconds(5));

  REQUIRE(limiter.offer(1, set_of(1), kStart));
  limiter.round_ran(1, kStart + milliseconds(10), milliseconds(10));
  CHECK(!limiter.offer(1, set_of(2), kStart + milliseconds(100)));
  CHECK(*limiter.next_due() == kStart + milliseconds(210));
  CHECK(limiter.take_due(kStart + milliseconds(209)).empty());
  CHECK(limiter.take_due(kStart + milliseconds(210)).size() == 1);
}

TEST_CASE("a round whose cost is not reported yet still holds the next one back by the floor") {
  DigestRoundLimiter limiter;
  REQUIRE(limiter.offer(1, set_of(1), kStart));
  CHECK(!limiter.offer(1, set_of(2), kStart + milliseconds(1)));
  CHECK(*limiter.next_due() == kStart + milliseconds(20));
}

}  // namespace
}  // namespace wmd::daemon
