// wmd::core::UffdWriteTracking: a writer process's registration of its mapping of the data
// object with userfaultfd write-protection in async mode (UFFD_FEATURE_WP_ASYNC). No fault
// handler thread exists: on the first write to a protected page the kernel itself lifts the
// protection and the page reads as "written" in PAGEMAP_SCAN, which is how wmdd, reading
// /proc/<this pid>/pagemap, learns which pages this process wrote (and re-protects them).
//
// Owns the userfaultfd: the registration lasts as long as this object (closing the descriptor
// unregisters every range). The mapping must outlive it or be unmapped after stop().
// Self-contained (no other wmd code) so that libwmd and wmdd's start-up probe both build it.
//
// Thread-safety: not thread-safe; one owner. Writes to the range from any thread of the
// process are tracked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace wmd::core {

enum class UffdStatus {
  ok = 0,
  unsupported,  // kernel without userfaultfd / WP_ASYNC / WP on this memory: use hash mode
  permission,   // userfaultfd refused (vm.unprivileged_userfaultfd, seccomp): use hash mode
  failed,       // anything else (bad range, out of memory): use hash mode, report the text
};

struct UffdFailure {
  UffdStatus status = UffdStatus::ok;
  int sys_errno = 0;
  std::string text;  // the call and the reason: "UFFDIO_REGISTER: Invalid argument"

  explicit operator bool() const noexcept { return status != UffdStatus::ok; }
};

class UffdWriteTracking {
 public:
  UffdWriteTracking() = default;
  ~UffdWriteTracking();
  UffdWriteTracking(UffdWriteTracking&& other) noexcept;
  UffdWriteTracking& operator=(UffdWriteTracking&& other) noexcept;
  UffdWriteTracking(const UffdWriteTracking&) = delete;
  UffdWriteTracking& operator=(const UffdWriteTracking&) = delete;

  // Opens a userfaultfd (user-mode-only when the kernel knows the flag, so that
  // vm.unprivileged_userfaultfd=0 does not matter), enables WP_ASYNC (and WP_UNPOPULATED when
  // available, so that pages this process never touched are protected too), registers
  // [address, address + length_bytes) in write-protect mode and write-protects it once.
  // Replaces any previous registration of this object.
  // REQUIRES: address and length_bytes are multiples of the system page size; the range is a
  // MAP_SHARED mapping of the data object (shmem) or anonymous memory.
  // EINVAL, ENOSYS, ENOTTY and EOPNOTSUPP report unsupported; EPERM and EACCES permission.
  UffdFailure start(void* address, std::size_t length_bytes);

  // The mapping grew in place to new_length_bytes: registers and protects only the new tail,
  // so the written marks of the old part (not yet collected by the daemon) survive.
  // REQUIRES: active(); new_length_bytes >= length_bytes(); same rules as start().
  // A mapping that moved (mremap without MREMAP_FIXED at the old address) loses its
  // registration in the kernel: call start() for the new address instead.
  UffdFailure extend(std::size_t new_length_bytes);

  // Unregisters the range and closes the userfaultfd. Idempotent.
  void stop() noexcept;
  // Closes the descriptor without unregistering: for a forked child, whose inherited descriptor
  // still acts on the parent's memory.
  void abandon() noexcept;

  bool active() const noexcept { return fd_ >= 0; }
  std::uintptr_t address() const noexcept { return address_; }
  std::size_t length_bytes() const noexcept { return length_bytes_; }
  // True when WP_UNPOPULATED is in force; without it, pages this process only read (or never
  // touched) may be reported as written: harmless (the daemon's hash check rejects them).
  bool unpopulated_protected() const noexcept { return unpopulated_protected_; }

 private:
  UffdFailure register_and_protect(std::uintptr_t address, std::size_t length_bytes);

  int fd_ = -1;
  std::uintptr_t address_ = 0;
  std::size_t length_bytes_ = 0;
  bool unpopulated_protected_ = false;
};

}  // namespace wmd::core
