// The state of the WebAssembly build of the engine (wmd_engine.wasm): one engine per module
// instance, the memory it replicates, and the message slots through which JavaScript and the
// module exchange values.
//
// The engine cannot see the page's own WebAssembly.Memory (no multi-memory in Node 20), so it
// works on a copy inside this module's memory ("replica bytes"): the JavaScript side copies the
// pages in before the engine reads them and out after it wrote them (client/web/wmd_wasm.mjs).
//
// Values cross the boundary through two slots, never through a format of their own:
//  * the outbox: messages the module produced (a scan's patches, a decoded frame, a page's
//    state, digests), read field by field by JavaScript (wasm_messages.cpp) or encoded to frames;
//  * the inbox: one message JavaScript built field by field or took from the outbox, which the
//    engine then applies, merges or encodes.
//
// Thread-safety: a WebAssembly instance runs on one thread; nothing here is shared.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "proto/message.hpp"

// Exported to JavaScript under its own name.
#define WMD_EXPORT(name) extern "C" __attribute__((export_name(#name)))

namespace wmd::web {

struct Host {
  std::unique_ptr<Engine> engine;
  std::span<std::uint8_t> replica;  // reserved for the max size; engine size used
  std::uint8_t* replica_base = nullptr;
  std::vector<proto::Message> outbox;
  proto::Message inbox;
  std::vector<std::uint8_t> encoded;  // the last encode_* result
  std::vector<std::uint8_t> scratch;  // JavaScript writes strings and frames here
  std::vector<double> touched_pages;  // [first, end) pairs of the inbox's pages
  ApplyStats apply_stats;
  MergeStats merge_stats;
};

Host& host();

// Maps an error to the number JavaScript sees (a wmd::errc value; other categories are io_error).
int to_code(std::error_code error) noexcept;

}  // namespace wmd::web
