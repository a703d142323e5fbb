#include "client/node/src/wasm_memory.hpp"

#include <array>

namespace wmd::node {

WasmMemory::WasmMemory(napi_env env, napi_value memory) {
  if (type_of(env, memory) != napi_object || !has_property(env, memory, "grow") ||
      !has_property(env, memory, "buffer")) {
    throw_type_error("memory must be a WebAssembly.Memory");
  }
  memory_ = Reference(env, memory);
  (void)view(env);  // refuses a shared memory (SharedArrayBuffer) right away
}

std::span<std::uint8_t> WasmMemory::view(napi_env env) const {
  napi_value buffer = property(env, memory_.get(env), "buffer");
  bool is_buffer = false;
  check(env, napi_is_arraybuffer(env, buffer, &is_buffer), "memory.buffer");
  if (!is_buffer)
    throw_type_error("memory.buffer must be an ArrayBuffer (shared memories are not supported)");
  void* data = nullptr;
  std::size_t length = 0;
  check(env, napi_get_arraybuffer_info(env, buffer, &data, &length), "memory.buffer");
  return {static_cast<std::uint8_t*>(data), length};
}

std::span<std::uint8_t> WasmMemory::grow_to(napi_env env, std::uint64_t size_bytes) const {
  std::span<std::uint8_t> current = view(env);
  if (current.size() >= size_bytes) return current;
  std::uint64_t missing_pages = (size_bytes - current.size() + kWasmPageBytes - 1) / kWasmPageBytes;
  std::array<napi_value, 1> args{make_u64(env, missing_pages)};
  call_method(env, memory_.get(env), "grow", args);
  return view(env);
}

}  // namespace wmd::node
