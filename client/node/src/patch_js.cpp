#include "client/node/src/patch_js.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "client/node/src/napi_util.hpp"

namespace wmd::node {

napi_value patch_to_js(napi_env env, const Patch& patch) {
  napi_value object = make_object(env);
  set_property(env, object, "origin", make_string(env, patch.origin));
  set_property(env, object, "seq", make_u64(env, patch.seq));
  set_property(env, object, "lamport", make_u64(env, patch.lamport));

  void* data = nullptr;
  napi_value buffer = nullptr;
  check(env, napi_create_arraybuffer(env, patch.bytes.size(), &data, &buffer), "patch bytes");
  if (!patch.bytes.empty()) std::memcpy(data, patch.bytes.data(), patch.bytes.size());

  napi_value runs = make_array(env, patch.runs.size());
  std::size_t byte_offset = 0;
  for (std::size_t i = 0; i < patch.runs.size(); ++i) {
    const Run& run = patch.runs[i];
    napi_value view = nullptr;
    check(env,
          napi_create_typedarray(env, napi_uint8_array, run.length, buffer, byte_offset, &view),
          "run bytes");
    byte_offset += run.length;
    napi_value js_run = make_object(env);
    set_property(env, js_run, "offset", make_u64(env, run.offset));
    set_property(env, js_run, "bytes", view);
    check(env, napi_set_element(env, runs, static_cast<std::uint32_t>(i), js_run), "runs");
  }
  set_property(env, object, "runs", runs);
  return object;
}

napi_value patches_to_js(napi_env env, std::span<const Patch> patches) {
  napi_value array = make_array(env, patches.size());
  for (std::size_t i = 0; i < patches.size(); ++i) {
    check(env,
          napi_set_element(env, array, static_cast<std::uint32_t>(i), patch_to_js(env, patches[i])),
          "patches");
  }
  return array;
}

Patch patch_from_js(napi_env env, napi_value value) {
  if (type_of(env, value) != napi_object) throw_type_error("a patch must be an object");
  Patch patch;
  patch.origin = to_string(env, property(env, value, "origin"), "patch.origin");
  patch.seq = to_u64(env, property(env, value, "seq"), "patch.seq");
  patch.lamport = to_u64(env, property(env, value, "lamport"), "patch.lamport");
  napi_value runs = property(env, value, "runs");
  bool is_array = false;
  check(env, napi_is_array(env, runs, &is_array), "patch.runs");
  if (!is_array) throw_type_error("patch.runs must be an array");
  std::uint32_t count = 0;
  check(env, napi_get_array_length(env, runs, &count), "patch.runs");
  patch.runs.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    napi_value js_run = nullptr;
    check(env, napi_get_element(env, runs, i, &js_run), "patch.runs");
    if (type_of(env, js_run) != napi_object) throw_type_error("patch.runs[] must be objects");
    std::uint64_t offset = to_u64(env, property(env, js_run, "offset"), "run.offset");
    std::span<std::uint8_t> bytes = bytes_of(env, property(env, js_run, "bytes"), "run.bytes");
    if (bytes.size() > UINT32_MAX) throw_range_error("run.bytes is too long");
    patch.runs.push_back(Run{offset, static_cast<std::uint32_t>(bytes.size())});
    patch.bytes.insert(patch.bytes.end(), bytes.begin(), bytes.end());
  }
  return patch;
}

std::vector<Patch> patches_from_js(napi_env env, napi_value value) {
  bool is_array = false;
  check(env, napi_is_array(env, value, &is_array), "patches");
  if (!is_array) return {patch_from_js(env, value)};
  std::uint32_t count = 0;
  check(env, napi_get_array_length(env, value, &count), "patches");
  std::vector<Patch> patches;
  patches.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    napi_value element = nullptr;
    check(env, napi_get_element(env, value, i, &element), "patches");
    patches.push_back(patch_from_js(env, element));
  }
  return patches;
}

