// Merging page states into never-written pages without faulting them in through the mappings:
// the initial sync of a new replica writes almost every page this way. Backing a fresh page of
// shared memory by a page fault (trap, allocation, zeroing, then the copy) costs several times
// what a pwrite() of the same bytes costs, and a receiver backs two copies of each page (memory
// and shadow) and its version list's blocks (mostly fresh pool). The bytes are batched per
// merge_pages() call and handed to the injected BulkPageWriter; crash safety is the per-page
// update counter's, as for every other write: each queued page stays odd from before its
// version list is stored until its bytes and blocks have landed and its record is published.
#include <algorithm>
#include <cstring>
#include <iterator>

#include "engine/engine_impl.hpp"
#include "engine/page_copy.hpp"
#include "engine/page_digest.hpp"

namespace wmd {

using engine_detail::PageRange;
using engine_detail::VersionList;
using engine_detail::VersionPool;

Result<MergeStats> Engine::Impl::merge_pages(const StampedPageStates& batch) {
  // One entry per timestamp: then runs name the same timestamp exactly when they name the same
  // entry, which the canonical-list check relies on.
  if (std::adjacent_find(batch.stamps.begin(), batch.stamps.end(),
                         [](const Timestamp& a, const Timestamp& b) { return !(a < b); }) !=
      batch.stamps.end()) {
    return errc::malformed;
  }
  stamp_checked_.assign(batch.stamps.size(), 0);
  stamp_refs_.assign(batch.stamps.size(), 0);
  MergeStats total;
  hole_cache_first_ = hole_cache_end_ = 0;  // the probe's answers hold for this call only
  for (const StampedPage& state : batch.pages) {
    auto merged = merge_one(batch, state);
    if (!merged) {
      flush_hole_pages();
      return merged.error();
    }
    total.bytes_taken += merged->bytes_taken;
    total.absorbed_local = total.absorbed_local || merged->absorbed_local;
    total.grew = total.grew || merged->grew;
    std::move(merged->local_patches.begin(), merged->local_patches.end(),
              std::back_inserter(total.local_patches));
  }
  flush_hole_pages();
  return total;
}

bool Engine::Impl::is_unbacked_hole(std::uint64_t page) {
  if (!backing_probe_ || records_[page].version_head != 0 || !stored_zero(page)) return false;
  if (page >= hole_cache_first_ && page < hole_cache_end_) return true;
  // One probe answers for the whole hole: the pages of a catch-up arrive in increasing order.
  const BackingExtent extent = backing_probe_(page, page_count());
  if (extent.backed) return false;
  hole_cache_first_ = page;
  hole_cache_end_ = std::max(extent.end_page, page + 1);
  return true;
}

Result<MergeStats> Engine::Impl::queue_hole_page(std::uint64_t page,
                                                 std::span<const std::uint8_t> state_bytes,
                                                 std::uint64_t max_lamport, MergeStats stats) {
  written_.clear();
  engine_detail::merge_max(engine_detail::zero_version_list(page_size_), remote_list_, order(),
                           new_list_, written_);
  if (written_.empty()) {  // every remote byte is at the zero stamp: nothing to take
    note_lamport(max_lamport);
    return stats;
  }
  if (VersionPool::blocks_for(new_list_) > pool_->available()) return errc::pool_exhausted;
  const VersionList zero = engine_detail::zero_version_list(page_size_);
  if (Status s = check_run_share(zero, new_list_); !s) return s.error();
  if (Status s = intern_pending_peers(new_list_, /*freed_ids=*/0); !s) return s.error();
  note_lamport(max_lamport);  // before any byte carries it (see apply)

  // The page becomes the remote's bytes where it wins and zero elsewhere: bytes at the zero
  // stamp were never written, whatever a peer sends for them. An honest peer sends zeros
  // there, so the state's own buffer is written as it is, without a copy.
  HolePage queued;
  queued.page = page;
  queued.bytes = state_bytes.data();
  std::uint32_t pos = 0;
  bool clean = true;
  for (const PageRange& r : written_) {
    stats.bytes_taken += r.end - r.start;
    clean = clean && std::all_of(state_bytes.begin() + pos, state_bytes.begin() + r.start,
                                 [](std::uint8_t b) { return b == 0; });
    pos = r.end;
  }
  clean = clean && std::all_of(state_bytes.begin() + pos, state_bytes.end(),
                               [](std::uint8_t b) { return b == 0; });
  if (!clean) {
    queued.bytes = nullptr;
    queued.scratch_index = hole_scratch_.size();
    hole_scratch_.resize(hole_scratch_.size() + page_size_, 0);
    std::uint8_t* copy = hole_scratch_.data() + queued.scratch_index;
    for (const PageRange& r : written_) {
      std::memcpy(copy + r.start, state_bytes.data() + r.start, r.end - r.start);
    }
  }
  const std::uint8_t* bytes =
      queued.bytes != nullptr ? queued.bytes : hole_scratch_.data() + queued.scratch_index;
  queued.hash = engine_detail::hash_bytes(bytes, page_size_);
  begin_update(page);
  queued.head = pool_->store_staged(new_list_, hole_blocks_);  // written with the bytes
  count_runs(new_list_, /*add=*/true);  // published by flush_hole_pages(), which cannot fail
  queued.digest = engine_detail::page_digest(queued.hash, new_list_, peers_->hashes());
  hole_pages_.push_back(queued);
  return stats;
}

void Engine::Impl::flush_hole_pages() {
  if (hole_pages_.empty()) return;
  std::sort(hole_pages_.begin(), hole_pages_.end(),
            [](const HolePage& a, const HolePage& b) { return a.page < b.page; });
  auto bytes_of = [this](const HolePage& h) {
    return h.bytes != nullptr ? h.bytes : hole_scratch_.data() + h.scratch_index;
  };
  const std::uint64_t shadow_offset =
      static_cast<std::uint64_t>(shadow_ - reinterpret_cast<const std::uint8_t*>(header_));
  hole_writes_.clear();
  for (const HolePage& h : hole_pages_) {
    hole_writes_.push_back(StorageWrite{h.page * page_size_, {bytes_of(h), page_size_}});
  }
  Status written = bulk_writer_(Storage::memory, hole_writes_);
  if (written) {
    for (StorageWrite& w : hole_writes_) w.offset_bytes += shadow_offset;
    written = bulk_writer_(Storage::state, hole_writes_);
  }
  if (!written) {
    // The writer could not (say, a full file system): the same bytes through the mappings, as
    // for any other page. Whatever the writer did write was these very bytes.
    for (const HolePage& h : hole_pages_) {
      engine_detail::copy_to_both(memory_page(h.page), shadow_page(h.page), bytes_of(h),
                                  page_size_);
    }
    engine_detail::copy_fence();
  }
  // The version lists' blocks: at the pool's high water mark, fresh pool as well (a random page
  // has ~64 entries, 5 blocks: 160 MiB per GiB synced, a page fault per 4 KiB if stored
  // through the mapping).
  bool blocks_written = false;
  if (written) {
    std::sort(hole_blocks_.begin(), hole_blocks_.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });
    hole_writes_.clear();
    for (const auto& staged : hole_blocks_) {
      hole_writes_.push_back(StorageWrite{
          pool_offset_bytes_ + std::uint64_t{staged.index} * sizeof(engine_detail::VersionBlock),
          {reinterpret_cast<const std::uint8_t*>(&staged.block),
           sizeof(engine_detail::VersionBlock)}});
    }
    blocks_written = static_cast<bool>(bulk_writer_(Storage::state, hole_writes_));
  }
  if (!blocks_written) pool_->write_staged(hole_blocks_);
  for (const HolePage& h : hole_pages_) {
    publish_head(h.page, h.head);
    records_[h.page].hash_x = h.hash ^ zero_hash_;
    records_[h.page].digest_x = h.digest ^ zero_digest_;
    end_update(h.page);
  }
  hole_pages_.clear();
  hole_scratch_.clear();
  hole_blocks_.clear();
}

}  // namespace wmd
