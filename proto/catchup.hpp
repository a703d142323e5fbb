// Catch-up (anti-entropy) planning as pure functions: which pages to send given both sides'
// digests, how to split our digests and page states into frames, and the accumulation of a
// peer's digest chunks. No engine, no sockets.
// Thread-safety: free functions are reentrant; a DigestAccumulator has one owner.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "engine/types.hpp"
#include "proto/message.hpp"

namespace wmd::proto {

// Pages whose state we send to a peer: those where our digest is not the zero-page digest and
// differs from theirs (a page missing from `theirs` has the zero-page digest).
// Inputs need not be sorted; the result is sorted and unique.
std::vector<std::uint64_t> plan_pages_to_send(std::span<const PageDigest> ours,
                                              std::span<const PageDigest> theirs,
                                              std::uint64_t zero_page_digest);

// A live patch for a peer whose catch-up round will still export some pages (`pending`): an
// export reads the page's state when it goes, so it carries the patch's bytes on those pages
// (or newer ones) and the patch need not travel there too. `kept` is what still has to go: the
// runs cut at page boundaries, only the parts on other pages.
enum class PatchCut {
  whole,  // no run touches a pending page: send the patch as it is (`kept` untouched)
  part,   // `kept` holds the runs on other pages, same origin, sequence number and timestamp
  none,   // every run is on pending pages: nothing to send
};
PatchCut cut_pending_pages(const Patch& patch, std::uint32_t page_size_bytes,
                           const std::function<bool(std::uint64_t page)>& pending, Patch& kept);

// How many digest entries fit one frame of max_frame_bytes (never less than 1).
std::size_t digests_per_frame(std::uint32_t max_frame_bytes);

// Our digests as one catch-up round of Digests messages: at least one chunk (an empty last
// chunk when there are no digests), the last one flagged. REQUIRES: digests sorted by page.
std::vector<proto::Digests> chunk_digests(std::uint64_t size_bytes,
                                          std::span<const PageDigest> digests,
                                          std::size_t per_frame, bool reply_requested);

// An upper bound of one page state's encoded size, for filling frames.
std::uint64_t page_state_wire_bytes(const PageState& state);
// The same for a page of a batch in the table form. REQUIRES: its runs and stamps in the batch.
std::uint64_t page_state_wire_bytes(const StampedPageStates& batch, const StampedPage& page);
// Whether every possible state of a page fits a PageStates frame (a run per byte, each naming
// the longest peer id): then no page of a catch-up round is ever left out as oversized.
bool every_page_state_fits(std::uint32_t page_size_bytes, std::uint32_t max_frame_bytes);
// Room a sender leaves in a PageStates frame for its header and tables.
inline constexpr std::uint64_t kPageStatesSlackBytes = 4096;

// A peer's digests, accumulated chunk by chunk until the last one.
struct DigestSet {
  std::uint64_t size_bytes = 0;
  bool reply_requested = false;
  std::vector<PageDigest> digests;  // sorted by page, unique (a later chunk wins)
};

class DigestAccumulator {
 public:
  // Adds one chunk; returns the whole set when it was the last chunk, and starts over.
  // Holds at most about twice the distinct pages named (at least 8192 entries) plus a chunk.
  std::optional<DigestSet> add(proto::Digests chunk);
  std::size_t pending_entries() const noexcept { return pending_.size(); }

 private:
  static constexpr std::size_t kMinCompactEntries = 4096;
  std::vector<PageDigest> pending_;
  std::size_t compacted_entries_ = 0;  // pending_.size() after the last deduplication
};

}  // namespace wmd::proto
