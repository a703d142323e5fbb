// Encoder: Message -> frame bytes, the layout of proto/PROTOCOL.md.
// The encoder trusts its input (it comes from our own engine); asserts state what it expects.
#include <algorithm>
#include <cassert>
#include <limits>
#include <string_view>

#include "engine/stamped_pages.hpp"
#include "proto/byte_io.hpp"
#include "proto/codec.hpp"
#include "proto/page_runs.hpp"
#include "proto/wire_format.hpp"

namespace wmd::proto {
namespace {

void write_short_string(ByteWriter& w, const std::string& s) {
  assert(s.size() <= 0xff);
  w.u8(static_cast<std::uint8_t>(s.size()));
  w.bytes(s);
}

void encode_body(const Hello& m, ByteWriter& w) {
  w.u16(m.protocol_version);
  write_short_string(w, m.cluster);
  write_short_string(w, m.peer_id);
  w.u32(m.page_size_bytes);
  w.u64(m.size_bytes);
  w.u64(m.lamport);
  w.varint(m.clock.size());
  for (const auto& [peer, seq] : m.clock) {  // std::map: sorted by peer id, as the spec wants
    write_short_string(w, peer);
    w.varint(seq);
  }
}

// Runs as (gap from the previous run's end, length): scattered small runs cost a few bytes.
void encode_body(const Patch& m, ByteWriter& w) {
  write_short_string(w, m.origin);
  w.varint(m.seq);
  w.varint(m.lamport);
  w.varint(m.runs.size());
  std::uint64_t previous_end = 0;
  [[maybe_unused]] std::uint64_t payload_bytes = 0;
  for (const Run& run : m.runs) {
    assert(run.offset >= previous_end && "runs must be sorted and non-overlapping");
    w.varint(run.offset - previous_end);
    w.varint(run.length);
    previous_end = run.offset + run.length;
    payload_bytes += run.length;
  }
  assert(payload_bytes == m.bytes.size());
  w.bytes(m.bytes);
}

void encode_body(const Growth& m, ByteWriter& w) {
  w.u64(m.size_bytes);
}

void encode_body(const Digests& m, ByteWriter& w) {
  w.u64(m.size_bytes);
  w.u8(static_cast<std::uint8_t>((m.last ? kDigestsLast : 0) |
                                 (m.reply_requested ? kDigestsReplyRequested : 0)));
  w.varint(m.digests.size());
  std::uint64_t next_index = 0;  // smallest index the next entry may have
  for (const PageDigest& d : m.digests) {
    assert(d.page_index >= next_index && "page indices must be strictly increasing");
    w.varint(d.page_index - next_index);
    w.u64(d.digest);
    next_index = d.page_index + 1;
  }
}

// The frame's tables: the peer ids the timestamps name, sorted, then the timestamps.
// REQUIRES: stamps sorted, unique, none the zero timestamp.
void write_stamp_tables(const StampTable& stamps, ByteWriter& w) {
  std::vector<std::string_view> peers;
  for (const Timestamp& ts : stamps) peers.emplace_back(ts.peer);
  std::sort(peers.begin(), peers.end());
  peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
  w.varint(peers.size());
  for (std::string_view p : peers) {
    assert(p.size() <= 0xff);
    w.u8(static_cast<std::uint8_t>(p.size()));
    w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(p.data()), p.size()));
  }
  w.varint(stamps.size());
  std::uint64_t previous_lamport = 0;
  for (const Timestamp& ts : stamps) {
    w.varint(ts.lamport - previous_lamport);
    auto it = std::lower_bound(peers.begin(), peers.end(), std::string_view(ts.peer));
    w.varint(static_cast<std::uint64_t>(it - peers.begin()) + 1);
    previous_lamport = ts.lamport;
  }
}

void encode_pages(std::span<const PageState> pages, ByteWriter& w) {
  // Tables: every distinct non-zero timestamp of the frame, sorted, and the peer ids they
  // name, sorted; each written once.
  std::vector<const Timestamp*> seen;
  for (const PageState& page : pages) {
    for (const VersionRun& v : page.versions) {
      // Most runs repeat the timestamp before the last zero stretch: skip those early.
      if (v.ts.lamport != 0 && (seen.empty() || *seen.back() != v.ts)) seen.push_back(&v.ts);
    }
  }
  std::sort(seen.begin(), seen.end(),
            [](const Timestamp* a, const Timestamp* b) { return *a < *b; });
  StampTable stamps;
  for (const Timestamp* ts : seen) {
    if (stamps.empty() || stamps.back() != *ts) stamps.push_back(*ts);
  }
  write_stamp_tables(stamps, w);
  w.varint(pages.size());
  PageRunsScratch scratch;
  for (const PageState& page : pages) {
    assert(page.bytes.size() == pages.front().bytes.size() && "all pages are one page long");
    w.varint(page.page_index);
    w.bytes(page.bytes);
    encode_page_runs(page.bytes, page.versions, stamps, scratch, w);
  }
}

