#include "daemon/segment/truncation_guard.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace wmd {
namespace {

// One registered mapping. Written by guard_mapping (length last, 0 while being changed), read
// by the signal handler: lock-free atomics only.
struct Slot {
  std::atomic<std::uintptr_t> base{0};
  std::atomic<std::uint64_t> length_bytes{0};
  std::atomic<int> fd{-1};
};

Slot slots[kGuardedObjects];
std::atomic<TruncatedMask> shrunk{0};
std::once_flag installed;

static_assert(std::atomic<std::uintptr_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<int>::is_always_lock_free);

// Restores the object's size when it is shorter than the mapping. Async-signal-safe.
bool restore_size(Slot& slot, std::uint32_t index) {
  const std::uint64_t length = slot.length_bytes.load(std::memory_order_acquire);
  const int fd = slot.fd.load(std::memory_order_acquire);
  if (length == 0 || fd < 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) >= length) return false;
  if (::ftruncate(fd, static_cast<off_t>(length)) != 0) return false;
  shrunk.fetch_or(1u << index, std::memory_order_acq_rel);
  return true;
}

void write_stderr(const char* text) {
  const ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

void on_sigbus(int, siginfo_t* info, void*) {
  const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
  for (std::uint32_t i = 0; i < kGuardedObjects; ++i) {
    Slot& slot = slots[i];
    const std::uint64_t length = slot.length_bytes.load(std::memory_order_acquire);
    const std::uintptr_t base = slot.base.load(std::memory_order_acquire);
    if (length == 0 || address < base || address - base >= length) continue;
    // The faulting access retries once the object is its size again.
    if (restore_size(slot, i)) return;
    break;
  }
  write_stderr(
      "wmdd: SIGBUS outside a guarded mapping, or a shrunk object that could not be restored; "
      "exiting\n");
  ::signal(SIGBUS, SIG_DFL);  // returning re-executes the access: the default action ends us
}

void install_handler() {
  struct sigaction action {};
  action.sa_sigaction = on_sigbus;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGBUS, &action, nullptr);
}

}  // namespace

void guard_mapping(GuardedObject object, void* base, std::uint64_t length_bytes, int fd) {
  std::call_once(installed, install_handler);
  Slot& slot = slots[static_cast<std::uint32_t>(object)];
  slot.length_bytes.store(0, std::memory_order_release);
  slot.base.store(reinterpret_cast<std::uintptr_t>(base), std::memory_order_release);
  slot.fd.store(fd, std::memory_order_release);
  slot.length_bytes.store(length_bytes, std::memory_order_release);
}

void unguard_mapping(GuardedObject object) {
  slots[static_cast<std::uint32_t>(object)].length_bytes.store(0, std::memory_order_release);
}

int guarded_descriptor(GuardedObject object) {
  const Slot& slot = slots[static_cast<std::uint32_t>(object)];
  if (slot.length_bytes.load(std::memory_order_acquire) == 0) return -1;
  return slot.fd.load(std::memory_order_acquire);
}

TruncatedMask check_guarded_objects() {
  for (std::uint32_t i = 0; i < kGuardedObjects; ++i) restore_size(slots[i], i);
  return shrunk.exchange(0, std::memory_order_acq_rel);
}

}  // namespace wmd
