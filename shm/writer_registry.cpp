#include "shm/writer_registry.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "shm/proc_stat.hpp"

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

}  // namespace

std::uint64_t process_start_time_ticks(std::int32_t pid) {
  return read_proc_stat(pid).start_time_ticks;
}

bool process_alive(std::int32_t pid, std::uint64_t start_time_ticks) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  return alive_as(read_proc_stat(pid), start_time_ticks);
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
