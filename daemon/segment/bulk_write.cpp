#include "daemon/segment/bulk_write.hpp"

#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "shm/core_error.hpp"

namespace wmd {

namespace {

template <typename Entry>
Status check_within(std::uint64_t limit_bytes, std::span<const Entry> entries, const char* what) {
  for (const Entry& e : entries) {
    if (e.offset_bytes > limit_bytes || e.bytes.size() > limit_bytes - e.offset_bytes) {
      return Error(errc::out_of_range, std::string(what) + " past the object's size");
    }
  }
  return {};
}

// Calls io(iov, count, offset) -- pwritev or preadv -- once for each run of entries that
// follow each other (one ending where the next starts), at most IOV_MAX of them, and again
// after a short transfer for the rest. A call that moves nothing fails with zero_errno.
template <typename Entry, typename Io>
Status transfer(std::span<const Entry> entries, const char* call, int zero_errno, Io io) {
  std::vector<iovec> iov;
  std::size_t i = 0;
  while (i < entries.size()) {
    const std::uint64_t offset = entries[i].offset_bytes;
    std::uint64_t length = 0;
    iov.clear();
    while (i < entries.size() && iov.size() < IOV_MAX &&
           entries[i].offset_bytes == offset + length) {
      const auto& bytes = entries[i].bytes;
      iov.push_back(iovec{const_cast<std::uint8_t*>(bytes.data()), bytes.size()});
      length += bytes.size();
      ++i;
    }
    std::size_t first = 0;
    std::uint64_t done = 0;
    while (done < length) {
      const ssize_t n = io(iov.data() + first, static_cast<int>(iov.size() - first),
                           static_cast<off_t>(offset + done));
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        const Error error = core::sys_error(call, "offset " + std::to_string(offset + done),
                                            n == 0 ? zero_errno : errno);
        return Error(errc::io_error, error.detail());
      }
      done += static_cast<std::uint64_t>(n);
      // A short transfer: skip what went through and go on with the rest.
      auto left = static_cast<std::size_t>(n);
      while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (first < iov.size()) {
        iov[first].iov_base = static_cast<std::uint8_t*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
  }
  return {};
}

}  // namespace

Status write_at(int fd, std::uint64_t limit_bytes, std::span<const StorageWrite> writes) {
  if (Status s = check_within(limit_bytes, writes, "bulk write"); !s) return s;
  return transfer(writes, "pwritev", ENOSPC, [fd](const iovec* iov, int count, off_t offset) {
    return ::pwritev(fd, iov, count, offset);
  });
}

Status read_at(int fd, std::uint64_t limit_bytes, std::span<const StorageRead> reads) {
  if (Status s = check_within(limit_bytes, reads, "read"); !s) return s;
  return transfer(reads, "preadv", EIO, [fd](const iovec* iov, int count, off_t offset) {
    return ::preadv(fd, iov, count, offset);
  });
}

}  // namespace wmd
