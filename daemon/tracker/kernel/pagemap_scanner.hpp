// wmd::kernel::PagemapScanner: the daemon's handle on one writer process's /proc/PID/pagemap,
// asking the PAGEMAP_SCAN ioctl (Linux 6.7+) for the pages the writer wrote since the last
// call and write-protecting them again in the same step (PM_SCAN_WP_MATCHING), so that no
// write falls between "collect" and "re-arm". Only ranges the writer registered with
// userfaultfd WP_ASYNC are accepted (PM_SCAN_CHECK_WPASYNC): anything else is an error, never a
// silent "nothing written".
//
// Owns the pagemap descriptor, which stays bound to the process that was running when it was
// opened: a later process reusing the pid is never scanned through it.
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "daemon/tracker/kernel/kernel_errors.hpp"
#include "engine/result.hpp"

namespace wmd::kernel {

// [start, end) in the writer's virtual addresses.
struct AddressRange {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  friend bool operator==(const AddressRange&, const AddressRange&) = default;
};

class PagemapScanner {
 public:
  // Opens /proc/<pid>/pagemap (pid 0: /proc/self/pagemap). Errors (kernel_errc): writer_gone,
  // permission, failed; the detail names the call, the path and the system's message.
  static Result<PagemapScanner> open(std::int32_t pid);

  PagemapScanner(PagemapScanner&& other) noexcept;
  PagemapScanner& operator=(PagemapScanner&& other) noexcept;
  PagemapScanner(const PagemapScanner&) = delete;
  PagemapScanner& operator=(const PagemapScanner&) = delete;
  ~PagemapScanner();

  // Replaces `written` with the ranges of [start, end) written since the previous scan
  // (ascending, adjacent ranges merged) and write-protects them again. Continues the walk when
  // the kernel's result vector fills up.
  // REQUIRES: start is a multiple of the system page size; start <= end.
  // Errors (kernel_errc): unsupported, not_registered (part of the range lacks async WP, e.g. the
  // writer unmapped or re-mapped it), writer_gone, permission, failed. After an error, pages
  // already walked may have been re-protected without being reported: the caller must fall back
  // to a full hash scan for this writer. The error's detail names the call and the path.
  Status scan_written(std::uint64_t start, std::uint64_t end, std::vector<AddressRange>& written);

  std::int32_t pid() const noexcept { return pid_; }

 private:
  PagemapScanner(int fd, std::int32_t pid, std::string path);

  int fd_ = -1;
  std::int32_t pid_ = 0;
  std::string path_;
  std::vector<std::uint8_t> vec_storage_;  // the kernel's struct page_region array
};

// Appends to `pages` the indices of the wmd pages (page_size_bytes each, page 0 starting at
// base) that the kernel ranges overlap, keeping `pages` ascending and free of duplicates when it
// was so before and the ranges are ascending. Ranges below base are ignored.
// REQUIRES: page_size_bytes is a power of two.
void append_wmd_pages(std::span<const AddressRange> ranges, std::uint64_t base,
                      std::uint32_t page_size_bytes, std::vector<std::uint64_t>& pages);

// The system (kernel) page size in bytes.
std::uint64_t kernel_page_size_bytes() noexcept;

}  // namespace wmd::kernel
