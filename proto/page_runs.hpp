// The wire form of one page's version runs in a PageStates frame (PROTOCOL.md 3.5): the
// engine's runs over the page, each naming an entry of the frame's timestamp table, where a
// "sparse" run stands for a stretch of one timestamp broken only by never-written zero bytes
// (value 0, zero timestamp). Freshly written data whose zero bytes were never changed, random
// bytes or small integers, fragments into one run per non-zero stretch in the engine; on the wire
// it is one run. There is exactly one wire form per page state: the encoder's, and the decoder
// accepts nothing else (it re-encodes what it decoded and compares).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/result.hpp"
#include "engine/types.hpp"
#include "proto/byte_io.hpp"
#include "proto/zero_stretches.hpp"

namespace wmd::proto {

// The frame's timestamp table (without the zero timestamp, which is reference 0), sorted and
// unique: entry k is reference k + 1.
using StampTable = std::vector<Timestamp>;

// What the encoder and the decoder reuse from page to page (one per frame, say).
struct PageRunsScratch {
  ZeroStretches zeros;                // the page's zero bytes
  std::vector<std::uint8_t> encoded;  // decode_page_runs: the canonical form, to compare
};

// Writes run count and runs of `versions` (canonical: contiguous from 0, covering `bytes`,
// adjacent timestamps different). REQUIRES: every non-zero timestamp of versions is in stamps.
void encode_page_runs(std::span<const std::uint8_t> bytes, std::span<const VersionRun> versions,
                      const StampTable& stamps, PageRunsScratch& scratch, ByteWriter& w);
// The same for runs in the table form, whose stamps are the frame's references as they are.
// REQUIRES: canonical as above (adjacent runs name different entries), and the frame's table
// is the one the runs' stamps index.
void encode_page_runs(std::span<const std::uint8_t> bytes, std::span<const StampedRun> runs,
                      PageRunsScratch& scratch, ByteWriter& w);

// Reads one page's run count and runs, appending the page's runs to `out` (table form, stamps
// the frame's references: stamp_count of them), and marks the references they use in
// stamp_used. Errors: truncated, malformed (a reference beyond the table, a run past the page
// or not covering it, a zero-timestamp sparse run, or any form other than the encoder's for the
// decoded state); `out` may then hold part of the page's runs.
Status decode_page_runs(ByteReader& r, std::span<const std::uint8_t> bytes, std::size_t stamp_count,
                        std::vector<bool>& stamp_used, PageRunsScratch& scratch,
                        std::vector<StampedRun>& out);

}  // namespace wmd::proto
