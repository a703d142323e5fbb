// The engine's calls, exported from wmd_engine.wasm (see wasm_host.hpp for the memory model).
// Every call that can fail returns a wmd::errc value (0 = ok). Local patches the engine produces
// (scans, and pending changes absorbed before remote bytes land) go to the outbox in order.
#include <algorithm>
#include <cstring>

#include "client/web/src/wasm_host.hpp"
#include "engine/state_layout.hpp"

namespace wmd::web {

Host& host() {
  static Host instance;
  return instance;
}

int to_code(std::error_code error) noexcept {
  if (!error) return 0;
  if (error.category() != wmd_category()) return static_cast<int>(errc::io_error);
  return error.value();
}

namespace {

constexpr std::uint64_t kWasmPageBytes = 65536;

// Fresh zero pages at the end of this module's memory, never handed to malloc (which grows the
// memory through sbrk on its own and copes with a gap). memory.grow only reserves: the browser
// backs a page with memory the first time it is written, so reserving the engine's state and the
// replica for the max size up front costs what is used.
std::uint8_t* reserve(std::uint64_t bytes) {
  const std::uint64_t pages = (bytes + kWasmPageBytes - 1) / kWasmPageBytes;
  if (pages > SIZE_MAX / kWasmPageBytes) return nullptr;
  const std::size_t old_pages = __builtin_wasm_memory_grow(0, static_cast<std::size_t>(pages));
  if (old_pages == SIZE_MAX) return nullptr;
  return reinterpret_cast<std::uint8_t*>(old_pages * kWasmPageBytes);
}

std::string take_string(std::uint32_t offset, std::uint32_t length) {
  const auto& scratch = host().scratch;
  if (offset > scratch.size() || length > scratch.size() - offset) return {};
  return std::string(reinterpret_cast<const char*>(scratch.data()) + offset, length);
}

}  // namespace

}  // namespace wmd::web

using wmd::web::host;
using wmd::web::to_code;

// A scratch area of at least `bytes` in which JavaScript writes the strings and frames it passes.
WMD_EXPORT(wmd_scratch) std::uint8_t* wmd_scratch(std::uint32_t bytes) {
  auto& scratch = host().scratch;
  if (scratch.size() < bytes) scratch.resize(bytes);
  return scratch.data();
}

// The engine over `initial_size` bytes of zeros, with its peer id at scratch[id_offset, +length).
// Once per instance.
WMD_EXPORT(wmd_create)
int wmd_create(std::uint32_t page_size, double max_size, std::uint32_t max_patch_bytes,
               std::uint32_t max_merge_gap_bytes, std::uint32_t id_offset, std::uint32_t id_length,
               double initial_size) {
  auto& h = host();
  if (h.engine) return static_cast<int>(wmd::errc::invalid_config);
  wmd::EngineConfig config;
  config.page_size_bytes = page_size;
  config.peer_id = wmd::web::take_string(id_offset, id_length);
  config.max_size_bytes = static_cast<std::uint64_t>(max_size);
  config.max_patch_bytes = max_patch_bytes;
  config.max_merge_gap_bytes = max_merge_gap_bytes;
  if (wmd::Status valid = wmd::validate(config); !valid) return to_code(valid.error().code());
  // The engine rounds the max size up to a page multiple; so does the replica.
  const std::uint64_t max_bytes =
      wmd::engine_detail::align_up(config.max_size_bytes, config.page_size_bytes);
  if (initial_size < 0 || static_cast<std::uint64_t>(initial_size) > max_bytes) {
    return static_cast<int>(wmd::errc::beyond_max_size);
  }
  auto state_bytes = wmd::Engine::state_bytes_required(config);
  if (!state_bytes) return to_code(state_bytes.error().code());
  std::uint8_t* replica = wmd::web::reserve(max_bytes);
  std::uint8_t* state = replica == nullptr ? nullptr : wmd::web::reserve(*state_bytes);
  if (state == nullptr) return static_cast<int>(wmd::errc::beyond_max_size);
  h.replica_base = replica;
  const std::uint64_t size = wmd::engine_detail::align_up(static_cast<std::uint64_t>(initial_size),
                                                          config.page_size_bytes);
  auto engine = wmd::Engine::create(
      config, std::span<std::uint8_t>(replica, size), std::span<std::uint8_t>(state, *state_bytes),
      [max_bytes](std::uint64_t new_size) -> wmd::Result<std::span<std::uint8_t>> {
        if (new_size > max_bytes) return wmd::errc::beyond_max_size;
        return std::span<std::uint8_t>(host().replica_base, new_size);
      });
  if (!engine) return to_code(engine.error().code());
  h.engine = std::move(engine).value();
  h.engine->on_diff([](const wmd::Patch& patch) { host().outbox.emplace_back(patch); });
  return 0;
}

WMD_EXPORT(wmd_replica) std::uint8_t* wmd_replica() {
  return host().replica_base;
}
WMD_EXPORT(wmd_size) double wmd_size() {
  return static_cast<double>(host().engine->size_bytes());
}
WMD_EXPORT(wmd_max_size) double wmd_max_size() {
  return static_cast<double>(host().engine->max_size_bytes());
}
WMD_EXPORT(wmd_page_size) std::uint32_t wmd_page_size() {
  return host().engine->page_size();
}
WMD_EXPORT(wmd_lamport) double wmd_lamport() {
  return static_cast<double>(host().engine->lamport());
}
WMD_EXPORT(wmd_zero_page_digest) std::uint64_t wmd_zero_page_digest() {
  return host().engine->zero_page_digest();
}

