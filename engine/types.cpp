#include "engine/types.hpp"

namespace wmd {

bool is_valid_peer_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxPeerIdBytes) return false;
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace wmd
