#include "client/node/src/distributor.hpp"

#include <array>
#include <string>

#include "client/node/src/patch_js.hpp"

namespace wmd::node {
namespace {

// A wasm32 memory never exceeds 4 GiB; the engine's state is reserved for the maximum but only
// touched for the pages in use.
constexpr std::uint64_t kDefaultMaxSizeBytes = std::uint64_t{4} << 30;

std::uint32_t u32_option(napi_env env, napi_value config, const char* name,
                         std::uint32_t fallback) {
  napi_value value = property(env, config, name);
  if (is_nullish(env, value)) return fallback;
  std::uint64_t number = to_u64(env, value, name);
  if (number > UINT32_MAX) throw_range_error(std::string(name) + " is too large");
  return static_cast<std::uint32_t>(number);
}

EngineConfig config_from_js(napi_env env, napi_value peer_id, napi_value config) {
  EngineConfig engine_config;
  engine_config.peer_id = to_string(env, peer_id, "peerId");
  engine_config.max_size_bytes = kDefaultMaxSizeBytes;
  if (is_nullish(env, config)) return engine_config;
  if (type_of(env, config) != napi_object) throw_type_error("config must be an object");
  engine_config.page_size_bytes =
      u32_option(env, config, "pageSize", engine_config.page_size_bytes);
  napi_value max_size = property(env, config, "maxSize");
  if (!is_nullish(env, max_size)) engine_config.max_size_bytes = to_u64(env, max_size, "maxSize");
  engine_config.max_patch_bytes =
      u32_option(env, config, "maxPatchBytes", engine_config.max_patch_bytes);
  engine_config.max_merge_gap_bytes =
      u32_option(env, config, "maxMergeGapBytes", engine_config.max_merge_gap_bytes);
  return engine_config;
}

// Marks the span of one engine call: the env for GrowFn, and the diffs it produces.
class EngineCall {
 public:
  EngineCall(napi_env env, napi_env* slot, std::vector<Patch>* diffs) : slot_(slot) {
    if (*slot_ != nullptr) {
      throw JsError(JsError::Kind::error, "memory distributor called re-entrantly",
                    "ERR_WMD_REENTRANT");
    }
    *slot_ = env;
    diffs->clear();
  }
  ~EngineCall() { *slot_ = nullptr; }
  EngineCall(const EngineCall&) = delete;
  EngineCall& operator=(const EngineCall&) = delete;

