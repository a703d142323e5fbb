#include "proto/catchup.hpp"

#include "proto/wire_format.hpp"

#include <algorithm>

namespace wmd::proto {
namespace {

// Sorts by page, keeping the last entry given for a page.
void sort_unique_last_wins(std::vector<PageDigest>& digests) {
  std::stable_sort(digests.begin(), digests.end(), [](const PageDigest& a, const PageDigest& b) {
    return a.page_index < b.page_index;
  });
  std::vector<PageDigest> unique;
  unique.reserve(digests.size());
  for (const auto& d : digests) {
    if (!unique.empty() && unique.back().page_index == d.page_index) {
      unique.back() = d;
    } else {
      unique.push_back(d);
    }
  }
  digests = std::move(unique);
}

// Header of a Digests frame (size, flags, count) with room to spare.
constexpr std::uint32_t kDigestsOverheadBytes = 64;
// A digest entry: varint page-index delta (at most 10 bytes) and a u64 digest.
constexpr std::uint32_t kDigestEntryMaxBytes = 18;

}  // namespace

PatchCut cut_pending_pages(const Patch& patch, std::uint32_t page_size_bytes,
                           const std::function<bool(std::uint64_t page)>& pending, Patch& kept) {
  auto touches_pending = [&](const Run& run) {
    if (run.length == 0) return false;
    const std::uint64_t last = (run.offset + run.length - 1) / page_size_bytes;
    for (std::uint64_t page = run.offset / page_size_bytes; page <= last; ++page) {
      if (pending(page)) return true;
    }
    return false;
  };
  if (std::none_of(patch.runs.begin(), patch.runs.end(), touches_pending)) {
    return PatchCut::whole;
  }
  kept.origin = patch.origin;
  kept.seq = patch.seq;
  kept.lamport = patch.lamport;
  kept.runs.clear();
  kept.bytes.clear();
  std::uint64_t payload = 0;  // where the run's bytes start in patch.bytes
  for (const Run& run : patch.runs) {
    std::uint64_t offset = run.offset;
    const std::uint64_t end = run.offset + run.length;
    while (offset < end) {
      const std::uint64_t page = offset / page_size_bytes;
      const std::uint64_t piece_end = std::min(end, (page + 1) * page_size_bytes);
      if (!pending(page)) {
        const auto length = static_cast<std::uint32_t>(piece_end - offset);
        if (!kept.runs.empty() && kept.runs.back().offset + kept.runs.back().length == offset) {
          kept.runs.back().length += length;
        } else {
          kept.runs.push_back(Run{offset, length});
        }
        const auto from = patch.bytes.begin() + static_cast<std::ptrdiff_t>(payload);
        kept.bytes.insert(kept.bytes.end(), from, from + length);
      }
      payload += piece_end - offset;
      offset = piece_end;
    }
  }
  return kept.runs.empty() ? PatchCut::none : PatchCut::part;
}

std::vector<std::uint64_t> plan_pages_to_send(std::span<const PageDigest> ours,
                                              std::span<const PageDigest> theirs,
                                              std::uint64_t zero_page_digest) {
  std::vector<PageDigest> our_sorted(ours.begin(), ours.end());
  std::vector<PageDigest> their_sorted(theirs.begin(), theirs.end());
  sort_unique_last_wins(our_sorted);
  sort_unique_last_wins(their_sorted);

  std::vector<std::uint64_t> pages;
  auto it = their_sorted.begin();
  for (const auto& mine : our_sorted) {
    if (mine.digest == zero_page_digest) continue;
    while (it != their_sorted.end() && it->page_index < mine.page_index) ++it;
    const bool they_have = it != their_sorted.end() && it->page_index == mine.page_index;
    const std::uint64_t their_digest = they_have ? it->digest : zero_page_digest;
    if (their_digest != mine.digest) pages.push_back(mine.page_index);
  }
  return pages;
}

std::size_t digests_per_frame(std::uint32_t max_frame_bytes) {
  if (max_frame_bytes <= kDigestsOverheadBytes + kDigestEntryMaxBytes) return 1;
  return (max_frame_bytes - kDigestsOverheadBytes) / kDigestEntryMaxBytes;
}

std::vector<proto::Digests> chunk_digests(std::uint64_t size_bytes,
                                          std::span<const PageDigest> digests,
                                          std::size_t per_frame, bool reply_requested) {
  per_frame = std::max<std::size_t>(per_frame, 1);
  std::vector<proto::Digests> chunks;
  std::size_t next = 0;
  do {
    const std::size_t n = std::min(per_frame, digests.size() - next);
    proto::Digests chunk;
    chunk.size_bytes = size_bytes;
    chunk.reply_requested = reply_requested;
    chunk.digests.assign(digests.begin() + static_cast<std::ptrdiff_t>(next),
                         digests.begin() + static_cast<std::ptrdiff_t>(next + n));
    next += n;
    chunk.last = next == digests.size();
    chunks.push_back(std::move(chunk));
  } while (next < digests.size());
  return chunks;
}

bool every_page_state_fits(std::uint32_t page_size_bytes, std::uint32_t max_frame_bytes) {
  const std::uint64_t worst =
      16 + std::uint64_t{page_size_bytes} * (1 + kVersionRunBudgetBytes + kMaxPeerIdBytes);
  return max_frame_bytes > kPageStatesSlackBytes &&
         worst <= max_frame_bytes - kPageStatesSlackBytes;
}

std::uint64_t page_state_wire_bytes(const PageState& state) {
  std::uint64_t bytes = 16 + state.bytes.size();
  for (const auto& run : state.versions) bytes += kVersionRunBudgetBytes + run.ts.peer.size();
  return bytes;
}

std::uint64_t page_state_wire_bytes(const StampedPageStates& batch, const StampedPage& page) {
  std::uint64_t bytes = 16 + page.bytes.size();
  for (std::uint32_t i = page.first_run; i < page.first_run + page.run_count; ++i) {
    const std::uint32_t stamp = batch.runs[i].stamp;
    bytes += kVersionRunBudgetBytes + (stamp == 0 ? 0 : batch.stamps[stamp - 1].peer.size());
  }
  return bytes;
}

std::optional<DigestSet> DigestAccumulator::add(proto::Digests chunk) {
  pending_.insert(pending_.end(), chunk.digests.begin(), chunk.digests.end());
  if (!chunk.last) {
    // A peer may repeat non-last chunks forever. The decoder keeps every index below the
    // maximum page count, so deduplicating bounds memory by the pages named; doing it when
    // the list has doubled keeps the cost amortised.
    if (pending_.size() > 2 * std::max(compacted_entries_, kMinCompactEntries)) {
      sort_unique_last_wins(pending_);
      compacted_entries_ = pending_.size();
    }
    return std::nullopt;
  }
  DigestSet set;
  set.size_bytes = chunk.size_bytes;
  set.reply_requested = chunk.reply_requested;
  set.digests = std::move(pending_);
  pending_.clear();
  compacted_entries_ = 0;
  sort_unique_last_wins(set.digests);
  return set;
}

}  // namespace wmd::proto
