#include "shm/proc_stat.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace wmd::core {

ProcStat parse_proc_stat(const char* text, std::size_t length) {
  ProcStat result;
  char buffer[1024];
  length = std::min(length, sizeof buffer - 1);
  std::memcpy(buffer, text, length);
  buffer[length] = '\0';
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const char* cursor = std::strrchr(buffer, ')');
  if (cursor == nullptr || cursor[1] != ' ') return result;
  cursor += 2;  // ") "
  const char state = *cursor;
  // cursor is at field 3; field 22 is 19 fields further.
  for (int field_index = 3; field_index < 22; ++field_index) {
    cursor = std::strchr(cursor, ' ');
    if (cursor == nullptr) return result;
    ++cursor;
  }
  char* end = nullptr;
  const std::uint64_t start_time_ticks = std::strtoull(cursor, &end, 10);
  // Text cut short before the start time is no answer: it must not pass for a process with
  // any start time.
  if (end == cursor || (*end != ' ' && *end != '\n' && *end != '\0')) return result;
  result.exists = true;
  result.state = state;
  result.start_time_ticks = start_time_ticks;
  return result;
}

int open_proc_stat(std::int32_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  return ::open(path, O_RDONLY | O_CLOEXEC);
}

ProcStat read_proc_stat(std::int32_t pid) {
  const int fd = open_proc_stat(pid);
  if (fd < 0) return {};
  char buffer[1024];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  if (n <= 0) return {};
  return parse_proc_stat(buffer, static_cast<std::size_t>(n));
}

bool alive_as(const ProcStat& stat, std::uint64_t start_time_ticks) {
  // 'x' is how kernels before 4.14 show a dead task.
  if (!stat.exists || stat.state == 'Z' || stat.state == 'X' || stat.state == 'x') return false;
  return start_time_ticks == 0 || stat.start_time_ticks == start_time_ticks;
}

}  // namespace wmd::core
