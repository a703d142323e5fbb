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
inline constexpr std::size_t kMinStampEntryBytes = 2;   // varint lamport delta, peer ref
inline constexpr std::size_t kMinWireRunBytes = 2;      // varint length and flag, stamp ref
// What a sender counts a version run (as the engine keeps it: sparse runs expanded) at when it
// fills a PageStates frame to its --max-frame. A receiver refuses a frame describing more
// than max_frame_bytes / this many runs: honest frames never do, and it bounds what decoding
// a frame can allocate (a sparse run of a few wire bytes can stand for a page of runs).
inline constexpr std::size_t kVersionRunBudgetBytes = 32;
// A page state: varint index, the page bytes, varint run count, at least one run.
inline constexpr std::size_t kMinPageStateOverheadBytes = 2 + kMinWireRunBytes;

}  // namespace wmd::proto
