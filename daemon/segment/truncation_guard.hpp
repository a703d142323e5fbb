// wmd::TruncationGuard: keeps another process that shrinks one of the daemon's shared objects
// (the data object, the control object, the state object) from killing the daemon with SIGBUS.
//
// Any process with write access to /dev/shm can ftruncate an object the daemon has mapped; the
// next access past the new end raises SIGBUS. The guard installs a SIGBUS handler that, for a
// fault inside a registered mapping, restores the object's size (ftruncate is
// async-signal-safe; the lost range reads as zeros) and lets the access retry, and records
// which object shrank. check() finds the same without a fault (fstat), so the owner can log,
// repair or refuse at once. A SIGBUS outside every registered mapping is reported on stderr
// and ends the process as before (with its default action).
//
// Thread-safety: guard()/check() from any thread (the registry is atomics); one process-wide
// registry of kGuardedObjects slots, so one guard per process (the daemon serves one segment).
#pragma once

#include <cstdint>

namespace wmd {

enum class GuardedObject : std::uint32_t { data = 0, control = 1, state = 2 };
inline constexpr std::uint32_t kGuardedObjects = 3;

// Bit (1u << GuardedObject) per object found shrunk.
using TruncatedMask = std::uint32_t;

// Installs the handler (once) and registers or updates the mapping [base, base + length_bytes)
// of object fd, mapped from offset 0: its size is kept at no less than length_bytes.
// REQUIRES: fd stays open and the mapping stays in place until unguard() or process exit.
void guard_mapping(GuardedObject object, void* base, std::uint64_t length_bytes, int fd);
void unguard_mapping(GuardedObject object);

// The descriptor registered for object, or -1 when none is. For watching the object (inotify
// on /proc/self/fd/N): the descriptor is the caller's to use, not to close.
int guarded_descriptor(GuardedObject object);

// Restores the size of every registered object found shorter than its mapping, and returns the
// objects found shrunk (here or by the handler) since the last call.
TruncatedMask check_guarded_objects();

inline bool truncated(TruncatedMask mask, GuardedObject object) {
  return (mask & (1u << static_cast<std::uint32_t>(object))) != 0;
}

}  // namespace wmd
