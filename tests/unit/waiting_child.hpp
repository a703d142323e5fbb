// WaitingChild: a forked child for liveness tests, which runs until released, then stays a
// zombie until reaped. The destructor releases and reaps it, so a failed REQUIRE never leaves a
// child behind. Header-only, for the unit tests; one owner, not thread-safe.
#pragma once

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace wmd::testing {

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

}  // namespace wmd::testing
