#include "daemon/tracker/kernel/kernel_probe.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "daemon/tracker/kernel/pagemap_scanner.hpp"
#include "shm/core_error.hpp"
#include "shm/uffd_uapi.h"
#include "shm/uffd_writer.hpp"

namespace wmd::kernel {
namespace {

constexpr std::uint64_t kProbePages = 4;
constexpr std::uint64_t kWrittenPage = 2;

// A shared memfd mapping, unmapped and closed on scope exit.
class ProbeMapping {
 public:
  explicit ProbeMapping(std::uint64_t length_bytes) : length_bytes_(length_bytes) {
    fd_ = ::memfd_create("wmd-tracking-probe", MFD_CLOEXEC);
    if (fd_ < 0) return;
    if (::ftruncate(fd_, static_cast<off_t>(length_bytes)) != 0) return;
    void* address = ::mmap(nullptr, length_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (address != MAP_FAILED) address_ = static_cast<std::uint8_t*>(address);
  }
  ~ProbeMapping() {
    if (address_ != nullptr) ::munmap(address_, length_bytes_);
    if (fd_ >= 0) ::close(fd_);
  }
  ProbeMapping(const ProbeMapping&) = delete;
  ProbeMapping& operator=(const ProbeMapping&) = delete;

  std::uint8_t* data() const { return address_; }

 private:
  std::uint64_t length_bytes_;
  int fd_ = -1;
  std::uint8_t* address_ = nullptr;
};

// A plain PAGEMAP_SCAN query (no write-protection) over our own mapping.
bool pagemap_scan_available(const std::uint8_t* address, std::uint64_t length) {
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  page_region region{};
  pm_scan_arg arg{};
  arg.size = sizeof arg;
  arg.start = reinterpret_cast<std::uint64_t>(address);
  arg.end = arg.start + length;
  arg.vec = reinterpret_cast<std::uint64_t>(&region);
  arg.vec_len = 1;
  arg.category_anyof_mask = PAGE_IS_PRESENT;
  arg.return_mask = PAGE_IS_PRESENT;
  const int rc = ::ioctl(fd, PAGEMAP_SCAN, &arg);
  ::close(fd);
  return rc >= 0;
}

}  // namespace

KernelProbe probe_kernel_tracking() {
  KernelProbe probe;
  utsname names{};
  if (::uname(&names) == 0) probe.kernel_release = names.release;

  const std::uint64_t page = kernel_page_size_bytes();
  const std::uint64_t length = kProbePages * page;
  ProbeMapping mapping(length);
  if (mapping.data() == nullptr) {
    probe.reason = core::sys_error("memfd_create/mmap", "probe mapping", errno).detail();
    return probe;
  }
  std::memset(mapping.data(), 0, length);  // populate, as a running writer's memory would be

  core::UffdWriteTracking tracking;
  if (core::UffdFailure failure = tracking.start(mapping.data(), length)) {
    probe.reason = failure.text;
    // The daemon itself may be refused userfaultfd (a seccomp filter, a sandbox) while the
    // writers are not: it never needs it except for this probe. PAGEMAP_SCAN and WP_ASYNC came
    // with the same kernel (6.7), so a working PAGEMAP_SCAN is enough here; each writer proves
    // its own registration (the scanner checks it with PM_SCAN_CHECK_WPASYNC).
    if (failure.status == core::UffdStatus::permission || failure.sys_errno == ENOSYS) {
      if (pagemap_scan_available(mapping.data(), length)) {
        probe.supported = true;
        probe.reason = "PAGEMAP_SCAN available; userfaultfd refused to the daemon (" +
                       failure.text + "), writers register their own";
      }
    }
    return probe;
  }
  Result<PagemapScanner> scanner = PagemapScanner::open(0);
  if (!scanner) {
    probe.reason = scanner.error().detail();
    return probe;
  }
  const auto base = reinterpret_cast<std::uint64_t>(mapping.data());
  std::vector<AddressRange> written;
  // Pages written before protection (the memset) must not show: the first scan re-arms
  // whatever the kernel still reports, and only then the test write happens.
  if (Status status = scanner->scan_written(base, base + length, written); !status) {
    probe.reason = status.error().detail();
    return probe;
  }
  mapping.data()[kWrittenPage * page + 1] = 1;
  if (Status status = scanner->scan_written(base, base + length, written); !status) {
    probe.reason = status.error().detail();
    return probe;
  }
  const AddressRange expected{base + kWrittenPage * page, base + (kWrittenPage + 1) * page};
  if (written.size() != 1 || written[0] != expected) {
    probe.reason = "PAGEMAP_SCAN did not report exactly the one page written (" +
                   std::to_string(written.size()) + " ranges)";
    return probe;
  }
  if (Status status = scanner->scan_written(base, base + length, written); !status) {
    probe.reason = status.error().detail();
    return probe;
  }
  if (!written.empty()) {
    probe.reason = "PAGEMAP_SCAN did not re-protect the written page";
    return probe;
  }
  probe.supported = true;
  probe.verified_in_process = true;
  probe.reason = "PAGEMAP_SCAN and userfaultfd WP_ASYNC verified on a shared mapping";
  if (!tracking.unpopulated_protected()) probe.reason += " (without WP_UNPOPULATED)";
  return probe;
}

}  // namespace wmd::kernel
