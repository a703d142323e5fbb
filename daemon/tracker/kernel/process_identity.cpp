#include "daemon/tracker/kernel/process_identity.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace wmd::kernel {

std::uint64_t live_process_start_time_ticks(std::int32_t pid) {
  if (pid <= 0) return 0;
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buffer[1024];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buffer[n] = '\0';
  // The command name (field 2) may contain spaces and ')': the fields resume after the last ')'.
  const char* cursor = std::strrchr(buffer, ')');
  if (cursor == nullptr || cursor[1] != ' ') return 0;
  cursor += 2;  // field 3, the state
  if (*cursor == 'Z' || *cursor == 'X' || *cursor == 'x') return 0;
  for (int field = 3; field < 22; ++field) {
    cursor = std::strchr(cursor, ' ');
    if (cursor == nullptr) return 0;
    ++cursor;
  }
  return std::strtoull(cursor, nullptr, 10);
}

}  // namespace wmd::kernel
