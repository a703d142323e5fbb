#include "daemon/tracker/kernel/tracking_mode.hpp"

namespace wmd::kernel {

std::optional<TrackingMode> parse_tracking_mode(std::string_view text) {
  if (text == "auto") return TrackingMode::automatic;
  if (text == "hash") return TrackingMode::hash;
  if (text == "kernel") return TrackingMode::kernel;
  return std::nullopt;
}

std::string_view to_string(TrackingMode mode) {
  switch (mode) {
    case TrackingMode::automatic:
      return "auto";
    case TrackingMode::hash:
      return "hash";
    case TrackingMode::kernel:
      return "kernel";
  }
  return "?";
}

TrackingDecision decide_tracking(TrackingMode requested, const KernelProbe& probe,
                                 std::chrono::milliseconds audit_interval) {
  TrackingDecision decision;
  const std::string requested_text = "--tracking " + std::string(to_string(requested));
  const std::string kernel_text =
      probe.kernel_release.empty() ? std::string("this kernel") : "Linux " + probe.kernel_release;
  if (requested == TrackingMode::hash) {
    decision.log_line = "tracking: hash (" + requested_text + "): every page hashed each interval";
    return decision;
  }
  if (!probe.supported) {
    if (requested == TrackingMode::kernel) {
      decision.refuse_start = true;
      decision.log_line = "tracking: kernel dirty tracking unavailable on " + kernel_text + " (" +
                          probe.reason + "); refusing to start (" + requested_text +
                          "; use auto or hash)";
    } else {
      decision.log_line = "tracking: hash (" + requested_text +
                          "): kernel dirty tracking unavailable on " + kernel_text + " (" +
                          probe.reason + ")";
    }
    return decision;
  }
  decision.use_kernel = true;
  decision.log_line = "tracking: kernel (" + requested_text + "): " + probe.reason + " on " +
                      kernel_text + "; writers that do not register are hash-scanned, full " +
                      "audit scan every " + std::to_string(audit_interval.count()) + " ms";
  return decision;
}

}  // namespace wmd::kernel
