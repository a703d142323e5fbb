#include "client/node/src/page_mirror.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace wmd::node {
namespace {

std::uint64_t hash_of(std::span<const std::uint8_t> bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace

PageMirror::PageMirror(std::uint32_t page_size_bytes)
    : page_size_bytes_(page_size_bytes),
      zero_page_hash_(hash_of(std::vector<std::uint8_t>(page_size_bytes, 0))),
      scratch_(page_size_bytes) {}

std::uint64_t PageMirror::page_count() const noexcept {
  return (shadow_.size() + page_size_bytes_ - 1) / page_size_bytes_;
}

std::span<std::uint8_t> PageMirror::shadow_page(std::uint64_t page) noexcept {
  std::uint64_t start = page * page_size_bytes_;
  std::uint64_t end = std::min<std::uint64_t>(start + page_size_bytes_, shadow_.size());
  return std::span<std::uint8_t>(shadow_).subspan(start, end - start);
}

void PageMirror::grow(std::uint64_t size_bytes) {
  if (size_bytes <= shadow_.size()) return;
  std::uint64_t old_pages = page_count();
  // A partial last page gains bytes: its hash changes.
  if (old_pages > 0 && shadow_.size() % page_size_bytes_ != 0) old_pages -= 1;
  shadow_.resize(size_bytes, 0);
  hashes_.resize(page_count());
  for (std::uint64_t page = old_pages; page < page_count(); ++page) {
    std::span<std::uint8_t> bytes = shadow_page(page);
    hashes_[page] = bytes.size() == page_size_bytes_ ? zero_page_hash_ : hash_of(bytes);
  }
}

void PageMirror::reset_to(std::span<const std::uint8_t> agreed) {
  std::memcpy(shadow_.data(), agreed.data(), std::min(agreed.size(), shadow_.size()));
  for (std::uint64_t page = 0; page < page_count(); ++page)
    hashes_[page] = hash_of(shadow_page(page));
}

MirrorStats PageMirror::push(std::span<const std::uint8_t> memory,
                             std::span<std::uint8_t> segment) {
  MirrorStats stats;
  for (std::uint64_t page = 0; page < page_count(); ++page) {
    std::span<std::uint8_t> shadow = shadow_page(page);
    const std::uint64_t start = page * page_size_bytes_;
    const std::uint8_t* local = memory.data() + start;
    const std::uint64_t local_hash = XXH3_64bits(local, shadow.size());
    if (local_hash == hashes_[page]) continue;
    ++stats.pages_changed;
    // Copy each run of bytes that differ from the shadow.
    std::size_t i = 0;
    while (i < shadow.size()) {
      if (local[i] == shadow[i]) {
        ++i;
        continue;
      }
      std::size_t end = i + 1;
      while (end < shadow.size() && local[end] != shadow[end]) ++end;
      std::memcpy(segment.data() + start + i, local + i, end - i);
      std::memcpy(shadow.data() + i, local + i, end - i);
      stats.bytes_copied += end - i;
      i = end;
    }
    hashes_[page] = local_hash;
  }
  return stats;
}

MirrorStats PageMirror::pull(std::span<std::uint8_t> memory,
                             std::span<const std::uint8_t> segment) {
  MirrorStats stats;
  for (std::uint64_t page = 0; page < page_count(); ++page) {
    std::span<std::uint8_t> shadow = shadow_page(page);
    const std::uint64_t start = page * page_size_bytes_;
    if (XXH3_64bits(segment.data() + start, shadow.size()) == hashes_[page]) continue;
    ++stats.pages_changed;
    // Snapshot the page: the daemon may be writing it right now.
    std::uint8_t* remote = scratch_.data();
    std::memcpy(remote, segment.data() + start, shadow.size());
    std::uint8_t* local = memory.data() + start;
    for (std::size_t i = 0; i < shadow.size(); ++i) {
      if (remote[i] == shadow[i]) continue;
      // Only bytes the module left alone since the last sync take the remote value.
      if (local[i] == shadow[i]) {
        local[i] = remote[i];
        ++stats.bytes_copied;
      }
      shadow[i] = remote[i];
    }
    hashes_[page] = hash_of(shadow);
  }
  return stats;
}

}  // namespace wmd::node
