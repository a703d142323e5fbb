// ProcessLiveness: process_alive()'s answers from /proc/PID/stat descriptors kept between calls.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "shm/proc_stat.hpp"
#include "shm/process_liveness.hpp"
#include "shm/writer_registry.hpp"

namespace wmd::core {
namespace {

using Process = ProcessLiveness::Process;

// A child that waits until killed; the test reaps it.
pid_t start_sleeping_child() {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  return child;
}

// Waits (bounded) until /proc shows `pid` as a zombie: dead but not yet reaped.
bool wait_for_zombie(pid_t pid) {
  for (int i = 0; i < 5000; ++i) {
    if (read_proc_stat(pid).state == 'Z') return true;
    ::usleep(1000);
  }
  return false;
}

TEST_CASE("a live process is alive, the same answer as process_alive(), from one kept descriptor") {
  ProcessLiveness liveness;
  const Process self{::getpid(), process_start_time_ticks(::getpid())};
  REQUIRE(self.start_time_ticks != 0);
  CHECK(liveness.alive(std::vector<Process>{self}) == std::vector<bool>{true});
  CHECK(liveness.open_descriptors() == 1);
  CHECK(liveness.alive(std::vector<Process>{self, self}) == std::vector<bool>{true, true});
  CHECK(liveness.open_descriptors() == 1);
  CHECK(liveness.alive(std::vector<Process>{{::getpid(), 0}}) == std::vector<bool>{true});
  CHECK(process_alive(self.pid, self.start_time_ticks));
}

TEST_CASE("another start time (a reused pid), a pid of nobody and pid 0 are dead") {
  ProcessLiveness liveness;
  const Process self{::getpid(), process_start_time_ticks(::getpid())};
  const Process reused{self.pid, self.start_time_ticks + 1};
  CHECK(liveness.alive(std::vector<Process>{self, reused, {0, 0}, {-5, 0}}) ==
        std::vector<bool>{true, false, false, false});
  CHECK(liveness.open_descriptors() == 1);
  CHECK_FALSE(process_alive(reused.pid, reused.start_time_ticks));
}

TEST_CASE("a process that exits is dead from its kept descriptor, as a zombie and once reaped") {
  ProcessLiveness liveness;
  const pid_t child = start_sleeping_child();
  const Process process{child, process_start_time_ticks(child)};
  REQUIRE(process.start_time_ticks != 0);
  CHECK(liveness.alive(std::vector<Process>{process}) == std::vector<bool>{true});
  CHECK(liveness.open_descriptors() == 1);

  REQUIRE(::kill(child, SIGKILL) == 0);
  REQUIRE(wait_for_zombie(child));
  CHECK(liveness.alive(std::vector<Process>{process}) == std::vector<bool>{false});
  CHECK(liveness.open_descriptors() == 0);
  CHECK_FALSE(process_alive(process.pid, process.start_time_ticks));

  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(liveness.alive(std::vector<Process>{process}) == std::vector<bool>{false});
  CHECK(liveness.alive(std::vector<Process>{{child, 0}}) == std::vector<bool>{false});
}

TEST_CASE("a kept descriptor answers for its own process: reaped, it reads as dead") {
  // The entry holds the descriptor, so no new open() happens: the kept descriptor's read has to
  // fail by itself once its process is gone (which is what makes a reused pid read as dead).
  ProcessLiveness liveness;
  const pid_t child = start_sleeping_child();
  CHECK(liveness.alive(std::vector<Process>{{child, 0}}) == std::vector<bool>{true});
  REQUIRE(::kill(child, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(liveness.alive(std::vector<Process>{{child, 0}}) == std::vector<bool>{false});
  CHECK(liveness.open_descriptors() == 0);
}

TEST_CASE("descriptors of processes no longer asked about are closed") {
  ProcessLiveness liveness;
  const Process self{::getpid(), process_start_time_ticks(::getpid())};
  const pid_t child = start_sleeping_child();
  const Process other{child, process_start_time_ticks(child)};
  CHECK(liveness.alive(std::vector<Process>{self, other}) == std::vector<bool>{true, true});
  CHECK(liveness.open_descriptors() == 2);
  CHECK(liveness.alive(std::vector<Process>{other}) == std::vector<bool>{true});
  CHECK(liveness.open_descriptors() == 1);
  CHECK(liveness.alive({}).empty());
  CHECK(liveness.open_descriptors() == 0);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
}

TEST_CASE("parse_proc_stat reads the state and start time after the last parenthesis") {
  const char text[] = "42 (a) b) (c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 123456 99\n";
  const ProcStat stat = parse_proc_stat(text, sizeof text - 1);
  CHECK(stat.exists);
  CHECK(stat.state == 'S');
  CHECK(stat.start_time_ticks == 123456);
  CHECK(alive_as(stat, 123456));
  CHECK(alive_as(stat, 0));
  CHECK_FALSE(alive_as(stat, 123457));
  const char zombie[] = "42 (z) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 7 99";
  CHECK_FALSE(alive_as(parse_proc_stat(zombie, sizeof zombie - 1), 0));
  const char broken[] = "42 (no closing parenthesis S 1 2 3";
  CHECK_FALSE(parse_proc_stat(broken, sizeof broken - 1).exists);
}

}  // namespace
}  // namespace wmd::core