 private:
  napi_env* slot_;
};

}  // namespace

napi_value Distributor::define_class(napi_env env) {
  const std::array<napi_property_descriptor, 12> properties{{
      {"scan", nullptr, scan, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"applyPatches", nullptr, apply_patches, nullptr, nullptr, nullptr, napi_default_method,
       nullptr},
      {"getVectorClock", nullptr, get_vector_clock, nullptr, nullptr, nullptr, napi_default_method,
       nullptr},
      {"resizeMemory", nullptr, resize_memory, nullptr, nullptr, nullptr, napi_default_method,
       nullptr},
      {"destroy", nullptr, destroy, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"digests", nullptr, digests, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"exportPage", nullptr, export_page, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"mergePage", nullptr, merge_page, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"peerId", nullptr, nullptr, peer_id, nullptr, nullptr, napi_enumerable, nullptr},
      {"pageSize", nullptr, nullptr, page_size, nullptr, nullptr, napi_enumerable, nullptr},
      {"maxSize", nullptr, nullptr, max_size, nullptr, nullptr, napi_enumerable, nullptr},
      {"size", nullptr, nullptr, size, nullptr, nullptr, napi_enumerable, nullptr},
  }};
  napi_value constructor = nullptr;
  check(env,
        napi_define_class(env, "Distributor", NAPI_AUTO_LENGTH, construct, nullptr,
                          properties.size(), properties.data(), &constructor),
        "napi_define_class");
  return constructor;
}

Distributor::Distributor(napi_env env, napi_value memory, const EngineConfig& config)
    : memory_(env, memory) {
  Status valid = validate(config);
  if (!valid) throw_wmd_error("createMemoryDistributor", valid.error().code());
  Result<std::uint64_t> state_bytes = Engine::state_bytes_required(config);
  if (!state_bytes) throw_wmd_error("createMemoryDistributor", state_bytes.error().code());
  state_ = AnonymousMapping(*state_bytes);

  EngineCall call(env, &call_env_, &diffs_);
  std::span<std::uint8_t> bytes = memory_.view(env);
  if (bytes.size() > config.max_size_bytes) {
    throw_range_error("the memory is already larger than maxSize");
  }
  auto engine = Engine::create(config, bytes, state_.bytes(),
                               [this](std::uint64_t new_size) { return grow_memory(new_size); });
  if (!engine) throw_wmd_error("createMemoryDistributor", engine.error().code());
  engine_ = std::move(*engine);
  engine_->on_diff([this](const Patch& patch) { diffs_.push_back(patch); });
}

Result<std::span<std::uint8_t>> Distributor::grow_memory(std::uint64_t new_size_bytes) {
  napi_env env = call_env_;
  if (env == nullptr) return errc::io_error;  // growth outside a JavaScript call: cannot happen
  try {
    return memory_.grow_to(env, new_size_bytes);
  } catch (const JsError&) {
    // memory.grow refused (the module's maximum): the engine reports beyond_max_size and
    // nothing is applied; V8's RangeError is replaced by that error.
    napi_value ignored = nullptr;
    napi_get_and_clear_last_exception(env, &ignored);
    return errc::beyond_max_size;
  }
}

void Distributor::follow_memory_growth(napi_env env) {
  std::span<std::uint8_t> bytes = memory_.view(env);
  if (bytes.size() <= engine_->size_bytes()) return;
  Status resized = engine_->resize(bytes.size());
  if (!resized) throw_wmd_error("following the memory's growth", resized.error().code());
}

Distributor& Distributor::from(napi_env env, napi_value self) {
  void* pointer = nullptr;
  check(env, napi_unwrap(env, self, &pointer), "napi_unwrap");
  auto* distributor = static_cast<Distributor*>(pointer);
  if (distributor == nullptr || distributor->engine_ == nullptr) {
    throw JsError(JsError::Kind::error, "the memory distributor was destroyed",
                  "ERR_WMD_DESTROYED");
  }
  return *distributor;
}

napi_value Distributor::construct(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    CallInfo call = call_info(env, info, 3);
    EngineConfig config = config_from_js(env, call.args[1], call.args[2]);
    auto distributor = std::make_unique<Distributor>(env, call.args[0], config);
    check(env,
          napi_wrap(
              env, call.self, distributor.get(),
              [](napi_env, void* data, void*) { delete static_cast<Distributor*>(data); }, nullptr,
              nullptr),
          "napi_wrap");
    distributor.release();  // owned by the JavaScript object now
    return call.self;
  });
}

napi_value Distributor::scan(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    Distributor& self = from(env, call_info(env, info, 0).self);
    EngineCall call(env, &self.call_env_, &self.diffs_);
    self.follow_memory_growth(env);
    self.engine_->scan();
    // scan() returns the round's patches and also gave them to on_diff; together with any
    // growth-time diffs they are all in diffs_, in order.
    return patches_to_js(env, self.diffs_);
  });
}

napi_value Distributor::apply_patches(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    CallInfo args = call_info(env, info, 1);
    Distributor& self = from(env, args.self);
    std::vector<Patch> patches = patches_from_js(env, args.args[0]);
    EngineCall call(env, &self.call_env_, &self.diffs_);
    self.follow_memory_growth(env);
    Result<ApplyStats> stats = self.engine_->apply_patches(patches);
    if (!stats) throw_wmd_error("applyPatches", stats.error().code());
    napi_value result = make_object(env);
    set_property(env, result, "bytesWritten", make_u64(env, stats->bytes_written));
    set_property(env, result, "pagesTouched", make_u64(env, stats->pages_touched));
    set_property(env, result, "grew", make_bool(env, stats->grew));
    set_property(env, result, "diffs", patches_to_js(env, self.diffs_));
    return result;
  });
}

