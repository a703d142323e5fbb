// The messages peers exchange (see proto/PROTOCOL.md for the byte layout).
// Plain values; the decoder guarantees the invariants listed on each field.
// Thread-safety: value types.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "engine/types.hpp"

namespace wmd::proto {

// 2: timestamps are HLC values; 3: page states name a frame table of timestamps, sparse runs.
inline constexpr std::uint16_t kProtocolVersion = 3;
inline constexpr std::uint32_t kDefaultMaxFrameBytes = 16 * 1024 * 1024;
inline constexpr std::uint32_t kMinMaxFrameBytes = 64 * 1024;
inline constexpr std::size_t kMaxClusterNameBytes = 64;
inline constexpr std::size_t kMaxErrorTextBytes = 1024;

enum class MessageType : std::uint8_t {
  hello = 1,
  patch = 2,
  growth = 3,
  digests = 4,
  page_states = 5,
  catchup_done = 6,
  heartbeat = 7,
  error = 8,
};

// First message each side sends. Refused (error frame, close) on a different protocol version,
// cluster or page size.
struct Hello {
  std::uint16_t protocol_version = kProtocolVersion;
  std::string cluster;  // 0..kMaxClusterNameBytes bytes
  std::string peer_id;  // valid peer id
  std::uint32_t page_size_bytes = 0;
  std::uint64_t size_bytes = 0;
  std::uint64_t lamport = 0;
  VectorClock clock;
  friend bool operator==(const Hello&, const Hello&) = default;
};

// The sender's segment is now this large (grow-only; receivers grow to the maximum seen).
struct Growth {
  std::uint64_t size_bytes = 0;
  friend bool operator==(const Growth&, const Growth&) = default;
};

// One chunk of the sender's non-zero page digests, page indices strictly increasing within
// and across chunks. A page missing from all chunks has the zero-page digest. `last` marks the
// final chunk of one catch-up round. On receiving the last chunk, a peer sends its state of
// every page whose digest differs from the sender's and is not the zero-page digest, then
// CatchupDone; when `reply_requested` is set it also sends its own digests (reply_requested
// unset), so that a side that lost patches (dropped send queue) can push its pages too.
struct Digests {
  std::uint64_t size_bytes = 0;
  bool last = false;
  bool reply_requested = false;
  std::vector<PageDigest> digests;
  friend bool operator==(const Digests&, const Digests&) = default;
};

// Full page states for pages whose digests differed, in one of two forms: `pages`, one state
// at a time, or `stamped`, the table form (engine/types.hpp), never both. The decoder fills
// `stamped` when Limits::stamped_page_states asks for it (the daemon: its merge takes that form
// without expanding every run), `pages` otherwise; the encoder takes either.
struct PageStates {
  std::vector<PageState> pages;
  StampedPageStates stamped;
  // Set by the decoder, from the frame's peer table: every peer id the pages' version runs
  // name, sorted, each once (the decoder refuses a table entry no run names). A receiver vets
  // a frame's ids here rather than walking every run (~64 per page of fresh random data). The
  // encoder ignores it (it finds the ids from the runs); so does equality, as it follows from
  // the pages. Left empty by whoever builds a PageStates in memory.
  std::vector<PeerId> named_peers;
  // Equal when they hold the same page states, whatever their forms.
  friend bool operator==(const PageStates& a, const PageStates& b);
};

// A PageStates holding `pages`, one state at a time.
PageStates page_states_of(std::vector<PageState> pages);

// The page states one at a time, whatever the form they are held in.
std::vector<PageState> all_page_states(const PageStates& states);
std::size_t page_state_count(const PageStates& states);

// The peer ids the runs of `states` name, sorted, each once: named_peers when the decoder set
// it, else found by walking every run (a PageStates built in memory).
std::vector<PeerId> peers_named_by(const PageStates& states);

// The sender has sent every page state of its current catch-up round.
struct CatchupDone {
  std::uint64_t pages_sent = 0;
  friend bool operator==(const CatchupDone&, const CatchupDone&) = default;
};

// Liveness and RTT: a request carries a token the receiver echoes in a reply.
struct Heartbeat {
  std::uint64_t token = 0;
  bool reply = false;
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

// Sent before closing a connection on purpose. code is a wmd::errc value.
struct Error {
  std::uint16_t code = 0;
  std::string message;  // 0..kMaxErrorTextBytes bytes
  friend bool operator==(const Error&, const Error&) = default;
};

using Message =
    std::variant<Hello, Patch, Growth, Digests, PageStates, CatchupDone, Heartbeat, Error>;

MessageType type_of(const Message& message) noexcept;
const char* to_string(MessageType type) noexcept;

}  // namespace wmd::proto
