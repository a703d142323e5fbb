#include "shm/writer_registry.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace wmd::core {
namespace {

struct ClaimWord {
  std::int32_t pid;
  std::uint32_t flags;
};
static_assert(sizeof(ClaimWord) == sizeof(std::uint64_t));
static_assert(offsetof(wmd_ctl_writer, flags) == 4);
static_assert(offsetof(wmd_ctl, writers) % 8 == 0);

std::uint64_t pack(ClaimWord claim) {
  std::uint64_t word = 0;
  std::memcpy(&word, &claim, sizeof word);
  return word;
}

ClaimWord unpack(std::uint64_t word) {
  ClaimWord claim{};
  std::memcpy(&claim, &word, sizeof word);
  return claim;
}

std::atomic_ref<std::uint64_t> claim_word(const wmd_ctl_writer& slot) {
  return std::atomic_ref<std::uint64_t>(
      *reinterpret_cast<std::uint64_t*>(const_cast<wmd_ctl_writer*>(&slot)));
}

template <typename T>
std::atomic_ref<T> field(const T& value) {
  return std::atomic_ref<T>(const_cast<T&>(value));
}

struct ProcStat {
  bool exists = false;
  char state = '?';
  std::uint64_t start_time_ticks = 0;
};

ProcStat read_proc_stat(std::int32_t pid) {
  ProcStat result;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return result;
  char buffer[1024];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return result;
  buffer[n] = '\0';
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const char* cursor = std::strrchr(buffer, ')');
  if (cursor == nullptr) return result;
  cursor += 2;  // ") "
  result.exists = true;
  result.state = *cursor;
  // cursor is at field 3; field 22 is 19 fields further.
  for (int field_index = 3; field_index < 22 && *cursor != '\0'; ++field_index) {
    cursor = std::strchr(cursor, ' ');
    if (cursor == nullptr) return result;
    ++cursor;
  }
  result.start_time_ticks = std::strtoull(cursor, nullptr, 10);
  return result;
}

}  // namespace

std::uint64_t process_start_time_ticks(std::int32_t pid) {
  return read_proc_stat(pid).start_time_ticks;
}

bool process_alive(std::int32_t pid, std::uint64_t start_time_ticks) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  const ProcStat stat = read_proc_stat(pid);
  if (!stat.exists) return false;
  if (stat.state == 'Z' || stat.state == 'X') return false;
  if (start_time_ticks != 0 && stat.start_time_ticks != start_time_ticks) return false;
  return true;
}

int register_writer(wmd_ctl* ctl, const wmd_ctl_writer& record) {
  const ClaimWord mine{record.pid, 0};
  for (int slot = 0; slot < WMD_MAX_WRITERS; ++slot) {
    wmd_ctl_writer& entry = ctl->writers[slot];
    auto word = claim_word(entry);
    std::uint64_t seen = word.load(std::memory_order_acquire);
    const ClaimWord claim = unpack(seen);
    if (claim.pid != 0) {
      // A complete slot is checked against its start time (pid reuse); one being filled in
      // only for liveness, since its start time may still be the previous owner's.
      const std::uint64_t start = (claim.flags & WMD_WRITER_READY)
                                      ? field(entry.start_time_ticks).load()
                                      : std::uint64_t{0};
      if (process_alive(claim.pid, start)) continue;
    }
    if (!word.compare_exchange_strong(seen, pack(mine), std::memory_order_acq_rel)) continue;
    field(entry.start_time_ticks).store(record.start_time_ticks, std::memory_order_release);
    field(entry.address).store(record.address, std::memory_order_release);
    field(entry.length_bytes).store(record.length_bytes, std::memory_order_release);
    word.store(pack({record.pid, record.flags | WMD_WRITER_READY}), std::memory_order_release);
    return slot;
  }
  return -1;
}

void unregister_writer(wmd_ctl* ctl, int slot, std::int32_t pid) {
  if (slot < 0 || slot >= WMD_MAX_WRITERS) return;
  auto word = claim_word(ctl->writers[slot]);
  std::uint64_t seen = word.load(std::memory_order_acquire);
  if (unpack(seen).pid != pid) return;  // reclaimed by someone after we were taken for dead
  word.compare_exchange_strong(seen, 0, std::memory_order_acq_rel);
}

std::vector<WriterSlot> list_writers(const wmd_ctl* ctl) {
  std::vector<WriterSlot> result;
  for (int slot = 0; slot < WMD_MAX_WRITERS; ++slot) {
    const wmd_ctl_writer& entry = ctl->writers[slot];
    auto word = claim_word(entry);
    const std::uint64_t before = word.load(std::memory_order_acquire);
    const ClaimWord claim = unpack(before);
    if (claim.pid == 0 || !(claim.flags & WMD_WRITER_READY)) continue;
    WriterSlot copy;
    copy.slot = slot;
    copy.record.pid = claim.pid;
    copy.record.flags = claim.flags;
    copy.record.start_time_ticks = field(entry.start_time_ticks).load(std::memory_order_acquire);
    copy.record.address = field(entry.address).load(std::memory_order_acquire);
    copy.record.length_bytes = field(entry.length_bytes).load(std::memory_order_acquire);
    // The fields were loaded with acquire and stored with release, so a new owner's value seen
    // in any of them means this reload sees the new claim word (no fence: TSan-friendly).
    if (word.load(std::memory_order_relaxed) != before) continue;  // changed owner meanwhile
    result.push_back(copy);
  }
  return result;
}

}  // namespace wmd::core
