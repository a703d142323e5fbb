// libwmd's C API over the shared segment code (mapped_segment, doorbell, status_block,
// writer_registry). Every entry point catches everything: no exception crosses the C ABI.
#include <wmd/wmd.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "shm/doorbell.hpp"
#include "shm/mapped_segment.hpp"
#include "shm/status_block.hpp"
#include "shm/uffd_writer.hpp"
#include "shm/writer_registry.hpp"

using wmd::errc;
using wmd::Error;

struct wmd_segment {
  std::unique_ptr<wmd::core::MappedSegment> mapped;
  // Serialises grow/refresh/registration, which change the mapping or the writer slot.
  std::mutex mutex;
  std::atomic<std::uint64_t> size_bytes{0};           // mirror of the mapped size, any thread
  std::atomic<std::uint32_t> seen_remote_applied{0};  // for wmd_wait
  int writer_slot = -1;                               // guarded by mutex
  std::int32_t writer_pid = 0;                        // guarded by mutex
  std::uint32_t writer_flags = 0;                     // guarded by mutex
  wmd::core::UffdWriteTracking uffd;                  // guarded by mutex; kernel dirty tracking
};

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
constexpr std::uint32_t kDefaultPageSizeBytes = 8192;
constexpr std::uint64_t kDefaultMaxSizeBytes = 4 * kGiB;
// The default reservation, max(max size, 4 GiB) + 4 GiB: a wasm32 access is base + a 32-bit
// address + a 32-bit offset, so it can never reach past the reservation.
constexpr std::uint64_t kGuardFloorBytes = 4 * kGiB;
constexpr std::uint64_t kGuardBytes = 4 * kGiB;
// How often a flush waiting for its daemon checks that the daemon is still alive.
constexpr std::chrono::milliseconds kDaemonCheckInterval{100};

thread_local std::string last_error_text;

int fail(int code, std::string text) {
  last_error_text = std::move(text);
  return code;
}

int to_code(const Error& error) {
  if (!error) return WMD_OK;
  if (error.code().category() != wmd::wmd_category()) return WMD_EIO;
  switch (static_cast<errc>(error.code().value())) {
    case errc::invalid_config:
      return WMD_EINVAL;
    case errc::not_found:
      return WMD_ENOENT;
    case errc::bad_magic:
      return WMD_EBADMAGIC;
    case errc::bad_layout_version:
      return WMD_EVERSION;
    case errc::page_size_mismatch:
      return WMD_EPAGESIZE;
    case errc::beyond_max_size:
      return WMD_ETOOBIG;
    case errc::permission:
      return WMD_EPERM;
    case errc::io_error:
      return WMD_EIO;
    case errc::out_of_memory:
      return WMD_ENOMEM;
    case errc::timed_out:
      return WMD_ETIMEDOUT;
    case errc::busy:
      return WMD_EBUSY;
    case errc::no_daemon:
      return WMD_ENODAEMON;
    case errc::no_slot:
      return WMD_ENOSLOT;
    default:
      return WMD_EINTERNAL;
  }
}

int fail(const Error& error) {
  return fail(to_code(error), error.detail());
}

