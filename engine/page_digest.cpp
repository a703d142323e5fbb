#include "engine/page_digest.hpp"

#include <xxhash.h>
#if defined(__x86_64__)
// Runtime selection of the widest vector unit (AVX2/AVX-512) the CPU has; the hash values are
// the same on every variant, so replicas on different CPUs still agree.
#include <xxh_x86dispatch.h>
#endif

namespace wmd::engine_detail {

std::uint64_t hash_bytes(const std::uint8_t* data, std::size_t length) {
  return XXH3_64bits(data, length);
}

std::uint64_t hash_peer_id(const std::string& id) {
  return XXH3_64bits(id.data(), id.size());
}

std::uint64_t page_digest(std::uint64_t bytes_hash, const VersionList& versions,
                          std::span<const std::uint64_t> peer_hashes) {
  // Fixed-width fields in a fixed order; the buffer is hashed at once.
  thread_local std::vector<std::uint64_t> words;
  words.clear();
  words.reserve(1 + 3 * versions.size());
  words.push_back(bytes_hash);
  for (const VersionEntry& e : versions) {
    words.push_back((std::uint64_t{e.start} << 32) | e.end);
    words.push_back(e.ts.lamport);
    words.push_back(peer_hashes[e.ts.peer_ref]);
  }
  return XXH3_64bits(words.data(), words.size() * sizeof(std::uint64_t));
}

}  // namespace wmd::engine_detail
