// The writer side (libwmd's registration) in this process, scanned through /proc/self/pagemap.
#include "client/src/uffd_writer.hpp"

#include <doctest/doctest.h>

#include <set>

#include "daemon/tracker/kernel/kernel_probe.hpp"
#include "daemon/tracker/kernel/pagemap_scanner.hpp"
#include "tests/unit/kernel_tracker/child_writer.hpp"

namespace wmd::kernel {
namespace {

using testing::SharedMemory;

bool kernel_supported() {
  static const KernelProbe probe = probe_kernel_tracking();
  if (!probe.supported) MESSAGE("skipped: kernel dirty tracking unsupported: " << probe.reason);
  return probe.supported;
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

}  // namespace
}  // namespace wmd::kernel
