// ProcessLiveness: process_alive()'s answers from /proc/PID/stat descriptors kept between calls.
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "shm/proc_stat.hpp"
#include "shm/process_liveness.hpp"
#include "shm/writer_registry.hpp"
#include "tests/unit/waiting_child.hpp"

namespace wmd::core {
namespace {

using Process = ProcessLiveness::Process;
using testing::WaitingChild;

// Descriptors this process has open now (the real count, not the class's own bookkeeping).
int open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  REQUIRE(dir != nullptr);
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // the directory's own
}

Process identity_of(pid_t pid) {
  const Process process{pid, process_start_time_ticks(pid)};
  REQUIRE(process.start_time_ticks != 0);
  return process;
}

TEST_CASE("a live process is alive, the same answer as process_alive(), from one kept descriptor") {
  const int fds_before = open_fds();
  {
    ProcessLiveness liveness;
    const Process self = identity_of(::getpid());
    CHECK(liveness.alive(std::vector<Process>{self}) == std::vector<bool>{true});
    CHECK(liveness.open_descriptors() == 1);
    CHECK(open_fds() == fds_before + 1);
    CHECK(liveness.alive(std::vector<Process>{self, self}) == std::vector<bool>{true, true});
    CHECK(open_fds() == fds_before + 1);
    CHECK(liveness.alive(std::vector<Process>{{::getpid(), 0}}) == std::vector<bool>{true});
    CHECK(process_alive(self.pid, self.start_time_ticks));
  }
  CHECK(open_fds() == fds_before);  // the destructor closes what is kept
}

TEST_CASE("another start time (a reused pid), a pid of nobody and pid 0 are dead") {
  ProcessLiveness liveness;
  const Process self = identity_of(::getpid());
  const Process reused{self.pid, self.start_time_ticks + 1};
  CHECK(liveness.alive(std::vector<Process>{self, reused, {0, 0}, {-5, 0}}) ==
        std::vector<bool>{true, false, false, false});
  CHECK(liveness.open_descriptors() == 1);
  CHECK_FALSE(process_alive(reused.pid, reused.start_time_ticks));
}

TEST_CASE("a process that exits is dead from its kept descriptor, as a zombie and once reaped") {
  WaitingChild child;  // before counting: it holds the pipe that releases the child
  const int fds_before = open_fds();
  ProcessLiveness liveness;
  const Process process = identity_of(child.pid());
  CHECK(liveness.alive(std::vector<Process>{process}) == std::vector<bool>{true});
  CHECK(open_fds() == fds_before + 1);

  child.release_and_wait_exit();  // a zombie now (its release pipe closed)
  const int fds_zombie = open_fds();
  CHECK(liveness.alive(std::vector<Process>{process, process}) == std::vector<bool>{false, false});
  CHECK(liveness.open_descriptors() == 0);
  CHECK(open_fds() == fds_zombie - 1);
  CHECK_FALSE(process_alive(process.pid, process.start_time_ticks));

  child.reap();
  CHECK(liveness.alive(std::vector<Process>{process}) == std::vector<bool>{false});
  CHECK(open_fds() == fds_zombie - 1);
}

TEST_CASE("what a kept descriptor relies on: once its process is reaped, reading it fails") {
  // A reused pid gets a new struct pid in the kernel; the old /proc/PID/stat descriptor keeps
  // the old one and reads ESRCH from then on. Checked on the kernel directly, since after a
  // reap a fresh open() fails as well and could not tell the two apart.
  WaitingChild child;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(child.pid()));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  char buffer[512];
  CHECK(::pread(fd, buffer, sizeof buffer, 0) > 0);
  child.release_and_wait_exit();
  CHECK(::pread(fd, buffer, sizeof buffer, 0) > 0);  // a zombie still reads (state Z)
  child.reap();
  errno = 0;
  CHECK(::pread(fd, buffer, sizeof buffer, 0) == -1);
  CHECK(errno == ESRCH);
  ::close(fd);
}

TEST_CASE("descriptors of processes no longer asked about are closed") {
  WaitingChild child;  // before counting: it holds the pipe that releases the child
  const int fds_before = open_fds();
  ProcessLiveness liveness;
  const Process self = identity_of(::getpid());
  const Process other = identity_of(child.pid());
  CHECK(liveness.alive(std::vector<Process>{self, other}) == std::vector<bool>{true, true});
  CHECK(open_fds() == fds_before + 2);
  CHECK(liveness.alive(std::vector<Process>{other}) == std::vector<bool>{true});
  CHECK(open_fds() == fds_before + 1);
  CHECK(liveness.alive({}).empty());
  CHECK(liveness.open_descriptors() == 0);
  CHECK(open_fds() == fds_before);
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
  const char old_dead[] = "42 (x) x 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 7 99";
  CHECK_FALSE(alive_as(parse_proc_stat(old_dead, sizeof old_dead - 1), 0));
}

TEST_CASE("text cut short before the start time is no process at all") {
  for (const char* text : {"42 (no closing parenthesis S 1 2 3", "1 (a) ", "1 (a) S 2",
                           "1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 ",
                           "1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 12x"}) {
    CAPTURE(text);
    const ProcStat stat = parse_proc_stat(text, std::strlen(text));
    CHECK_FALSE(stat.exists);
    CHECK_FALSE(alive_as(stat, 0));
  }
}

}  // namespace
}  // namespace wmd::core
