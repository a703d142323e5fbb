// Messages across the JavaScript boundary of wmd_engine.wasm: reading the outbox field by field,
// building the inbox field by field, and the wire codec (proto/) on both. No format of its own:
// frames are encoded and decoded by the same code as the daemon's.
//
// Out-of-range indices and a message of another type read as zero (JavaScript only asks for what
// the type and counts it read before allow). 64-bit values that can exceed 2^53 (digests,
// heartbeat tokens) cross as BigInt (i64); sizes, offsets, lamports and sequence numbers as
// doubles (exact below 2^53).
#include <cstring>

#include "client/web/src/wasm_host.hpp"
#include "proto/codec.hpp"

namespace wmd::web {
namespace {

template <class T>
const T* out(std::uint32_t index) {
  auto& box = host().outbox;
  return index < box.size() ? std::get_if<T>(&box[index]) : nullptr;
}

template <class T>
T* in() {
  return std::get_if<T>(&host().inbox);
}

const PageState* out_page(std::uint32_t index, std::uint32_t page) {
  const auto* states = out<proto::PageStates>(index);
  return states != nullptr && page < states->pages.size() ? &states->pages[page] : nullptr;
}

const VersionRun* out_version(std::uint32_t index, std::uint32_t page, std::uint32_t run) {
  const PageState* state = out_page(index, page);
  return state != nullptr && run < state->versions.size() ? &state->versions[run] : nullptr;
}

std::string scratch_string(std::uint32_t offset, std::uint32_t length) {
  const auto& scratch = host().scratch;
  if (offset > scratch.size() || length > scratch.size() - offset) return {};
  return std::string(reinterpret_cast<const char*>(scratch.data()) + offset, length);
}

std::uint32_t last_string_length = 0;

// The text stays where it is (in the message it belongs to); null reads as "".
const char* string_out(std::string_view text) {
  last_string_length = static_cast<std::uint32_t>(text.size());
  return text.data();
}
const char* string_out(const std::string* text) {
  return string_out(text != nullptr ? std::string_view(*text) : std::string_view(""));
}
const char* string_out(const PeerId* id) {
  return string_out(id != nullptr ? id->view() : std::string_view(""));
}

}  // namespace
}  // namespace wmd::web

using wmd::web::host;
using wmd::web::in;
using wmd::web::out;
using wmd::web::out_page;
using wmd::web::out_version;
using wmd::web::scratch_string;
using wmd::web::string_out;
namespace proto = wmd::proto;

// --- outbox: what the module produced ------------------------------------------------------

WMD_EXPORT(wmd_outbox_count) std::uint32_t wmd_outbox_count() {
  return static_cast<std::uint32_t>(host().outbox.size());
}
// The message type (proto::MessageType: 1 hello, 2 patch, ... 8 error).
WMD_EXPORT(wmd_outbox_type) std::uint32_t wmd_outbox_type(std::uint32_t index) {
  auto& box = host().outbox;
  return index < box.size() ? static_cast<std::uint32_t>(proto::type_of(box[index])) : 0;
}

// Strings: the address of the bytes; wmd_string_length() is their length.
WMD_EXPORT(wmd_string_length) std::uint32_t wmd_string_length() {
  return wmd::web::last_string_length;
}
// Patch origin, Hello peer id.
WMD_EXPORT(wmd_out_peer) const char* wmd_out_peer(std::uint32_t i) {
  if (const auto* p = out<wmd::Patch>(i)) return string_out(&p->origin);
  if (const auto* h = out<proto::Hello>(i)) return string_out(&h->peer_id);
  return string_out(std::string_view(""));
}
// Hello cluster, Error text.
WMD_EXPORT(wmd_out_text) const char* wmd_out_text(std::uint32_t i) {
  if (const auto* h = out<proto::Hello>(i)) return string_out(&h->cluster);
  if (const auto* e = out<proto::Error>(i)) return string_out(&e->message);
  return string_out(std::string_view(""));
}

