#include "client/node/src/segment_mirror.hpp"

#include <wmd/wmd.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

namespace wmd::node {
namespace {

constexpr std::uint64_t kDefaultFlushTimeoutMs = 1000;

const char* segment_code_name(int code) {
  switch (code) {
    case WMD_EINVAL:
      return "ERR_WMD_EINVAL";
    case WMD_ENOENT:
      return "ERR_WMD_ENOENT";
    case WMD_EBADMAGIC:
      return "ERR_WMD_EBADMAGIC";
    case WMD_EVERSION:
      return "ERR_WMD_EVERSION";
    case WMD_EPAGESIZE:
      return "ERR_WMD_EPAGESIZE";
    case WMD_ETOOBIG:
      return "ERR_WMD_ETOOBIG";
    case WMD_EPERM:
      return "ERR_WMD_EPERM";
    case WMD_EIO:
      return "ERR_WMD_EIO";
    case WMD_ETIMEDOUT:
      return "ERR_WMD_ETIMEDOUT";
    case WMD_ENODAEMON:
      return "ERR_WMD_ENODAEMON";
    case WMD_EBUSY:
      return "ERR_WMD_EBUSY";
    case WMD_ENOSLOT:
      return "ERR_WMD_ENOSLOT";
    case WMD_ENOMEM:
      return "ERR_WMD_ENOMEM";
    default:
      return "ERR_WMD_SEGMENT";
  }
}

// Runs a libwmd call, turning wmd::Error into a JavaScript error with a stable code.
template <typename Call>
auto segment_call(Call&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const wmd::Error& error) {
    throw JsError(JsError::Kind::error, error.what(), segment_code_name(error.code()));
  }
}

std::unique_ptr<Segment> open_segment(const std::string& name,
                                      const SegmentMirror::Options& options,
                                      std::uint64_t min_size_bytes) {
  OpenOptions open;
  open.create = options.create;
  open.min_size_bytes = min_size_bytes;
  open.max_size_bytes = options.max_size_bytes;
  open.page_size_bytes = options.page_size_bytes;
  auto segment = segment_call([&] { return std::make_unique<Segment>(name, open); });
  // The daemon tracks registered writers' dirty pages in the kernel (libwmd registers without
  // kernel tracking where the kernel cannot); without registration its hash scan still finds
  // the writes, so a full registry is not an error.
  try {
    segment->register_writer(WMD_WRITER_KERNEL_TRACKING);
  } catch (const wmd::Error&) {
  }
  return segment;
}

std::uint64_t timeout_option(napi_env env, napi_value value, std::uint64_t fallback) {
  return is_nullish(env, value) ? fallback : to_u64(env, value, "timeoutMs");
}

napi_value stats_to_js(napi_env env, const MirrorStats& stats, bool grew) {
  napi_value result = make_object(env);
  set_property(env, result, "pagesChanged", make_u64(env, stats.pages_changed));
  set_property(env, result, "bytesCopied", make_u64(env, stats.bytes_copied));
  set_property(env, result, "grew", make_bool(env, grew));
  return result;
}

SegmentMirror::Options options_from_js(napi_env env, napi_value value) {
  SegmentMirror::Options options;
  if (is_nullish(env, value)) return options;
  if (type_of(env, value) != napi_object) throw_type_error("options must be an object");
  napi_value create = property(env, value, "create");
  if (!is_nullish(env, create)) options.create = to_bool(env, create);
  napi_value max_size = property(env, value, "maxSize");
  if (!is_nullish(env, max_size)) options.max_size_bytes = to_u64(env, max_size, "maxSize");
  napi_value page_size = property(env, value, "pageSize");
  if (!is_nullish(env, page_size)) {
    std::uint64_t bytes = to_u64(env, page_size, "pageSize");
    if (bytes > UINT32_MAX) throw_range_error("pageSize is too large");
    options.page_size_bytes = static_cast<std::uint32_t>(bytes);
  }
  napi_value initial = property(env, value, "initial");
  if (!is_nullish(env, initial)) {
    std::string mode = to_string(env, initial, "initial");
    if (mode != "pull" && mode != "push") throw_range_error("initial must be 'pull' or 'push'");
    options.initial_pull = mode == "pull";
  }
  napi_value grow = property(env, value, "grow");
  if (!is_nullish(env, grow)) {
    if (type_of(env, grow) != napi_function) throw_type_error("grow must be a function");
    options.grow = grow;
  }
  return options;
}

}  // namespace

