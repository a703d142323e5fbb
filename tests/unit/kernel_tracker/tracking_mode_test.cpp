#include "daemon/tracker/kernel/tracking_mode.hpp"

#include <doctest/doctest.h>

namespace wmd::kernel {
namespace {

constexpr std::chrono::milliseconds kAudit{10'000};

KernelProbe supported() {
  return KernelProbe{.supported = true,
                     .verified_in_process = true,
                     .reason = "verified",
                     .kernel_release = "6.18.44"};
}
KernelProbe unsupported() {
  return KernelProbe{.supported = false,
                     .verified_in_process = false,
                     .reason = "PAGEMAP_SCAN(/proc/self/pagemap): Inappropriate ioctl for device",
                     .kernel_release = "6.1.0"};
}

TEST_CASE("--tracking accepts exactly auto, hash and kernel") {
  CHECK(parse_tracking_mode("auto") == TrackingMode::automatic);
  CHECK(parse_tracking_mode("hash") == TrackingMode::hash);
  CHECK(parse_tracking_mode("kernel") == TrackingMode::kernel);
  CHECK_FALSE(parse_tracking_mode("Kernel").has_value());
  CHECK_FALSE(parse_tracking_mode("").has_value());
  for (const TrackingMode mode :
       {TrackingMode::automatic, TrackingMode::hash, TrackingMode::kernel}) {
    CHECK(parse_tracking_mode(to_string(mode)) == mode);
  }
}

TEST_CASE("auto uses the kernel where the probe saw it work and says so") {
  const TrackingDecision decision = decide_tracking(TrackingMode::automatic, supported(), kAudit);
  CHECK(decision.use_kernel);
  CHECK_FALSE(decision.refuse_start);
  CHECK(decision.log_line.find("tracking: kernel (--tracking auto)") == 0);
  CHECK(decision.log_line.find("Linux 6.18.44") != std::string::npos);
  CHECK(decision.log_line.find("10000 ms") != std::string::npos);
}

TEST_CASE("auto falls back to hash on a kernel that cannot, naming the reason") {
  const TrackingDecision decision = decide_tracking(TrackingMode::automatic, unsupported(), kAudit);
  CHECK_FALSE(decision.use_kernel);
  CHECK_FALSE(decision.refuse_start);
  CHECK(decision.log_line.find("tracking: hash (--tracking auto)") == 0);
  CHECK(decision.log_line.find("Inappropriate ioctl") != std::string::npos);
}

TEST_CASE("kernel refuses to start where the kernel cannot, and works like auto where it can") {
  const TrackingDecision refused = decide_tracking(TrackingMode::kernel, unsupported(), kAudit);
  CHECK(refused.refuse_start);
  CHECK_FALSE(refused.use_kernel);
  CHECK(refused.log_line.find("refusing to start") != std::string::npos);
  const TrackingDecision accepted = decide_tracking(TrackingMode::kernel, supported(), kAudit);
  CHECK(accepted.use_kernel);
  CHECK_FALSE(accepted.refuse_start);
}

TEST_CASE("hash never uses the kernel, whatever the probe says") {
  const TrackingDecision decision = decide_tracking(TrackingMode::hash, supported(), kAudit);
  CHECK_FALSE(decision.use_kernel);
  CHECK_FALSE(decision.refuse_start);
  CHECK(decision.log_line == "tracking: hash (--tracking hash): every page hashed each interval");
}

}  // namespace
}  // namespace wmd::kernel
