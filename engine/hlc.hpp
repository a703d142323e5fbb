// Hybrid logical clock values: the 64-bit timestamp of every write (Timestamp::lamport, the
// field kept its historical name) holds wall-clock milliseconds since the Unix epoch in the
// high 48 bits and a logical counter in the low 16 bits. Ordered as plain integers, so
// (hlc, peer id) stays a total order that extends causality; unlike a Lamport counter, a value
// cannot run far ahead of real time: receivers refuse one whose wall part is more than the
// configured offset ahead of their own clock (see hlc_ahead_ms()).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>

namespace wmd {

inline constexpr unsigned kHlcLogicalBits = 16;
inline constexpr std::uint64_t kHlcLogicalMask = (std::uint64_t{1} << kHlcLogicalBits) - 1;
// Wall parts beyond this (year ~10889) are not representable; clocks are clamped to it.
inline constexpr std::uint64_t kHlcMaxWallMs = (std::uint64_t{1} << (64 - kHlcLogicalBits)) - 1;

constexpr std::uint64_t hlc_wall_ms(std::uint64_t hlc) {
  return hlc >> kHlcLogicalBits;
}
constexpr std::uint64_t hlc_logical(std::uint64_t hlc) {
  return hlc & kHlcLogicalMask;
}
constexpr std::uint64_t make_hlc(std::uint64_t wall_ms, std::uint64_t logical) {
  return (wall_ms << kHlcLogicalBits) | (logical & kHlcLogicalMask);
}

// The HLC send rule: the next local stamp after `last` (the highest value seen or issued) at
// wall time now_ms: now_ms with counter 0 when the wall clock is ahead of last, else last with
// its counter + 1. nullopt when last's counter is spent (65,535 stamps in one millisecond, or
// a peer's clock slightly ahead): the caller waits for the next millisecond instead of
// borrowing from the wall part, which would let the counter drag the clock into the future.
constexpr std::optional<std::uint64_t> next_hlc(std::uint64_t last, std::uint64_t now_ms) {
  if (now_ms > kHlcMaxWallMs) now_ms = kHlcMaxWallMs;
  if (now_ms > hlc_wall_ms(last)) return make_hlc(now_ms, 0);
  if (hlc_logical(last) == kHlcLogicalMask) return std::nullopt;
  return last + 1;
}

// A remote value whose wall part is ahead of the local clock may carry at most this counter:
// the local counter then has 32,768 stamps left in that millisecond, so a peer ahead (within
// the offset) with a spent counter cannot stall local rounds until real time catches up.
inline constexpr std::uint64_t kHlcMaxAheadLogical = kHlcLogicalMask >> 1;

// How far the wall part of a remote value is ahead of now_ms (0 when not ahead). A receiver
// refuses a value more than its max clock offset ahead, or ahead with a counter above
// kHlcMaxAheadLogical.
constexpr std::uint64_t hlc_ahead_ms(std::uint64_t hlc, std::uint64_t now_ms) {
  const std::uint64_t wall = hlc_wall_ms(hlc);
  return wall > now_ms ? wall - now_ms : 0;
}

}  // namespace wmd