// Grow-only, to a page multiple.
WMD_EXPORT(wmd_resize) int wmd_resize(double new_size) {
  return to_code(host().engine->resize(static_cast<std::uint64_t>(new_size)).error().code());
}

WMD_EXPORT(wmd_clear_outbox) void wmd_clear_outbox() {
  host().outbox.clear();
}

// Hashes every page of the replica bytes; the round's patches go to the outbox.
WMD_EXPORT(wmd_scan) void wmd_scan() {
  (void)host().engine->scan();
}

// Page ranges [first, end) the inbox's patch or page states touch, as pairs of doubles at the
// returned address; *count (JavaScript reads it with wmd_touched_count) is the pair count.
WMD_EXPORT(wmd_inbox_touched_pages) double* wmd_inbox_touched_pages() {
  auto& h = host();
  h.touched_pages.clear();
  const std::uint64_t page = h.engine->page_size();
  if (const auto* patch = std::get_if<wmd::Patch>(&h.inbox)) {
    for (const wmd::Run& run : patch->runs) {
      if (run.length == 0) continue;
      const double first = static_cast<double>(run.offset / page);
      const double end = static_cast<double>((run.offset + run.length + page - 1) / page);
      if (!h.touched_pages.empty() && h.touched_pages.back() >= first) {
        h.touched_pages.back() = std::max(h.touched_pages.back(), end);
      } else {
        h.touched_pages.push_back(first);
        h.touched_pages.push_back(end);
      }
    }
  } else if (const auto* states = std::get_if<wmd::proto::PageStates>(&h.inbox)) {
    for (const wmd::PageState& state : states->pages) {
      h.touched_pages.push_back(static_cast<double>(state.page_index));
      h.touched_pages.push_back(static_cast<double>(state.page_index + 1));
    }
  }
  return h.touched_pages.data();
}
WMD_EXPORT(wmd_touched_count) std::uint32_t wmd_touched_count() {
  return static_cast<std::uint32_t>(host().touched_pages.size() / 2);
}

// Applies the inbox's patch (validated whole first); absorbed local changes go to the outbox.
WMD_EXPORT(wmd_apply_inbox) int wmd_apply_inbox() {
  auto& h = host();
  const auto* patch = std::get_if<wmd::Patch>(&h.inbox);
  if (patch == nullptr) return static_cast<int>(wmd::errc::malformed);
  auto applied = h.engine->apply(*patch);
  if (!applied) return to_code(applied.error().code());
  h.apply_stats = *applied;
  return 0;
}
WMD_EXPORT(wmd_applied_bytes) double wmd_applied_bytes() {
  return static_cast<double>(host().apply_stats.bytes_written);
}
WMD_EXPORT(wmd_applied_pages) double wmd_applied_pages() {
  return static_cast<double>(host().apply_stats.pages_touched);
}

// Merges every page state of the inbox's PageStates; stops at the first error.
WMD_EXPORT(wmd_merge_inbox) int wmd_merge_inbox() {
  auto& h = host();
  const auto* states = std::get_if<wmd::proto::PageStates>(&h.inbox);
  if (states == nullptr) return static_cast<int>(wmd::errc::malformed);
  h.merge_stats = {};
  for (const wmd::PageState& state : states->pages) {
    auto merged = h.engine->merge_page(state);
    if (!merged) return to_code(merged.error().code());
    h.merge_stats.bytes_taken += merged->bytes_taken;
    h.merge_stats.grew = h.merge_stats.grew || merged->grew;
  }
  return 0;
}
WMD_EXPORT(wmd_merged_bytes) double wmd_merged_bytes() {
  return static_cast<double>(host().merge_stats.bytes_taken);
}

// One Digests message (every non-zero page digest, flagged last) to the outbox.
WMD_EXPORT(wmd_digests) void wmd_digests(int reply_requested) {
  auto& h = host();
  wmd::proto::Digests digests;
  digests.size_bytes = h.engine->size_bytes();
  digests.last = true;
  digests.reply_requested = reply_requested != 0;
  digests.digests = h.engine->nonzero_digests();
  h.outbox.emplace_back(std::move(digests));
}

// The page's state, as a PageStates message of one page, to the outbox (after the local changes
// it absorbed, if any).
WMD_EXPORT(wmd_export_page) int wmd_export_page(double page) {
  auto& h = host();
  auto state = h.engine->export_page(static_cast<std::uint64_t>(page));
  if (!state) return to_code(state.error().code());
  std::vector<wmd::PageState> pages;
  pages.push_back(std::move(state).value());
  h.outbox.emplace_back(wmd::proto::page_states_of(std::move(pages)));
  return 0;
}

// Our Hello (peer id, page size, size, lamport, vector clock) with the cluster name at
// scratch[offset, +length), to the outbox.
WMD_EXPORT(wmd_hello) void wmd_hello(std::uint32_t cluster_offset, std::uint32_t cluster_length) {
  auto& h = host();
  wmd::proto::Hello hello;
  hello.cluster = wmd::web::take_string(cluster_offset, cluster_length);
  hello.peer_id = h.engine->peer_id();
  hello.page_size_bytes = h.engine->page_size();
  hello.size_bytes = h.engine->size_bytes();
  hello.lamport = h.engine->lamport();
  hello.clock = h.engine->vector_clock();
  h.outbox.emplace_back(std::move(hello));
}

// The engine's reason for an error code, NUL-terminated.
WMD_EXPORT(wmd_error_message) const char* wmd_error_message(int code) {
  static std::string text;
  text = wmd::make_error_code(static_cast<wmd::errc>(code)).message();
  return text.c_str();
}
