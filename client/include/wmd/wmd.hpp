// wmd.hpp: a thin C++ RAII wrapper over libwmd's C API (wmd.h). Header-only.
//
// wmd::Segment owns a wmd_segment*; it is movable, not copyable, and closes the handle in its
// destructor. Error policy: failures that are ordinary outcomes come back as values (flush()
// and wait() return a WaitOutcome: done, timed_out or no_daemon); every other failure throws
// wmd::Error, which carries the wmd_error code and the detailed text.
//
// Thread-safety: as the C API: one Segment may be used from several threads, but destroying
// or moving it must not race any other call on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

#include <wmd/wmd.h>

namespace wmd {

class Error : public std::runtime_error {
 public:
  Error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const noexcept { return code_; }  // a wmd_error

 private:
  int code_;
};

namespace detail {
// Throws wmd::Error for a failing code, with the C API's details.
inline void check(int code, const char* call) {
  if (code == WMD_OK) return;
  std::string what = call;
  what += ": ";
  what += wmd_strerror(code);
  const char* details = wmd_last_error_text();
  if (details[0] != '\0') {
    what += " (";
    what += details;
    what += ")";
  }
  throw Error(code, what);
}
}  // namespace detail

enum class WaitOutcome { done, timed_out, no_daemon };

struct OpenOptions {
  bool create = false;         // create the segment when missing
  bool allow_foreign = false;  // accept objects of other users or writable by others
  std::uint64_t min_size_bytes = 0;
  std::uint64_t max_size_bytes = 0;   // 0: the segment's own; 4 GiB when creating
  std::uint64_t reserve_bytes = 0;    // 0: max(max size, 4 GiB) + 4 GiB guard
  std::uint32_t page_size_bytes = 0;  // 0: the segment's own; 8192 when creating
  std::uint32_t mode = 0600;
};

class Segment {
 public:
  // Opens or creates segment `name` ("/wasm0"); throws wmd::Error.
  explicit Segment(const std::string& name, const OpenOptions& options = {}) {
    wmd_options opts;
    wmd_options_init(&opts);
    opts.flags = (options.create ? WMD_OPEN_CREATE : 0u) |
                 (options.allow_foreign ? WMD_OPEN_ALLOW_FOREIGN : 0u);
    opts.min_size_bytes = options.min_size_bytes;
    opts.max_size_bytes = options.max_size_bytes;
    opts.reserve_bytes = options.reserve_bytes;
    opts.page_size_bytes = options.page_size_bytes;
    opts.mode = options.mode;
    detail::check(wmd_open(name.c_str(), &opts, &handle_), "wmd_open");
  }
  ~Segment() { wmd_close(handle_); }
  Segment(Segment&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Segment& operator=(Segment&& other) noexcept {
    if (this != &other) {
      wmd_close(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // The mapped memory; data() is stable for the object's life, size() grows.
  std::span<std::uint8_t> bytes() const noexcept {
    return {static_cast<std::uint8_t*>(wmd_base(handle_)), static_cast<std::size_t>(size())};
  }
  void* base() const noexcept { return wmd_base(handle_); }
  std::uint64_t size() const noexcept { return wmd_size(handle_); }
  std::uint64_t max_size() const noexcept { return wmd_max_size(handle_); }
  std::uint64_t reserved_size() const noexcept { return wmd_reserved_size(handle_); }
  std::uint32_t page_size() const noexcept { return wmd_page_size(handle_); }
  std::uint64_t generation() const noexcept { return wmd_generation(handle_); }

  void grow(std::uint64_t new_size_bytes) {
    detail::check(wmd_grow(handle_, new_size_bytes), "wmd_grow");
  }
  // Maps growth made elsewhere; returns the mapped size.
  std::uint64_t refresh() {
    std::uint64_t size_bytes = 0;
    detail::check(wmd_refresh(handle_, &size_bytes), "wmd_refresh");
    return size_bytes;
  }

  WaitOutcome flush(std::chrono::milliseconds timeout) {
    return outcome(wmd_flush(handle_, static_cast<std::int64_t>(timeout.count())), "wmd_flush");
  }
  WaitOutcome wait(std::chrono::milliseconds timeout) {
    return outcome(wmd_wait(handle_, static_cast<std::int64_t>(timeout.count())), "wmd_wait");
  }

  wmd_status_info status() const {
    wmd_status_info out;
    detail::check(wmd_status(handle_, &out), "wmd_status");
    return out;
  }

  void register_writer(std::uint32_t flags = 0) {
    detail::check(wmd_register_writer(handle_, flags), "wmd_register_writer");
  }
  void unregister_writer() {
    detail::check(wmd_unregister_writer(handle_), "wmd_unregister_writer");
  }

  // The C handle, for calls the wrapper does not cover. Still owned by this object.
  wmd_segment* handle() const noexcept { return handle_; }

 private:
  static WaitOutcome outcome(int code, const char* call) {
    if (code == WMD_ETIMEDOUT) return WaitOutcome::timed_out;
    if (code == WMD_ENODAEMON) return WaitOutcome::no_daemon;
    detail::check(code, call);
    return WaitOutcome::done;
  }

  wmd_segment* handle_ = nullptr;
};

}  // namespace wmd
