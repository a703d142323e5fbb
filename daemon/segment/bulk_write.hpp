// Writing runs of bytes (whole pages, version-list blocks) into a shared-memory object with
// pwritev() instead of through a mapping, and reading them back with preadv(): backing a fresh
// page of /dev/shm by pwrite() skips the page fault and the zeroing a write through a mapping
// costs. The daemon's Engine::set_bulk_page_writer() and set_page_reader() are built on it.
// Thread-safety: reentrant (positioned I/O; the file offset is never used).
#pragma once

#include <span>

#include "engine/engine.hpp"

namespace wmd {

// Writes every entry at its offset of fd, none past limit_bytes (out_of_range: nothing
// written; the object never grows this way), consecutive entries (one ending where the next
// starts) in one pwritev() call. Errors: io_error (the call and its errno in the detail), with some
// of the bytes possibly written.
Status write_at(int fd, std::uint64_t limit_bytes, std::span<const StorageWrite> writes);

// Reads every entry's bytes from its offset of fd, none past limit_bytes (out_of_range:
// nothing read), consecutive entries (in the order given) in one preadv() call: a catch-up
// exports pages by the batch, and one call per page cost here about three times the copy.
// Errors: out_of_range, io_error (the call and its errno in the detail; a short read: EIO).
Status read_at(int fd, std::uint64_t limit_bytes, std::span<const StorageRead> reads);

}  // namespace wmd