napi_value SegmentMirror::define_class(napi_env env) {
  const std::array<napi_property_descriptor, 11> properties{{
      {"push", nullptr, push, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"pull", nullptr, pull, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"flush", nullptr, flush, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"waitRemote", nullptr, wait_remote, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"waitRemoteAsync", nullptr, wait_remote_async, nullptr, nullptr, nullptr,
       napi_default_method, nullptr},
      {"status", nullptr, status, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"close", nullptr, close, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"name", nullptr, nullptr, name, nullptr, nullptr, napi_enumerable, nullptr},
      {"pageSize", nullptr, nullptr, page_size, nullptr, nullptr, napi_enumerable, nullptr},
      {"size", nullptr, nullptr, size, nullptr, nullptr, napi_enumerable, nullptr},
      {"closed", nullptr, nullptr, is_closed, nullptr, nullptr, napi_enumerable, nullptr},
  }};
  napi_value constructor = nullptr;
  check(env,
        napi_define_class(env, "SegmentMirror", NAPI_AUTO_LENGTH, construct, nullptr,
                          properties.size(), properties.data(), &constructor),
        "napi_define_class");
  return constructor;
}

SegmentMirror::SegmentMirror(napi_env env, napi_value memory, const std::string& segment_name,
                             const Options& options)
    : name_(segment_name),
      memory_(env, memory),
      segment_(open_segment(segment_name, options, memory_.view(env).size())),
      tail_(segment_name),
      mirror_(segment_->page_size()),
      seen_generation_(segment_->generation()) {
  if (options.grow != nullptr) {
    grow_hook_ = Reference(env, options.grow);
    has_grow_hook_ = true;
  }
  initial_sync(env, options.initial_pull);
}

SegmentMirror::~SegmentMirror() = default;

bool SegmentMirror::match_sizes(napi_env env) {
  bool grew = false;
  if (segment_->generation() != seen_generation_) {
    seen_generation_ = segment_->generation();
    segment_call([&] { return segment_->refresh(); });
  }
  std::uint64_t memory_size = memory_.view(env).size();
  std::uint64_t segment_size = segment_->size();
  if (segment_size > memory_size && tail_.holds_data(segment_->bytes(), memory_size)) {
    // A peer's module grew and wrote beyond our memory. Grow to the whole segment, not just
    // past its last non-zero byte: the peer's allocator may own zero bytes up to the end of
    // its memory, whose size the segment does not record.
    memory_size = grow_memory(env, segment_size);
    grew = true;
  }
  if (memory_size > segment_size) {
    // The module grew its memory: the segment follows, for every process that maps it (a
    // segment page larger than a wasm page may round it past the memory; that tail is zero).
    segment_call([&] {
      segment_->grow(memory_size);
      return 0;
    });
    segment_size = segment_->size();
    seen_generation_ = segment_->generation();
    grew = true;
  }
  std::uint64_t common = std::min(memory_size, segment_size);
  if (common > mirror_.size_bytes()) mirror_.grow(common);
  return grew;
}

