#include "daemon/tracker/kernel/process_faults.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include "shm/proc_stat.hpp"

namespace wmd::kernel {

std::optional<std::uint64_t> parse_fault_count(const char* stat_text, std::uint64_t* start_ticks) {
  // The command name (field 2) may contain spaces and ')': the fields resume after the last ')'.
  const char* cursor = std::strrchr(stat_text, ')');
  if (cursor == nullptr || cursor[1] != ' ') return std::nullopt;
  cursor += 2;  // field 3
  std::uint64_t faults = 0;
  for (int field = 3;; ++field) {
    if (field == 10 || field == 12 || field == 22) {
      char* end = nullptr;
      const std::uint64_t value = std::strtoull(cursor, &end, 10);
      if (end == cursor) return std::nullopt;
      if (field == 22) {
        *start_ticks = value;
        return faults;
      }
      faults += value;
    }
    cursor = std::strchr(cursor, ' ');
    if (cursor == nullptr) return std::nullopt;
    ++cursor;
  }
}

std::optional<ProcessFaults> ProcessFaults::open(std::int32_t pid, std::uint64_t start_time_ticks) {
  if (pid <= 0 || start_time_ticks == 0) return std::nullopt;
  const int fd = core::open_proc_stat(pid);
  if (fd < 0) return std::nullopt;
  return ProcessFaults(fd, start_time_ticks);
}

ProcessFaults::ProcessFaults(ProcessFaults&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), start_time_ticks_(other.start_time_ticks_) {}

ProcessFaults& ProcessFaults::operator=(ProcessFaults&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    start_time_ticks_ = other.start_time_ticks_;
  }
  return *this;
}

ProcessFaults::~ProcessFaults() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::uint64_t> ProcessFaults::read() const {
  char buffer[1024];
  const ssize_t n = ::pread(fd_, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return std::nullopt;
  buffer[n] = '\0';
  std::uint64_t start = 0;
  const std::optional<std::uint64_t> faults = parse_fault_count(buffer, &start);
  if (!faults || start != start_time_ticks_) return std::nullopt;
  return faults;
}

}  // namespace wmd::kernel
