// Process identity: start times from /proc and ProcessWatch's pidfd, against forked children.
#include "daemon/tracker/kernel/process_identity.hpp"

#include <doctest/doctest.h>

#include "tests/unit/waiting_child.hpp"

namespace wmd::kernel {
namespace {

using testing::WaitingChild;

TEST_CASE("a process watch sees its process run, exit as a zombie, and stay gone once reaped") {
  WaitingChild child;
  const std::uint64_t start = live_process_start_time_ticks(child.pid());
  REQUIRE(start != 0);
  std::optional<ProcessWatch> watch = ProcessWatch::open(child.pid(), start);
  if (!watch) {
    MESSAGE("skipped: pidfd_open unavailable here (the tracker reads /proc instead)");
    return;
  }
  CHECK(watch->running());
  CHECK(watch->running());  // asking does not consume anything

  child.release_and_wait_exit();
  CHECK_FALSE(watch->running());  // a zombie writes nothing more
  CHECK_FALSE(same_live_process(child.pid(), start));
  child.reap();
  CHECK_FALSE(watch->running());

  ProcessWatch moved = std::move(*watch);
  CHECK_FALSE(moved.running());
}

TEST_CASE("a process watch is refused for another start time or a process that does not run") {
  WaitingChild child;
  const std::uint64_t start = live_process_start_time_ticks(child.pid());
  REQUIRE(start != 0);
  CHECK_FALSE(ProcessWatch::open(child.pid(), start + 1).has_value());  // a pid reused
  CHECK_FALSE(ProcessWatch::open(child.pid(), 0).has_value());
  CHECK_FALSE(ProcessWatch::open(0, start).has_value());
  child.release_and_wait_exit();
  CHECK_FALSE(ProcessWatch::open(child.pid(), start).has_value());  // a zombie
}

}  // namespace
}  // namespace wmd::kernel
