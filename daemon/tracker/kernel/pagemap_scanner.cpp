#include "daemon/tracker/kernel/pagemap_scanner.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "shm/core_error.hpp"
#include "shm/uffd_uapi.h"

namespace wmd::kernel {
namespace {

// Regions per ioctl call: 24 bytes each. A scan that finds more continues from walk_end. Not more
// than the kernel's own buffer (PAGEMAP_WALK_SIZE >> PAGE_SHIFT = 512 regions with 4 KiB pages):
// when one call's result outgrows that buffer, the kernel (6.7-6.18) copies it out and walks on
// to the end, but leaves walk_end where its buffer first filled, so the caller walked the rest of
// the range a second time for nothing (up to a whole extra walk when the dirty pages are at the
// start: measured 1.7-1.9 ms instead of 0.8 ms at 4 GiB with 524 pages written in one run). A call
// that stops at the first full buffer reports the exact walk_end.
constexpr std::size_t kRegionsPerCall = 512;

// A failed call as a kernel_errc with its detail ("PAGEMAP_SCAN(/proc/42/pagemap): Operation
// not permitted"); the text comes from the one place errno becomes text, core::sys_error.
Error kernel_error(KernelCall kind, const char* call, const std::string& path, int err) {
  return Error(make_error_code(classify_errno(kind, err)),
               core::sys_error(call, path, err).detail());
}

}  // namespace

Result<PagemapScanner> PagemapScanner::open(std::int32_t pid) {
  std::string path =
      pid == 0 ? std::string("/proc/self/pagemap") : "/proc/" + std::to_string(pid) + "/pagemap";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return kernel_error(KernelCall::open_pagemap, "open", path, errno);
  }
  return PagemapScanner(fd, pid, std::move(path));
}

PagemapScanner::PagemapScanner(int fd, std::int32_t pid, std::string path)
    : fd_(fd),
      pid_(pid),
      path_(std::move(path)),
      vec_storage_(kRegionsPerCall * sizeof(page_region)) {}

PagemapScanner::PagemapScanner(PagemapScanner&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      pid_(other.pid_),
      path_(std::move(other.path_)),
      vec_storage_(std::move(other.vec_storage_)) {}

PagemapScanner& PagemapScanner::operator=(PagemapScanner&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    pid_ = other.pid_;
    path_ = std::move(other.path_);
    vec_storage_ = std::move(other.vec_storage_);
  }
  return *this;
}

PagemapScanner::~PagemapScanner() {
  if (fd_ >= 0) ::close(fd_);
}

Status PagemapScanner::scan_written(std::uint64_t start, std::uint64_t end,
                                    std::vector<AddressRange>& written) {
  written.clear();
  if (start >= end) return {};
  auto* regions = reinterpret_cast<page_region*>(vec_storage_.data());
  pm_scan_arg arg{};
  arg.size = sizeof arg;
  arg.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
  arg.start = start;
  arg.end = end;
  arg.vec = reinterpret_cast<std::uintptr_t>(regions);
  arg.vec_len = kRegionsPerCall;
  arg.max_pages = 0;  // no limit
  arg.category_mask = PAGE_IS_WRITTEN;
  arg.return_mask = PAGE_IS_WRITTEN;
  for (;;) {
    const int count = ::ioctl(fd_, PAGEMAP_SCAN, &arg);
    if (count < 0) {
      const int err = errno;
      if (err == EINTR) continue;  // nothing was re-protected past walk_end; retry from start
      return kernel_error(KernelCall::pagemap_scan, "PAGEMAP_SCAN", path_, err);
    }
    for (int i = 0; i < count; ++i) {
      const AddressRange range{regions[i].start, regions[i].end};
      if (!written.empty() && written.back().end == range.start) {
        written.back().end = range.end;  // a region split by a full vector
      } else {
        written.push_back(range);
      }
    }
    if (arg.walk_end >= end) break;
    if (arg.walk_end <= arg.start) {
      // The kernel made no progress: never loop forever on a kernel we misunderstand.
      return Error(kernel_errc::failed, "PAGEMAP_SCAN(" + path_ + "): walk made no progress");
    }
    arg.start = arg.walk_end;
  }
  return {};
}

void append_wmd_pages(std::span<const AddressRange> ranges, std::uint64_t base,
                      std::uint32_t page_size_bytes, std::vector<std::uint64_t>& pages) {
  const unsigned shift = static_cast<unsigned>(__builtin_ctz(page_size_bytes));
  for (const AddressRange& range : ranges) {
    if (range.end <= base || range.end <= range.start) continue;
    const std::uint64_t first = (std::max(range.start, base) - base) >> shift;
    const std::uint64_t last = (range.end - 1 - base) >> shift;
    for (std::uint64_t page = first; page <= last; ++page) {
      if (!pages.empty() && pages.back() >= page) continue;  // shared by two kernel ranges
      pages.push_back(page);
    }
  }
}

std::uint64_t kernel_page_size_bytes() noexcept {
  static const std::uint64_t size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace wmd::kernel
