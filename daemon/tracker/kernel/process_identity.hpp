// Process identity from /proc/PID/stat: the start time (field 22, clock ticks after boot) tells
// a process from a later one that got the same pid.
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <cstdint>

namespace wmd::kernel {

// Start time of pid, or 0 when no such process runs (a zombie counts as gone: it writes
// nothing more and its memory is already torn down).
std::uint64_t live_process_start_time_ticks(std::int32_t pid);

// True while pid runs and is the process that started at start_time_ticks.
inline bool same_live_process(std::int32_t pid, std::uint64_t start_time_ticks) {
  return start_time_ticks != 0 && live_process_start_time_ticks(pid) == start_time_ticks;
}

}  // namespace wmd::kernel
