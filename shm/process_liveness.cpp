#include "shm/process_liveness.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "shm/proc_stat.hpp"

namespace wmd::core {
namespace {

int open_stat(std::int32_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  return ::open(path, O_RDONLY | O_CLOEXEC);
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
  for (std::size_t i = 0; i < processes.size(); ++i) {
    const Process& process = processes[i];
    if (process.pid <= 0) continue;
    int fd = -1;
    const auto held = std::find_if(kept_.begin(), kept_.end(),
                                   [&](const Kept& k) { return same(k.process, process); });
    if (held != kept_.end()) {
      fd = std::exchange(held->fd, -1);
    } else if (std::none_of(kept.begin(), kept.end(),
                            [&](const Kept& k) { return same(k.process, process); })) {
      fd = open_stat(process.pid);
    }
    if (fd < 0) {
      // Not found, or asked twice in one list: the first answer holds.
      const auto earlier = std::find_if(kept.begin(), kept.end(),
                                        [&](const Kept& k) { return same(k.process, process); });
      answers[i] = earlier != kept.end();
      continue;
    }
    char buffer[1024];
    const ssize_t n = ::pread(fd, buffer, sizeof buffer, 0);
    if (n > 0 &&
        alive_as(parse_proc_stat(buffer, static_cast<std::size_t>(n)), process.start_time_ticks)) {
      answers[i] = true;
      kept.push_back(Kept{process, fd});
    } else {
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