std::uint64_t SegmentMirror::grow_memory(napi_env env, std::uint64_t size_bytes) {
  if (!has_grow_hook_) return memory_.grow_to(env, size_bytes).size();
  std::array<napi_value, 1> args{make_u64(env, size_bytes)};
  napi_value ignored = nullptr;
  check(env,
        napi_call_function(env, undefined(env), grow_hook_.get(env), args.size(), args.data(),
                           &ignored),
        "grow hook");
  const std::uint64_t grown = memory_.view(env).size();
  if (grown < size_bytes) {
    throw JsError(JsError::Kind::range_error,
                  "the grow hook left the memory at " + std::to_string(grown) +
                      " bytes; the segment holds data up to " + std::to_string(size_bytes),
                  "ERR_WMD_GROW");
  }
  return grown;
}

void SegmentMirror::initial_sync(napi_env env, bool pull) {
  match_sizes(env);
  std::span<std::uint8_t> memory = memory_.view(env).first(mirror_.size_bytes());
  std::span<std::uint8_t> segment = segment_->bytes().first(mirror_.size_bytes());
  const std::uint32_t page = mirror_.page_size();
  for (std::uint64_t start = 0; start < memory.size(); start += page) {
    std::size_t length = std::min<std::uint64_t>(page, memory.size() - start);
    std::uint8_t* from = pull ? segment.data() + start : memory.data() + start;
    std::uint8_t* to = pull ? memory.data() + start : segment.data() + start;
    // Copy only differing pages, so that an unchanged segment page is not dirtied.
    if (std::memcmp(from, to, length) != 0) std::memcpy(to, from, length);
  }
  mirror_.reset_to(memory);
}

SegmentMirror& SegmentMirror::from(napi_env env, napi_value self) {
  void* pointer = nullptr;
  check(env, napi_unwrap(env, self, &pointer), "napi_unwrap");
  auto* mirror = static_cast<SegmentMirror*>(pointer);
  if (mirror == nullptr || mirror->segment_ == nullptr || mirror->closing_) {
    throw JsError(JsError::Kind::error, "the segment mirror was closed", "ERR_WMD_CLOSED");
  }
  return *mirror;
}

napi_value SegmentMirror::construct(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    CallInfo call = call_info(env, info, 3);
    std::string segment_name = to_string(env, call.args[1], "name");
    Options options = options_from_js(env, call.args[2]);
    auto mirror = std::make_unique<SegmentMirror>(env, call.args[0], segment_name, options);
    check(env,
          napi_wrap(
              env, call.self, mirror.get(),
              [](napi_env, void* data, void*) { delete static_cast<SegmentMirror*>(data); },
              nullptr, nullptr),
          "napi_wrap");
    mirror.release();  // owned by the JavaScript object now
    return call.self;
  });
}

napi_value SegmentMirror::push(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    CallInfo args = call_info(env, info, 1);
    SegmentMirror& self = from(env, args.self);
    bool grew = self.match_sizes(env);
    MirrorStats stats = self.mirror_.push(self.memory_.view(env), self.segment_->bytes());
    napi_value result = stats_to_js(env, stats, grew);
    bool want_flush = false;
    std::uint64_t timeout_ms = kDefaultFlushTimeoutMs;
    if (!is_nullish(env, args.args[0])) {
      if (type_of(env, args.args[0]) != napi_object) throw_type_error("options must be an object");
      want_flush = to_bool(env, property(env, args.args[0], "flush"));
      timeout_ms = timeout_option(env, property(env, args.args[0], "timeoutMs"), timeout_ms);
    }
    if (want_flush) {
      WaitOutcome outcome =
          segment_call([&] { return self.segment_->flush(std::chrono::milliseconds(timeout_ms)); });
      set_property(env, result, "flushed", make_bool(env, outcome == WaitOutcome::done));
    }
    return result;
  });
}

napi_value SegmentMirror::pull(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    SegmentMirror& self = from(env, call_info(env, info, 1).self);
    bool grew = self.match_sizes(env);
    MirrorStats stats = self.mirror_.pull(self.memory_.view(env), self.segment_->bytes());
    return stats_to_js(env, stats, grew);
  });
}

