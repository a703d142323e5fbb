#include "shm/process_liveness.hpp"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "shm/proc_stat.hpp"

namespace wmd::core {
namespace {

bool read_alive(int fd, const ProcessLiveness::Process& process) {
  char buffer[1024];
  const ssize_t n = ::pread(fd, buffer, sizeof buffer, 0);
  return n > 0 &&
         alive_as(parse_proc_stat(buffer, static_cast<std::size_t>(n)), process.start_time_ticks);
}

bool same(const ProcessLiveness::Process& a, const ProcessLiveness::Process& b) {
  return a.pid == b.pid && a.start_time_ticks == b.start_time_ticks;
}

}  // namespace

ProcessLiveness::~ProcessLiveness() {
  for (const Kept& kept : kept_) ::close(kept.fd);
}

std::vector<bool> ProcessLiveness::alive(std::span<const Process> processes) {
  std::vector<Kept> kept;
  kept.reserve(processes.size());
  std::vector<bool> answers(processes.size(), false);
  const auto find = [](std::vector<Kept>& in, const Process& process) {
    return std::find_if(in.begin(), in.end(),
                        [&](const Kept& k) { return same(k.process, process); });
  };
  for (std::size_t i = 0; i < processes.size(); ++i) {
    const Process& process = processes[i];
    if (process.pid <= 0) continue;
    if (find(kept, process) != kept.end()) {
      answers[i] = true;  // asked twice in one list, found alive the first time
      continue;
    }
    const auto held = find(kept_, process);
    const bool was_held = held != kept_.end() && held->fd >= 0;
    int fd = was_held ? std::exchange(held->fd, -1) : open_proc_stat(process.pid);
    bool alive = fd >= 0 && read_alive(fd, process);
    if (!alive && was_held && process.start_time_ticks == 0) {
      // Without a start time, "the process with this pid" may be a new one since the kept
      // descriptor was opened: ask afresh once, as process_alive() would.
      ::close(fd);
      fd = open_proc_stat(process.pid);
      alive = fd >= 0 && read_alive(fd, process);
    }
    if (alive) {
      answers[i] = true;
      kept.push_back(Kept{process, fd});
    } else if (fd >= 0) {
      ::close(fd);
    }
  }
  for (const Kept& stale : kept_) {
    if (stale.fd >= 0) ::close(stale.fd);
  }
  kept_ = std::move(kept);
  return answers;
}

}  // namespace wmd::core
