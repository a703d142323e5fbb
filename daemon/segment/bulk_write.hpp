// Writing runs of bytes (whole pages, version-list blocks) into a shared-memory object with
// pwritev() instead of through a mapping: backing a fresh page of /dev/shm by pwrite() skips
// the page fault and the zeroing a write through a mapping costs. The daemon's
// Engine::set_bulk_page_writer() is built on it.
// Thread-safety: reentrant (positioned writes; the file offset is never used).
#pragma once

#include <span>

#include "engine/engine.hpp"

namespace wmd {

// Writes every entry at its offset of fd, none past limit_bytes (out_of_range: nothing
// written; the object never grows this way), consecutive entries (one ending where the next
// starts) in one pwritev() call. Errors: io_error (the call and its errno in the detail), with some
// of the bytes possibly written.
Status write_at(int fd, std::uint64_t limit_bytes, std::span<const StorageWrite> writes);

// Reads out.size() bytes at offset of fd by pread(), none past limit_bytes (out_of_range).
// Errors: out_of_range, io_error (the call and its errno in the detail; a short read: EIO).
Status read_at(int fd, std::uint64_t limit_bytes, std::uint64_t offset,
               std::span<std::uint8_t> out);

}  // namespace wmd