// Patch.
WMD_EXPORT(wmd_out_seq) double wmd_out_seq(std::uint32_t i) {
  const auto* p = out<wmd::Patch>(i);
  return p ? static_cast<double>(p->seq) : 0;
}
// Patch and Hello lamport.
WMD_EXPORT(wmd_out_lamport) double wmd_out_lamport(std::uint32_t i) {
  if (const auto* p = out<wmd::Patch>(i)) return static_cast<double>(p->lamport);
  if (const auto* h = out<proto::Hello>(i)) return static_cast<double>(h->lamport);
  return 0;
}
WMD_EXPORT(wmd_out_run_count) std::uint32_t wmd_out_run_count(std::uint32_t i) {
  const auto* p = out<wmd::Patch>(i);
  return p ? static_cast<std::uint32_t>(p->runs.size()) : 0;
}
WMD_EXPORT(wmd_out_run_offset) double wmd_out_run_offset(std::uint32_t i, std::uint32_t run) {
  const auto* p = out<wmd::Patch>(i);
  return p && run < p->runs.size() ? static_cast<double>(p->runs[run].offset) : 0;
}
WMD_EXPORT(wmd_out_run_length)
std::uint32_t wmd_out_run_length(std::uint32_t i, std::uint32_t run) {
  const auto* p = out<wmd::Patch>(i);
  return p && run < p->runs.size() ? p->runs[run].length : 0;
}
// The patch's payload (runs' bytes concatenated); its length is the sum of the run lengths.
WMD_EXPORT(wmd_out_patch_bytes) const std::uint8_t* wmd_out_patch_bytes(std::uint32_t i) {
  const auto* p = out<wmd::Patch>(i);
  return p ? p->bytes.data() : nullptr;
}

// Hello, Growth, Digests size; CatchupDone pages sent.
WMD_EXPORT(wmd_out_size) double wmd_out_size(std::uint32_t i) {
  if (const auto* h = out<proto::Hello>(i)) return static_cast<double>(h->size_bytes);
  if (const auto* g = out<proto::Growth>(i)) return static_cast<double>(g->size_bytes);
  if (const auto* d = out<proto::Digests>(i)) return static_cast<double>(d->size_bytes);
  if (const auto* c = out<proto::CatchupDone>(i)) return static_cast<double>(c->pages_sent);
  return 0;
}
// Hello protocol version and page size; Error code; Heartbeat reply; Digests flags (bit 0
// last, bit 1 reply requested).
WMD_EXPORT(wmd_out_small) std::uint32_t wmd_out_small(std::uint32_t i, std::uint32_t which) {
  if (const auto* h = out<proto::Hello>(i))
    return which == 0 ? h->protocol_version : h->page_size_bytes;
  if (const auto* e = out<proto::Error>(i)) return e->code;
  if (const auto* b = out<proto::Heartbeat>(i)) return b->reply ? 1 : 0;
  if (const auto* d = out<proto::Digests>(i))
    return (d->last ? 1u : 0u) | (d->reply_requested ? 2u : 0u);
  return 0;
}
WMD_EXPORT(wmd_out_token) std::uint64_t wmd_out_token(std::uint32_t i) {
  const auto* b = out<proto::Heartbeat>(i);
  return b ? b->token : 0;
}

// Hello clock entries.
WMD_EXPORT(wmd_out_clock_count) std::uint32_t wmd_out_clock_count(std::uint32_t i) {
  const auto* h = out<proto::Hello>(i);
  return h ? static_cast<std::uint32_t>(h->clock.size()) : 0;
}
namespace {
const std::pair<const std::string, std::uint64_t>* clock_entry(std::uint32_t i,
                                                               std::uint32_t entry) {
  const auto* h = out<proto::Hello>(i);
  if (h == nullptr || entry >= h->clock.size()) return nullptr;
  return &*std::next(h->clock.begin(), entry);
}
}  // namespace
WMD_EXPORT(wmd_out_clock_peer)
const char* wmd_out_clock_peer(std::uint32_t i, std::uint32_t entry) {
  const auto* e = clock_entry(i, entry);
  return string_out(e ? &e->first : nullptr);
}
WMD_EXPORT(wmd_out_clock_seq) double wmd_out_clock_seq(std::uint32_t i, std::uint32_t entry) {
  const auto* e = clock_entry(i, entry);
  return e ? static_cast<double>(e->second) : 0;
}

// Digests entries.
WMD_EXPORT(wmd_out_digest_count) std::uint32_t wmd_out_digest_count(std::uint32_t i) {
  const auto* d = out<proto::Digests>(i);
  return d ? static_cast<std::uint32_t>(d->digests.size()) : 0;
}
WMD_EXPORT(wmd_out_digest_page) double wmd_out_digest_page(std::uint32_t i, std::uint32_t entry) {
  const auto* d = out<proto::Digests>(i);
  return d && entry < d->digests.size() ? static_cast<double>(d->digests[entry].page_index) : 0;
}
WMD_EXPORT(wmd_out_digest) std::uint64_t wmd_out_digest(std::uint32_t i, std::uint32_t entry) {
  const auto* d = out<proto::Digests>(i);
  return d && entry < d->digests.size() ? d->digests[entry].digest : 0;
}

