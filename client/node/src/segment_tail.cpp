#include "client/node/src/segment_tail.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace wmd::node {

bool all_zero(std::span<const std::uint8_t> bytes) noexcept {
  // Each byte equals the next and the first is zero: one memcmp at memory speed.
  return bytes.empty() ||
         (bytes[0] == 0 && std::memcmp(bytes.data(), bytes.data() + 1, bytes.size() - 1) == 0);
}

SegmentTail::SegmentTail(const std::string& name)
    : fd_(shm_open(name.c_str(), O_RDONLY | O_CLOEXEC, 0)) {}

SegmentTail::~SegmentTail() {
  if (fd_ >= 0) ::close(fd_);
}

bool SegmentTail::holds_data(std::span<const std::uint8_t> segment, std::uint64_t from) const {
  const std::uint64_t end = segment.size();
  std::uint64_t at = from;
  while (at < end) {
    if (fd_ < 0) return !all_zero(segment.subspan(at));
    const off_t data = lseek(fd_, static_cast<off_t>(at), SEEK_DATA);
    if (data < 0) {
      // ENXIO: nothing but holes from here on. Anything else: read what we cannot skip.
      return errno == ENXIO ? false : !all_zero(segment.subspan(at));
    }
    const auto data_start = std::max<std::uint64_t>(at, static_cast<std::uint64_t>(data));
    if (data_start >= end) return false;
    const off_t hole = lseek(fd_, data, SEEK_HOLE);
    const std::uint64_t data_end =
        hole < 0 ? end : std::min<std::uint64_t>(end, static_cast<std::uint64_t>(hole));
    if (data_end <= data_start) return !all_zero(segment.subspan(data_start));
    if (!all_zero(segment.subspan(data_start, data_end - data_start))) return true;
    at = data_end;
  }
  return false;
}

}  // namespace wmd::node