napi_value clock_to_js(napi_env env, const VectorClock& clock) {
  napi_value object = make_object(env);
  for (const auto& [peer, seq] : clock) {
    napi_value key = make_string(env, peer);
    check(env, napi_set_property(env, object, key, make_u64(env, seq)), "clock");
  }
  return object;
}

napi_value page_state_to_js(napi_env env, const PageState& state) {
  napi_value object = make_object(env);
  set_property(env, object, "page", make_u64(env, state.page_index));
  void* data = nullptr;
  napi_value buffer = nullptr;
  check(env, napi_create_arraybuffer(env, state.bytes.size(), &data, &buffer), "page bytes");
  if (!state.bytes.empty()) std::memcpy(data, state.bytes.data(), state.bytes.size());
  napi_value bytes = nullptr;
  check(env, napi_create_typedarray(env, napi_uint8_array, state.bytes.size(), buffer, 0, &bytes),
        "page bytes");
  set_property(env, object, "bytes", bytes);
  napi_value versions = make_array(env, state.versions.size());
  for (std::size_t i = 0; i < state.versions.size(); ++i) {
    const VersionRun& run = state.versions[i];
    napi_value js_run = make_object(env);
    set_property(env, js_run, "start", make_u64(env, run.start));
    set_property(env, js_run, "end", make_u64(env, run.end));
    set_property(env, js_run, "lamport", make_u64(env, run.ts.lamport));
    set_property(env, js_run, "peer", make_string(env, run.ts.peer.str()));
    check(env, napi_set_element(env, versions, static_cast<std::uint32_t>(i), js_run), "versions");
  }
  set_property(env, object, "versions", versions);
  return object;
}

PageState page_state_from_js(napi_env env, napi_value value) {
  if (type_of(env, value) != napi_object) throw_type_error("a page state must be an object");
  PageState state;
  state.page_index = to_u64(env, property(env, value, "page"), "state.page");
  std::span<std::uint8_t> bytes = bytes_of(env, property(env, value, "bytes"), "state.bytes");
  state.bytes.assign(bytes.begin(), bytes.end());
  napi_value versions = property(env, value, "versions");
  bool is_array = false;
  check(env, napi_is_array(env, versions, &is_array), "state.versions");
  if (!is_array) throw_type_error("state.versions must be an array");
  std::uint32_t count = 0;
  check(env, napi_get_array_length(env, versions, &count), "state.versions");
  for (std::uint32_t i = 0; i < count; ++i) {
    napi_value js_run = nullptr;
    check(env, napi_get_element(env, versions, i, &js_run), "state.versions");
    if (type_of(env, js_run) != napi_object) throw_type_error("state.versions[] must be objects");
    std::uint64_t start = to_u64(env, property(env, js_run, "start"), "version.start");
    std::uint64_t end = to_u64(env, property(env, js_run, "end"), "version.end");
    if (start > UINT32_MAX || end > UINT32_MAX) throw_range_error("version run beyond a page");
    VersionRun run;
    run.start = static_cast<std::uint32_t>(start);
    run.end = static_cast<std::uint32_t>(end);
    run.ts.lamport = to_u64(env, property(env, js_run, "lamport"), "version.lamport");
    run.ts.peer = to_string(env, property(env, js_run, "peer"), "version.peer");
    state.versions.push_back(std::move(run));
  }
  return state;
}

napi_value digests_to_js(napi_env env, std::span<const PageDigest> digests) {
  napi_value array = make_array(env, digests.size());
  for (std::size_t i = 0; i < digests.size(); ++i) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016" PRIx64, digests[i].digest);
    napi_value object = make_object(env);
    set_property(env, object, "page", make_u64(env, digests[i].page_index));
    set_property(env, object, "digest", make_string(env, hex));
    check(env, napi_set_element(env, array, static_cast<std::uint32_t>(i), object), "digests");
  }
  return array;
}

}  // namespace wmd::node
