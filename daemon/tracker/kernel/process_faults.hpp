// wmd::kernel::ProcessFaults: a writer process's page-fault count (minor + major faults of all
// its threads, fields 10 and 12 of /proc/PID/stat), read through a descriptor kept open.
//
// Why: after a PAGEMAP_SCAN has write-protected a writer's range, the writer's next write to
// any page of it is a page fault (userfaultfd async write-protection resolves it in the kernel
// and counts it in the writer's fault counters). If the count has not moved since just before
// the last walk, the writer wrote nothing since, and the next walk of every page-table entry
// (the cost of an idle round) can be skipped. What a fault of the writer does not count (a
// process writing through the writer's address space: process_vm_writev, ptrace,
// /proc/PID/mem) is accounted to the other process: KernelTracker bounds how long it waits by
// walking at least every kMaxWalkGap, whatever the count says.
//
// Every read also checks the start time (field 22) through the same descriptor, so a counter
// never answers for another process that got the pid; once the process exits, reads fail.
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <optional>

namespace wmd::kernel {

class ProcessFaults {
 public:
  // nullopt if /proc/PID/stat cannot be opened.
  static std::optional<ProcessFaults> open(std::int32_t pid, std::uint64_t start_time_ticks);

  ProcessFaults(ProcessFaults&& other) noexcept;
  ProcessFaults& operator=(ProcessFaults&& other) noexcept;
  ProcessFaults(const ProcessFaults&) = delete;
  ProcessFaults& operator=(const ProcessFaults&) = delete;
  ~ProcessFaults();

  // Minor + major faults of the whole process so far; nullopt when the read fails, the text does
  // not parse, or the process is not the one that started at start_time_ticks.
  std::optional<std::uint64_t> read() const;

 private:
  ProcessFaults(int fd, std::uint64_t start_time_ticks)
      : fd_(fd), start_time_ticks_(start_time_ticks) {}
  int fd_ = -1;
  std::uint64_t start_time_ticks_ = 0;
};

// Parses the text of /proc/PID/stat: minor + major faults, and the start time in *start_ticks.
// nullopt when it does not parse. Exposed for tests.
std::optional<std::uint64_t> parse_fault_count(const char* stat_text, std::uint64_t* start_ticks);

}  // namespace wmd::kernel