napi_value SegmentMirror::flush(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    CallInfo args = call_info(env, info, 1);
    SegmentMirror& self = from(env, args.self);
    std::uint64_t timeout_ms = timeout_option(env, args.args[0], kDefaultFlushTimeoutMs);
    WaitOutcome outcome =
        segment_call([&] { return self.segment_->flush(std::chrono::milliseconds(timeout_ms)); });
    return make_bool(env, outcome == WaitOutcome::done);
  });
}

napi_value SegmentMirror::wait_remote(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    CallInfo args = call_info(env, info, 1);
    SegmentMirror& self = from(env, args.self);
    std::uint64_t timeout_ms = timeout_option(env, args.args[0], kDefaultFlushTimeoutMs);
    WaitOutcome outcome =
        segment_call([&] { return self.segment_->wait(std::chrono::milliseconds(timeout_ms)); });
    return make_bool(env, outcome == WaitOutcome::done);
  });
}

namespace {

// One waitRemoteAsync() call: wmd_wait runs on a libuv worker thread, the promise is settled
// back on the JavaScript thread. The JavaScript object is referenced meanwhile, so the mirror
// cannot be collected under the worker.
struct AsyncWait {
  SegmentMirror* mirror = nullptr;
  wmd_segment* handle = nullptr;
  std::int64_t timeout_ms = 0;
  int result = WMD_OK;
  std::string error_text;
  napi_deferred deferred = nullptr;
  napi_async_work work = nullptr;
  Reference keep_alive;
};

}  // namespace

napi_value SegmentMirror::wait_remote_async(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    CallInfo args = call_info(env, info, 1);
    SegmentMirror& self = from(env, args.self);
    auto wait = std::make_unique<AsyncWait>();
    wait->mirror = &self;
    wait->handle = self.segment_->handle();
    wait->timeout_ms =
        static_cast<std::int64_t>(timeout_option(env, args.args[0], kDefaultFlushTimeoutMs));
    wait->keep_alive = Reference(env, args.self);
    napi_value promise = nullptr;
    check(env, napi_create_promise(env, &wait->deferred, &promise), "napi_create_promise");
    auto execute = [](napi_env, void* data) {
      auto* w = static_cast<AsyncWait*>(data);
      w->result = wmd_wait(w->handle, w->timeout_ms);
      if (w->result != WMD_OK && w->result != WMD_ETIMEDOUT) w->error_text = wmd_last_error_text();
    };
    auto complete = [](napi_env complete_env, napi_status, void* data) {
      std::unique_ptr<AsyncWait> w(static_cast<AsyncWait*>(data));
      SegmentMirror* mirror = w->mirror;
      if (--mirror->pending_waits_ == 0 && mirror->closing_) mirror->segment_.reset();
      napi_value outcome = nullptr;
      if (w->result == WMD_OK || w->result == WMD_ETIMEDOUT) {
        napi_get_boolean(complete_env, w->result == WMD_OK, &outcome);
        napi_resolve_deferred(complete_env, w->deferred, outcome);
      } else {
        napi_value code = nullptr;
        napi_value message = nullptr;
        std::string text =
            std::string("wmd_wait: ") + wmd_strerror(w->result) + " (" + w->error_text + ")";
        napi_create_string_utf8(complete_env, segment_code_name(w->result), NAPI_AUTO_LENGTH,
                                &code);
        napi_create_string_utf8(complete_env, text.c_str(), text.size(), &message);
        napi_create_error(complete_env, code, message, &outcome);
        napi_reject_deferred(complete_env, w->deferred, outcome);
      }
      napi_delete_async_work(complete_env, w->work);
    };
    check(env,
          napi_create_async_work(env, nullptr, make_string(env, "wmd.waitRemoteAsync"), execute,
                                 complete, wait.get(), &wait->work),
          "napi_create_async_work");
    check(env, napi_queue_async_work(env, wait->work), "napi_queue_async_work");
    ++self.pending_waits_;
    wait.release();  // owned by the async work now; freed in complete
    return promise;
  });
}

