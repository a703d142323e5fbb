// The catch-up scan hold: which rounds hold the next timed scan back, and for how long.
#include "daemon/main/scan_hold.hpp"

#include <doctest/doctest.h>

namespace wmd::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const Clock::time_point kEnd = Clock::time_point{} + std::chrono::hours(1);  // last scan's end

TEST_CASE("no bulk round: no hold, however slow the scans") {
  CHECK(catchup_scan_hold_end(false, false, true, kEnd, milliseconds(500)) ==
        Clock::time_point::min());
  CHECK(catchup_scan_hold_end(false, false, true, kEnd, milliseconds(1)) ==
        Clock::time_point::min());
}

TEST_CASE("a bulk round sending from here holds only slow scans, for a second") {
  CHECK(catchup_scan_hold_end(false, true, true, kEnd, kSlowScan - milliseconds(1)) ==
        Clock::time_point::min());
  CHECK(catchup_scan_hold_end(false, true, true, kEnd, kSlowScan) == kEnd + kCatchupScanInterval);
  // A scan that long waits eight of its durations when that is longer.
  CHECK(catchup_scan_hold_end(false, true, true, kEnd, milliseconds(200)) ==
        kEnd + milliseconds(1600));
}

TEST_CASE("a bulk round filling this replica holds every hash scan, fast ones too, for 5 s") {
  // A fast scan early in a sync (before the first 32 MiB) must not let the next one through:
  // by the time it fires, hundreds of MiB may have arrived.
  CHECK(catchup_scan_hold_end(true, true, true, kEnd, milliseconds(0)) ==
        kEnd + kCatchupReceiveScanInterval);
  CHECK(catchup_scan_hold_end(true, true, true, kEnd, milliseconds(2)) ==
        kEnd + kCatchupReceiveScanInterval);
  CHECK(catchup_scan_hold_end(true, true, true, kEnd, milliseconds(1000)) ==
        kEnd + milliseconds(8000));
}

TEST_CASE("filling this replica holds a fast kernel-tracking round only when it is slow") {
  // Such a round hashes only what the writers wrote: holding it would only delay local writes.
  CHECK(catchup_scan_hold_end(true, true, false, kEnd, milliseconds(1)) ==
        Clock::time_point::min());
  CHECK(catchup_scan_hold_end(true, true, false, kEnd, kSlowScan) ==
        kEnd + kCatchupReceiveScanInterval);
}

}  // namespace
}  // namespace wmd::daemon
