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

Status write_at(int fd, std::uint64_t limit_bytes, std::span<const StorageWrite> writes) {
  for (const StorageWrite& w : writes) {
    if (w.offset_bytes > limit_bytes || w.bytes.size() > limit_bytes - w.offset_bytes) {
      return Error(errc::out_of_range, "bulk write past the object's size");
    }
  }
  std::vector<iovec> iov;
  std::size_t i = 0;
  while (i < writes.size()) {
    // One call for a run of consecutive entries, at most IOV_MAX of them.
    const std::uint64_t offset = writes[i].offset_bytes;
    std::uint64_t length = 0;
    iov.clear();
    while (i < writes.size() && iov.size() < IOV_MAX && writes[i].offset_bytes == offset + length) {
      const auto& bytes = writes[i].bytes;
      iov.push_back(iovec{const_cast<std::uint8_t*>(bytes.data()), bytes.size()});
      length += bytes.size();
      ++i;
    }
    std::size_t first = 0;
    std::uint64_t done = 0;
    while (done < length) {
      const ssize_t n = ::pwritev(fd, iov.data() + first, static_cast<int>(iov.size() - first),
                                  static_cast<off_t>(offset + done));
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) errno = ENOSPC;
        const Error error =
            core::sys_error("pwritev", "offset " + std::to_string(offset + done), errno);
        return Error(errc::io_error, error.detail());
      }
      done += static_cast<std::uint64_t>(n);
      // A short write: skip what went out and go on with the rest.
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

Status read_at(int fd, std::uint64_t limit_bytes, std::uint64_t offset,
               std::span<std::uint8_t> out) {
  if (offset > limit_bytes || out.size() > limit_bytes - offset) {
    return Error(errc::out_of_range, "read past the object's size");
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const Error error =
          core::sys_error("pread", "offset " + std::to_string(offset + done), n == 0 ? EIO : errno);
      return Error(errc::io_error, error.detail());
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace wmd
