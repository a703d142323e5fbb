// Decoder: frame header and body bytes -> Message, validating every value against Limits
// before it is used or memory is reserved for it (proto/PROTOCOL.md, "Validation").
#include <algorithm>
#include <limits>
#include <string_view>

#include "engine/stamped_pages.hpp"
#include "proto/byte_io.hpp"
#include "proto/codec.hpp"
#include "proto/page_runs.hpp"
#include "proto/wire_format.hpp"

namespace wmd::proto {
namespace {

std::string_view as_chars(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// A u8-length-prefixed string; malformed when longer than `max_bytes`.
std::string_view read_short_string(ByteReader& r, std::size_t max_bytes) {
  const std::uint8_t n = r.u8();
  if (!r.ok()) return {};
  if (n > max_bytes) {
    r.fail(errc::malformed);
    return {};
  }
  return as_chars(r.bytes(n));
}

std::string_view read_peer_id(ByteReader& r) {
  std::string_view id = read_short_string(r, 0xff);
  if (r.ok() && !is_valid_peer_id(id)) r.fail(errc::invalid_peer_id);
  return id;
}

bool is_printable_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Pages p with p * page_size < max_size, i.e. ceil(max_size / page_size), without overflow.
std::uint64_t max_page_count(const Limits& limits) {
  const std::uint64_t page = limits.page_size_bytes;
  return limits.max_size_bytes / page + (limits.max_size_bytes % page != 0 ? 1 : 0);
}

Result<Message> decode_hello(ByteReader& r, const Limits& limits) {
  Hello m;
  m.protocol_version = r.u16();
  std::string_view cluster = read_short_string(r, kMaxClusterNameBytes);
  if (r.ok() && !is_printable_ascii(cluster)) r.fail(errc::malformed);
  m.cluster = cluster;
  m.peer_id = read_peer_id(r);
  m.page_size_bytes = r.u32();
  if (!r.ok()) return r.error();
  if (m.protocol_version != kProtocolVersion) {
    // Another version's Hello is read only up to the prefix every version keeps, so that the
    // receiver can answer protocol_version_mismatch; the rest is its business.
    (void)r.bytes(r.remaining());
    return Message{std::move(m)};
  }
  m.size_bytes = r.u64();
  m.lamport = r.u64();
  const std::uint64_t entries = r.varint();
  if (!r.can_hold(entries, kMinClockEntryBytes)) return r.error();
  std::string_view previous;
  for (std::uint64_t i = 0; i < entries; ++i) {
    std::string_view peer = read_peer_id(r);
    const std::uint64_t seq = r.varint();
    if (!r.ok()) return r.error();
    if (i > 0 && peer <= previous) return errc::malformed;  // sorted, no duplicates
    m.clock.emplace_hint(m.clock.end(), std::string(peer), seq);
    previous = peer;
  }
  if (m.size_bytes > limits.max_size_bytes) return errc::beyond_max_size;
  return Message{std::move(m)};
}

Result<Message> decode_patch(ByteReader& r, const Limits& limits) {
  Patch m;
  m.origin = read_peer_id(r);
  m.seq = r.varint();
  m.lamport = r.varint();
  const std::uint64_t run_count = r.varint();
  if (!r.can_hold(run_count, kMinPatchRunBytes)) return r.error();
  if (m.seq == 0 || m.lamport == 0) return errc::malformed;

  m.runs.reserve(run_count);
  const std::uint64_t max_size = limits.max_size_bytes;
  std::uint64_t previous_end = 0;  // invariant: previous_end <= max_size
  std::uint64_t payload_bytes = 0;
  for (std::uint64_t i = 0; i < run_count; ++i) {
    const std::uint64_t gap = r.varint();
    const std::uint64_t length = r.varint();
    if (!r.ok()) return r.error();
    if (length == 0 || length > std::numeric_limits<std::uint32_t>::max()) return errc::malformed;
    if (gap > max_size - previous_end) return errc::beyond_max_size;
    const std::uint64_t offset = previous_end + gap;
    if (length > max_size - offset) return errc::beyond_max_size;
    m.runs.push_back(Run{offset, static_cast<std::uint32_t>(length)});
    previous_end = offset + length;
    payload_bytes += length;
    if (payload_bytes > r.remaining()) return errc::truncated;
  }
  if (payload_bytes != r.remaining()) return errc::malformed;
  auto payload = r.bytes(payload_bytes);
  m.bytes.assign(payload.begin(), payload.end());
  return Message{std::move(m)};
}

Result<Message> decode_growth(ByteReader& r, const Limits& limits) {
  Growth m;
  m.size_bytes = r.u64();
  if (!r.ok()) return r.error();
  if (m.size_bytes > limits.max_size_bytes) return errc::beyond_max_size;
  return Message{m};
}

Result<Message> decode_digests(ByteReader& r, const Limits& limits) {
  if (limits.page_size_bytes == 0) return errc::malformed;  // no handshake yet
  Digests m;
  m.size_bytes = r.u64();
  const std::uint8_t flags = r.u8();
  const std::uint64_t count = r.varint();
  if (!r.can_hold(count, kMinDigestEntryBytes)) return r.error();
  if ((flags & ~kDigestsKnownFlags) != 0) return errc::malformed;
  if (m.size_bytes > limits.max_size_bytes) return errc::beyond_max_size;
  m.last = (flags & kDigestsLast) != 0;
  m.reply_requested = (flags & kDigestsReplyRequested) != 0;

  const std::uint64_t max_pages = max_page_count(limits);
  m.digests.reserve(count);
  std::uint64_t next_index = 0;  // invariant: next_index <= max_pages
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t delta = r.varint();
    const std::uint64_t digest = r.u64();
    if (!r.ok()) return r.error();
    if (delta >= max_pages - next_index) return errc::beyond_max_size;
    const std::uint64_t index = next_index + delta;
    m.digests.push_back(PageDigest{index, digest});
    next_index = index + 1;
  }
  return Message{std::move(m)};
}

// The frame's timestamp table: lamport deltas from the previous entry and peer references,
// strictly increasing, never the zero timestamp.
Status decode_stamps(ByteReader& r, const std::vector<std::string_view>& peers,
                     std::vector<bool>& peer_used, std::uint64_t max_entries, StampTable& stamps) {
  const std::uint64_t count = r.varint();
  if (!r.can_hold(count, kMinStampEntryBytes)) return r.error();
  // Each entry is named by a run, and runs are capped (below): so are entries, before any
  // allocation (each holds a copy of its peer id).
  if (count > max_entries) return errc::malformed;
  stamps.reserve(count);
  std::uint64_t lamport = 0;
  std::uint64_t previous_ref = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t delta = r.varint();
    const std::uint64_t ref = r.varint();
    if (!r.ok()) return r.error();
    if (ref == 0 || ref > peers.size()) return errc::malformed;
    if (delta > std::numeric_limits<std::uint64_t>::max() - lamport) return errc::malformed;
    if (i == 0 ? delta == 0 : delta == 0 && ref <= previous_ref) return errc::malformed;
    lamport += delta;
    previous_ref = ref;
    peer_used[ref - 1] = true;
    stamps.push_back(Timestamp{lamport, PeerId(peers[ref - 1])});
  }
  return {};
}

Result<Message> decode_page_states(ByteReader& r, const Limits& limits) {
  const std::uint32_t page_size = limits.page_size_bytes;
  if (page_size == 0) return errc::malformed;  // no handshake yet

  const std::uint64_t peer_count = r.varint();
  if (!r.can_hold(peer_count, kMinPeerEntryBytes)) return r.error();
  std::vector<std::string_view> peers;  // views into the body: no copy per entry
  peers.reserve(peer_count);
  for (std::uint64_t i = 0; i < peer_count; ++i) {
    std::string_view peer = read_peer_id(r);
    if (!r.ok()) return r.error();
    if (i > 0 && peer <= peers.back()) return errc::malformed;  // sorted, no duplicates
    peers.push_back(peer);
  }
  std::vector<bool> peer_used(peers.size(), false);
  std::uint64_t runs_left = limits.max_frame_bytes / kVersionRunBudgetBytes;
  StampTable stamps;
  if (Status s = decode_stamps(r, peers, peer_used, runs_left, stamps); !s) return s.error();
  std::vector<bool> stamp_used(stamps.size(), false);

  const std::uint64_t page_count = r.varint();
  if (!r.can_hold(page_count, std::size_t{page_size} + kMinPageStateOverheadBytes)) {
    return r.error();
  }
  const std::uint64_t max_pages = max_page_count(limits);
  PageRunsScratch scratch;
  StampedPageStates batch;
  batch.pages.reserve(page_count);
  for (std::uint64_t i = 0; i < page_count; ++i) {
    StampedPage page;
    page.page_index = r.varint();
    auto bytes = r.bytes(page_size);
    if (!r.ok()) return r.error();
    if (page.page_index >= max_pages) return errc::beyond_max_size;
    page.bytes.assign(bytes.begin(), bytes.end());
    page.first_run = static_cast<std::uint32_t>(batch.runs.size());
    if (Status s = decode_page_runs(r, page.bytes, stamps.size(), stamp_used, scratch, batch.runs);
        !s) {
      return s.error();
    }
    page.run_count = static_cast<std::uint32_t>(batch.runs.size() - page.first_run);
    if (page.run_count > runs_left) return errc::malformed;  // more than a sender budgets
    runs_left -= page.run_count;
    batch.pages.push_back(std::move(page));
  }
  // A table entry nobody references.
  if (std::find(peer_used.begin(), peer_used.end(), false) != peer_used.end() ||
      std::find(stamp_used.begin(), stamp_used.end(), false) != stamp_used.end()) {
    return errc::malformed;
  }
  PageStates m;
  m.named_peers.assign(peers.begin(), peers.end());
  batch.stamps = std::move(stamps);
  if (limits.stamped_page_states) {
    m.stamped = std::move(batch);
  } else {
    m.pages = to_page_states(batch);
  }
  return Message{std::move(m)};
}

Result<Message> decode_catchup_done(ByteReader& r) {
  CatchupDone m;
  m.pages_sent = r.varint();
  if (!r.ok()) return r.error();
  return Message{m};
}

Result<Message> decode_heartbeat(ByteReader& r) {
  Heartbeat m;
  m.token = r.u64();
  const std::uint8_t reply = r.u8();
  if (!r.ok()) return r.error();
  if (reply > 1) return errc::malformed;
  m.reply = reply == 1;
  return Message{m};
}

Result<Message> decode_error(ByteReader& r) {
  Error m;
  m.code = r.u16();
  const std::uint16_t length = r.u16();
  if (!r.ok()) return r.error();
  if (length > kMaxErrorTextBytes) return errc::malformed;
  m.message = as_chars(r.bytes(length));
  if (!r.ok()) return r.error();
  return Message{std::move(m)};
}

Result<Message> decode_any(MessageType type, ByteReader& r, const Limits& limits) {
  switch (type) {
    case MessageType::hello:
      return decode_hello(r, limits);
    case MessageType::patch:
      return decode_patch(r, limits);
    case MessageType::growth:
      return decode_growth(r, limits);
    case MessageType::digests:
      return decode_digests(r, limits);
    case MessageType::page_states:
      return decode_page_states(r, limits);
    case MessageType::catchup_done:
      return decode_catchup_done(r);
    case MessageType::heartbeat:
      return decode_heartbeat(r);
    case MessageType::error:
      return decode_error(r);
  }
  return errc::unknown_message_type;
}

bool is_known_type(std::uint8_t type) {
  return type >= static_cast<std::uint8_t>(MessageType::hello) &&
         type <= static_cast<std::uint8_t>(MessageType::error);
}

}  // namespace

Result<FrameHeader> decode_header(std::span<const std::uint8_t, kFrameHeaderBytes> header,
                                  const Limits& limits) {
  FrameHeader h;
  h.body_bytes =
      static_cast<std::uint32_t>(header[0]) | static_cast<std::uint32_t>(header[1]) << 8 |
      static_cast<std::uint32_t>(header[2]) << 16 | static_cast<std::uint32_t>(header[3]) << 24;
  if (h.body_bytes > limits.max_frame_bytes) return errc::frame_too_large;
  if (!is_known_type(header[4])) return errc::unknown_message_type;
  h.type = static_cast<MessageType>(header[4]);
  return h;
}

Result<Message> decode_body(MessageType type, std::span<const std::uint8_t> body,
                            const Limits& limits) {
  if (!is_known_type(static_cast<std::uint8_t>(type))) return errc::unknown_message_type;
  if (body.size() > limits.max_frame_bytes) return errc::frame_too_large;
  ByteReader r(body);
  Result<Message> message = decode_any(type, r, limits);
  if (!message) return message;
  if (!r.ok()) return r.error();
  if (r.remaining() != 0) return errc::malformed;  // the body must be consumed exactly
  return message;
}

}  // namespace wmd::proto
