// wmd::node::WasmMemory: a handle on a JavaScript WebAssembly.Memory, whose bytes V8 owns.
// The ArrayBuffer behind memory.buffer is replaced (and the old one detached) by every
// memory.grow, so the bytes are looked up again on every call, never cached across calls.
//
// Thread-safety: JavaScript thread only.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <span>

#include "client/node/src/napi_util.hpp"

namespace wmd::node {

inline constexpr std::uint64_t kWasmPageBytes = 65536;

class WasmMemory {
 public:
  // REQUIRES: memory is a WebAssembly.Memory (checked: throws TypeError otherwise).
  WasmMemory(napi_env env, napi_value memory);

  napi_value object(napi_env env) const { return memory_.get(env); }
  // The memory's current bytes.
  std::span<std::uint8_t> view(napi_env env) const;
  // memory.grow to at least size_bytes (whole wasm pages); returns the new bytes. Throws
  // (RangeError from V8, pending) when the memory's maximum forbids it.
  std::span<std::uint8_t> grow_to(napi_env env, std::uint64_t size_bytes) const;

 private:
  Reference memory_;
};

}  // namespace wmd::node
