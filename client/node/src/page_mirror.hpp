// wmd::node::PageMirror: keeps a memory that V8 owns and a wmd segment in step without copying
// either whole. It remembers the bytes both sides last agreed on (a shadow copy, with one XXH3
// hash per page), so that
//   push() finds the pages the module changed (memory hash != shadow hash), and copies only
//          the bytes that differ from the shadow into the segment;
//   pull() finds the pages peers changed (segment hash != shadow hash), and copies only the
//          bytes that differ from the shadow into the memory. A byte the module also changed
//          since the last sync keeps the module's value; the next push() sends it.
// Both read every page once to hash it (cost in proportion to the size, at hashing speed);
// bytes are copied only where they changed.
//
// Pure: no I/O, no Node-API; the segment may be written by other processes meanwhile (pull
// copies a changed page aside before comparing, so a page changing under it is never half
// trusted: whatever it missed differs from the shadow at the next pull).
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace wmd::node {

struct MirrorStats {
  std::uint64_t pages_changed = 0;  // pages whose hash differed from the shadow's
  std::uint64_t bytes_copied = 0;   // bytes written to the destination
};

class PageMirror {
 public:
  // REQUIRES: page_size_bytes is a power of two.
  explicit PageMirror(std::uint32_t page_size_bytes);

  std::uint32_t page_size() const noexcept { return page_size_bytes_; }
  std::uint64_t size_bytes() const noexcept { return shadow_.size(); }

  // Extends the tracked range; the new shadow bytes are zero (what both a grown memory and a
  // grown segment hold until someone writes). Grow-only: a smaller size changes nothing.
  void grow(std::uint64_t size_bytes);
  // The shadow becomes a copy of agreed (both sides hold these bytes now).
  // REQUIRES: agreed.size() == size_bytes()
  void reset_to(std::span<const std::uint8_t> agreed);

  // REQUIRES: memory.size() >= size_bytes() and segment.size() >= size_bytes()
  MirrorStats push(std::span<const std::uint8_t> memory, std::span<std::uint8_t> segment);
  MirrorStats pull(std::span<std::uint8_t> memory, std::span<const std::uint8_t> segment);

 private:
  std::uint64_t page_count() const noexcept;
  std::span<std::uint8_t> shadow_page(std::uint64_t page) noexcept;

  // Constant after construction.
  std::uint32_t page_size_bytes_;
  std::uint64_t zero_page_hash_;
  // The agreed bytes and the hash of each of their pages (the last page may be partial).
  std::vector<std::uint8_t> shadow_;
  std::vector<std::uint64_t> hashes_;
  std::vector<std::uint8_t> scratch_;  // one page, for pull's snapshot
};

}  // namespace wmd::node
