// wmd::kernel::TrackingMode: the daemon's --tracking auto|hash|kernel option and the start-up
// decision it leads to, with the operator's log line saying which mode is in force and why.
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/tracker/kernel/kernel_probe.hpp"

namespace wmd::kernel {

enum class TrackingMode {
  automatic,  // "auto": kernel tracking where the probe saw it work, hash otherwise (default)
  hash,       // "hash": hash-scan every interval, never touch the kernel interfaces
  kernel,     // "kernel": like auto, but refuse to start when the kernel cannot do it
};

std::optional<TrackingMode> parse_tracking_mode(std::string_view text);
std::string_view to_string(TrackingMode mode);

struct TrackingDecision {
  bool use_kernel = false;    // build a KernelTracker with kernel_enabled = true
  bool refuse_start = false;  // --tracking kernel on a kernel that cannot: exit non-zero
  std::string log_line;       // one line for the operator, always set
};

// REQUIRES: probe is the result of probe_kernel_tracking(), or ignored for TrackingMode::hash
// (the daemon need not run the probe then).
TrackingDecision decide_tracking(TrackingMode requested, const KernelProbe& probe,
                                 std::chrono::milliseconds audit_interval);

}  // namespace wmd::kernel
