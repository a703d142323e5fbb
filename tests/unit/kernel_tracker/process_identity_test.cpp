// Process identity: start times from /proc and ProcessWatch's pidfd, against forked children.
#include "daemon/tracker/kernel/process_identity.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace wmd::kernel {
namespace {

// A child that runs until release() and stays a zombie until reap().
class WaitingChild {
 public:
  WaitingChild() {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(fds[1]);
      char byte = 0;
      (void)::read(fds[0], &byte, 1);  // returns when the parent closes its end
      ::_exit(0);
    }
    ::close(fds[0]);
    release_fd_ = fds[1];
  }
  ~WaitingChild() {
    release();
    reap();
  }
  WaitingChild(const WaitingChild&) = delete;
  WaitingChild& operator=(const WaitingChild&) = delete;

  pid_t pid() const { return pid_; }
  // Lets the child exit and waits until it is a zombie (not reaped).
  void release_and_wait_exit() {
    release();
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) == 0);
  }
  void reap() {
    if (reaped_) return;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
  }

 private:
  void release() {
    if (release_fd_ >= 0) ::close(release_fd_);
    release_fd_ = -1;
  }
  pid_t pid_ = -1;
  int release_fd_ = -1;
  bool reaped_ = false;
};

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