// PageStates pages and their version runs.
WMD_EXPORT(wmd_out_page_count) std::uint32_t wmd_out_page_count(std::uint32_t i) {
  const auto* s = out<proto::PageStates>(i);
  return s ? static_cast<std::uint32_t>(s->pages.size()) : 0;
}
WMD_EXPORT(wmd_out_page_index) double wmd_out_page_index(std::uint32_t i, std::uint32_t page) {
  const auto* s = out_page(i, page);
  return s ? static_cast<double>(s->page_index) : 0;
}
// The page's bytes (exactly one page).
WMD_EXPORT(wmd_out_page_bytes)
const std::uint8_t* wmd_out_page_bytes(std::uint32_t i, std::uint32_t page) {
  const auto* s = out_page(i, page);
  return s ? s->bytes.data() : nullptr;
}
WMD_EXPORT(wmd_out_version_count)
std::uint32_t wmd_out_version_count(std::uint32_t i, std::uint32_t page) {
  const auto* s = out_page(i, page);
  return s ? static_cast<std::uint32_t>(s->versions.size()) : 0;
}
// which: 0 start, 1 end, 2 lamport.
WMD_EXPORT(wmd_out_version)
double wmd_out_version(std::uint32_t i, std::uint32_t page, std::uint32_t run,
                       std::uint32_t which) {
  const auto* v = out_version(i, page, run);
  if (v == nullptr) return 0;
  return which == 0 ? v->start : which == 1 ? v->end : static_cast<double>(v->ts.lamport);
}
WMD_EXPORT(wmd_out_version_peer)
const char* wmd_out_version_peer(std::uint32_t i, std::uint32_t page, std::uint32_t run) {
  const auto* v = out_version(i, page, run);
  return string_out(v ? &v->ts.peer : nullptr);
}

// --- inbox: what JavaScript hands the module -----------------------------------------------
// Strings are passed as (offset, length) into the scratch area (wmd_scratch).

WMD_EXPORT(wmd_in_patch)
void wmd_in_patch(std::uint32_t origin_offset, std::uint32_t origin_length, double seq,
                  double lamport) {
  wmd::Patch patch;
  patch.origin = scratch_string(origin_offset, origin_length);
  patch.seq = static_cast<std::uint64_t>(seq);
  patch.lamport = static_cast<std::uint64_t>(lamport);
  host().inbox = std::move(patch);
}
WMD_EXPORT(wmd_in_run) void wmd_in_run(double offset, std::uint32_t length) {
  if (auto* p = in<wmd::Patch>()) p->runs.push_back({static_cast<std::uint64_t>(offset), length});
}
// Sizes the patch's payload to the sum of its run lengths; JavaScript writes it at the address.
WMD_EXPORT(wmd_in_patch_bytes) std::uint8_t* wmd_in_patch_bytes() {
  auto* p = in<wmd::Patch>();
  if (p == nullptr) return nullptr;
  std::uint64_t total = 0;
  for (const wmd::Run& run : p->runs) total += run.length;
  p->bytes.assign(static_cast<std::size_t>(total), 0);
  return p->bytes.data();
}

WMD_EXPORT(wmd_in_page_states) void wmd_in_page_states() {
  host().inbox = proto::PageStates{};
}
// Adds a page of `page_bytes` zero bytes; JavaScript writes its bytes at the address.
WMD_EXPORT(wmd_in_page) std::uint8_t* wmd_in_page(double page_index, std::uint32_t page_bytes) {
  auto* s = in<proto::PageStates>();
  if (s == nullptr) return nullptr;
  wmd::PageState state;
  state.page_index = static_cast<std::uint64_t>(page_index);
  state.bytes.assign(page_bytes, 0);
  s->pages.push_back(std::move(state));
  return s->pages.back().bytes.data();
}
// A version run of the last page added.
WMD_EXPORT(wmd_in_version)
void wmd_in_version(std::uint32_t start, std::uint32_t end, double lamport,
                    std::uint32_t peer_offset, std::uint32_t peer_length) {
  auto* s = in<proto::PageStates>();
  if (s == nullptr || s->pages.empty()) return;
  s->pages.back().versions.push_back(
      {start,
       end,
       {static_cast<std::uint64_t>(lamport), scratch_string(peer_offset, peer_length)}});
}

