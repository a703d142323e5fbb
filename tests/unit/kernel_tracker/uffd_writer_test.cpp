// The writer side (libwmd's registration) in this process, scanned through /proc/self/pagemap.
#include "shm/uffd_writer.hpp"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <doctest/doctest.h>

#include <cstddef>
#include <set>

#include "daemon/tracker/kernel/kernel_probe.hpp"
#include "daemon/tracker/kernel/pagemap_scanner.hpp"
#include "tests/unit/kernel_tracker/child_writer.hpp"

namespace wmd::kernel {
namespace {

using testing::SharedMemory;

bool kernel_supported() {
  static const KernelProbe probe = probe_kernel_tracking();
  if (!probe.verified_in_process)
    MESSAGE("skipped: kernel dirty tracking unsupported: " << probe.reason);
  return probe.verified_in_process;
}

std::set<std::uint64_t> written_pages(PagemapScanner& scanner, std::uint64_t base,
                                      std::uint64_t length) {
  std::vector<AddressRange> ranges;
  REQUIRE(scanner.scan_written(base, base + length, ranges).ok());
  std::set<std::uint64_t> pages;
  const std::uint64_t page = kernel_page_size_bytes();
  for (const AddressRange& r : ranges) {
    for (std::uint64_t a = r.start; a < r.end; a += page) pages.insert((a - base) / page);
  }
  return pages;
}

TEST_CASE("extending a registration protects the new tail and keeps the old part's marks") {
  if (!kernel_supported()) return;
  const std::uint64_t page = kernel_page_size_bytes();
  SharedMemory memory(8 * page);
  REQUIRE(memory.ok());
  const auto base = reinterpret_cast<std::uint64_t>(memory.data());
  core::UffdWriteTracking tracking;
  REQUIRE_FALSE(tracking.start(memory.data(), 4 * page));
  CHECK(tracking.active());
  CHECK(tracking.unpopulated_protected());
  Result<PagemapScanner> scanner = PagemapScanner::open(0);
  REQUIRE(scanner.ok());
  CHECK(written_pages(*scanner, base, 4 * page).empty());

  memory.data()[1 * page] = 1;  // written, not yet collected
  REQUIRE_FALSE(tracking.extend(8 * page));
  CHECK(tracking.length_bytes() == 8 * page);
  memory.data()[6 * page] = 1;
  CHECK(written_pages(*scanner, base, 8 * page) == std::set<std::uint64_t>{1, 6});
  CHECK(written_pages(*scanner, base, 8 * page).empty());
}

TEST_CASE("a stopped registration makes the scanner refuse the range") {
  if (!kernel_supported()) return;
  const std::uint64_t page = kernel_page_size_bytes();
  SharedMemory memory(4 * page);
  REQUIRE(memory.ok());
  const auto base = reinterpret_cast<std::uint64_t>(memory.data());
  Result<PagemapScanner> scanner = PagemapScanner::open(0);
  REQUIRE(scanner.ok());
  {
    core::UffdWriteTracking tracking;
    REQUIRE_FALSE(tracking.start(memory.data(), 4 * page));
    core::UffdWriteTracking moved = std::move(tracking);  // ownership moves, registration stays
    CHECK_FALSE(tracking.active());
    CHECK(moved.active());
    std::vector<AddressRange> ranges;
    CHECK(scanner->scan_written(base, base + 4 * page, ranges).ok());
  }
  std::vector<AddressRange> ranges;
  CHECK(scanner->scan_written(base, base + 4 * page, ranges).error() ==
        kernel_errc::not_registered);
}

TEST_CASE("registration failures are classified so the caller can fall back") {
  core::UffdWriteTracking tracking;
  const core::UffdFailure empty = tracking.start(nullptr, 0);
  CHECK(empty.status == core::UffdStatus::failed);
  CHECK_FALSE(tracking.active());
  if (!kernel_supported()) return;
  // An unaligned range is refused by UFFDIO_REGISTER with EINVAL.
  SharedMemory memory(2 * kernel_page_size_bytes());
  REQUIRE(memory.ok());
  const core::UffdFailure unaligned = tracking.start(memory.data() + 1, 100);
  CHECK(unaligned);
  CHECK(unaligned.sys_errno == EINVAL);
  CHECK(unaligned.text.find("UFFDIO_REGISTER") == 0);
  CHECK_FALSE(tracking.active());
}

// In a forked child: refuse userfaultfd with EPERM (as a seccomp sandbox would), then check the
// writer side reports "permission" and the probe still accepts PAGEMAP_SCAN. Exit code 0: ok.
[[noreturn]] void run_sandboxed_probe() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(10);
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) ::_exit(11);
  SharedMemory memory(kernel_page_size_bytes());
  core::UffdWriteTracking tracking;
  const core::UffdFailure failure = tracking.start(memory.data(), memory.length_bytes());
  if (failure.status != core::UffdStatus::permission) ::_exit(12);
  const KernelProbe probe = probe_kernel_tracking();
  if (!probe.supported) ::_exit(13);
  if (probe.reason.find("userfaultfd refused to the daemon") == std::string::npos) ::_exit(14);
  ::_exit(0);
}

TEST_CASE("a daemon refused userfaultfd by a sandbox still uses PAGEMAP_SCAN; writers fall back") {
  if (!kernel_supported()) return;
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) run_sandboxed_probe();
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace wmd::kernel
