// Page hashing (change detection) and page digests (catch-up): the digest covers the page
// bytes' hash and its version list, with peers identified by the hash of their id string, so
// equal states give equal digests on every replica whatever their local peer numbering.
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/version_list.hpp"

namespace wmd::engine_detail {

std::uint64_t hash_bytes(const std::uint8_t* data, std::size_t length);
std::uint64_t hash_peer_id(const std::string& id);

// REQUIRES: peer_hashes[ref] exists for every ref in versions (ref 0 = hash of "").
std::uint64_t page_digest(std::uint64_t bytes_hash, const VersionList& versions,
                          std::span<const std::uint64_t> peer_hashes);

}  // namespace wmd::engine_detail