napi_value SegmentMirror::status(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    SegmentMirror& self = from(env, call_info(env, info, 0).self);
    wmd_status_info status = segment_call([&] { return self.segment_->status(); });
    napi_value result = make_object(env);
    set_property(env, result, "daemonPid", make_number(env, status.daemon_pid));
    set_property(env, result, "sizeBytes", make_u64(env, status.size_bytes));
    set_property(env, result, "maxSizeBytes", make_u64(env, status.max_size_bytes));
    set_property(env, result, "generation", make_u64(env, status.generation));
    set_property(env, result, "lamport", make_u64(env, status.lamport));
    set_property(env, result, "localSeq", make_u64(env, status.local_seq));
    set_property(env, result, "lastSyncUnixMs", make_u64(env, status.last_sync_unix_ms));
    set_property(env, result, "errors", make_u64(env, status.errors));
    set_property(env, result, "trackingMode", make_string(env, status.tracking_mode));
    set_property(env, result, "lastError", make_string(env, status.last_error));
    std::uint32_t count = std::min<std::uint32_t>(status.peer_count, WMD_MAX_PEERS);
    napi_value peers = make_array(env, count);
    for (std::uint32_t i = 0; i < count; ++i) {
      const wmd_peer_info& peer = status.peers[i];
      napi_value js_peer = make_object(env);
      set_property(env, js_peer, "peerId", make_string(env, peer.peer_id));
      set_property(env, js_peer, "connected", make_bool(env, peer.connected != 0));
      set_property(env, js_peer, "rttUs", make_u64(env, peer.rtt_us));
      set_property(env, js_peer, "queueBytes", make_u64(env, peer.queue_bytes));
      set_property(env, js_peer, "lastCatchupUnixMs", make_u64(env, peer.last_catchup_unix_ms));
      set_property(env, js_peer, "patchesSent", make_u64(env, peer.patches_sent));
      set_property(env, js_peer, "patchesReceived", make_u64(env, peer.patches_received));
      check(env, napi_set_element(env, peers, i, js_peer), "peers");
    }
    set_property(env, result, "peers", peers);
    return result;
  });
}

napi_value SegmentMirror::close(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    void* pointer = nullptr;
    check(env, napi_unwrap(env, call_info(env, info, 0).self, &pointer), "napi_unwrap");
    auto* self = static_cast<SegmentMirror*>(pointer);
    if (self != nullptr) {
      self->closing_ = true;
      // Unregisters and unmaps; idempotent. With async waits in flight, the last one does it.
      if (self->pending_waits_ == 0) self->segment_.reset();
    }
    return undefined(env);
  });
}

napi_value SegmentMirror::name(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    void* pointer = nullptr;
    check(env, napi_unwrap(env, call_info(env, info, 0).self, &pointer), "napi_unwrap");
    return make_string(env, static_cast<SegmentMirror*>(pointer)->name_);
  });
}

napi_value SegmentMirror::is_closed(napi_env env, napi_callback_info info) {
  return boundary(env, [&]() -> napi_value {
    void* pointer = nullptr;
    check(env, napi_unwrap(env, call_info(env, info, 0).self, &pointer), "napi_unwrap");
    auto* self = static_cast<SegmentMirror*>(pointer);
    return make_bool(env, self == nullptr || self->segment_ == nullptr || self->closing_);
  });
}

napi_value SegmentMirror::page_size(napi_env env, napi_callback_info info) {
  return boundary(env, [&] {
    return make_u64(env, from(env, call_info(env, info, 0).self).mirror_.page_size());
  });
}

napi_value SegmentMirror::size(napi_env env, napi_callback_info info) {
  return boundary(env, [&] {
    return make_u64(env, from(env, call_info(env, info, 0).self).mirror_.size_bytes());
  });
}

}  // namespace wmd::node
