// The writer registry in the control object: which processes map the data object for writing,
// so the daemon can ask the kernel which pages each of them wrote. A slot's first 8 bytes (pid
// and flags) are claimed and released as one 64-bit word, so a half-written slot is never taken
// for a complete one; slots of dead processes (or of a reused pid) are reclaimed.
// Thread-safety: safe from any thread of any process.
#pragma once

#include <cstdint>
#include <vector>

#include <wmd/segment_layout.h>

namespace wmd::core {

// Field 22 of /proc/PID/stat (clock ticks after boot); 0 when the process does not exist.
std::uint64_t process_start_time_ticks(std::int32_t pid);

// True while pid runs (a zombie counts as dead) and, when start_time_ticks is non-zero, is
// still the same process.
bool process_alive(std::int32_t pid, std::uint64_t start_time_ticks);

// Claims a free or stale slot for record (its pid, start time, address, length and flags);
// returns the slot index, or -1 when every slot belongs to a live process.
int register_writer(wmd_ctl* ctl, const wmd_ctl_writer& record);

// Frees slot when pid still owns it.
void unregister_writer(wmd_ctl* ctl, int slot, std::int32_t pid);

struct WriterSlot {
  int slot = 0;
  wmd_ctl_writer record{};
};

// The complete (WMD_WRITER_READY) slots, whether their process is still alive or not.
std::vector<WriterSlot> list_writers(const wmd_ctl* ctl);

}  // namespace wmd::core
