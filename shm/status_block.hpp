// The daemon's status block in the control object, published under a seqlock so that readers
// in other processes get a consistent copy without blocking the daemon.
// Thread-safety: one writer (the daemon's owner thread) at a time; any number of readers.
#pragma once

#include <wmd/segment_layout.h>

namespace wmd::core {

// Copies status into the shared block. REQUIRES: the caller is the only writer.
void write_status(wmd_ctl_status* shared_block, const wmd_ctl_status& status);

// Takes a consistent copy of the shared block; false when the writer kept it busy (or died
// in the middle of an update) for the whole bounded number of attempts.
bool read_status(const wmd_ctl_status* shared_block, wmd_ctl_status* out);

}  // namespace wmd::core
