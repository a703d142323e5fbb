#include "shm/uffd_writer.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "shm/core_error.hpp"
#include "shm/uffd_uapi.h"

namespace wmd::core {
namespace {

UffdStatus status_of(int err) {
  switch (err) {
    case ENOSYS:
    case EINVAL:
    case ENOTTY:
    case EOPNOTSUPP:
      return UffdStatus::unsupported;
    case EPERM:
    case EACCES:
      return UffdStatus::permission;
    default:
      return UffdStatus::failed;
  }
}

// The one place errno becomes a UffdFailure.
UffdFailure sys_failure(const char* call, int err) {
  UffdFailure failure;
  failure.status = status_of(err);
  failure.sys_errno = err;
  failure.text = sys_error(call, "", err).detail();
  return failure;
}

int open_userfaultfd() {
  // User-mode-only descriptors are allowed without privilege whatever
  // vm.unprivileged_userfaultfd says; in async WP mode kernel-mode writes (read(2) into the
  // memory) never reach a handler, so nothing is lost by the restriction. Kernels older than
  // 5.11 refuse the flag with EINVAL: retry without it.
  int fd =
      static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
  if (fd < 0 && errno == EINVAL) {
    fd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  }
  return fd;
}

}  // namespace

UffdWriteTracking::~UffdWriteTracking() {
  stop();
}

UffdWriteTracking::UffdWriteTracking(UffdWriteTracking&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(std::exchange(other.address_, 0)),
      length_bytes_(std::exchange(other.length_bytes_, 0)),
      unpopulated_protected_(std::exchange(other.unpopulated_protected_, false)) {}

UffdWriteTracking& UffdWriteTracking::operator=(UffdWriteTracking&& other) noexcept {
  if (this != &other) {
    stop();
    fd_ = std::exchange(other.fd_, -1);
    address_ = std::exchange(other.address_, 0);
    length_bytes_ = std::exchange(other.length_bytes_, 0);
    unpopulated_protected_ = std::exchange(other.unpopulated_protected_, false);
  }
  return *this;
}

UffdFailure UffdWriteTracking::start(void* address, std::size_t length_bytes) {
  stop();
  if (address == nullptr || length_bytes == 0) {
    return UffdFailure{UffdStatus::failed, EINVAL, "userfaultfd: empty range"};
  }

  // A first descriptor only asks which features the kernel has: UFFDIO_API can be called once
  // per descriptor, and asking for an unknown feature fails it.
  int probe_fd = open_userfaultfd();
  if (probe_fd < 0) return sys_failure("userfaultfd", errno);
  uffdio_api query{};
  query.api = UFFD_API;
  const int query_rc = ::ioctl(probe_fd, UFFDIO_API, &query);
  const int query_errno = errno;
  ::close(probe_fd);
  if (query_rc != 0) return sys_failure("UFFDIO_API", query_errno);
  const std::uint64_t available = query.features;
  if ((available & UFFD_FEATURE_WP_ASYNC) == 0) {
    return UffdFailure{UffdStatus::unsupported, EOPNOTSUPP,
                       "UFFDIO_API: kernel lacks UFFD_FEATURE_WP_ASYNC (Linux 6.7+)"};
  }

  const int fd = open_userfaultfd();
  if (fd < 0) return sys_failure("userfaultfd", errno);
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = UFFD_FEATURE_WP_ASYNC |
                 (available & (UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM));
  if (::ioctl(fd, UFFDIO_API, &api) != 0) {
    const int err = errno;
    ::close(fd);
    return sys_failure("UFFDIO_API(WP_ASYNC)", err);
  }
  fd_ = fd;
  unpopulated_protected_ = (available & UFFD_FEATURE_WP_UNPOPULATED) != 0;

  const auto start_address = reinterpret_cast<std::uintptr_t>(address);
  UffdFailure failure = register_and_protect(start_address, length_bytes);
  if (failure) {
    stop();
    return failure;
  }
  address_ = start_address;
  length_bytes_ = length_bytes;
  return {};
}

UffdFailure UffdWriteTracking::extend(std::size_t new_length_bytes) {
  if (!active()) return UffdFailure{UffdStatus::failed, EINVAL, "userfaultfd: not started"};
  if (new_length_bytes <= length_bytes_) return {};
  UffdFailure failure =
      register_and_protect(address_ + length_bytes_, new_length_bytes - length_bytes_);
  if (failure) return failure;
  length_bytes_ = new_length_bytes;
  return {};
}

UffdFailure UffdWriteTracking::register_and_protect(std::uintptr_t address,
                                                    std::size_t length_bytes) {
  uffdio_register registration{};
  registration.range.start = address;
  registration.range.len = length_bytes;
  registration.mode = UFFDIO_REGISTER_MODE_WP;
  if (::ioctl(fd_, UFFDIO_REGISTER, &registration) != 0) {
    return sys_failure("UFFDIO_REGISTER(WP)", errno);
  }
  // Registration alone protects nothing: protect the range once. From now on the kernel
  // un-protects a page on its first write and PAGEMAP_SCAN re-protects it.
  uffdio_writeprotect protect{};
  protect.range.start = address;
  protect.range.len = length_bytes;
  protect.mode = UFFDIO_WRITEPROTECT_MODE_WP;
  if (::ioctl(fd_, UFFDIO_WRITEPROTECT, &protect) != 0) {
    const int err = errno;
    uffdio_range range{address, length_bytes};
    ::ioctl(fd_, UFFDIO_UNREGISTER, &range);
    return sys_failure("UFFDIO_WRITEPROTECT", err);
  }
  return {};
}

void UffdWriteTracking::abandon() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  address_ = 0;
  length_bytes_ = 0;
  unpopulated_protected_ = false;
}

void UffdWriteTracking::stop() noexcept {
  if (fd_ < 0) return;
  if (length_bytes_ != 0) {
    // Unregister explicitly (closing alone would do it too) so that a mapping kept after
    // stop() carries no stale write-protect state.
    uffdio_range range{address_, length_bytes_};
    ::ioctl(fd_, UFFDIO_UNREGISTER, &range);
  }
  abandon();
}

}  // namespace wmd::core