napi_value Distributor::get_vector_clock(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    Distributor& self = from(env, call_info(env, info, 0).self);
    return clock_to_js(env, self.engine_->vector_clock());
  });
}

napi_value Distributor::resize_memory(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    CallInfo args = call_info(env, info, 1);
    Distributor& self = from(env, args.self);
    std::uint64_t new_size = to_u64(env, args.args[0], "bytes");
    EngineCall call(env, &self.call_env_, &self.diffs_);
    self.follow_memory_growth(env);
    // Whole wasm pages first (the engine rounds to its own page size, which may be larger).
    if (new_size > self.engine_->max_size_bytes()) {
      throw_wmd_error("resizeMemory", make_error_code(errc::beyond_max_size));
    }
    Status resized = self.engine_->resize(new_size);
    if (!resized) throw_wmd_error("resizeMemory", resized.error().code());
    return make_u64(env, self.engine_->size_bytes());
  });
}

napi_value Distributor::destroy(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    CallInfo args = call_info(env, info, 0);
    void* pointer = nullptr;
    check(env, napi_unwrap(env, args.self, &pointer), "napi_unwrap");
    auto* self = static_cast<Distributor*>(pointer);
    if (self != nullptr && self->call_env_ == nullptr) {
      // The state mapping goes with the object; the engine is dropped now so that later calls
      // fail clearly instead of touching a memory the caller may have released.
      self->engine_.reset();
      self->state_ = AnonymousMapping();
    }
    return undefined(env);
  });
}

napi_value Distributor::digests(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    Distributor& self = from(env, call_info(env, info, 0).self);
    return digests_to_js(env, self.engine_->nonzero_digests());
  });
}

napi_value Distributor::export_page(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    CallInfo args = call_info(env, info, 1);
    Distributor& self = from(env, args.self);
    std::uint64_t page = to_u64(env, args.args[0], "page");
    EngineCall call(env, &self.call_env_, &self.diffs_);
    self.follow_memory_growth(env);
    Result<PageState> state = self.engine_->export_page(page);
    if (!state) throw_wmd_error("exportPage", state.error().code());
    napi_value result = page_state_to_js(env, *state);
    // Pending local changes of the page were absorbed first: they are diffs to send too.
    set_property(env, result, "diffs", patches_to_js(env, self.diffs_));
    return result;
  });
}

napi_value Distributor::merge_page(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    CallInfo args = call_info(env, info, 1);
    Distributor& self = from(env, args.self);
    PageState state = page_state_from_js(env, args.args[0]);
    EngineCall call(env, &self.call_env_, &self.diffs_);
    self.follow_memory_growth(env);
    Result<MergeStats> stats = self.engine_->merge_page(state);
    if (!stats) throw_wmd_error("mergePage", stats.error().code());
    napi_value result = make_object(env);
    set_property(env, result, "bytesTaken", make_u64(env, stats->bytes_taken));
    set_property(env, result, "grew", make_bool(env, stats->grew));
    set_property(env, result, "diffs", patches_to_js(env, self.diffs_));
    return result;
  });
}

napi_value Distributor::peer_id(napi_env env, napi_callback_info info) {
  return boundary(env, [&] {
    return make_string(env, from(env, call_info(env, info, 0).self).engine_->peer_id());
  });
}

napi_value Distributor::page_size(napi_env env, napi_callback_info info) {
  return boundary(env, [&] {
    return make_u64(env, from(env, call_info(env, info, 0).self).engine_->page_size());
  });
}

napi_value Distributor::max_size(napi_env env, napi_callback_info info) {
  return boundary(env, [&] {
    return make_u64(env, from(env, call_info(env, info, 0).self).engine_->max_size_bytes());
  });
}

napi_value Distributor::size(napi_env env, napi_callback_info info) {
  return boundary(env, [&] {
    return make_u64(env, from(env, call_info(env, info, 0).self).engine_->size_bytes());
  });
}

}  // namespace wmd::node
