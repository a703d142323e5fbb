#include "daemon/tracker/kernel/process_identity.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "shm/proc_stat.hpp"

namespace wmd::kernel {

std::uint64_t live_process_start_time_ticks(std::int32_t pid) {
  if (pid <= 0) return 0;
  const core::ProcStat stat = core::read_proc_stat(pid);
  return core::alive_as(stat, 0) ? stat.start_time_ticks : 0;
}

std::optional<ProcessWatch> ProcessWatch::open(std::int32_t pid, std::uint64_t start_time_ticks) {
  if (pid <= 0 || start_time_ticks == 0) return std::nullopt;
  // The system call, not glibc 2.36's wrapper: its <sys/pidfd.h> lacks extern "C".
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return std::nullopt;
  // Checked after opening: the pidfd is bound to whatever process had the pid then, and the start
  // time now proves it is the one registered (an earlier check could have seen its predecessor).
  ProcessWatch watch(pidfd);
  if (!same_live_process(pid, start_time_ticks)) return std::nullopt;
  return watch;
}

ProcessWatch::ProcessWatch(ProcessWatch&& other) noexcept
    : pidfd_(std::exchange(other.pidfd_, -1)) {}

ProcessWatch& ProcessWatch::operator=(ProcessWatch&& other) noexcept {
  if (this != &other) {
    if (pidfd_ >= 0) ::close(pidfd_);
    pidfd_ = std::exchange(other.pidfd_, -1);
  }
  return *this;
}

ProcessWatch::~ProcessWatch() {
  if (pidfd_ >= 0) ::close(pidfd_);
}

bool ProcessWatch::running() const {
  pollfd entry{pidfd_, POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&entry, 1, 0);
  } while (ready < 0 && errno == EINTR);
  // An error on our own descriptor is no proof of life: report gone, the writer falls back.
  return ready == 0;
}

}  // namespace wmd::kernel
