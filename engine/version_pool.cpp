#include "engine/version_pool.hpp"

#include <algorithm>
#include <cassert>

#include "engine/atomic_access.hpp"

namespace wmd::engine_detail {

VersionPool::VersionPool(VersionBlock* blocks, std::uint32_t capacity, std::uint32_t* high_water)
    : blocks_(blocks), capacity_(capacity), high_water_(high_water) {
  if (*high_water_ == 0) *high_water_ = 1;  // block 0 is never handed out
}

bool VersionPool::load(std::uint32_t head, std::uint32_t page_size_bytes, std::uint32_t peer_refs,
                       VersionList& out) const {
  out.clear();
  if (head == 0) {
    out.push_back(VersionEntry{0, page_size_bytes, Stamp{}});
    return true;
  }
  // A list never has more entries than bytes, which bounds the walk even through a cycle.
  const std::uint64_t max_blocks = blocks_for(page_size_bytes) + 1;
  std::uint64_t visited = 0;
  std::uint32_t index = head;
  while (index != 0) {
    if (index >= *high_water_ || ++visited > max_blocks) return false;
    const VersionBlock& block = blocks_[index];
    if (block.state != kBlockInUse || block.count == 0 || block.count > kEntriesPerBlock) {
      return false;
    }
    for (std::uint32_t k = 0; k < block.count; ++k) {
      const BlockEntry& e = block.entries[k];
      if (e.start >= page_size_bytes || e.peer_ref >= peer_refs) return false;
      if ((e.lamport == 0) != (e.peer_ref == 0)) return false;
      if (!out.empty()) {
        if (e.start <= out.back().start) return false;
        out.back().end = e.start;
      } else if (e.start != 0) {
        return false;
      }
      out.push_back(VersionEntry{e.start, page_size_bytes, Stamp{e.lamport, e.peer_ref}});
    }
    index = block.next;
  }
  return is_canonical(out, page_size_bytes) && !is_zero_version_list(out);
}

std::uint32_t VersionPool::allocate() {
  if (!free_.empty()) {
    const std::uint32_t index = free_.back();
    free_.pop_back();
    return index;
  }
  assert(*high_water_ <= capacity_);
  // Bump the mark before the block is used: a kill now leaks the block, which the next
  // attach reclaims, instead of leaving a reachable block beyond the mark.
  const std::uint32_t index = *high_water_;
  engine_detail::store_release(*high_water_, index + 1);
  return index;
}

template <typename BlockAt>
std::uint32_t VersionPool::store_with(const VersionList& list, BlockAt&& block_at) {
  if (is_zero_version_list(list)) return 0;
  assert(available() >= blocks_for(list.size()));
  // The chain is complete before the caller publishes its head, so order inside is free.
  const std::uint32_t head = allocate();
  std::uint32_t index = head;
  std::size_t entry = 0;
  while (true) {
    VersionBlock& block = block_at(index);
    const auto n =
        static_cast<std::uint32_t>(std::min<std::size_t>(kEntriesPerBlock, list.size() - entry));
    for (std::uint32_t k = 0; k < n; ++k, ++entry) {
      block.entries[k] =
          BlockEntry{list[entry].start, list[entry].ts.peer_ref, list[entry].ts.lamport};
    }
    block.count = n;
    block.reserved = 0;
    block.state = kBlockInUse;
    if (entry == list.size()) {
      block.next = 0;
      return head;
    }
    index = allocate();
    block.next = index;  // block stays valid: block_at() is called again only after this
  }
}

std::uint32_t VersionPool::store(const VersionList& list) {
  return store_with(list, [this](std::uint32_t index) -> VersionBlock& { return blocks_[index]; });
}

std::uint32_t VersionPool::store_staged(const VersionList& list, std::vector<StagedBlock>& staged) {
  return store_with(list, [&staged](std::uint32_t index) -> VersionBlock& {
    staged.push_back(StagedBlock{index, VersionBlock{}});
    return staged.back().block;
  });
}

void VersionPool::write_staged(const std::vector<StagedBlock>& staged) {
  for (const StagedBlock& s : staged) blocks_[s.index] = s.block;
}

void VersionPool::release(std::uint32_t head) {
  std::uint64_t guard = std::uint64_t{capacity_} + 1;
  while (head != 0 && head < *high_water_ && guard-- > 0) {
    VersionBlock& block = blocks_[head];
    if (block.state != kBlockInUse) return;
    const std::uint32_t next = block.next;
    block.state = kBlockFree;
    free_.push_back(head);
    head = next;
  }
}

bool VersionPool::mark_chain(std::uint32_t head, std::vector<bool>& in_use) const {
  while (head != 0) {
    if (head >= in_use.size() || in_use[head]) return false;
    in_use[head] = true;
    head = blocks_[head].next;
  }
  return true;
}

std::uint64_t VersionPool::rebuild_free_list(const std::vector<bool>& in_use) {
  free_.clear();
  std::uint64_t leaked = 0;
  for (std::uint32_t index = *high_water_; index-- > 1;) {
    if (index < in_use.size() && in_use[index]) continue;
    if (blocks_[index].state != kBlockFree) {
      blocks_[index].state = kBlockFree;
      ++leaked;
    }
    free_.push_back(index);
  }
  return leaked;
}

}  // namespace wmd::engine_detail
