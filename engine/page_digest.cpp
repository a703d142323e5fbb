#include "engine/page_digest.hpp"

#include <array>

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
  // Fixed-width fields in a fixed order; the buffer is hashed at once. Most pages have a few
  // version runs: their words fit on the stack, so digesting allocates only for the others
  // (no thread_local cache: the WebAssembly build has no thread-exit hooks for one).
  constexpr std::size_t kStackWords = 256;
  std::array<std::uint64_t, kStackWords> stack_words;
  std::vector<std::uint64_t> heap_words;
  const std::size_t count = 1 + 3 * versions.size();
  std::span<std::uint64_t> words(stack_words);
  if (count > kStackWords) {
    heap_words.resize(count);
    words = heap_words;
  }
  std::size_t n = 0;
  words[n++] = bytes_hash;
  for (const VersionEntry& e : versions) {
    words[n++] = (std::uint64_t{e.start} << 32) | e.end;
    words[n++] = e.ts.lamport;
    words[n++] = peer_hashes[e.ts.peer_ref];
  }
  return XXH3_64bits(words.data(), count * sizeof(std::uint64_t));
}

}  // namespace wmd::engine_detail
