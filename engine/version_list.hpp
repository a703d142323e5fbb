// In-memory per-page version lists (the canonical run-length form of per-byte timestamps) and
// the operations the engine needs on them: stamping ranges, last-writer-wins overlays, merging
// two lists, and canonical-form checks.
// Thread-safety: value types and pure functions; safe from any thread on distinct objects.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace wmd::engine_detail {

// A timestamp with the peer id replaced by its peer ref (see PeerSlot); ref 0 is "".
struct Stamp {
  std::uint64_t lamport = 0;
  std::uint32_t peer_ref = 0;
  friend bool operator==(const Stamp&, const Stamp&) = default;
};

// Orders stamps like Timestamp: lamport, then the peer id bytes.
// Refs past the peer table name ids not interned yet: ref peer_names->size() + i is
// (*pending_names)[i]. They let a message be decided before its new ids take table slots.
// REQUIRES: *peer_names (and *pending_names) outlive the order and name every ref compared.
class StampOrder {
 public:
  explicit StampOrder(const std::vector<std::string>* peer_names,
                      const std::vector<std::string>* pending_names = nullptr)
      : names_(peer_names), pending_(pending_names) {}
  bool less(Stamp a, Stamp b) const {
    if (a.lamport != b.lamport) return a.lamport < b.lamport;
    if (a.peer_ref == b.peer_ref) return false;
    return name(a.peer_ref) < name(b.peer_ref);
  }

 private:
  const std::string& name(std::uint32_t ref) const {
    return ref < names_->size() ? (*names_)[ref] : (*pending_)[ref - names_->size()];
  }

  const std::vector<std::string>* names_;
  const std::vector<std::string>* pending_;
};

struct VersionEntry {
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  Stamp ts;
  friend bool operator==(const VersionEntry&, const VersionEntry&) = default;
};

// Sorted, covering [0, page size), adjacent entries with different stamps.
using VersionList = std::vector<VersionEntry>;

// A page-local byte range [start, end); payload_offset locates its bytes in a patch payload
// (unused where no payload is involved).
struct PageRange {
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  std::uint64_t payload_offset = 0;
};

// The list of a never-written page: one entry at the zero stamp.
VersionList zero_version_list(std::uint32_t page_size_bytes);
bool is_zero_version_list(const VersionList& list);

// True when list is sorted, non-empty, covers [0, page_size) exactly, with no empty entries
// and no two adjacent entries with equal stamps.
bool is_canonical(const VersionList& list, std::uint32_t page_size_bytes);

// out = old with every byte of `ranges` (sorted, non-overlapping) set to ts: unconditionally
// when only_if_newer is false (a local stamp), else only where the old stamp is older (remote
// last-writer-wins). When written is non-null it receives the sub-ranges whose stamp changed
// to ts, each with payload_offset adjusted to its own start. out is canonical.
// REQUIRES: old canonical; ranges within the page; &out != &old.
void overlay(const VersionList& old, std::span<const PageRange> ranges, Stamp ts,
             bool only_if_newer, const StampOrder& order, VersionList& out,
             std::vector<PageRange>* written);

// out = per-byte maximum of local and remote; taken receives the ranges where remote won
// (payload_offset = start, i.e. page-relative). REQUIRES: both canonical over the same page.
void merge_max(const VersionList& local, const VersionList& remote, const StampOrder& order,
               VersionList& out, std::vector<PageRange>& taken);

}  // namespace wmd::engine_detail
