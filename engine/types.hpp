// Value types the replication engine speaks: timestamps, patches, page states, digests.
// These are also what proto/ encodes on the wire. Plain values; no invariants are enforced
// here (the engine and the decoder validate them).
// Thread-safety: value types; the usual rules for values apply.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/peer_id.hpp"

namespace wmd {

bool is_valid_peer_id(std::string_view id) noexcept;

// The total order on writes: lamport first, then the peer id compared as bytes.
// The zero timestamp {0, ""} is the version of every byte that was never written.
struct Timestamp {
  std::uint64_t lamport = 0;
  PeerId peer;

  friend bool operator==(const Timestamp&, const Timestamp&) = default;
  friend std::strong_ordering operator<=>(const Timestamp& a, const Timestamp& b) {
    if (auto c = a.lamport <=> b.lamport; c != 0) return c;
    int s = a.peer.compare(b.peer);
    return s < 0 ? std::strong_ordering::less
                 : (s > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
  }
};

// A run of changed bytes at an absolute offset of the segment. Its payload lives in
// Patch::bytes, runs' payloads concatenated in run order.
struct Run {
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
  friend bool operator==(const Run&, const Run&) = default;
};

// One local change round of one origin. Its timestamp is {lamport, origin}.
// Valid patches have runs sorted by offset, non-overlapping, each of non-zero length, and
// bytes.size() equal to the sum of the run lengths.
struct Patch {
  std::string origin;
  std::uint64_t seq = 0;      // per-origin sequence number, from 1
  std::uint64_t lamport = 0;  // >= 1
  std::vector<Run> runs;
  std::vector<std::uint8_t> bytes;

  Timestamp ts() const { return Timestamp{lamport, origin}; }
  friend bool operator==(const Patch&, const Patch&) = default;
};

// The version of bytes [start, end) of one page.
struct VersionRun {
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  Timestamp ts;
  friend bool operator==(const VersionRun&, const VersionRun&) = default;
};

// The full replicated state of one page: its bytes and the canonical list of version runs
// (sorted, covering [0, page size) exactly, adjacent runs with equal timestamps merged).
struct PageState {
  std::uint64_t page_index = 0;
  std::vector<std::uint8_t> bytes;  // exactly one page
  std::vector<VersionRun> versions;
  friend bool operator==(const PageState&, const PageState&) = default;
};

// Page states as a catch-up frame carries them: each run names an entry of one timestamp table
// shared by the batch. From the export to the encoder and from the decoder to the merge, a run
// is 12 bytes instead of a VersionRun's 88 (its timestamp's peer id held inline), and a page of
// random bytes has ~64 runs: building, handing over and reading the expanded runs was a tenth
// of both daemons' CPU in an initial sync. Validity is as for PageState (each page's runs sorted, covering the page
// exactly, adjacent runs naming different entries), plus: stamps strictly increasing (so each
// timestamp has one entry) and never the zero timestamp, which every run names as stamp 0.
struct StampedRun {
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  std::uint32_t stamp = 0;  // 0: the zero timestamp; else stamps[stamp - 1]
  friend bool operator==(const StampedRun&, const StampedRun&) = default;
};

struct StampedPage {
  std::uint64_t page_index = 0;
  std::vector<std::uint8_t> bytes;  // exactly one page
  std::uint32_t first_run = 0;      // its runs: runs[first_run, first_run + run_count)
  std::uint32_t run_count = 0;
  friend bool operator==(const StampedPage&, const StampedPage&) = default;
};

struct StampedPageStates {
  std::vector<Timestamp> stamps;
  std::vector<StampedPage> pages;
  std::vector<StampedRun> runs;
  friend bool operator==(const StampedPageStates&, const StampedPageStates&) = default;
};

// A digest covers a page's bytes and versions; equal states have equal digests.
struct PageDigest {
  std::uint64_t page_index = 0;
  std::uint64_t digest = 0;
  friend bool operator==(const PageDigest&, const PageDigest&) = default;
};

// Highest sequence number seen per origin (including our own).
using VectorClock = std::map<std::string, std::uint64_t>;

}  // namespace wmd
