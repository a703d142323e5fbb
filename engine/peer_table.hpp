// The persistent table of known peer ids with their vector-clock sequence numbers, and the
// in-memory index that maps ids to the small "peer refs" version lists store.
// Thread-safety: not thread-safe; the engine's owner thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/result.hpp"
#include "engine/state_layout.hpp"
#include "engine/types.hpp"

namespace wmd::engine_detail {

class PeerTable {
 public:
  // REQUIRES: header and slots (header->max_peers of them) outlive the table.
  PeerTable(StateHeader* header, PeerSlot* slots);

  // Reads the published slots. False when one is malformed or an id repeats.
  bool load();

  // The ref of id, adding it to the table when new: a new id takes the lowest free slot (one
  // released since), else the next one past the published ones. Errors: peer_table_full.
  // REQUIRES: is_valid_peer_id(id).
  Result<std::uint32_t> intern(const std::string& id);
  std::optional<std::uint32_t> find(const std::string& id) const;
  // True when `count` more new ids can be interned. The last reserve() slots are kept for
  // messages that free at least as many slots as they take (an overwrite of ids that then own
  // nothing): made-up ids that fill the table can never block the writes that evict them.
  bool has_room_for(std::uint32_t count, bool use_reserve = false) const {
    const std::uint64_t room = header_->max_peers - header_->peer_count + free_refs_.size();
    return (use_reserve ? room : (room > reserve() ? room - reserve() : 0)) >= count;
  }
  std::uint32_t reserve() const { return header_->max_peers / 16; }
  // Frees the slot of ref (an id that owns no byte any more) for a later intern(); its name
  // becomes "" and its vector-clock entry goes. The slot's id length is cleared in one store,
  // so a process killed at any point leaves the slot either whole or free.
  // REQUIRES: ref >= 2 (never the engine's own id) and ref names an id.
  void release(std::uint32_t ref);
  bool is_free(std::uint32_t ref) const { return ref != 0 && names_[ref].empty(); }

  // Index = peer ref; ref 0 is the zero timestamp's "", a free slot's name is "" too.
  const std::vector<std::string>& names() const { return names_; }
  std::span<const std::uint64_t> hashes() const { return hashes_; }
  std::uint32_t ref_count() const { return static_cast<std::uint32_t>(names_.size()); }

  // Raises the vector-clock entry of ref to seq when seq is higher. REQUIRES: ref >= 1.
  void note_seq(std::uint32_t ref, std::uint64_t seq);
  std::uint64_t seq(std::uint32_t ref) const { return slots_[ref - 1].seq; }
  VectorClock vector_clock() const;

 private:
  StateHeader* header_;
  PeerSlot* slots_;
  std::vector<std::string> names_;
  std::vector<std::uint64_t> hashes_;
  std::unordered_map<std::string, std::uint32_t> refs_;
  std::set<std::uint32_t> free_refs_;  // released slots below peer_count, lowest reused first
};

}  // namespace wmd::engine_detail
