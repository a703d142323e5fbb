// wmd::node::SegmentMirror: mirror mode between a WebAssembly.Memory (V8 owns its bytes, so
// they cannot live in the segment) and a wmd segment that a local wmdd replicates.
//
// JavaScript class (wrapped by index.js's attachSegment):
//   new SegmentMirror(memory, '/NAME', { create, maxSize, pageSize, initial: 'pull' | 'push',
//                                        grow: (bytes) => void })
//   push({ flush, timeoutMs }) -> { pagesChanged, bytesCopied, grew, flushed }
//   pull() -> { pagesChanged, bytesCopied, grew }
//   flush(timeoutMs) -> boolean           wmd_flush: false when no daemon answered in time
//   waitRemote(timeoutMs) -> boolean      wmd_wait: blocks the JavaScript thread
//   waitRemoteAsync(timeoutMs) -> Promise<boolean>   wmd_wait on a libuv worker thread
//   status() -> object                    wmd_status
//   close()                               once pending async waits have ended
//   name, pageSize, size, closed          read-only properties
// Sizes, grow-only: the module growing its memory grows the segment (wmd_grow). The memory grows
// only when the segment holds data beyond it (a peer's module grew and wrote there), never
// because the segment is merely larger with a zero tail (`wmdd --size 64M` for a 16 MiB
// module): growing a memory behind its runtime's back leaves the runtime's cached views stale
// (emscripten). It then grows to the segment's size through the `grow` hook when given, so the
// host can route it to its runtime (emscripten: its own resize path, which refreshes its
// views), else through memory.grow. The mirror covers the bytes both sides have.
// On attach the two sides are made equal once, whole: 'pull' (default) copies the segment's
// differing pages into the memory, 'push' the memory's into the segment.
//
// Thread-safety: JavaScript thread only.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <memory>
#include <string>

#include "client/node/src/page_mirror.hpp"
#include "client/node/src/segment_tail.hpp"
#include "client/node/src/wasm_memory.hpp"

namespace wmd {
class Segment;
}

namespace wmd::node {

class SegmentMirror {
 public:
  static napi_value define_class(napi_env env);

  struct Options {
    bool create = true;
    std::uint64_t max_size_bytes = 0;   // 0: the segment's own (4 GiB when creating)
    std::uint32_t page_size_bytes = 0;  // 0: the segment's own (8192 when creating)
    bool initial_pull = true;           // false: initial push
    napi_value grow = nullptr;          // a JavaScript function (bytes) => void, or null
  };
  SegmentMirror(napi_env env, napi_value memory, const std::string& name, const Options& options);
  ~SegmentMirror();
  SegmentMirror(const SegmentMirror&) = delete;
  SegmentMirror& operator=(const SegmentMirror&) = delete;

 private:
  static napi_value construct(napi_env env, napi_callback_info info);
  static napi_value push(napi_env env, napi_callback_info info);
  static napi_value pull(napi_env env, napi_callback_info info);
  static napi_value flush(napi_env env, napi_callback_info info);
  static napi_value wait_remote(napi_env env, napi_callback_info info);
  static napi_value wait_remote_async(napi_env env, napi_callback_info info);
  static napi_value status(napi_env env, napi_callback_info info);
  static napi_value close(napi_env env, napi_callback_info info);
  static napi_value name(napi_env env, napi_callback_info info);
  static napi_value page_size(napi_env env, napi_callback_info info);
  static napi_value size(napi_env env, napi_callback_info info);
  static napi_value is_closed(napi_env env, napi_callback_info info);

  static SegmentMirror& from(napi_env env, napi_value self);

  // Grows the segment to the memory, the memory to the segment when the segment holds data
  // beyond it, and the mirror to what both have; returns whether anything grew.
  bool match_sizes(napi_env env);
  // The memory to at least size_bytes, through the grow hook or memory.grow; its new size.
  std::uint64_t grow_memory(napi_env env, std::uint64_t size_bytes);
  void initial_sync(napi_env env, bool pull);

  // Constant after construction.
  std::string name_;
  WasmMemory memory_;
  Reference grow_hook_;  // empty: memory.grow
  bool has_grow_hook_ = false;
  // Changed by push/pull/close. An async wait uses segment_ on a worker thread (libwmd allows
  // that), so close() releases it only once pending_waits_ is back to zero.
  std::unique_ptr<Segment> segment_;
  SegmentTail tail_;  // opened once segment_ exists (it may create the segment)
  std::uint32_t pending_waits_ = 0;
  bool closing_ = false;  // null once closed
  PageMirror mirror_;
  std::uint64_t seen_generation_ = 0;
};

}  // namespace wmd::node
