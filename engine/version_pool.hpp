// The pool of fixed-size blocks in state storage that holds per-page version lists, with
// copy-on-write updates: a new list is written to fresh blocks, published by one aligned store
// of the page's head index, and only then are the old blocks freed. A process killed at any
// instant therefore leaves every page with either its old or its new list intact.
// Thread-safety: not thread-safe; the engine's owner thread only (load() is read-only).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/state_layout.hpp"
#include "engine/version_list.hpp"

namespace wmd::engine_detail {

class VersionPool {
 public:
  // REQUIRES: blocks points at capacity + 1 blocks (block 0 unused) and high_water into the
  // state header; both outlive the pool.
  VersionPool(VersionBlock* blocks, std::uint32_t capacity, std::uint32_t* high_water);

  static std::uint64_t blocks_for(std::uint64_t entries) {
    return (entries + kEntriesPerBlock - 1) / kEntriesPerBlock;
  }
  // Blocks needed to store list (0 for the zero list, which is head 0).
  static std::uint64_t blocks_for(const VersionList& list) {
    return is_zero_version_list(list) ? 0 : blocks_for(list.size());
  }
  std::uint64_t available() const {
    return free_.size() + (std::uint64_t{capacity_} + 1 - *high_water_);
  }

  // Reads the list starting at head into out. False when the chain is malformed (bad index,
  // wrong block state, cycle, entries not canonical or not covering the page, peer ref >=
  // peer_refs).
  bool load(std::uint32_t head, std::uint32_t page_size_bytes, std::uint32_t peer_refs,
            VersionList& out) const;

  // Writes list into fresh blocks and returns its head (0 for the zero list).
  // REQUIRES: available() >= blocks_for(list).
  std::uint32_t store(const VersionList& list);

  // A block of a stored list, with its index, not yet in the pool's storage.
  struct StagedBlock {
    std::uint32_t index = 0;
    VersionBlock block{};
  };
  // As store(), but the blocks are appended to staged instead of written to storage: the
  // caller writes each block at byte index * sizeof(VersionBlock) of the pool (or hands
  // them to write_staged()) before it publishes the head. A batch of fresh blocks then lands
  // in one bulk write instead of one page fault per 4 KiB of new pool.
  // REQUIRES: available() >= blocks_for(list).
  std::uint32_t store_staged(const VersionList& list, std::vector<StagedBlock>& staged);
  // Writes staged blocks into the pool's storage through its mapping.
  void write_staged(const std::vector<StagedBlock>& staged);

  // Marks the blocks of the list at head free and makes them reusable.
  void release(std::uint32_t head);

  // Rebuilds the free list after attaching: blocks below the high water mark that no page
  // head reaches become free. in_use must hold one flag per block (index = block), set for
  // every reachable block. Returns how many of the reclaimed blocks were not marked free,
  // i.e. leaked by a process that died between allocating and freeing.
  std::uint64_t rebuild_free_list(const std::vector<bool>& in_use);

  std::uint32_t capacity() const { return capacity_; }
  std::uint32_t high_water() const { return *high_water_; }
  // Marks the blocks of a valid chain in in_use; false when a block is already marked (shared
  // between two lists, which only corruption can cause).
  bool mark_chain(std::uint32_t head, std::vector<bool>& in_use) const;

 private:
  std::uint32_t allocate();
  // The chain of blocks for list: block_at(index) gives the block to fill for each index.
  template <typename BlockAt>
  std::uint32_t store_with(const VersionList& list, BlockAt&& block_at);

  VersionBlock* blocks_;
  std::uint32_t capacity_;
  std::uint32_t* high_water_;
  std::vector<std::uint32_t> free_;
};

}  // namespace wmd::engine_detail
