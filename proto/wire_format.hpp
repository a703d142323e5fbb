// Constants of the wmd frame layout shared by the encoder and the decoder (proto/PROTOCOL.md).
// Thread-safety: constants only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wmd::proto {

// Digests flags byte. Other bits are reserved and must be zero.
inline constexpr std::uint8_t kDigestsLast = 0x01;
inline constexpr std::uint8_t kDigestsReplyRequested = 0x02;
inline constexpr std::uint8_t kDigestsKnownFlags = kDigestsLast | kDigestsReplyRequested;

// Smallest encodings of repeated items: a count larger than the remaining bytes divided by
// these is refused before anything is allocated.
inline constexpr std::size_t kMinClockEntryBytes = 3;   // u8 length, >= 1 id byte, varint
inline constexpr std::size_t kMinPatchRunBytes = 3;     // varint gap, varint length, >= 1 byte
inline constexpr std::size_t kMinDigestEntryBytes = 9;  // varint index delta, u64 digest
inline constexpr std::size_t kMinPeerEntryBytes = 2;    // u8 length, >= 1 id byte
inline constexpr std::size_t kMinVersionRunBytes = 3;   // varint length, lamport, peer ref
// A page state: varint index, the page bytes, varint run count, at least one run.
inline constexpr std::size_t kMinPageStateOverheadBytes = 2 + kMinVersionRunBytes;

}  // namespace wmd::proto
