#include "proto/export_round.hpp"

#include <doctest/doctest.h>

namespace wmd::proto {

TEST_CASE("an export round: held-back pages go first, each page once, pending until exported") {
  ExportRound round;
  CHECK(round.exhausted());
  round.start({2, 5, 9, 12});
  CHECK(round.pending(5));
  CHECK_FALSE(round.pending(3));
  CHECK(round.next() == 2u);
  CHECK_FALSE(round.pending(2));
  round.hold_back(12);
  round.hold_back(12);         // listed once
  CHECK(round.next() == 12u);  // ahead of the plan
  CHECK_FALSE(round.pending(12));
  CHECK(round.next() == 5u);
  CHECK(round.next() == 9u);
  CHECK(round.exhausted());
  CHECK(round.next() == std::nullopt);  // 12 is not exported twice

  // A held-back page outlives a round replaced by a new one.
  round.start({1, 3, 4});
  round.hold_back(4);
  round.start({1, 3, 4, 8});
  CHECK(round.next() == 4u);
  CHECK(round.next() == 1u);
  CHECK(round.next() == 3u);
  CHECK_FALSE(round.exhausted());
  CHECK(round.next() == 8u);
  CHECK(round.exhausted());
}

TEST_CASE("owed pages go out once each, after held-back pages, whether or not a round runs") {
  ExportRound round;
  round.owe({3, 7});
  CHECK_FALSE(round.exhausted());
  CHECK(round.pending(7));
  CHECK(round.next() == 3u);  // in page order
  CHECK(round.next() == 7u);
  CHECK(round.exhausted());
  CHECK(round.next() == std::nullopt);

  // Owed pages the plan still holds are left to the plan; the others go before the plan.
  round.start({2, 5, 9});
  round.owe({5, 6});
  CHECK(round.next() == 6u);
  round.hold_back(9);
  round.owe({9});             // pending already (held back): not listed twice
  CHECK(round.next() == 9u);  // held-back first
  CHECK(round.next() == 2u);
  CHECK(round.next() == 5u);
  CHECK(round.next() == std::nullopt);
  CHECK(round.exhausted());

  // First owed, first exported: pages owed later do not starve an earlier one.
  round.owe({20});
  round.owe({3});
  round.owe({1});
  CHECK(round.next() == 20u);
  CHECK(round.next() == 3u);
  CHECK(round.next() == 1u);

  // Owed pages outlive a replaced round, and the new plan exports each only once.
  round.start({1, 4});
  round.owe({8});
  round.start({4, 8, 10});
  CHECK(round.next() == 8u);
  CHECK(round.next() == 4u);
  CHECK(round.next() == 10u);  // 8 not again
  CHECK(round.next() == std::nullopt);
}

}  // namespace wmd::proto
