// ProcessLiveness: process_alive() for processes asked about again and again. wmdd asks about
// every registered writer each scan round; done from scratch that is kill(), open(), read() and
// close() of /proc/PID/stat, which costs an idle daemon more than the rest of its round's
// question to the kernel. Here the first question about a process opens its /proc/PID/stat and
// keeps the descriptor; later ones read it again (one pread()).
//
// A kept descriptor stays bound to the process it was opened for: once that process is gone,
// reading it fails, even when its pid has been reused since, so a stale entry can only answer
// "dead", never a false "alive". The start time is checked on every read all the same.
// Thread-safety: one thread at a time (not synchronised). Owns its descriptors.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace wmd::core {

class ProcessLiveness {
 public:
  struct Process {
    std::int32_t pid = 0;
    // As for process_alive(): 0 checks liveness only (whichever process has the pid now: a
    // kept descriptor that fails is then replaced by a fresh one).
    std::uint64_t start_time_ticks = 0;
  };

  ProcessLiveness() = default;
  ProcessLiveness(const ProcessLiveness&) = delete;
  ProcessLiveness& operator=(const ProcessLiveness&) = delete;
  ~ProcessLiveness();

  // For each of `processes`, whether it runs (a zombie counts as dead) and is still the same
  // process: the same answers as process_alive(). Descriptors of processes not in this list,
  // or found dead, are closed.
  std::vector<bool> alive(std::span<const Process> processes);

  // Descriptors kept open now (for tests).
  std::size_t open_descriptors() const noexcept { return kept_.size(); }

 private:
  struct Kept {
    Process process;
    int fd = -1;
  };
  std::vector<Kept> kept_;
};

}  // namespace wmd::core
