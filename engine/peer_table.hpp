// The persistent table of known peer ids with their vector-clock sequence numbers, and the
// in-memory index that maps ids to the small "peer refs" version lists store.
// Thread-safety: not thread-safe; the engine's owner thread only.
#pragma once

#include <cstdint>
#include <optional>
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

  // The ref of id, adding it to the table when new: a new id always gets ref ref_count() (the
  // table only appends, and never renumbers). Errors: peer_table_full.
  // REQUIRES: is_valid_peer_id(id).
  Result<std::uint32_t> intern(const std::string& id);
  std::optional<std::uint32_t> find(const std::string& id) const;
  // True when `count` more new ids can be interned.
  bool has_room_for(std::uint32_t count) const {
    return header_->max_peers - header_->peer_count >= count;
  }

  // Index = peer ref; ref 0 is the zero timestamp's "".
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
};

}  // namespace wmd::engine_detail
