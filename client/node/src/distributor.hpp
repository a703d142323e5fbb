// wmd::node::Distributor: the seed library's memory distributor, over wmd's engine, for a
// WebAssembly.Memory that V8 owns. The engine works in place on memory.buffer: scan() diffs
// the module's memory against the engine's shadow copy, applyPatches() writes remote bytes
// straight into it. No segment and no daemon: patches travel however the caller likes
// (the seed library's "transport agnostic").
//
// JavaScript class (wrapped by index.js's createMemoryDistributor):
//   new Distributor(memory, peerId, { pageSize, maxSize, maxPatchBytes, maxMergeGapBytes })
//   scan() -> patch[]                     local changes since the last scan (one round)
//   applyPatches(patch | patch[]) -> { bytesWritten, pagesTouched, grew, diffs: patch[] }
//   getVectorClock() -> { [peer]: seq }
//   resizeMemory(bytes) -> new size       memory.grow (whole wasm pages) + engine resize
//   destroy()
//   digests() -> [{ page, digest }]       catch-up, beyond the seed: pages that are not
//   exportPage(page) -> page state          all-zero and never written, a page's full state,
//   mergePage(state) -> { bytesTaken, grew, diffs }   and merging a peer's (per-byte rule)
//   peerId, pageSize, maxSize, size       read-only properties
// `diffs` are the local patches the engine produced while applying (pending local changes of
// touched pages are absorbed first, so that a remote patch never silently discards them);
// index.js hands them and scan()'s patches to the onDiff listeners.
//
// Growth of the memory made by the module itself (memory.grow in wasm) is picked up at the
// start of every call: the engine is resized to the new buffer.
//
// Thread-safety: JavaScript thread only; not reentrant (the engine is never called from inside
// one of its own callbacks).
#pragma once

#include <node_api.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "client/node/src/anonymous_mapping.hpp"
#include "client/node/src/wasm_memory.hpp"
#include "engine/engine.hpp"

namespace wmd::node {

class Distributor {
 public:
  // Defines the JavaScript class.
  static napi_value define_class(napi_env env);

  Distributor(napi_env env, napi_value memory, const EngineConfig& config);

 private:
  static napi_value construct(napi_env env, napi_callback_info info);
  static napi_value scan(napi_env env, napi_callback_info info);
  static napi_value apply_patches(napi_env env, napi_callback_info info);
  static napi_value get_vector_clock(napi_env env, napi_callback_info info);
  static napi_value resize_memory(napi_env env, napi_callback_info info);
  static napi_value destroy(napi_env env, napi_callback_info info);
  static napi_value digests(napi_env env, napi_callback_info info);
  static napi_value export_page(napi_env env, napi_callback_info info);
  static napi_value merge_page(napi_env env, napi_callback_info info);
  static napi_value peer_id(napi_env env, napi_callback_info info);
  static napi_value page_size(napi_env env, napi_callback_info info);
  static napi_value max_size(napi_env env, napi_callback_info info);
  static napi_value size(napi_env env, napi_callback_info info);

  // The live object behind `self`. Throws when destroyed.
  static Distributor& from(napi_env env, napi_value self);

  // Resizes the engine when the module grew the memory since the last call.
  void follow_memory_growth(napi_env env);
  // The engine's GrowFn: memory.grow through JavaScript. Never throws.
  Result<std::span<std::uint8_t>> grow_memory(std::uint64_t new_size_bytes);

  WasmMemory memory_;
  AnonymousMapping state_;
  std::unique_ptr<Engine> engine_;
  napi_env call_env_ = nullptr;  // the env of the call in progress (for grow_memory)
  std::vector<Patch> diffs_;     // local patches produced during the call in progress
};

}  // namespace wmd::node
