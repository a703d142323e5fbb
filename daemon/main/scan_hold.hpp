// When a catch-up holds the next timed scan back: the rule, apart from the replicator's state.
//
// A hash scan reads every page of the segment. While a catch-up moves many pages, scans would
// take the cores from it, and while one fills this replica, each scan would hash every page
// received so far (a joining replica scanned its growing segment about once a second, 27 % of
// its engine thread's CPU in a 1 GiB sync). Local changes still land: a merge absorbs its
// page's pending changes first, the next scan the rest.
//
// Thread-safety: pure functions and constants.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace wmd::daemon {

// Only rounds of at least this many page bytes hold scans back. Smaller ones (a slow peer's
// owed pages after its send queue overflowed, a reconnect's few pages) end in well under a
// scan interval, and come back to back under overflow: holding scans back for them would
// delay every peer's live changes by seconds.
inline constexpr std::uint64_t kBulkRoundBytes = 32ull << 20;
// Least time between two timed scans while a bulk round is sending (scans that take
// kSlowScan or more only: small segments scan in well under a millisecond) / filling this
// replica (slow scans, and every scan that hashed every page, fast or not: the ones before the
// round's first kBulkRoundBytes hashed only what had arrived, and a timer set by such a scan,
// firing behind the first frames' merges, hashed ~300 MiB of a 1 GiB sync; a kernel-tracking
// round hashes only what the writers wrote and stays cheap, so a fast one is not held, and
// local writes do not wait 5 s).
inline constexpr auto kCatchupScanInterval = std::chrono::milliseconds(1000);
inline constexpr auto kCatchupReceiveScanInterval = std::chrono::milliseconds(5000);
inline constexpr auto kSlowScan = std::chrono::milliseconds(10);

// When the next timed scan may run, as far as catch-ups go (time_point::min(): no hold).
// receiving: a round has brought kBulkRoundBytes or more to this replica and goes on;
// bulk_active: that, or a round of kBulkRoundBytes or more is sending from here;
// hashed_everything: the last scan hashed every page (a hash round, an audit).
inline std::chrono::steady_clock::time_point catchup_scan_hold_end(
    bool receiving, bool bulk_active, bool hashed_everything,
    std::chrono::steady_clock::time_point last_scan_end,
    std::chrono::steady_clock::duration last_scan_duration) {
  using Duration = std::chrono::steady_clock::duration;
  const bool slow = last_scan_duration >= kSlowScan;
  Duration hold{};
  if (receiving && (slow || hashed_everything)) {
    hold = kCatchupReceiveScanInterval;
  } else if (bulk_active && slow) {
    hold = kCatchupScanInterval;
  } else {
    return std::chrono::steady_clock::time_point::min();
  }
  return std::max(last_scan_end + hold, last_scan_end + 8 * last_scan_duration);
}

}  // namespace wmd::daemon
