// wmd::kernel::kernel_errc: why kernel dirty tracking could not be used for a writer (or at
// all), as std::error_code. Every kind means the same thing to the daemon, "hash-scan instead",
// but the log line and the stats say which one it was.
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <system_error>

namespace wmd::kernel {

enum class kernel_errc {
  ok = 0,
  unsupported = 1,  // kernel without PAGEMAP_SCAN / userfaultfd WP_ASYNC (ENOTTY, EINVAL, ...)
  permission,       // /proc/PID/pagemap or userfaultfd refused (EPERM, EACCES)
  not_registered,   // the range is not (or no longer) registered for async write-protection
  writer_gone,      // the process exited, or its pid now names another process
  failed,           // any other error
};

const std::error_category& kernel_tracking_category() noexcept;

inline std::error_code make_error_code(kernel_errc e) noexcept {
  return {static_cast<int>(e), kernel_tracking_category()};
}

// The kind of an errno from opening /proc/PID/pagemap (ESRCH/ENOENT: gone; EPERM/EACCES:
// permission) or from the PAGEMAP_SCAN ioctl (EPERM there comes from PM_SCAN_CHECK_WPASYNC:
// not_registered).
enum class KernelCall { open_pagemap, pagemap_scan };
kernel_errc classify_errno(KernelCall call, int err) noexcept;

}  // namespace wmd::kernel

template <>
struct std::is_error_code_enum<wmd::kernel::kernel_errc> : std::true_type {};
