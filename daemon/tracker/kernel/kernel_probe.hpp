// wmd::kernel::probe_kernel_tracking: does kernel dirty tracking work here? Run once at daemon
// start-up: it performs the whole sequence on a small shared memfd mapping of its own (register
// with userfaultfd WP_ASYNC, write one page, PAGEMAP_SCAN /proc/self/pagemap, expect exactly
// that page, scan again, expect nothing), so "supported" means "seen working", not "headers
// say so".
// Thread-safety: safe from any thread (all resources are local to the call).
#pragma once

#include <string>

namespace wmd::kernel {

struct KernelProbe {
  bool supported = false;
  // The whole sequence, userfaultfd included, worked in this process (false when only
  // PAGEMAP_SCAN could be checked because this process was refused userfaultfd).
  bool verified_in_process = false;
  std::string reason;          // why not, or what was verified; for the start-up log line
  std::string kernel_release;  // uname -r
};

KernelProbe probe_kernel_tracking();

}  // namespace wmd::kernel
