// The two fields of /proc/PID/stat that tell whether a process is alive and still the same one:
// its state and its start time. Shared by the writer registry's liveness checks.
// Thread-safety: free functions without shared state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wmd::core {

struct ProcStat {
  bool exists = false;                 // the text parsed
  char state = '?';                    // field 3: 'R', 'S', ..., 'Z' (zombie), 'X' (dead)
  std::uint64_t start_time_ticks = 0;  // field 22, clock ticks after boot
};

// Parses the text of a /proc/PID/stat file, `length` bytes at `text` (not NUL-terminated).
ProcStat parse_proc_stat(const char* text, std::size_t length);

// Opens /proc/PID/stat read-only (close-on-exec); -1 when it cannot. A descriptor kept open
// stays bound to that process: once it is reaped, reads fail (ESRCH), even if the pid is reused.
int open_proc_stat(std::int32_t pid);

// Reads and parses /proc/PID/stat; exists is false when the file cannot be read.
ProcStat read_proc_stat(std::int32_t pid);

// Whether `stat` is a running process (not a zombie) and, when start_time_ticks is non-zero,
// the one that started then.
bool alive_as(const ProcStat& stat, std::uint64_t start_time_ticks);

}  // namespace wmd::core