// Runs body, turning any exception into an error code.
template <typename Body>
int guarded(Body&& body) noexcept {
  try {
    last_error_text.clear();
    return body();
  } catch (const std::bad_alloc&) {
    return fail(WMD_ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    return fail(WMD_EINTERNAL, e.what());
  } catch (...) {
    return fail(WMD_EINTERNAL, "unknown internal error");
  }
}

// The deadline for timeout_ms (negative: none).
Clock::time_point deadline_after(std::int64_t timeout_ms) {
  if (timeout_ms < 0) return Clock::time_point::max();
  return Clock::now() + std::chrono::milliseconds(timeout_ms);
}

std::chrono::nanoseconds until(Clock::time_point deadline, std::chrono::nanoseconds cap) {
  if (deadline == Clock::time_point::max()) return cap;
  return std::min<std::chrono::nanoseconds>(deadline - Clock::now(), cap);
}

std::int32_t live_daemon_pid(const wmd_ctl* ctl) {
  auto* mutable_ctl = const_cast<wmd_ctl*>(ctl);
  const std::int32_t pid = wmd::core::shared(mutable_ctl->daemon_pid).load();
  if (pid <= 0) return 0;
  const std::uint64_t start = wmd::core::shared(mutable_ctl->daemon_start_time_ticks).load();
  return wmd::core::process_alive(pid, start) ? pid : 0;
}

// REQUIRES: seg->mutex held.
void update_writer_length(wmd_segment* seg) {
  if (seg->writer_slot < 0) return;
  wmd_ctl_writer& slot = seg->mapped->ctl()->writers[seg->writer_slot];
  if (wmd::core::shared(slot.pid).load() != seg->writer_pid) return;
  // Protect the new tail before announcing the length (kernel dirty tracking); when that fails,
  // drop the flag so the daemon hash-scans this writer instead.
  if ((seg->writer_flags & WMD_WRITER_KERNEL_TRACKING) != 0 &&
      seg->uffd.extend(seg->mapped->mapped_size_bytes())) {
    seg->uffd.stop();
    seg->writer_flags &= ~std::uint32_t{WMD_WRITER_KERNEL_TRACKING};
    wmd::core::shared(slot.flags).store(seg->writer_flags | WMD_WRITER_READY);
  }
  wmd::core::shared(slot.length_bytes).store(seg->mapped->mapped_size_bytes());
}

// REQUIRES: seg->mutex held.
void unregister_locked(wmd_segment* seg) {
  if (seg->writer_slot < 0) return;
  // Only the registering process frees the slot (a forked child shares the handle's memory).
  if (seg->writer_pid == ::getpid()) {
    wmd::core::unregister_writer(seg->mapped->ctl(), seg->writer_slot, seg->writer_pid);
    seg->uffd.stop();
  } else {
    seg->uffd.abandon();  // the registration is the parent's memory's, not this child's
  }
  seg->writer_slot = -1;
  seg->writer_pid = 0;
}

}  // namespace

