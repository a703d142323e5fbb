#include "engine/peer_table.hpp"

#include <cstring>

#include "engine/atomic_access.hpp"
#include "engine/page_digest.hpp"

namespace wmd::engine_detail {

PeerTable::PeerTable(StateHeader* header, PeerSlot* slots) : header_(header), slots_(slots) {
  names_.push_back("");
  hashes_.push_back(hash_peer_id(""));
}

bool PeerTable::load() {
  names_.resize(1);
  hashes_.resize(1);
  refs_.clear();
  free_refs_.clear();
  if (header_->peer_count > header_->max_peers) return false;
  for (std::uint32_t slot = 0; slot < header_->peer_count; ++slot) {
    const PeerSlot& s = slots_[slot];
    if (s.id_length == 0 && slot > 0) {  // released (slot 0 is the engine's own id)
      names_.emplace_back();
      hashes_.push_back(hash_peer_id(""));
      free_refs_.insert(slot + 1);
      continue;
    }
    if (s.id_length == 0 || s.id_length > sizeof s.id) return false;
    std::string id(s.id, s.id_length);
    if (!is_valid_peer_id(id) || refs_.contains(id)) return false;
    const std::uint32_t ref = slot + 1;
    refs_.emplace(id, ref);
    hashes_.push_back(hash_peer_id(id));
    names_.push_back(std::move(id));
  }
  return true;
}

Result<std::uint32_t> PeerTable::intern(const std::string& id) {
  if (auto ref = find(id)) return *ref;
  if (!free_refs_.empty()) {
    const std::uint32_t ref = *free_refs_.begin();
    free_refs_.erase(free_refs_.begin());
    PeerSlot& s = slots_[ref - 1];
    // The length stays 0 (free) until the rest of the slot is complete.
    std::memset(s.id, 0, sizeof s.id);
    std::memcpy(s.id, id.data(), id.size());
    s.id_hash = hash_peer_id(id);
    s.seq = 0;
    store_release(s.id_length, static_cast<std::uint32_t>(id.size()));
    refs_.emplace(id, ref);
    names_[ref] = id;
    hashes_[ref] = s.id_hash;
    return ref;
  }
  const std::uint32_t slot = header_->peer_count;
  if (slot >= header_->max_peers) return errc::peer_table_full;
  PeerSlot& s = slots_[slot];
  std::memset(&s, 0, sizeof s);
  std::memcpy(s.id, id.data(), id.size());
  s.id_length = static_cast<std::uint32_t>(id.size());
  s.id_hash = hash_peer_id(id);
  // Publish the slot only once it is complete.
  engine_detail::store_release(header_->peer_count, slot + 1);
  const std::uint32_t ref = slot + 1;
  refs_.emplace(id, ref);
  names_.push_back(id);
  hashes_.push_back(s.id_hash);
  return ref;
}

void PeerTable::release(std::uint32_t ref) {
  PeerSlot& s = slots_[ref - 1];
  store_release(s.id_length, std::uint32_t{0});
  s.seq = 0;
  refs_.erase(names_[ref]);
  names_[ref].clear();
  hashes_[ref] = hash_peer_id("");
  free_refs_.insert(ref);
}

std::optional<std::uint32_t> PeerTable::find(const std::string& id) const {
  auto it = refs_.find(id);
  if (it == refs_.end()) return std::nullopt;
  return it->second;
}

void PeerTable::note_seq(std::uint32_t ref, std::uint64_t seq) {
  PeerSlot& s = slots_[ref - 1];
  if (seq > s.seq) s.seq = seq;
}

VectorClock PeerTable::vector_clock() const {
  VectorClock clock;
  for (std::uint32_t ref = 1; ref < names_.size(); ++ref) {
    if (!names_[ref].empty() && slots_[ref - 1].seq > 0) {
      clock.emplace(names_[ref], slots_[ref - 1].seq);
    }
  }
  return clock;
}

}  // namespace wmd::engine_detail