// The table form goes out as it is when its table is one a frame may carry (strictly
// increasing, every entry named by a page's run); else one page at a time.
void encode_stamped(const StampedPageStates& batch, ByteWriter& w) {
  std::vector<bool> named(batch.stamps.size(), false);
  for (const StampedPage& page : batch.pages) {
    for (const StampedRun& run : std::span(batch.runs).subspan(page.first_run, page.run_count)) {
      if (run.stamp != 0) named[run.stamp - 1] = true;
    }
  }
  const bool increasing = std::adjacent_find(batch.stamps.begin(), batch.stamps.end(),
                                             [](const Timestamp& a, const Timestamp& b) {
                                               return !(a < b);
                                             }) == batch.stamps.end();
  if (!increasing || std::find(named.begin(), named.end(), false) != named.end()) {
    encode_pages(to_page_states(batch), w);
    return;
  }
  write_stamp_tables(batch.stamps, w);
  w.varint(batch.pages.size());
  PageRunsScratch scratch;
  for (const StampedPage& page : batch.pages) {
    assert(page.bytes.size() == batch.pages.front().bytes.size() && "all pages are one page long");
    w.varint(page.page_index);
    w.bytes(page.bytes);
    encode_page_runs(page.bytes, std::span(batch.runs).subspan(page.first_run, page.run_count),
                     scratch, w);
  }
}

void encode_body(const PageStates& m, ByteWriter& w) {
  assert((m.pages.empty() || m.stamped.pages.empty()) && "one form at a time");
  if (!m.stamped.pages.empty()) {
    encode_stamped(m.stamped, w);
  } else {
    encode_pages(m.pages, w);
  }
}

void encode_body(const CatchupDone& m, ByteWriter& w) {
  w.varint(m.pages_sent);
}

void encode_body(const Heartbeat& m, ByteWriter& w) {
  w.u64(m.token);
  w.u8(m.reply ? 1 : 0);
}

void encode_body(const Error& m, ByteWriter& w) {
  w.u16(m.code);
  assert(m.message.size() <= 0xffff);
  w.u16(static_cast<std::uint16_t>(m.message.size()));
  w.bytes(m.message);
}

// A close upper bound of the body size, to allocate once.
std::size_t estimate_body_bytes(const Message& message) {
  if (const auto* p = std::get_if<Patch>(&message)) {
    return 96 + p->bytes.size() + p->runs.size() * 2 * kMaxVarintBytes;
  }
  if (const auto* s = std::get_if<PageStates>(&message)) {
    std::size_t n = 16;
    for (const PageState& page : s->pages) n += 16 + page.bytes.size() + page.versions.size() * 24;
    for (const StampedPage& page : s->stamped.pages) n += 16 + page.bytes.size() + 24;
    return n;
  }
  if (const auto* d = std::get_if<Digests>(&message)) return 32 + d->digests.size() * 18;
  return 128;
}

}  // namespace

void encode(const Message& message, std::vector<std::uint8_t>& out) {
  const std::size_t frame_start = out.size();
  out.reserve(frame_start + kFrameHeaderBytes + estimate_body_bytes(message));
  ByteWriter w(out);
  w.u32(0);  // body length, patched below
  w.u8(static_cast<std::uint8_t>(type_of(message)));
  std::visit([&w](const auto& m) { encode_body(m, w); }, message);

  const std::size_t body_bytes = out.size() - frame_start - kFrameHeaderBytes;
  // The daemon keeps frames far smaller; a body this large is a bug, not a peer's mistake.
  assert(body_bytes <= std::numeric_limits<std::uint32_t>::max());
  for (int i = 0; i < 4; ++i) {
    out[frame_start + static_cast<std::size_t>(i)] =
        static_cast<std::uint8_t>(body_bytes >> (8 * i));
  }
}

std::vector<std::uint8_t> encode(const Message& message) {
  std::vector<std::uint8_t> out;
  encode(message, out);
  return out;
}

}  // namespace wmd::proto