extern "C" {

const char* wmd_version(void) {
  return WMD_VERSION_STRING;
}

const char* wmd_strerror(int code) {
  switch (code) {
    case WMD_OK:
      return "success";
    case WMD_EINVAL:
      return "invalid argument";
    case WMD_ENOENT:
      return "segment does not exist";
    case WMD_EBADMAGIC:
      return "not a wmd segment (bad magic in the control object)";
    case WMD_EVERSION:
      return "incompatible segment layout version";
    case WMD_EPAGESIZE:
      return "segment page size differs from the one asked for";
    case WMD_ETOOBIG:
      return "size beyond the segment's maximum size";
    case WMD_EPERM:
      return "segment owned by another user, writable by others, or access denied";
    case WMD_EIO:
      return "system call failed";
    case WMD_ETIMEDOUT:
      return "timed out";
    case WMD_ENODAEMON:
      return "no wmd daemon serves the segment";
    case WMD_EBUSY:
      return "status busy; try again";
    case WMD_ENOSLOT:
      return "writer registry full";
    case WMD_ENOMEM:
      return "out of memory";
    case WMD_EINTERNAL:
      return "internal error";
    case WMD_EPENDING:
      return "a local change could not be stamped; it is still pending";
    default:
      return "unknown wmd error code";
  }
}

const char* wmd_last_error_text(void) {
  return last_error_text.c_str();
}

void wmd_options_init(wmd_options* opts) {
  if (opts == nullptr) return;
  std::memset(opts, 0, sizeof *opts);
  opts->struct_size = sizeof *opts;
  opts->mode = 0600;
}

int wmd_open(const char* name, const wmd_options* opts, wmd_segment** out) {
  return guarded([&]() -> int {
    if (out == nullptr) return fail(WMD_EINVAL, "wmd_open: out is NULL");
    *out = nullptr;
    if (name == nullptr) return fail(WMD_EINVAL, "wmd_open: name is NULL");
    wmd_options defaults;
    wmd_options_init(&defaults);
    if (opts == nullptr) opts = &defaults;
    if (opts->struct_size < sizeof(wmd_options)) {
      return fail(WMD_EINVAL, "wmd_open: opts->struct_size is too small; use wmd_options_init");
    }
    if ((opts->flags & ~std::uint32_t{WMD_OPEN_CREATE | WMD_OPEN_ALLOW_FOREIGN}) != 0) {
      return fail(WMD_EINVAL, "wmd_open: unknown flags");
    }
    wmd::core::OpenParams params;
    params.name = name;
    params.create = (opts->flags & WMD_OPEN_CREATE) != 0;
    params.allow_foreign = (opts->flags & WMD_OPEN_ALLOW_FOREIGN) != 0;
    params.size_bytes = opts->min_size_bytes;
    params.max_size_bytes = opts->max_size_bytes;
    params.page_size_bytes = opts->page_size_bytes;
    params.mode = opts->mode;
    params.default_page_size_bytes = kDefaultPageSizeBytes;
    params.default_max_size_bytes = kDefaultMaxSizeBytes;
    params.reserve_bytes = opts->reserve_bytes;
    params.guard_floor_bytes = kGuardFloorBytes;
    params.guard_bytes = kGuardBytes;
    auto seg = std::make_unique<wmd_segment>();
    const Error error = wmd::core::MappedSegment::open(params, &seg->mapped);
    if (error) return fail(error);
    seg->size_bytes.store(seg->mapped->mapped_size_bytes());
    seg->seen_remote_applied.store(wmd::core::doorbell_load(&seg->mapped->ctl()->remote_applied));
    *out = seg.release();
    return WMD_OK;
  });
}

void wmd_close(wmd_segment* seg) {
  if (seg == nullptr) return;
  try {
    {
      std::lock_guard<std::mutex> lock(seg->mutex);
      unregister_locked(seg);
    }
    delete seg;
  } catch (...) {
    // Nothing can be reported from here; the mapping is released by the destructor anyway.
  }
}

int wmd_unlink(const char* name) {
  return guarded([&]() -> int {
    if (name == nullptr) return fail(WMD_EINVAL, "wmd_unlink: name is NULL");
    const std::string base = name;
    if (base.size() < 2 || base[0] != '/' || base.find('/', 1) != std::string::npos) {
      return fail(WMD_EINVAL, "wmd_unlink: bad segment name '" + base + "'");
    }
    int removed = 0;
    int result = WMD_OK;
    for (const std::string& object : {base, base + WMD_CTL_SUFFIX, base + WMD_STATE_SUFFIX}) {
      if (::shm_unlink(object.c_str()) == 0) {
        ++removed;
      } else if (errno != ENOENT) {
        result = fail(wmd::core::sys_error("shm_unlink", wmd::core::shm_path(object), errno));
      }
    }
    if (result == WMD_OK && removed == 0) {
      return fail(WMD_ENOENT, "wmd_unlink: no object of segment " + base + " exists");
    }
    return result;
  });
}

void* wmd_base(const wmd_segment* seg) {
  return seg ? seg->mapped->base() : nullptr;
}

uint64_t wmd_size(const wmd_segment* seg) {
  return seg ? seg->size_bytes.load() : 0;
}

uint64_t wmd_max_size(const wmd_segment* seg) {
  return seg ? seg->mapped->max_size_bytes() : 0;
}

uint64_t wmd_reserved_size(const wmd_segment* seg) {
  return seg ? seg->mapped->reserve_bytes() : 0;
}

uint32_t wmd_page_size(const wmd_segment* seg) {
  return seg ? seg->mapped->page_size_bytes() : 0;
}

uint64_t wmd_generation(const wmd_segment* seg) {
  return seg ? seg->mapped->generation() : 0;
}

int wmd_grow(wmd_segment* seg, uint64_t new_size_bytes) {
  return guarded([&]() -> int {
    if (seg == nullptr) return fail(WMD_EINVAL, "wmd_grow: seg is NULL");
    std::lock_guard<std::mutex> lock(seg->mutex);
    if (Error error = seg->mapped->grow(new_size_bytes)) return fail(error);
    seg->size_bytes.store(seg->mapped->mapped_size_bytes());
    update_writer_length(seg);
    return WMD_OK;
  });
}

int wmd_refresh(wmd_segment* seg, uint64_t* new_size_bytes) {
  return guarded([&]() -> int {
    if (seg == nullptr) return fail(WMD_EINVAL, "wmd_refresh: seg is NULL");
    std::lock_guard<std::mutex> lock(seg->mutex);
    if (Error error = seg->mapped->refresh()) return fail(error);
    seg->size_bytes.store(seg->mapped->mapped_size_bytes());
    update_writer_length(seg);
    if (new_size_bytes != nullptr) *new_size_bytes = seg->mapped->mapped_size_bytes();
    return WMD_OK;
  });
}

int wmd_flush(wmd_segment* seg, int64_t timeout_ms) {
  return guarded([&]() -> int {
    if (seg == nullptr) return fail(WMD_EINVAL, "wmd_flush: seg is NULL");
    wmd_ctl* ctl = seg->mapped->ctl();
    if (live_daemon_pid(ctl) == 0) {
      return fail(WMD_ENODAEMON, "wmd_flush: no live daemon serves " + seg->mapped->name());
    }
    const auto deadline = deadline_after(timeout_ms);
    const std::uint32_t ticket = wmd::core::doorbell_ring(&ctl->flush_request);
    auto next_daemon_check = Clock::now() + kDaemonCheckInterval;
    for (;;) {
      const std::uint32_t done = wmd::core::doorbell_load(&ctl->flush_done);
      if (wmd::core::reached(done, ticket)) {
        // Served: by a scan that stamped everything, unless one at or after ours did not.
        const std::uint32_t pending = wmd::core::doorbell_load(&ctl->flush_pending);
        if (pending != 0 && wmd::core::reached(pending, ticket)) {
          return fail(WMD_EPENDING, "wmd_flush: the daemon of " + seg->mapped->name() +
                                        " could not stamp every local change; see its status");
        }
        return WMD_OK;
      }
      const auto now = Clock::now();
      if (now >= deadline) {
        return fail(WMD_ETIMEDOUT, "wmd_flush: the daemon did not complete the flush in " +
                                       std::to_string(timeout_ms) + " ms");
      }
      if (now >= next_daemon_check) {
        if (live_daemon_pid(ctl) == 0) {
          return fail(WMD_ENODAEMON, "wmd_flush: the daemon of " + seg->mapped->name() +
                                         " went away while flushing");
        }
        next_daemon_check = now + kDaemonCheckInterval;
      }
      wmd::core::futex_wait(&ctl->flush_done, done, until(deadline, kDaemonCheckInterval));
    }
  });
}

int wmd_wait(wmd_segment* seg, int64_t timeout_ms) {
  return guarded([&]() -> int {
    if (seg == nullptr) return fail(WMD_EINVAL, "wmd_wait: seg is NULL");
    std::uint32_t* word = &seg->mapped->ctl()->remote_applied;
    const auto deadline = deadline_after(timeout_ms);
    const std::uint32_t seen = seg->seen_remote_applied.load();
    for (;;) {
      const std::uint32_t current = wmd::core::doorbell_load(word);
      if (current != seen) {
        seg->seen_remote_applied.store(current);
        return WMD_OK;
      }
      if (Clock::now() >= deadline) return fail(WMD_ETIMEDOUT, "wmd_wait: no remote changes");
      wmd::core::futex_wait(word, seen, until(deadline, std::chrono::seconds(1)));
    }
  });
}

int wmd_status(const wmd_segment* seg, wmd_status_info* out) {
  return guarded([&]() -> int {
    if (seg == nullptr || out == nullptr) return fail(WMD_EINVAL, "wmd_status: NULL argument");
    wmd_ctl* ctl = seg->mapped->ctl();
    wmd_ctl_status block{};
    if (!wmd::core::read_status(&ctl->status, &block)) {
      return fail(WMD_EBUSY, "wmd_status: the daemon kept the status block busy");
    }
    std::memset(out, 0, sizeof *out);
    out->daemon_pid = live_daemon_pid(ctl);
    out->size_bytes = seg->mapped->control_size_bytes();
    out->max_size_bytes = wmd::core::shared(ctl->max_size_bytes).load();
    out->generation = seg->mapped->generation();
    out->lamport = block.lamport;
    out->local_seq = block.local_seq;
    out->last_sync_unix_ms = block.last_sync_unix_ms;
    out->errors = block.errors;
    out->peer_count = block.peer_count;
    std::memcpy(out->tracking_mode, block.tracking_mode, sizeof out->tracking_mode);
    std::memcpy(out->last_error, block.last_error, sizeof out->last_error);
    for (std::uint32_t i = 0; i < block.peer_count; ++i) {
      const wmd_ctl_peer& from = block.peers[i];
      wmd_peer_info& to = out->peers[i];
      std::memcpy(to.peer_id, from.peer_id, sizeof to.peer_id);
      to.connected = from.connected != 0 ? 1 : 0;
      to.rtt_us = from.rtt_us;
      to.queue_bytes = from.queue_bytes;
      to.last_catchup_unix_ms = from.last_catchup_unix_ms;
      to.patches_sent = from.patches_sent;
      to.patches_received = from.patches_received;
    }
    return WMD_OK;
  });
}

int wmd_pending_pages(const wmd_segment* seg, uint64_t* pending_pages) {
  return guarded([&]() -> int {
    if (seg == nullptr || pending_pages == nullptr) {
      return fail(WMD_EINVAL, "wmd_pending_pages: NULL argument");
    }
    wmd_ctl_status block{};
    if (!wmd::core::read_status(&seg->mapped->ctl()->status, &block)) {
      return fail(WMD_EBUSY, "wmd_pending_pages: the daemon kept the status block busy");
    }
    *pending_pages = block.pending_pages;
    return WMD_OK;
  });
}

int wmd_register_writer(wmd_segment* seg, uint32_t flags) {
  return guarded([&]() -> int {
    if (seg == nullptr) return fail(WMD_EINVAL, "wmd_register_writer: seg is NULL");
    if ((flags & ~std::uint32_t{WMD_WRITER_KERNEL_TRACKING}) != 0) {
      return fail(WMD_EINVAL, "wmd_register_writer: unknown flags");
    }
    std::lock_guard<std::mutex> lock(seg->mutex);
    // Kernel dirty tracking: write-protect the mapping (userfaultfd WP_ASYNC) before the record
    // carries the flag. Already protected at this base: only the tail is added, so pages written
    // but not yet collected by the daemon keep their marks. Unsupported: register without it.
    wmd::core::UffdWriteTracking uffd = std::move(seg->uffd);
    if ((flags & WMD_WRITER_KERNEL_TRACKING) != 0) {
      void* base = seg->mapped->base();
      const std::uint64_t length = seg->mapped->mapped_size_bytes();
      const bool same_base =
          uffd.active() && uffd.address() == reinterpret_cast<std::uintptr_t>(base);
      if (same_base ? static_cast<bool>(uffd.extend(length))
                    : static_cast<bool>(uffd.start(base, length))) {
        uffd.stop();
        flags &= ~std::uint32_t{WMD_WRITER_KERNEL_TRACKING};
      }
    } else {
      uffd.stop();
    }
    unregister_locked(seg);
    seg->uffd = std::move(uffd);
    wmd_ctl_writer record{};
    record.pid = ::getpid();
    record.flags = flags;
    record.start_time_ticks = wmd::core::process_start_time_ticks(record.pid);
    record.address = reinterpret_cast<std::uintptr_t>(seg->mapped->base());
    record.length_bytes = seg->mapped->mapped_size_bytes();
    const int slot = wmd::core::register_writer(seg->mapped->ctl(), record);
    if (slot < 0) {
      seg->uffd.stop();
      return fail(WMD_ENOSLOT, "wmd_register_writer: all " + std::to_string(WMD_MAX_WRITERS) +
                                   " writer slots belong to live processes");
    }
    seg->writer_slot = slot;
    seg->writer_pid = record.pid;
    seg->writer_flags = flags;
    return WMD_OK;
  });
}

int wmd_unregister_writer(wmd_segment* seg) {
  return guarded([&]() -> int {
    if (seg == nullptr) return fail(WMD_EINVAL, "wmd_unregister_writer: seg is NULL");
    std::lock_guard<std::mutex> lock(seg->mutex);
    unregister_locked(seg);
    return WMD_OK;
  });
}

}  // extern "C"
