// ByteRateBudget: catch-up bytes per second to one peer.
#include "daemon/main/byte_rate_budget.hpp"

#include <doctest/doctest.h>

namespace wmd::daemon {
namespace {

using Clock = ByteRateBudget::Clock;
using std::chrono::milliseconds;

TEST_CASE("a full budget spends at once; an overdrawn one waits its debt out at the rate") {
  ByteRateBudget budget(1000);
  const Clock::time_point t0 = Clock::now();
  CHECK(budget.wait_before(t0) == Clock::duration::zero());
  budget.spend(1500, t0);  // the one-second burst and 500 bytes of debt
  const auto wait = budget.wait_before(t0);
  CHECK(wait > milliseconds(490));
  CHECK(wait < milliseconds(510));
  CHECK(budget.wait_before(t0 + milliseconds(500)) == Clock::duration::zero());
}

TEST_CASE("an idle budget refills to one second's worth, no more") {
  ByteRateBudget budget(1000);
  const Clock::time_point t0 = Clock::now();
  budget.spend(1000, t0);
  budget.spend(0, t0 + std::chrono::seconds(10));
  budget.spend(1500, t0 + std::chrono::seconds(10));
  CHECK(budget.wait_before(t0 + std::chrono::seconds(10)) > milliseconds(490));
}

TEST_CASE("a rate of zero never waits") {
  ByteRateBudget budget(0);
  budget.spend(1 << 30, Clock::now());
  CHECK(budget.wait_before(Clock::now()) == Clock::duration::zero());
}

}  // namespace
}  // namespace wmd::daemon
