// Process identity from /proc/PID/stat: the start time (field 22, clock ticks after boot) tells
// a process from a later one that got the same pid. ProcessWatch keeps a pidfd on a process
// whose identity was verified, so that asking "still running?" every round costs one poll(2)
// instead of reading /proc/PID/stat (open, read, close and parsing).
// Thread-safety: the functions are stateless and safe from any thread; ProcessWatch is not
// thread-safe (one owner).
#pragma once

#include <cstdint>
#include <optional>

namespace wmd::kernel {

// Start time of pid, or 0 when no such process runs (a zombie counts as gone: it writes
// nothing more and its memory is already torn down).
std::uint64_t live_process_start_time_ticks(std::int32_t pid);

// True while pid runs and is the process that started at start_time_ticks.
inline bool same_live_process(std::int32_t pid, std::uint64_t start_time_ticks) {
  return start_time_ticks != 0 && live_process_start_time_ticks(pid) == start_time_ticks;
}

class ProcessWatch {
 public:
  // A watch on pid if it runs now and started at start_time_ticks; nullopt if it does not, or
  // if pidfds are unavailable (kernel < 5.3, seccomp): callers then use same_live_process().
  static std::optional<ProcessWatch> open(std::int32_t pid, std::uint64_t start_time_ticks);

  ProcessWatch(ProcessWatch&& other) noexcept;
  ProcessWatch& operator=(ProcessWatch&& other) noexcept;
  ProcessWatch(const ProcessWatch&) = delete;
  ProcessWatch& operator=(const ProcessWatch&) = delete;
  ~ProcessWatch();

  // False once the process exited (zombie or reaped): its pidfd became readable. The pidfd
  // stays bound to this process, so a later process reusing the pid never looks alive here.
  bool running() const;

 private:
  explicit ProcessWatch(int pidfd) : pidfd_(pidfd) {}
  int pidfd_ = -1;
};

}  // namespace wmd::kernel