WMD_EXPORT(wmd_in_hello)
void wmd_in_hello(std::uint32_t cluster_offset, std::uint32_t cluster_length,
                  std::uint32_t peer_offset, std::uint32_t peer_length, std::uint32_t page_size,
                  double size, double lamport) {
  proto::Hello hello;
  hello.cluster = scratch_string(cluster_offset, cluster_length);
  hello.peer_id = scratch_string(peer_offset, peer_length);
  hello.page_size_bytes = page_size;
  hello.size_bytes = static_cast<std::uint64_t>(size);
  hello.lamport = static_cast<std::uint64_t>(lamport);
  host().inbox = std::move(hello);
}
WMD_EXPORT(wmd_in_clock)
void wmd_in_clock(std::uint32_t peer_offset, std::uint32_t peer_length, double seq) {
  if (auto* h = in<proto::Hello>()) {
    h->clock[scratch_string(peer_offset, peer_length)] = static_cast<std::uint64_t>(seq);
  }
}

WMD_EXPORT(wmd_in_digests) void wmd_in_digests(double size, int last, int reply_requested) {
  host().inbox =
      proto::Digests{static_cast<std::uint64_t>(size), last != 0, reply_requested != 0, {}};
}
WMD_EXPORT(wmd_in_digest) void wmd_in_digest(double page, std::uint64_t digest) {
  if (auto* d = in<proto::Digests>())
    d->digests.push_back({static_cast<std::uint64_t>(page), digest});
}

WMD_EXPORT(wmd_in_growth) void wmd_in_growth(double size) {
  host().inbox = proto::Growth{static_cast<std::uint64_t>(size)};
}
WMD_EXPORT(wmd_in_catchup_done) void wmd_in_catchup_done(double pages_sent) {
  host().inbox = proto::CatchupDone{static_cast<std::uint64_t>(pages_sent)};
}
WMD_EXPORT(wmd_in_heartbeat) void wmd_in_heartbeat(std::uint64_t token, int reply) {
  host().inbox = proto::Heartbeat{token, reply != 0};
}
WMD_EXPORT(wmd_in_error)
void wmd_in_error(std::uint32_t code, std::uint32_t text_offset, std::uint32_t text_length) {
  host().inbox =
      proto::Error{static_cast<std::uint16_t>(code), scratch_string(text_offset, text_length)};
}

// Moves outbox[index] into the inbox (a decoded frame, to apply or merge).
WMD_EXPORT(wmd_take_outbox) int wmd_take_outbox(std::uint32_t index) {
  auto& h = host();
  if (index >= h.outbox.size()) return static_cast<int>(wmd::errc::out_of_range);
  h.inbox = std::move(h.outbox[index]);
  return 0;
}

// --- the wire codec -----------------------------------------------------------------------

// Encodes outbox[index] (or the inbox when index is UINT32_MAX) as one frame; returns its length,
// the bytes being at wmd_encoded().
WMD_EXPORT(wmd_encode) std::uint32_t wmd_encode(std::uint32_t index) {
  auto& h = host();
  h.encoded.clear();
  if (index == UINT32_MAX) {
    proto::encode(h.inbox, h.encoded);
  } else if (index < h.outbox.size()) {
    proto::encode(h.outbox[index], h.encoded);
  }
  return static_cast<std::uint32_t>(h.encoded.size());
}
WMD_EXPORT(wmd_encoded) const std::uint8_t* wmd_encoded() {
  return host().encoded.data();
}

// Decodes the whole frame at scratch[0, length) under the given limits into the outbox (appended).
WMD_EXPORT(wmd_decode)
int wmd_decode(std::uint32_t length, std::uint32_t page_size, double max_size,
               std::uint32_t max_frame) {
  auto& h = host();
  if (length > h.scratch.size() || length < proto::kFrameHeaderBytes) {
    return static_cast<int>(wmd::errc::truncated);
  }
  proto::Limits limits;
  limits.max_frame_bytes = max_frame;
  limits.page_size_bytes = page_size;
  limits.max_size_bytes = static_cast<std::uint64_t>(max_size);
  auto header = proto::decode_header(std::span<const std::uint8_t, proto::kFrameHeaderBytes>(
                                         h.scratch.data(), proto::kFrameHeaderBytes),
                                     limits);
  if (!header) return wmd::web::to_code(header.error().code());
  if (header->body_bytes != length - proto::kFrameHeaderBytes) {
    return static_cast<int>(header->body_bytes > length - proto::kFrameHeaderBytes
                                ? wmd::errc::truncated
                                : wmd::errc::malformed);
  }
  auto message =
      proto::decode_body(header->type,
                         std::span<const std::uint8_t>(h.scratch.data() + proto::kFrameHeaderBytes,
                                                       header->body_bytes),
                         limits);
  if (!message) return wmd::web::to_code(message.error().code());
  h.outbox.push_back(std::move(message).value());
  return 0;
}
