// Conversions between the engine's value types and the plain JavaScript objects of the seed
// library's API:
//   patch  { origin: string, seq: number, lamport: number,
//            runs: [{ offset: number, bytes: Uint8Array }] }
//   clock  { [peerId]: seq }
//   page state (catch-up) { page: number, bytes: Uint8Array,
//            versions: [{ start, end, lamport, peer }] }
//   digest { page: number, digest: string }   (16 hex digits: a 64-bit value)
// Numbers are exact up to 2^53, far beyond any offset or counter a 32-bit wasm memory reaches.
//
// Thread-safety: JavaScript thread only.
#pragma once

#include <node_api.h>

#include <span>
#include <vector>

#include "engine/types.hpp"

namespace wmd::node {

// One ArrayBuffer holds all run bytes of a patch; each run's Uint8Array is a view into it.
napi_value patch_to_js(napi_env env, const Patch& patch);
napi_value patches_to_js(napi_env env, std::span<const Patch> patches);
// Throws TypeError/RangeError on anything that is not a well-formed patch object. (The engine
// still validates the patch's contents: order, overlap, sizes.)
Patch patch_from_js(napi_env env, napi_value value);
// Accepts one patch or an array of patches.
std::vector<Patch> patches_from_js(napi_env env, napi_value value);
napi_value clock_to_js(napi_env env, const VectorClock& clock);
napi_value page_state_to_js(napi_env env, const PageState& state);
// Throws TypeError/RangeError on a malformed object (the engine validates the contents).
PageState page_state_from_js(napi_env env, napi_value value);
napi_value digests_to_js(napi_env env, std::span<const PageDigest> digests);

}  // namespace wmd::node
