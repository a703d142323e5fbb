// The byte layout of the engine's persistent state storage (header, peer table, page records,
// shadow copy, version block pool) and the arithmetic that places each part.
// Thread-safety: plain structs and pure functions; safe from any thread.
//
// Everything is fixed-width and index-based (no pointers), so the state can live in shared
// memory and be resumed by a later process. All-zero bytes are a valid "never written" value
// for every per-page part: a zero page record means "all-zero page, every byte at the zero
// timestamp", which is what lets sparse storage stay untouched for pages nobody wrote.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wmd::engine_detail {

inline constexpr std::uint64_t kStateMagic = 0x31'45'54'41'54'53'44'57ULL;  // "WDSTATE1"
// 2: timestamps are hybrid logical clock values (engine/hlc.hpp). A version-1 state holds
// Lamport counters, possibly poisoned near 2^62, so it is refused, not converted: the daemon
// says to remove it and catch up from the peers.
inline constexpr std::uint32_t kLayoutVersion = 2;
inline constexpr std::size_t kStateAlignment = 4096;

struct StateHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t page_size_bytes;
  std::uint64_t max_size_bytes;
  std::uint64_t size_bytes;  // current size; grows only
  std::uint64_t lamport;     // highest HLC value seen or issued; stored before it is used
  std::uint64_t local_seq;   // last sequence number issued locally
  std::uint32_t max_peers;
  std::uint32_t peer_count;  // slots [0, peer_count) are published
  std::uint32_t pool_blocks;
  std::uint32_t pool_high_water;  // blocks [1, high water) have been handed out at least once
  std::uint32_t clean_shutdown;   // 1 after the destructor ran, 0 while an engine owns the state
  std::uint32_t own_id_length;
  char own_id[64];
};
static_assert(sizeof(StateHeader) <= kStateAlignment);

// One known peer. Slot 0 is always the engine's own id. A version refers to a peer by
// "peer ref": 0 is the zero timestamp's empty id, ref r is slot r - 1.
struct PeerSlot {
  std::uint32_t id_length;
  std::uint32_t reserved;
  std::uint64_t id_hash;  // XXH3-64 of the id string, for digests
  std::uint64_t seq;      // highest sequence number seen from this peer (vector clock)
  char id[64];
  std::uint8_t padding[40];
};
static_assert(sizeof(PeerSlot) == 128);

// Per-page record. hash_x and digest_x are stored XOR the all-zero page's values so that a
// zero record describes the all-zero page. update_counter is odd while the page is modified.
struct PageRecord {
  std::uint32_t update_counter;
  std::uint32_t version_head;  // first block of the page's version list; 0 = whole page at zero ts
  std::uint64_t hash_x;        // XXH3-64 of the shadow page ^ zero page hash
  std::uint64_t digest_x;      // page digest ^ zero page digest
  std::uint64_t reserved;
};
static_assert(sizeof(PageRecord) == 32);

// One version entry inside a block: the run starts at `start` and ends where the next entry
// starts (or at the page end).
struct BlockEntry {
  std::uint32_t start;
  std::uint32_t peer_ref;
  std::uint64_t lamport;
};

inline constexpr std::uint32_t kEntriesPerBlock = 15;
inline constexpr std::uint32_t kBlockUnused = 0;  // zero storage: never handed out
inline constexpr std::uint32_t kBlockInUse = 1;
inline constexpr std::uint32_t kBlockFree = 2;

struct VersionBlock {
  std::uint32_t next;  // 0 = last block of the list
  std::uint32_t count;
  std::uint32_t state;  // kBlockUnused / kBlockInUse / kBlockFree
  std::uint32_t reserved;
  BlockEntry entries[kEntriesPerBlock];
};
static_assert(sizeof(VersionBlock) == 256);

inline constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// Offsets of each part inside the state storage.
struct StateLayout {
  std::uint64_t peers_offset = 0;
  std::uint64_t records_offset = 0;
  std::uint64_t shadow_offset = 0;
  std::uint64_t pool_offset = 0;
  std::uint64_t total_bytes = 0;

  static StateLayout compute(std::uint64_t max_pages, std::uint32_t page_size_bytes,
                             std::uint32_t max_peers, std::uint32_t pool_blocks) {
    StateLayout l;
    l.peers_offset = kStateAlignment;
    l.records_offset =
        align_up(l.peers_offset + std::uint64_t{max_peers} * sizeof(PeerSlot), kStateAlignment);
    l.shadow_offset = align_up(l.records_offset + max_pages * sizeof(PageRecord), kStateAlignment);
    l.pool_offset = align_up(l.shadow_offset + max_pages * page_size_bytes, kStateAlignment);
    // Block 0 is never used (index 0 means "no block"), so the pool holds pool_blocks + 1.
    l.total_bytes = l.pool_offset + (std::uint64_t{pool_blocks} + 1) * sizeof(VersionBlock);
    return l;
  }
};

}  // namespace wmd::engine_detail
